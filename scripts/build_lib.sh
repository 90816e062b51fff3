# Sourced by setup.sh, fuzz.sh and sanitize.sh: the one way they configure
# (once) and build a build folder, with the logs kept in it. Needs ROOT,
# JOBS and log() from the caller.
#
#   compass_build BUILD TARGET [CMAKE ARGS...]   (TARGET "" builds everything)
compass_build() {
  local build=$1 target=$2
  shift 2
  if [ ! -f "$build/build.ninja" ]; then
    log "configuring $build"
    mkdir -p "$build"
    cmake -G Ninja -S "$ROOT" -B "$build" "$@" >"$build/configure.log" 2>&1 ||
      { cat "$build/configure.log" >&2; return 1; }
  fi
  log "building${target:+ $target} (-j$JOBS)"
  if ! cmake --build "$build" ${target:+--target "$target"} -j "$JOBS" >"$build/build.log" 2>&1; then
    tail -40 "$build/build.log" >&2
    log "build failed; full log: $build/build.log"
    return 1
  fi
}

# clang at -O1 with line tables: what the fuzz and sanitizer builds share
# (sanitizer reports with lines, at a cost the test suite can afford).
COMPASS_CLANG_ARGS=(
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only"
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only"
)
