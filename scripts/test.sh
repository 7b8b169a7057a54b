#!/usr/bin/env bash
# The test command: set up what the tests need, build every binary (the
# end-to-end tests start real worker processes), run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# pip's console scripts (moto_server, flip) live beside the interpreter.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
export PATH
# The Blender add-on: its pure-Python parts, then inside real Blender
# against a fake coordinator (the real farm's end-to-end run is a cargo test).
python3 -m unittest discover -s plugins/blender/tests -t plugins/blender/tests
addon_zip=$(scripts/build-addon.sh)
blender -b --factory-startup --python-exit-code 1 \
  --python plugins/blender/tests/blender_checks.py -- --zip "$addon_zip"
# The Cinema 4D plugin under its stub `c4d` module, and Octane's Lua
# scripts under a real Lua against the stub `octane` table.
python3 -m unittest discover -s plugins/cinema4d/tests -t plugins/cinema4d/tests
bash plugins/octane/tests/run.sh
# The worker's test-only cheating mode is for the parity tests' workers.
cargo build --workspace --bins --features worker/tamper
cargo test --workspace -- --test-threads 2
