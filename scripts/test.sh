#!/usr/bin/env bash
# The test command: set up what the tests need, build every binary (the
# end-to-end tests start real worker processes), run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# pip's console scripts (moto_server, flip) live beside the interpreter.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
export PATH
cargo build --workspace --bins
cargo test --workspace -- --test-threads 2
