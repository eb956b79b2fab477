#!/usr/bin/env bash
# Freeze Quorum into one folder with PyInstaller: the step every platform's build shares.
#
#   bash packaging/freeze.sh        # -> dist/quorum/ (Linux, Windows), dist/Quorum.app (macOS)
#
# 1. a build virtualenv in build/venv (git-ignored), separate from any development venv;
# 2. llama-cpp-python compiled for portability: GGML_NATIVE=OFF, so the binary uses a fixed
#    instruction-set baseline instead of the build machine's own (on x86-64 that baseline
#    is AVX2+FMA+F16C; a native build on an AVX-512 machine crashes on most laptops);
#    the wheel is kept in build/llama-wheels/<hash of the flags>/ so rebuilds skip the
#    10-20 minute compile; pip's own cache is NOT used for it, because pip keys cached
#    wheels by the sdist alone and would hand back a native-CPU build made elsewhere;
# 3. the app's other dependencies and PyInstaller;
# 4. PyInstaller with packaging/quorum.spec.
#
# Environment: PYTHON (interpreter for the venv, default python3), QUORUM_CMAKE_ARGS (extra
# CMake flags, e.g. -DGGML_METAL=ON on macOS; GGML_NATIVE=OFF is always added), NICE (a
# prefix for the compile, e.g. "nice -n 19" on a shared machine), QUORUM_LLAMA_WHEELS
# (where compiled wheels are kept, default build/llama-wheels; point it outside the
# checkout to keep them across fresh clones).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LLAMA_VERSION=0.3.36
PYTHON=${PYTHON:-python3}
NICE=${NICE:-}

if [ -d build/venv/Scripts ]; then BIN=build/venv/Scripts; else BIN=build/venv/bin; fi
if [ ! -x "$BIN/python" ] && [ ! -x "$BIN/python.exe" ]; then
  echo "== creating build/venv with $PYTHON"
  "$PYTHON" -m venv build/venv
  if [ -d build/venv/Scripts ]; then BIN=build/venv/Scripts; else BIN=build/venv/bin; fi
  "$BIN/python" -m pip install -q --upgrade pip wheel
fi
PY="$BIN/python"

CMAKE_FLAGS="-DGGML_NATIVE=OFF${QUORUM_CMAKE_ARGS:+ $QUORUM_CMAKE_ARGS}"
KEY=$(printf '%s %s %s' "$LLAMA_VERSION" "$CMAKE_FLAGS" "$(uname -sm)" | "$PY" -c \
  'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:12])')
WHEEL_DIR=${QUORUM_LLAMA_WHEELS:-build/llama-wheels}/$KEY
if ! ls "$WHEEL_DIR"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  echo "== compiling llama-cpp-python $LLAMA_VERSION with CMAKE_ARGS='$CMAKE_FLAGS' (10-20 min)"
  mkdir -p "$WHEEL_DIR"
  # --no-binary: never take a prebuilt wheel from an index or find-links folder either.
  CMAKE_ARGS="$CMAKE_FLAGS" PIP_CACHE_DIR="$ROOT/build/pip-cache-portable" \
    $NICE "$PY" -m pip wheel --no-deps --no-binary llama-cpp-python \
    -w "$WHEEL_DIR" "llama-cpp-python==$LLAMA_VERSION"
  printf '%s\n' "$CMAKE_FLAGS" >"$WHEEL_DIR/CMAKE_ARGS.txt"
fi
echo "== installing the portable llama-cpp-python, the app's dependencies and PyInstaller"
# --force-reinstall --no-deps: a previous run may have left another llama build in the venv.
"$PY" -m pip install -q --force-reinstall --no-deps "$WHEEL_DIR"/llama_cpp_python-*.whl
# Editable: PyInstaller then freezes exactly this working tree's app/ package.
"$PY" -m pip install -q -e . "pyinstaller>=6.10,<7"

echo "== freezing with PyInstaller"
rm -rf dist/quorum dist/Quorum.app
"$PY" -m PyInstaller --noconfirm --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/quorum.spec
echo "== frozen app in $ROOT/dist"
