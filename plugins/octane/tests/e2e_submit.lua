-- e2e_submit.lua: submit.lua's own submission (check the dialog's fields,
-- export the project, run `farm --json submit`, read its answer) against a
-- REAL coordinator, under the stub `octane` table (no Octane needed): the
-- Rust end-to-end test in coordinator/tests/renderers.rs runs it.
--
--   lua5.4 e2e_submit.lua FARM PACKAGE TEMP_DIR TARGET FRAMES SAMPLES NAME
--
-- FARM is the `farm` program (its URL and token from FARM_URL/FARM_TOKEN);
-- the stub's export writes PACKAGE's bytes as the exported .orbx, into a
-- new folder under TEMP_DIR. Prints "JOB <id> <url>" and exits 0, or
-- prints the message submit.lua would show on stderr and exits 1.

local HERE = string.match(arg[0], "^(.*)[/\\][^/\\]*$") or "."
local farm, package, temp_dir, target, frames, samples, name = (table.unpack or unpack)(arg, 1, 7)
if name == nil then
    io.stderr:write("usage: e2e_submit.lua FARM PACKAGE TEMP_DIR TARGET FRAMES SAMPLES NAME\n")
    os.exit(2)
end

local f = assert(io.open(package, "rb"))
local bytes = f:read("*a")
f:close()
dofile(HERE .. "/stub_octane.lua").install({
    package = bytes,
    temp_dir = temp_dir,
    project = "/projects/" .. name .. ".ocs",
    targets = { target },
})
FARM_SUBMIT_AS_MODULE = true
local submit = dofile(HERE .. "/../submit.lua")
local result = submit.submit({
    farm = farm,
    target = target,
    frames = frames,
    samples = samples,
    name = name,
    priority = "50",
    paused = false,
})
if not result.ok then
    io.stderr:write(result.message .. "\n")
    os.exit(1)
end
print("JOB " .. result.id .. " " .. tostring(result.url))
