#!/usr/bin/env bash
# Installs what is missing on this machine (Debian packages; libtorch from a
# pinned PyPI torch wheel in a venv outside the clone), then configures and
# builds Compass. Idempotent: a second run only rebuilds what changed.
#
# `--dev` also installs the reference implementations the golden scripts in
# scripts/goldens/ run (transformers, tokenizers, sentencepiece); the tests
# themselves only read the stored goldens and never need them; the GGUF golden
# scripts also need gguf and accelerate.
#
# `--deps` installs what is missing and prints the venv's python, without
# configuring or building (scripts/fuzz.sh and scripts/sanitize.sh use it).
#
# Environment:
#   COMPASS_BUILD_DIR  build folder (default: <repo>/build)
#   COMPASS_VENV       venv holding torch (default: ~/.cache/compass/venv-torch<ver>-py<ver>)
#   COMPASS_JOBS       parallel build jobs (default: 2)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TORCH_VERSION=2.11.0  # C++11 ABI; built for CUDA 13.0 like the toolkit here
BUILD=${COMPASS_BUILD_DIR:-$ROOT/build}
JOBS=${COMPASS_JOBS:-2}
log() { printf '[setup] %s\n' "$*" >&2; }

APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libtomlplusplus-dev libspdlog-dev libfmt-dev libboost-dev libcli11-dev nlohmann-json3-dev
  libsqlite3-dev libpcre2-dev libicu-dev libgtest-dev libgmock-dev
  libgloo-dev  # headers only: libtorch's ProcessGroupGloo for model copies that span processes
  libyaml-cpp-dev  # lm-evaluation-harness task files (jsonl dataset)
  chromium-headless-shell  # renders compass compare's HTML report in its test
  clang libclang-rt-dev llvm  # libFuzzer and the sanitizer runtimes; llvm-symbolizer for their reports
  openmpi-bin slurm-wlm munge  # the sharded-run tests launch through mpirun and a private Slurm
)
DEV=0
DEPS_ONLY=0
for arg in "$@"; do
  case $arg in
    --dev) DEV=1 ;;
    --deps) DEPS_ONLY=1 ;;
    *) log "unknown option '$arg' (have: --dev, --deps)"; exit 2 ;;
  esac
done
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
PYVER=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
VENV=${COMPASS_VENV:-$HOME/.cache/compass/venv-torch$TORCH_VERSION-py$PYVER}
if ! "$VENV/bin/python" -W ignore -c "import torch; assert torch.__version__.split('+')[0] == '$TORCH_VERSION'" 2>/dev/null; then
  log "installing torch==$TORCH_VERSION into $VENV (once; several GB)"
  "$PYTHON" -m venv "$VENV" 2>/dev/null || {
    log "python venv module missing: installing python3-venv"
    apt-get install -y -qq python3-venv >/dev/null
    "$PYTHON" -m venv "$VENV"
  }
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "torch==$TORCH_VERSION"
fi
if ((DEV)); then
  log "installing the reference implementations into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    numpy safetensors transformers tokenizers sentencepiece protobuf gguf accelerate scipy statsmodels \
    jinja2 pyyaml
fi
"$VENV/bin/python" -W ignore - <<'PY' >&2
import shutil, subprocess, torch
assert torch.compiled_with_cxx11_abi(), "torch wheel without the C++11 ABI"
nvcc = shutil.which("nvcc")
if nvcc and torch.version.cuda:
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout
    if f"release {torch.version.cuda}" not in out:
        print(f"[setup] warning: torch is built for CUDA {torch.version.cuda}, nvcc is another release")
PY
if ((DEPS_ONLY)); then
  echo "$VENV/bin/python"
  exit 0
fi

source "$ROOT/scripts/build_lib.sh"
compass_build "$BUILD" "" -DCOMPASS_PYTHON="$VENV/bin/python"
log "built: $BUILD/bin/compass"
