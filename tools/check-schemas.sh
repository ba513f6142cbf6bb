#!/usr/bin/env bash
# Checks the on-disk formats with third-party Python libraries (see tools/check_interop.py).
# Installs the small packages it needs into a venv under .build/ when missing.
set -eu
cd "$(dirname "$0")/.."
V=.build/interop-venv
if ! "$V/bin/python" -c "import jsonschema, xxhash, lz4, safetensors, numpy" 2>/dev/null; then
  python3 -m venv "$V"
  "$V/bin/pip" install -q jsonschema xxhash lz4 safetensors numpy
fi
"$V/bin/python" tools/check_interop.py "$@"
tools/check-report.sh  # bridge report: page, SVG files, a headless-Chromium screenshot
