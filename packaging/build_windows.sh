#!/usr/bin/env bash
# Build dist/Quorum-<version>-windows-x64-setup.exe with Inno Setup (run in Git Bash, as the
# CI's Windows job does; needs Visual Studio's C++ tools for the llama.cpp compile):
#
#   PYTHON=python bash packaging/build_windows.sh
#
# The installer adds a Start-menu entry and an uninstaller, and installs the Microsoft
# Visual C++ runtime (llama.cpp's OpenMP runtime vcomp140.dll is part of it) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHON=${PYTHON:-python}

bash packaging/freeze.sh

VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' app/__init__.py)
if [ ! -f build/vc_redist.x64.exe ]; then
  echo "== downloading the Visual C++ redistributable"
  curl -fsSL -o build/vc_redist.x64.exe https://aka.ms/vs/17/release/vc_redist.x64.exe
fi
ISCC=${ISCC:-$(command -v iscc || echo "/c/Program Files (x86)/Inno Setup 6/ISCC.exe")}
echo "== building the installer with $ISCC"
# MSYS would rewrite /DAppVersion=... into a Windows path without this.
MSYS2_ARG_CONV_EXCL='*' "$ISCC" "/DAppVersion=$VERSION" packaging/windows/quorum.iss

du -sh dist/quorum dist/*-setup.exe
bash packaging/smoke_test.sh dist/quorum/quorum-cli.exe
