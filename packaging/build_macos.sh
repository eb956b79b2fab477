#!/usr/bin/env bash
# Build Quorum.app and dist/Quorum-<version>-macos-<arch>.dmg, signed and notarised when
# the credentials are present (CI passes them from repository secrets):
#
#   bash packaging/build_macos.sh
#
# Signing (optional; without it the app is ad-hoc signed: fine for your own Mac, but
# Gatekeeper blocks it elsewhere):
#   MACOS_CERTIFICATE           base64 of a "Developer ID Application" certificate (.p12)
#   MACOS_CERTIFICATE_PASSWORD  its password
#   MACOS_SIGN_IDENTITY         optional, e.g. "Developer ID Application: Name (TEAMID)"
# Notarisation (needs signing): APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD (app-specific).
set -euo pipefail
cd "$(dirname "$0")/.."

# Metal is llama.cpp's GPU backend on Apple silicon; embedding the shader library in the
# dylib means the frozen app needs no .metal file beside it.
export QUORUM_CMAKE_ARGS="-DGGML_METAL=ON -DGGML_METAL_EMBED_LIBRARY=ON${QUORUM_CMAKE_ARGS:+ $QUORUM_CMAKE_ARGS}"
VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' app/__init__.py)
ARCH=$(uname -m)
APP=dist/Quorum.app
DMG=dist/Quorum-$VERSION-macos-$ARCH.dmg
ENTITLEMENTS=packaging/macos/entitlements.plist
IDENTITY=""

if [ -n "${MACOS_CERTIFICATE:-}" ]; then
  echo "== importing the signing certificate into a temporary keychain"
  mkdir -p build
  KEYCHAIN=$PWD/build/quorum-signing.keychain-db
  KEYCHAIN_PASSWORD=$(uuidgen)
  security delete-keychain "$KEYCHAIN" 2>/dev/null || true
  security create-keychain -p "$KEYCHAIN_PASSWORD" "$KEYCHAIN"
  security set-keychain-settings -lut 3600 "$KEYCHAIN"
  security unlock-keychain -p "$KEYCHAIN_PASSWORD" "$KEYCHAIN"
  printf '%s' "$MACOS_CERTIFICATE" | base64 --decode >build/certificate.p12
  security import build/certificate.p12 -k "$KEYCHAIN" -P "$MACOS_CERTIFICATE_PASSWORD" \
    -T /usr/bin/codesign
  rm -f build/certificate.p12
  security set-key-partition-list -S apple-tool:,apple:,codesign: -s -k "$KEYCHAIN_PASSWORD" \
    "$KEYCHAIN" >/dev/null
  # shellcheck disable=SC2046  # the existing keychains are one word each
  security list-keychains -d user -s "$KEYCHAIN" $(security list-keychains -d user | tr -d '"')
  IDENTITY=${MACOS_SIGN_IDENTITY:-$(security find-identity -v -p codesigning "$KEYCHAIN" |
    awk -F'"' '/Developer ID Application/ { print $2; exit }')}
  [ -n "$IDENTITY" ] || { echo "no Developer ID Application identity in the certificate" >&2; exit 1; }
  # PyInstaller signs every collected binary with it (inside out, as codesign requires).
  export QUORUM_CODESIGN_IDENTITY=$IDENTITY
fi

bash packaging/freeze.sh

if [ -n "$IDENTITY" ]; then
  echo "== signing $APP with the hardened runtime"
  codesign --force --deep --timestamp --options runtime --entitlements "$ENTITLEMENTS" \
    --sign "$IDENTITY" "$APP"
  codesign --verify --deep --strict --verbose=2 "$APP"
fi

echo "== writing $DMG"
STAGE=build/dmg
rm -rf "$STAGE" "$DMG"
mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"  # drag-to-install
hdiutil create -volname "Quorum $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"

if [ -n "$IDENTITY" ]; then
  codesign --force --timestamp --sign "$IDENTITY" "$DMG"
  if [ -n "${APPLE_ID:-}" ] && [ -n "${APPLE_TEAM_ID:-}" ] && [ -n "${APPLE_APP_PASSWORD:-}" ]; then
    echo "== notarising $DMG (waits for Apple, usually a few minutes)"
    xcrun notarytool submit "$DMG" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
      --password "$APPLE_APP_PASSWORD" --wait
    xcrun stapler staple "$DMG"
    spctl --assess --type open --context context:primary-signature --verbose=2 "$DMG"
  else
    echo "== not notarised: APPLE_ID, APPLE_TEAM_ID or APPLE_APP_PASSWORD is missing"
  fi
fi

du -sh "$APP" "$DMG"
bash packaging/smoke_test.sh "$APP/Contents/MacOS/Quorum"
