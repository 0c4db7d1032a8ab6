#!/usr/bin/env bash
# Build Fimble.app and a .dmg on macOS. Run from the repository root:
#   packaging/macos/build_dmg.sh [--with-starter]
# Needs Python 3.10+, Xcode command line tools, CMake, and create-dmg
# (brew install create-dmg). llama.cpp builds with Metal by default on Apple
# silicon. Sign and notarize with your Developer ID before distributing.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv ] || python3 -m venv .venv
.venv/bin/pip install --no-cache-dir "llama-cpp-python>=0.3.36"
.venv/bin/pip install -e ".[starter,package]"
.venv/bin/python packaging/build.py "$@"
dist/Fimble.app/Contents/MacOS/fimble --self-test
version=$(.venv/bin/python -c "import app; print(app.__version__)")
rm -f "dist/Fimble-${version}.dmg"
create-dmg \
  --volname "Fimble ${version}" \
  --volicon resources/icons/fimble.icns \
  --window-size 560 340 \
  --icon-size 96 \
  --icon "Fimble.app" 140 160 \
  --app-drop-link 420 160 \
  --hide-extension "Fimble.app" \
  "dist/Fimble-${version}.dmg" \
  "dist/Fimble.app"
