#!/usr/bin/env bash
# The test command: set up what the tests need, build every binary (the
# end-to-end tests start real worker processes), run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --workspace --bins
cargo test --workspace -- --test-threads 2
