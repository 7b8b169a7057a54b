-- batch.lua: the farm worker's batch render script for OctaneRender Standalone.
--
-- Run by the worker (worker/src/octane.rs, which embeds this file and writes
-- it into its work folder as octane-batch.lua) as
--   octane --no-gui --script <work folder>/octane-batch.lua \
--     -a scene=<path.orbx> -a output=<dir> -a frames=<f1,f2,...> \
--     [-a target=<render target name>] [-a samples=<n>] [-a width=<px> -a height=<px>]
-- in that order, and nothing else on the command line. target, samples and
-- width/height are passed only when the task has a render target, a samples
-- override or a resolution override. Each `-a VALUE` is the next entry of the
-- global `arg` table (arg[1], arg[2], ...). The script ends Octane itself:
-- os.exit(0) after FARM-DONE, os.exit(1) after FARM-ERROR.
--
-- It prints these lines on stdout and nothing else starting with "FARM-":
--   FARM-TARGET <name>
--   FARM-FRAME <frame>
--   FARM-PROGRESS <frame> <fraction, %.4f>
--   FARM-SAVED <frame> <render seconds, %.3f> <path>
--   FARM-ERROR <one-line message>   (then exit code 1)
--   FARM-DONE                       (then exit code 0)
--
-- It uses only a small subset of Octane's Lua API (see README.md) and plain
-- Lua that runs on Lua 5.1 / LuaJIT as well as 5.4: no goto, no //, no utf8.

-- The keys an argument may have; every one is `key=value`.
local KNOWN_KEYS = {
    scene = true, output = true, frames = true,
    target = true, samples = true, width = true, height = true,
}

-- Make a message fit on one line: every run of CR/LF becomes one space.
local function one_line(text)
    local s = string.gsub(tostring(text), "[\r\n]+", " ")
    return s
end

-- Print one protocol line, with every line break in it replaced.
local function say(line)
    print(one_line(line))
end

-- Stop with a message meant for the artist (no Lua position prefix).
local function fail(message)
    error({ farm_message = message }, 0)
end

-- A whole number from text (optional minus, digits only), or nil.
local function parse_int(text)
    if type(text) ~= "string" or not string.find(text, "^%-?%d+$") then
        return nil
    end
    return tonumber(text)
end

-- Read `key=value` entries of `arg` into a table; unknown, repeated or
-- malformed entries are errors.
local function read_args(argv)
    local args = {}
    if type(argv) ~= "table" then
        fail("no script arguments; expected scene=, output= and frames=")
    end
    local i = 1
    while argv[i] ~= nil do
        local entry = tostring(argv[i])
        local key, value = string.match(entry, "^([^=]*)=(.*)$")
        if key == nil then
            fail("argument '" .. entry .. "' is not key=value")
        end
        if not KNOWN_KEYS[key] then
            fail("unknown argument '" .. key .. "'; known: scene, output, frames, target, samples, width, height")
        end
        if args[key] ~= nil then
            fail("argument '" .. key .. "' is given twice")
        end
        args[key] = value
        i = i + 1
    end
    return args
end

-- Turn "12,-3,7" into {12, -3, 7}, keeping the order; anything else is an error.
local function parse_frames(text)
    local frames = {}
    for item in string.gmatch(text .. ",", "([^,]*),") do
        local frame = parse_int(item)
        if frame == nil then
            fail("frame '" .. item .. "' is not a whole number (frames=" .. text .. ")")
        end
        frames[#frames + 1] = frame
    end
    return frames
end

-- A positive whole number argument (samples, width, height), or an error.
local function positive(key, text)
    local n = parse_int(text)
    if n == nil or n < 1 then
        fail(key .. "=" .. text .. " must be a whole number of at least 1")
    end
    return n
end

-- Check the arguments and turn them into the settings of the run.
local function settings_from(args)
    for _, key in ipairs({ "scene", "output", "frames" }) do
        if args[key] == nil or args[key] == "" then
            fail("missing argument " .. key .. "=")
        end
    end
    local s = { scene = args.scene, output = args.output, target = args.target }
    s.frames = parse_frames(args.frames)
    if args.samples ~= nil then
        s.samples = positive("samples", args.samples)
    end
    if (args.width == nil) ~= (args.height == nil) then
        fail("width= and height= must be given together")
    end
    if args.width ~= nil then
        s.width = positive("width", args.width)
        s.height = positive("height", args.height)
    end
    if s.target == "" then
        s.target = nil
    end
    return s
end

-- The names of the render targets, quoted and comma-separated.
local function name_list(targets)
    local names = {}
    for i, node in ipairs(targets) do
        names[i] = "'" .. tostring(node.name) .. "'"
    end
    return table.concat(names, ", ")
end

-- The render target to render: the one named, else the only one there is.
local function pick_target(targets, wanted)
    if wanted ~= nil then
        for _, node in ipairs(targets) do
            if node.name == wanted then
                return node
            end
        end
        if #targets == 0 then
            fail("no render target named '" .. wanted .. "': the scene has no render targets")
        end
        fail("no render target named '" .. wanted .. "'; the scene has: " .. name_list(targets))
    end
    if #targets == 0 then
        fail("the scene has no render target")
    end
    if #targets > 1 then
        fail("the scene has " .. #targets .. " render targets (" .. name_list(targets)
            .. "); name one with target=")
    end
    return targets[1]
end

-- The file a frame is saved to: <output>/frame_<%06d>.exr (frame -12: frame_-00012.exr).
local function frame_path(output, frame)
    return string.format("%s/frame_%06d.exr", output, frame)
end

-- A render callback that prints FARM-PROGRESS for `frame` whenever the
-- rounded fraction changes; it never raises (the render must go on).
local function progress_callback(frame)
    local last = nil
    -- Called by Octane as the render goes on; errors in it are swallowed.
    return function()
        -- Read the statistics and print the fraction if it changed.
        pcall(function()
            local stats = octane.render.getRenderResultStatistics()
            local spp = tonumber(stats and stats.beautySamplesPerPixel)
            local max = tonumber(stats and stats.beautyMaxSamplesPerPixel)
            if spp == nil or max == nil or max <= 0 then
                return
            end
            local fraction = spp / max
            if fraction < 0 then fraction = 0 end
            if fraction > 1 then fraction = 1 end
            local text = string.format("%.4f", fraction)
            if text ~= last then
                last = text
                say(string.format("FARM-PROGRESS %d %s", frame, text))
            end
        end)
    end
end

-- Render one frame with the render target and save it; prints FRAME/SAVED.
local function render_frame(s, graph, target, fps, frame)
    say(string.format("FARM-FRAME %d", frame))
    graph:updateTime(frame / fps)
    local cpu0, wall0 = os.clock(), os.time()
    octane.render.start({
        renderTargetNode = target,
        maxSamples = s.samples,
        callback = progress_callback(frame),
    })
    -- CPU time is fine-grained but misses time spent waiting on the GPU;
    -- wall time counts that but only in whole seconds: take the larger.
    local seconds = os.clock() - cpu0
    local wall = os.time() - wall0
    if wall > seconds then
        seconds = wall
    end
    local path = frame_path(s.output, frame)
    if not octane.render.saveImage(path, octane.imageSaveType.EXR) then
        fail(string.format("cannot save frame %d to %s", frame, path))
    end
    say(string.format("FARM-SAVED %d %.3f %s", frame, seconds, path))
end

-- The whole run: arguments, scene, render target, resolution, every frame.
local function main()
    local s = settings_from(read_args(arg))
    if not octane.project.load(s.scene) then
        fail("cannot load scene " .. s.scene)
    end
    local graph = octane.project.getSceneGraph()
    local targets = graph:findNodes(octane.NT_RENDERTARGET, true) or {}
    local target = pick_target(targets, s.target)
    say("FARM-TARGET " .. tostring(target.name))
    if s.width ~= nil then
        local film = target:getInputNode(octane.P_FILM_SETTINGS)
        if film == nil then
            fail("render target '" .. tostring(target.name)
                .. "' has no film settings node; cannot set the resolution")
        end
        film:setPinValue(octane.P_RESOLUTION, { s.width, s.height })
    end
    local fps = tonumber(octane.project.getProjectSettings():getAttribute(octane.A_FRAMES_PER_SECOND))
    if fps == nil or fps <= 0 then
        fail("the project's frames per second is not a positive number: " .. tostring(fps))
    end
    for _, frame in ipairs(s.frames) do
        render_frame(s, graph, target, fps, frame)
    end
end

-- The text of an error raised by fail() or by Lua itself.
local function message_of(err)
    if type(err) == "table" and err.farm_message ~= nil then
        return tostring(err.farm_message)
    end
    return "script error: " .. tostring(err)
end

local ok, err = pcall(main)
if ok then
    say("FARM-DONE")
    os.exit(0)
else
    say("FARM-ERROR " .. message_of(err))
    os.exit(1)
end
