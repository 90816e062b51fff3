# Sourced by the end-to-end tests on the real model, after setting SRC:
# a scratch folder $WORK removed on exit, fail(), and $GGUF, the real model
# (fetched once by scripts/fetch_model.sh, or $COMPASS_REAL_MODEL).
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
GGUF=${COMPASS_REAL_MODEL:-$(bash "$SRC/scripts/fetch_model.sh")}
[ -f "$GGUF" ] || fail "the real model is missing: run scripts/fetch_model.sh"
