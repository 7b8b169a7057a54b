#!/usr/bin/env bash
# The main job: render the sample scene on a local farm (coordinator, two
# workers, embedded queue, local folder store) and print the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v blender >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then
    echo "Blender is missing; installing Debian's blender package"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq blender >/dev/null
  else
    echo "error: Blender is not installed. Install it with: sudo apt-get install -y blender" >&2
    echo "       (or put a Blender 3.x/4.x on PATH, or pass --blender /path/to/blender)" >&2
    exit 1
  fi
fi
# The cheating worker (--tamper) is test-only code, in a build that asks for it.
features=()
for arg in "$@"; do
  if [[ $arg == --tamper || $arg == --tamper=* ]]; then features=(--features tamper); fi
done
exec cargo run --release -p farm-cli "${features[@]}" -- demo "$@"
