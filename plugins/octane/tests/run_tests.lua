-- run_tests.lua: tests of batch.lua and submit.lua under a real Lua
-- against the stub `octane` table in stub_octane.lua.
--
-- Run through run.sh, or: lua5.4 run_tests.lua  (from any folder; Lua 5.1
-- and LuaJIT run it too). batch.lua runs in a subprocess with the
-- interpreter in $BATCH_LUA (default lua5.4):
--   lua -e "<install stub>" batch.lua key=value ...
-- submit.lua is loaded in this process; its farm runs are real processes.

local HERE = string.match(arg[0], "^(.*)[/\\][^/\\]*$") or "."
local PLUGIN = HERE .. "/.."
local BATCH_LUA = os.getenv("BATCH_LUA") or "lua5.4"
local ONLY = os.getenv("ONLY") -- run only the tests whose name contains this

local passed, failed = 0, {}

-- A word for /bin/sh (single-quoted); the tests' own quoting, not submit.lua's.
local function sh(s)
    return "'" .. string.gsub(s, "'", "'\\''") .. "'"
end

-- Run a shell command; its stdout and exit code (echoed by the shell, so
-- this works on Lua 5.1 too, whose pipe close() does not give it).
local function shell(cmd)
    local p = assert(io.popen(cmd .. "; echo \"__RC=$?\"", "r"))
    local out = p:read("*a")
    p:close()
    local at, _, code = string.find(out, "__RC=(%d+)\n?$")
    return string.sub(out, 1, at - 1), tonumber(code)
end

-- The text of a file, or nil when it is missing.
local function read(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local t = f:read("*a")
    f:close()
    return t
end

-- Write text to a file.
local function write(path, text)
    local f = assert(io.open(path, "wb"))
    f:write(text)
    f:close()
end

-- Whether a file exists.
local function exists(path)
    return read(path) ~= nil
end

-- A fresh temporary folder with a space in its name (quoting must cope).
local TMP = string.gsub(shell("mktemp -d \"${TMPDIR:-/tmp}/octane lua tests.XXXXXX\""), "%s+$", "")
local PWN_DIR = string.gsub(shell("mktemp -d"), "%s+$", "")
local counter = 0
-- A new empty folder under TMP for one test.
local function fresh_dir()
    counter = counter + 1
    local d = TMP .. "/t" .. counter
    assert(os.execute("mkdir -p " .. sh(d)))
    return d
end

-- Fail the current test unless a == b.
local function eq(a, b, what)
    if a ~= b then
        error(string.format("%s: expected %q, got %q", what or "value", tostring(b), tostring(a)), 2)
    end
end

-- Fail the current test unless text contains the plain string part.
local function has(text, part, what)
    if not string.find(text or "", part, 1, true) then
        error(string.format("%s: %q does not contain %q", what or "text", tostring(text), part), 2)
    end
end

-- Fail the current test unless cond holds.
local function ok(cond, what)
    if not cond then error(what or "condition failed", 2) end
end

-- Run one named test, counting it.
local function test(name, fn)
    if ONLY and not string.find(name, ONLY, 1, true) then return end
    local good, err = pcall(fn)
    if good then
        passed = passed + 1
    else
        failed[#failed + 1] = name .. ": " .. tostring(err)
        print("FAIL " .. name .. "\n     " .. tostring(err))
    end
end

-- Lua source for a value (tables of strings, numbers, booleans, nested tables).
local function literal(v)
    if type(v) == "table" then
        local parts = {}
        for k, x in pairs(v) do
            local key = type(k) == "number" and ("[" .. k .. "]") or ("[" .. string.format("%q", k) .. "]")
            parts[#parts + 1] = key .. "=" .. literal(x)
        end
        return "{" .. table.concat(parts, ",") .. "}"
    elseif type(v) == "string" then
        return string.format("%q", v)
    end
    return tostring(v)
end

-- Split text into lines (without their line ends).
local function lines(text)
    local out = {}
    for l in string.gmatch(text, "([^\n]*)\n") do out[#out + 1] = l end
    return out
end

-- Run batch.lua with the stub configured by `config` and the arguments
-- `args`; returns { out, lines, code, err, log (list of call lines), dir }.
local function batch(config, args)
    local dir = fresh_dir()
    config.log = dir .. "/calls.log"
    local setup = string.format("dofile(%q).install(%s)", HERE .. "/stub_octane.lua", literal(config))
    local words = { BATCH_LUA, "-e", setup, PLUGIN .. "/batch.lua" }
    for _, a in ipairs(args) do
        words[#words + 1] = string.gsub(a, "@OUT", dir)
    end
    local quoted = {}
    for i, w in ipairs(words) do quoted[i] = sh(w) end
    local out, code = shell(table.concat(quoted, " ") .. " 2>" .. sh(dir .. "/stderr"))
    return {
        out = out, lines = lines(out), code = code, dir = dir,
        err = read(dir .. "/stderr") or "",
        log = lines(read(config.log) or ""),
    }
end

-- The call log's lines that start with `name` + tab, without the name.
local function calls(r, name)
    local found = {}
    for _, l in ipairs(r.log) do
        if string.sub(l, 1, #name + 1) == name .. "\t" then
            found[#found + 1] = string.sub(l, #name + 2)
        elseif l == name then
            found[#found + 1] = ""
        end
    end
    return found
end

-- Check that a run failed with exactly one FARM-ERROR line holding `part`.
local function fails_with(r, part)
    eq(r.code, 1, "exit code")
    local last = r.lines[#r.lines] or ""
    ok(string.sub(last, 1, 11) == "FARM-ERROR ", "last line is not FARM-ERROR: " .. r.out)
    has(last, part, "error line")
    for i = 1, #r.lines - 1 do
        ok(r.lines[i] ~= "FARM-DONE" and not string.find(r.lines[i], "^FARM%-ERROR"), "stray line " .. r.lines[i])
    end
    eq(r.err, "", "stderr")
end

-- The lines of a render of `frame` with `steps` progress steps.
local function progress_lines(frame, steps)
    local t = {}
    for i = 1, steps do
        t[#t + 1] = string.format("FARM-PROGRESS %d %.4f", frame, i / steps)
    end
    return t
end

-- Check r.lines against expected lines; a FARM-SAVED entry {frame, path}
-- matches any render time of the %.3f form.
local function same_lines(r, expected)
    eq(#r.lines, #expected, "line count of\n" .. r.out)
    for i, want in ipairs(expected) do
        local got = r.lines[i]
        if type(want) == "table" then
            local f, secs, path = string.match(got, "^FARM%-SAVED (%-?%d+) (%d+%.%d%d%d) (.*)$")
            ok(f ~= nil, "not a FARM-SAVED line: " .. got)
            eq(tonumber(f), want[1], "saved frame")
            eq(path, want[2], "saved path")
        else
            eq(got, want, "line " .. i)
        end
    end
end

-- Append the items of list b to list a; returns a.
local function append(a, b)
    for _, x in ipairs(b) do a[#a + 1] = x end
    return a
end

---------------------------------------------------------------- batch.lua

test("batch: three frames in order, exact lines, files, times, samples", function()
    local r = batch({ fps = 24, steps = 4 }, { "scene=/s/shot.orbx", "output=@OUT", "frames=3,1,2", "samples=200" })
    local want = { "FARM-TARGET Render target" }
    for _, f in ipairs({ 3, 1, 2 }) do
        want[#want + 1] = "FARM-FRAME " .. f
        append(want, progress_lines(f, 4))
        want[#want + 1] = { f, string.format("%s/frame_%06d.exr", r.dir, f) }
    end
    want[#want + 1] = "FARM-DONE"
    same_lines(r, want)
    eq(r.code, 0, "exit code")
    eq(r.err, "", "stderr")
    for _, f in ipairs({ 1, 2, 3 }) do
        ok(exists(string.format("%s/frame_%06d.exr", r.dir, f)), "frame file " .. f)
    end
    eq(calls(r, "project.load")[1], "/s/shot.orbx", "loaded scene")
    eq(calls(r, "graph:findNodes")[1], "56\ttrue", "findNodes(NT_RENDERTARGET, true)")
    local times = calls(r, "graph:updateTime")
    eq(#times, 3, "updateTime calls")
    eq(times[1], tostring(3 / 24), "time of frame 3")
    eq(times[2], tostring(1 / 24), "time of frame 1")
    eq(times[3], tostring(2 / 24), "time of frame 2")
    local starts = calls(r, "render.start")
    eq(#starts, 3, "render.start calls")
    eq(starts[1], "node:Render target\t200", "render.start target and maxSamples")
    local saves = calls(r, "render.saveImage")
    eq(saves[1], r.dir .. "/frame_000003.exr\t2", "saveImage path and EXR type")
    eq(#calls(r, "film:setPinValue"), 0, "no resolution change")
    -- updateTime comes before the render of its frame
    local order = {}
    for _, l in ipairs(r.log) do
        local n = string.match(l, "^([^\t]+)")
        if n == "graph:updateTime" or n == "render.start" or n == "render.saveImage" then order[#order + 1] = n end
    end
    eq(table.concat(order, ","), string.sub(string.rep(",graph:updateTime,render.start,render.saveImage", 3), 2), "call order")
end)

test("batch: no samples= passes maxSamples nil, progress from the scene's own", function()
    local r = batch({ scene_samples = 50, steps = 2, fps = 25 }, { "scene=a.orbx", "output=@OUT", "frames=10" })
    eq(r.code, 0, "exit code")
    eq(calls(r, "render.start")[1], "node:Render target\tnil", "maxSamples")
    eq(calls(r, "graph:updateTime")[1], tostring(10 / 25), "time")
    same_lines(r, append(append({ "FARM-TARGET Render target", "FARM-FRAME 10" }, progress_lines(10, 2)),
        { { 10, r.dir .. "/frame_000010.exr" }, "FARM-DONE" }))
end)

test("batch: no progress lines when max samples is 0", function()
    local r = batch({ scene_samples = 0 }, { "scene=a.orbx", "output=@OUT", "frames=1" })
    eq(r.code, 0, "exit code")
    same_lines(r, { "FARM-TARGET Render target", "FARM-FRAME 1", { 1, r.dir .. "/frame_000001.exr" }, "FARM-DONE" })
end)

test("batch: target= picks the named render target", function()
    local r = batch({ targets = { "Beauty", "Clay" } }, { "scene=a.orbx", "output=@OUT", "frames=1", "target=Clay" })
    eq(r.code, 0, "exit code")
    eq(r.lines[1], "FARM-TARGET Clay", "target line")
    eq(calls(r, "render.start")[1], "node:Clay\tnil", "rendered target")
end)

test("batch: unknown target lists the names there are", function()
    local r = batch({ targets = { "Beauty", "Clay" } }, { "scene=a.orbx", "output=@OUT", "frames=1", "target=Nope" })
    fails_with(r, "no render target named 'Nope'; the scene has: 'Beauty', 'Clay'")
    eq(#r.lines, 1, "only the error line")
    eq(#calls(r, "render.start"), 0, "nothing rendered")
end)

test("batch: several targets and none named", function()
    local r = batch({ targets = { "Beauty", "Clay" } }, { "scene=a.orbx", "output=@OUT", "frames=1" })
    fails_with(r, "the scene has 2 render targets ('Beauty', 'Clay'); name one with target=")
end)

test("batch: no render target", function()
    local r = batch({ targets = {} }, { "scene=a.orbx", "output=@OUT", "frames=1" })
    fails_with(r, "the scene has no render target")
    local r2 = batch({ targets = {} }, { "scene=a.orbx", "output=@OUT", "frames=1", "target=X" })
    fails_with(r2, "no render target named 'X': the scene has no render targets")
end)

test("batch: scene that cannot be loaded", function()
    local r = batch({ load_fails = true }, { "scene=/no/such.orbx", "output=@OUT", "frames=1" })
    fails_with(r, "cannot load scene /no/such.orbx")
    eq(#r.lines, 1, "only the error line")
    eq(#calls(r, "graph:findNodes"), 0, "no graph use after a failed load")
end)

test("batch: image that cannot be saved", function()
    local r = batch({ save_fails = true, steps = 1 }, { "scene=a.orbx", "output=@OUT", "frames=4,5" })
    fails_with(r, "cannot save frame 4 to " .. r.dir .. "/frame_000004.exr")
    eq(r.lines[2], "FARM-FRAME 4", "frame line first")
    eq(#calls(r, "render.start"), 1, "stops at the first failure")
    ok(not exists(r.dir .. "/frame_000004.exr"), "no file")
end)

test("batch: bad arguments, each an error before anything loads", function()
    local cases = {
        { { "output=@OUT", "frames=1" }, "missing argument scene=" },
        { { "scene=a.orbx", "frames=1" }, "missing argument output=" },
        { { "scene=a.orbx", "output=@OUT" }, "missing argument frames=" },
        { { "scene=a.orbx", "output=@OUT", "frames=" }, "missing argument frames=" },
        { { "scene=", "output=@OUT", "frames=1" }, "missing argument scene=" },
        { { "scene=a.orbx", "output=@OUT", "frames=1", "colour=red" }, "unknown argument 'colour'" },
        { { "scene=a.orbx", "output=@OUT", "frames=1", "justtext" }, "argument 'justtext' is not key=value" },
        { { "scene=a.orbx", "output=@OUT", "frames=1,a" }, "frame 'a' is not a whole number" },
        { { "scene=a.orbx", "output=@OUT", "frames=1.5" }, "frame '1.5' is not a whole number" },
        { { "scene=a.orbx", "output=@OUT", "frames=1,,2" }, "frame '' is not a whole number" },
        { { "scene=a.orbx", "output=@OUT", "frames=1-5" }, "frame '1-5' is not a whole number" },
        { { "scene=a.orbx", "output=@OUT", "frames= 1" }, "frame ' 1' is not a whole number" },
        { { "scene=a.orbx", "output=@OUT", "frames=1", "samples=0" }, "samples=0 must be a whole number of at least 1" },
        { { "scene=a.orbx", "output=@OUT", "frames=1", "samples=-3" }, "samples=-3 must be" },
        { { "scene=a.orbx", "output=@OUT", "frames=1", "samples=many" }, "samples=many must be" },
        { { "scene=a.orbx", "output=@OUT", "frames=1", "width=640" }, "width= and height= must be given together" },
        { { "scene=a.orbx", "output=@OUT", "frames=1", "height=480" }, "width= and height= must be given together" },
        { { "scene=a.orbx", "output=@OUT", "frames=1", "width=0", "height=480" }, "width=0 must be a whole number of at least 1" },
        { { "scene=a.orbx", "output=@OUT", "frames=1", "width=640", "height=-1" }, "height=-1 must be" },
        { { "scene=a.orbx", "output=@OUT", "frames=1", "width=6.4e2", "height=480" }, "width=6.4e2 must be" },
        { { "scene=a.orbx", "output=@OUT", "frames=1", "frames=2" }, "argument 'frames' is given twice" },
    }
    for _, c in ipairs(cases) do
        local r = batch({}, c[1])
        local ok_, err = pcall(fails_with, r, c[2])
        if not ok_ then error(table.concat(c[1], " ") .. ": " .. tostring(err), 0) end
        eq(#r.lines, 1, table.concat(c[1], " ") .. ": lines")
        eq(#calls(r, "project.load"), 0, table.concat(c[1], " ") .. ": load called")
    end
end)

test("batch: no arguments at all", function()
    local r = batch({}, {})
    fails_with(r, "missing argument scene=")
end)

test("batch: width/height set the film resolution", function()
    local r = batch({ targets = { "Main" } }, { "scene=a.orbx", "output=@OUT", "frames=1", "width=1920", "height=1080" })
    eq(r.code, 0, "exit code")
    eq(calls(r, "node:getInputNode")[1], "node:Main\t1001", "getInputNode(P_FILM_SETTINGS)")
    eq(calls(r, "film:setPinValue")[1], "node:Main film\t1002\t{1920,1080}", "setPinValue(P_RESOLUTION, {w, h})")
end)

test("batch: resolution without a film settings node", function()
    local r = batch({ targets = { { name = "Bare", film = false } } },
        { "scene=a.orbx", "output=@OUT", "frames=1", "width=64", "height=64" })
    fails_with(r, "render target 'Bare' has no film settings node; cannot set the resolution")
    eq(#calls(r, "render.start"), 0, "nothing rendered")
end)

test("batch: negative and zero frames: frame_-00012.exr, frame_000000.exr", function()
    local r = batch({ fps = 24, steps = 1 }, { "scene=a.orbx", "output=@OUT", "frames=-12,0" })
    eq(r.code, 0, "exit code")
    same_lines(r, { "FARM-TARGET Render target",
        "FARM-FRAME -12", "FARM-PROGRESS -12 1.0000", { -12, r.dir .. "/frame_-00012.exr" },
        "FARM-FRAME 0", "FARM-PROGRESS 0 1.0000", { 0, r.dir .. "/frame_000000.exr" },
        "FARM-DONE" })
    ok(exists(r.dir .. "/frame_-00012.exr"), "negative frame file")
    eq(calls(r, "graph:updateTime")[1], tostring(-12 / 24), "negative time")
end)

test("batch: messages stay on one line", function()
    local r = batch({ targets = { "A\nB", "C" } }, { "scene=a.orbx", "output=@OUT", "frames=1", "target=x\ny" })
    fails_with(r, "no render target named 'x y'; the scene has: 'A B', 'C'")
    eq(#r.lines, 1, "one line")
end)

test("batch: a Lua error becomes FARM-ERROR and exit code 1", function()
    local r = batch({ graph_raises = "boom\nsecond line" }, { "scene=a.orbx", "output=@OUT", "frames=1" })
    fails_with(r, "script error: ")
    has(r.lines[1], "boom second line", "error text")
end)

test("batch: plain Lua 5.1 syntax (no goto, //, utf8)", function()
    for _, name in ipairs({ "batch.lua", "submit.lua" }) do
        local src = read(PLUGIN .. "/" .. name)
        local code = string.gsub(src, "%-%-[^\n]*", "")                  -- comments out
        code = string.gsub(code, '"[^"\n]*"', '""')                       -- strings out
        code = string.gsub(code, "'[^'\n]*'", "''")
        ok(not string.find(code, "//", 1, true), name .. " uses //")
        ok(not string.find(code, "%f[%w_]goto%f[^%w_]"), name .. " uses goto")
        ok(not string.find(code, "%f[%w_]utf8%."), name .. " uses utf8")
    end
end)

---------------------------------------------------------------- submit.lua

FARM_SUBMIT_AS_MODULE = true
local STUB = dofile(HERE .. "/stub_octane.lua")
STUB.install({})
local S = dofile(PLUGIN .. "/submit.lua")

local HOSTILE = {
    "it's \"quoted\"", "$(touch PWNED)", "`touch PWNED`", "a; touch PWNED", "a && touch PWNED",
    "a | cat", "> PWNED", "*", "~", "-n", "", "back\\slash\\", "two\nlines", "tab\there", "$HOME",
    "'; touch PWNED; echo '",
}

test("submit: POSIX quoting round-trips hostile text through sh", function()
    local dir = fresh_dir()
    for _, s in ipairs(HOSTILE) do
        local out = shell("cd " .. sh(dir) .. " && printf '%s' " .. S.quote(s, "posix"))
        eq(out, s, "round trip of " .. string.format("%q", s))
    end
    ok(not exists(dir .. "/PWNED"), "a quoted word ran a command")
end)

test("submit: Windows quoting", function()
    eq(S.quote("C:\\Program Files\\farm.exe", "windows"), '"C:\\Program Files\\farm.exe"', "plain path")
    eq(S.quote("C:\\out dir\\", "windows"), '"C:\\out dir\\\\"', "trailing backslash doubled")
    eq(S.quote("a & b | c > d", "windows"), '"a & b | c > d"', "cmd metacharacters inside quotes")
    for _, bad in ipairs({ 'say "hi"', "%PATH%", "bang!", "caret^", "two\nlines" }) do
        local good, err = pcall(S.quote, bad, "windows")
        ok(not good, "accepted " .. bad)
        has(err, "cannot be passed safely on Windows", "error for " .. bad)
    end
    eq(S.command_line({ "farm", "--name", "a b" }, "C:\\t\\err.txt", "windows"),
        '""farm" "--name" "a b" 2>"C:\\t\\err.txt""', "whole line in an extra pair of quotes")
end)

test("submit: POSIX command line", function()
    eq(S.command_line({ "farm", "--name", "it's" }, "/t/e", "posix"),
        "'farm' '--name' 'it'\\''s' </dev/null 2>'/t/e'; echo \"" .. S.EXIT_MARK .. "$?\"", "line")
end)

test("submit: check_job and build_argv", function()
    local j = S.check_job({ farm = " ", file = "/t/shot.orbx", target = "Beauty", frames = " 1-10 ",
        samples = "0", name = "  Shot 10 ", priority = "", paused = false })
    eq(j.farm, "farm", "default farm")
    eq(table.concat(S.build_argv(j), "|"),
        "farm|--json|submit|/t/shot.orbx|--renderer|octane|--render-target|Beauty|--frames|1-10|--name|Shot 10",
        "minimal argv: no samples, no priority, not paused")
    j = S.check_job({ farm = "/opt/farm", file = "/t/a.orbx", target = "T", frames = "1,5,10-12",
        samples = "128", name = "", priority = "90", paused = true })
    eq(table.concat(S.build_argv(j), "|"),
        "/opt/farm|--json|submit|/t/a.orbx|--renderer|octane|--render-target|T|--frames|1,5,10-12|--samples|128|--priority|90|--paused",
        "full argv")
    local bad = {
        { { target = "T", frames = "", samples = "0" }, "frames are empty" },
        { { target = "", frames = "1", samples = "0" }, "choose a render target" },
        { { target = "T", frames = "1", samples = "-1" }, "Samples must be a whole number" },
        { { target = "T", frames = "1", samples = "lots" }, "Samples must be a whole number" },
        { { target = "T", frames = "1", samples = "0", priority = "101" }, "Priority must be a whole number from 0 to 100" },
        { { target = "T", frames = "1", samples = "0", priority = "high" }, "Priority must be" },
    }
    for _, c in ipairs(bad) do
        local good, err = pcall(S.check_job, c[1])
        ok(not good, "accepted " .. c[2])
        has(err, c[2], "message")
    end
end)

test("submit: frames from the animation range", function()
    eq(S.frames_from_range(0, 2, 24), "0-48", "0 s to 2 s at 24 fps")
    eq(S.frames_from_range(1 / 24, 10 / 24, 24), "1-10", "rounded to whole frames")
    eq(S.frames_from_range(-1, 1, 10), "-10-10", "negative start")
    eq(S.frames_from_range(0, 0, 24), "1", "no animation")
    eq(S.frames_from_range(nil, nil, 24), "1", "no range")
    eq(S.frames_from_range(0, 2, 0), "1", "no frame rate")
end)

test("submit: parse farm's JSON and exit codes", function()
    local json = '{"bundle":"c0de","bundle_bytes":12,"job":{"bundle":"c0de","chunk_size":1,"id":"9a8b-77",'
        .. '"name":"x"},"tasks":3,"url":"http://farm:8080/api/v1/jobs/9a8b-77"}\n'
    local r = S.parse_result(json, "", 0)
    ok(r.ok, "ok")
    eq(r.id, "9a8b-77", "id from the job object")
    eq(r.url, "http://farm:8080/api/v1/jobs/9a8b-77", "url")
    eq(S.success_text(r), "Job 9a8b-77 created.\nhttp://farm:8080/api/v1/jobs/9a8b-77", "success text")
    r = S.parse_result('{"id": 42}', "", 0)
    eq(r.id, "42", "numeric id")
    eq(r.url, nil, "no url")
    eq(S.success_text(r), "Job 42 created.", "success text without url")
    r = S.parse_result("nothing useful", "", 0)
    ok(not r.ok, "no id is a failure")
    has(r.message, "farm printed no job id", "message")
    r = S.parse_result("", "error: frame 3 appears more than once; list each frame once\n", 3)
    ok(not r.ok, "refused")
    eq(r.message, "The farm refused the job: error: frame 3 appears more than once; list each frame once", "refused message")
    r = S.parse_result('{"error":{"code":"bad_frames","message":"no"}}', "", 3)
    has(r.message, "The farm refused the job: {\"error\"", "refusal from stdout when stderr is empty")
    r = S.parse_result("", "error: connection refused (http://127.0.0.1:8080)", 5)
    eq(r.message, "The coordinator cannot be reached: error: connection refused (http://127.0.0.1:8080)", "unreachable")
    has(S.parse_result("", "error: unexpected argument '--renderer'", 2).message, "is it new enough", "usage")
    has(S.parse_result("", "sh: farm: not found", 127).message, "farm program was not found", "missing farm")
    eq(S.parse_result("", "", 4).message, "farm failed (exit code 4).", "other code")
    eq(S.parse_result("", "", nil).message, "farm failed.", "unknown code")
end)

-- Write a fake `farm` program: records its argv (NUL-separated) and whether
-- the package existed, prints `stdout` and `stderr`, exits with `code`.
local function fake_farm(dir, stdout, stderr, code)
    local path = dir .. "/fake farm"
    write(path, table.concat({
        "#!/bin/sh",
        "printf '%s\\0' \"$0\" \"$@\" > " .. sh(dir .. "/argv"),
        "if [ -f \"$3\" ]; then echo present > " .. sh(dir .. "/package") .. "; fi",
        "printf '%s' " .. sh(stdout),
        "printf '%s' " .. sh(stderr) .. " >&2",
        "exit " .. code,
        "",
    }, "\n"))
    assert(os.execute("chmod +x " .. sh(path)))
    return path
end

-- The argv a fake farm recorded, as a list.
local function recorded_argv(dir)
    local t = {}
    for a in string.gmatch(read(dir .. "/argv") or "", "([^%z]*)%z") do t[#t + 1] = a end
    return t
end

-- A job as the dialog would give it, with `changes` applied.
local function job_with(farm, changes)
    local j = { farm = farm, target = "Beauty", frames = "1-3", samples = "0", name = "", priority = "50", paused = false }
    for k, v in pairs(changes or {}) do j[k] = v end
    return j
end

local OK_JSON = '{"bundle":"b1","job":{"id":"job-1","name":"n"},"url":"http://farm/api/v1/jobs/job-1"}\n'

test("submit: end to end with a fake farm and a hostile job name", function()
    local dir = fresh_dir()
    local stub = STUB.install({ temp_dir = dir, project = "/p/My Shot.ocs", targets = { "Beauty" } })
    local farm = fake_farm(dir, OK_JSON, "uploading 1 file\n", 0)
    local pwned = PWN_DIR .. "/PWNED" -- a path without blanks, so a broken quoting would hit it
    local name = "it's \"x\" $(touch " .. pwned .. ") `touch " .. pwned .. "` ; touch " .. pwned .. " & | > " .. pwned
    local r = S.submit(job_with(farm, { name = name, samples = "64", paused = true }))
    ok(r.ok, "ok: " .. tostring(r.message))
    eq(r.id, "job-1", "id")
    eq(r.url, "http://farm/api/v1/jobs/job-1", "url")
    local argv = recorded_argv(dir)
    local pkg = argv[4]
    ok(string.find(pkg, "^" .. string.gsub(dir, "%p", "%%%0") .. "/farm%-submit%-%d+%-%d+/.+%.orbx$") ~= nil,
        "package in a new temp folder: " .. tostring(pkg))
    eq(table.concat(argv, "|"), table.concat({ farm, "--json", "submit", pkg, "--renderer", "octane",
        "--render-target", "Beauty", "--frames", "1-3", "--samples", "64", "--name", name,
        "--priority", "50", "--paused" }, "|"), "argv")
    eq(read(dir .. "/package"), "present\n", "the package existed while farm ran")
    ok(not exists(pkg), "package removed afterwards")
    ok(not exists(pwned), "the name ran a command")
    ok(not shell("ls " .. sh(dir) .. " | grep farm-submit"):find("farm", 1, true), "temp folder removed")
    local export = nil
    for _, c in ipairs(stub.calls) do
        if c.name == "project.saveAsReferencePackage" then export = c.args[1] end
    end
    eq(export, pkg, "exported with saveAsReferencePackage to the submitted path")
end)

test("submit: package named after the project when the job has no name", function()
    local dir = fresh_dir()
    STUB.install({ temp_dir = dir, project = "C:\\scenes\\My Shot.v2.ocs" })
    local farm = fake_farm(dir, OK_JSON, "", 0)
    ok(S.submit(job_with(farm)).ok, "ok")
    ok(string.find(recorded_argv(dir)[4], "/My_Shot%.v2%.orbx$") ~= nil, "file name " .. recorded_argv(dir)[4])
end)

test("submit: refused (exit 3) shows the coordinator's message", function()
    local dir = fresh_dir()
    STUB.install({ temp_dir = dir })
    local farm = fake_farm(dir, "", "error: unknown_placement: no worker renders octane in region XX\n", 3)
    local r = S.submit(job_with(farm))
    ok(not r.ok, "not ok")
    eq(r.message, "The farm refused the job: error: unknown_placement: no worker renders octane in region XX", "message")
end)

test("submit: coordinator unreachable (exit 5)", function()
    local dir = fresh_dir()
    STUB.install({ temp_dir = dir })
    local farm = fake_farm(dir, "", "error: cannot reach http://127.0.0.1:8080: connection refused", 5)
    local r = S.submit(job_with(farm))
    eq(r.message, "The coordinator cannot be reached: error: cannot reach http://127.0.0.1:8080: connection refused", "message")
end)

test("submit: farm program missing", function()
    local dir = fresh_dir()
    STUB.install({ temp_dir = dir })
    local r = S.submit(job_with(dir .. "/no such farm"))
    ok(not r.ok, "not ok")
    has(r.message, "The farm program was not found", "message")
end)

test("submit: export failure stops before farm runs", function()
    local dir = fresh_dir()
    STUB.install({ temp_dir = dir, export_fails = true })
    local farm = fake_farm(dir, OK_JSON, "", 0)
    local r = S.submit(job_with(farm))
    ok(not r.ok, "not ok")
    has(r.message, "Octane could not export the project to ", "message")
    ok(not exists(dir .. "/argv"), "farm ran")
    ok(not shell("ls " .. sh(dir)):find("farm-submit", 1, true), "temp folder left behind")
end)

test("submit: a bad field stops before anything is exported", function()
    local stub = STUB.install({ temp_dir = fresh_dir() })
    local r = S.submit(job_with("farm", { priority = "200" }))
    has(r.message, "Priority must be a whole number from 0 to 100", "message")
    eq(#stub.calls, 0, "octane calls")
end)

test("submit: the dialog: defaults, fields read, job submitted, result shown", function()
    local dir = fresh_dir()
    local farm = fake_farm(dir, OK_JSON, "", 0)
    local seen = {}
    local stub
    stub = STUB.install({ temp_dir = dir, project = "/p/shot010.orbx", targets = { "Beauty", "Clay" },
        time_span = { 0, 2 }, fps = 25,
        on_show_window = function(window)
            local d = S.last_dialog
            seen.window = window == d.window
            seen.name = d.name:getProperties().text
            seen.frames = d.frames:getProperties().text
            seen.items = table.concat(d.target:getProperties().items, ",")
            d.target:updateProperties({ selectedIx = 2 })
            d.samples:updateProperties({ text = "32" })
            d.paused:updateProperties({ checked = true })
            d.farm:updateProperties({ text = farm })
            d.submit:getProperties().callback(d.submit, stub.octane.gui.eventType.BUTTON_CLICKED)
        end })
    S.main()
    ok(seen.window, "the window shown is the dialog's")
    eq(seen.name, "shot010", "default name")
    eq(seen.frames, "0-50", "default frames from the animation range")
    eq(seen.items, "Beauty,Clay", "render targets offered")
    eq(table.concat(recorded_argv(dir), "|", 5), "--renderer|octane|--render-target|Clay|--frames|0-50|--samples|32|--name|shot010|--priority|50|--paused", "argv")
    eq(#stub.dialogs, 1, "one dialog")
    eq(stub.dialogs[1].title, "Submitted to Farm", "title")
    eq(stub.dialogs[1].text, "Job job-1 created.\nhttp://farm/api/v1/jobs/job-1", "text")
    eq(stub.dialogs[1].icon, stub.octane.gui.dialogIcon.INFO, "icon")
    eq(stub.dialogs[1].type, stub.octane.gui.dialogType.BUTTON_DIALOG, "type")
end)

test("submit: the dialog shows farm's error", function()
    local dir = fresh_dir()
    local farm = fake_farm(dir, "", "error: the token is not valid", 3)
    local stub
    stub = STUB.install({ temp_dir = dir, on_show_window = function()
        local d = S.last_dialog
        d.farm:updateProperties({ text = farm })
        d.submit:getProperties().callback(d.submit)
    end })
    S.main()
    eq(stub.dialogs[1].title, "Submit to Farm failed", "title")
    eq(stub.dialogs[1].text, "The farm refused the job: error: the token is not valid", "text")
    eq(stub.dialogs[1].icon, stub.octane.gui.dialogIcon.ERROR, "icon")
end)

test("submit: Cancel submits nothing; no animation range gives frames 1", function()
    local dir = fresh_dir()
    local frames
    local stub
    stub = STUB.install({ temp_dir = dir, on_show_window = function()
        local d = S.last_dialog
        frames = d.frames:getProperties().text
        d.cancel:getProperties().callback(d.cancel)
    end })
    S.main()
    eq(frames, "1", "frames without an animation range")
    eq(#stub.dialogs, 0, "no dialog")
    for _, c in ipairs(stub.calls) do
        ok(c.name ~= "project.saveAsReferencePackage", "exported after Cancel")
    end
    eq(stub.calls[#stub.calls].name, "window:closeWindow", "window closed")
end)

test("submit: a project without render targets", function()
    local stub = STUB.install({ targets = {} })
    S.main()
    eq(stub.dialogs[1].text, "The project has no render target to render.", "message")
end)

test("submit: run as a script (not a module) opens the dialog", function()
    FARM_SUBMIT_AS_MODULE = nil
    local stub = STUB.install({ on_show_window = function(w) w:closeWindow() end })
    local got = dofile(PLUGIN .. "/submit.lua")
    FARM_SUBMIT_AS_MODULE = true
    eq(got, nil, "returns nothing")
    eq(stub.calls[#stub.calls - 1].name, "window:showWindow", "window shown")
    eq(stub.calls[#stub.calls - 1].args[1], "Submit to Farm", "window title")
end)

---------------------------------------------------------------- summary

os.execute("rm -rf " .. sh(TMP) .. " " .. sh(PWN_DIR))
if #failed > 0 then
    print(string.format("octane lua tests: %d passed, %d failed", passed, #failed))
    for _, f in ipairs(failed) do print("  " .. string.gsub(f, "\n.*", "")) end
    os.exit(1)
end
print(string.format("octane lua tests: %d passed (%s)", passed, _VERSION .. (jit and (", " .. jit.version) or "")))
os.exit(0)
