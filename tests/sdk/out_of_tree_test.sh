#!/usr/bin/env bash
# usage: out_of_tree_test.sh BUILD_DIR SOURCE_DIR CMAKE
set -euo pipefail
BUILD=$1 SRC=$2 CMAKE=$3
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$CMAKE" --install "$BUILD" --prefix "$WORK/prefix" >/dev/null
# The third party has its own copy of the example, nothing else of ours.
cp -r "$SRC/examples/sdk_backend" "$WORK/src"
"$CMAKE" -S "$WORK/src" -B "$WORK/build" -DCMAKE_PREFIX_PATH="$WORK/prefix" \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
if grep -q -- "$SRC" "$WORK/build/compile_commands.json"; then
  fail "the plugin build refers to the source tree: $(grep -o -- "-I$SRC[^ ]*" "$WORK/build/compile_commands.json" | head -1)"
fi
grep -q -- "$WORK/prefix/include" "$WORK/build/compile_commands.json" ||
  fail "the plugin build does not use the installed headers"
"$CMAKE" --build "$WORK/build" >/dev/null

PLUGIN="$WORK/build/plugins/libbigram_backend.so"
[ -f "$PLUGIN" ] || fail "no plugin built at $PLUGIN"
EXPORTED=$(nm -D --defined-only "$PLUGIN" | awk '{print $3}' | sort | tr '\n' ' ')
[ "$EXPORTED" = "compass_backend_plugin " ] || fail "plugin exports more than its entry symbol: $EXPORTED"

# The installed compass finds the installed in-tree plugins next to itself.
"$WORK/prefix/bin/compass" plugins --plugin-dir "$WORK/build/plugins" --json >"$WORK/plugins.json"
grep -q '"bigram"' "$WORK/plugins.json" || fail "compass plugins does not list bigram"
grep -q '"mmlu"' "$WORK/plugins.json" || fail "installed compass does not find its own plugins"

"$WORK/prefix/bin/compass" --plugin-dir "$WORK/build/plugins" --backend bigram \
  --config "$SRC/examples/sdk_backend/eval.toml" --output "$WORK/run" -q >"$WORK/stdout"
# Planning through the plugin, on simulated devices: the 524 KiB table fits
# in 1 MiB and not in 100 KB (exit code 4).
"$WORK/prefix/bin/compass" plan --plugin-dir "$WORK/build/plugins" --backend bigram \
  --config "$SRC/examples/sdk_backend/eval.toml" --devices 1x1MiB >"$WORK/plan.txt" ||
  fail "plan on 1x1MiB failed: $(cat "$WORK/plan.txt")"
grep -q "^FITS" "$WORK/plan.txt" || fail "plan on 1x1MiB does not say FITS"
rc=0
"$WORK/prefix/bin/compass" plan --plugin-dir "$WORK/build/plugins" --backend bigram \
  --config "$SRC/examples/sdk_backend/eval.toml" --devices 1x100KB >"$WORK/plan.txt" || rc=$?
[ "$rc" = 4 ] || fail "plan on 1x100KB exited $rc, expected 4"
grep -q "DOES NOT FIT" "$WORK/plan.txt" || fail "plan on 1x100KB does not say DOES NOT FIT"

python3 "$SRC/tests/sdk/check_bigram_results.py" "$WORK/run/results.json" "$SRC/examples"
echo "out-of-tree plugin: OK"
