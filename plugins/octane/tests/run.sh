#!/usr/bin/env bash
# Run the Octane Lua scripts' tests under a real Lua against the stub octane
# table: bash plugins/octane/tests/run.sh  (from anywhere). Exits non-zero on
# any failure; the last line is "octane lua tests: N passed (Lua 5.4)".
# LUA picks the interpreter (default lua5.4). When lua5.1 or luajit is also
# installed the whole suite runs under it first (Octane embeds Lua 5.1 /
# LuaJIT); CI installs only lua5.4.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lua="${LUA:-lua5.4}"
if ! command -v "$lua" >/dev/null 2>&1; then
    echo "octane lua tests: $lua not found (apt-get install lua5.4)" >&2
    exit 1
fi
for old in lua5.1 luajit; do
    if [ "$old" != "$lua" ] && command -v "$old" >/dev/null 2>&1; then
        BATCH_LUA="$old" "$old" "$here/run_tests.lua"
    fi
done
BATCH_LUA="$lua" "$lua" "$here/run_tests.lua"
