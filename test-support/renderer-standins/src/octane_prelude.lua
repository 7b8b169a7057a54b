-- TEST STAND-IN for the part of Octane's Lua API the farm's batch script
-- uses (plugins/octane/batch.lua), over the stand-in's text packages:
--   ORBX-STANDIN 1
--   fps 24
--   samples 16                 (the kernel's own maximum samples)
--   target NAME WIDTH HEIGHT   (one per render target)
--   delay_ms N                 (time each frame takes)
-- Rendering and saving are done by the Rust side (`standin`).
local standin = ...

octane = {
    NT_RENDERTARGET = 56,
    P_FILM_SETTINGS = 401,
    P_RESOLUTION = 402,
    A_FRAMES_PER_SECOND = 501,
    imageSaveType = { PNG8 = 0, PNG16 = 1, EXR = 2, EXRTONEMAPPED = 3 },
}

local state = { scene = nil, time = 0, rendered = nil, stats = {} }

-- A render target node with its film settings node.
local function target_node(name, width, height)
    local node = { name = name, width = width, height = height }
    local film = {}
    function film:setPinValue(pin, value)
        if pin == octane.P_RESOLUTION then
            node.width, node.height = value[1], value[2]
        end
    end
    function node:getInputNode(pin)
        if pin == octane.P_FILM_SETTINGS then
            return film
        end
        return nil
    end
    return node
end

-- The package's settings, or nil when it is not a stand-in package.
local function parse(text)
    local lines = {}
    for line in string.gmatch(text, "[^\n]+") do
        lines[#lines + 1] = line
    end
    if lines[1] ~= "ORBX-STANDIN 1" then
        return nil
    end
    local scene = { text = text, fps = 24, samples = 16, delay_ms = 0, targets = {} }
    for i = 2, #lines do
        local key, rest = string.match(lines[i], "^(%S+)%s*(.*)$")
        if key == "target" then
            local name, w, h = string.match(rest, "^(.-)%s+(%d+)%s+(%d+)$")
            scene.targets[#scene.targets + 1] = target_node(name, tonumber(w), tonumber(h))
        elseif key == "fps" or key == "samples" or key == "delay_ms" then
            scene[key] = tonumber(rest)
        end
    end
    return scene
end

octane.project = {}

function octane.project.load(path)
    local text = standin.read(path)
    if text == nil then
        return false
    end
    state.scene = parse(text)
    return state.scene ~= nil
end

function octane.project.getSceneGraph()
    local graph = {}
    function graph:findNodes(kind, recursive)
        if kind ~= octane.NT_RENDERTARGET or state.scene == nil then
            return {}
        end
        return state.scene.targets
    end
    function graph:updateTime(seconds)
        state.time = seconds
    end
    return graph
end

function octane.project.getProjectSettings()
    local settings = {}
    function settings:getAttribute(attribute)
        if attribute == octane.A_FRAMES_PER_SECOND then
            return state.scene.fps
        end
        return nil
    end
    return settings
end

octane.render = {}

function octane.render.start(options)
    local target = options.renderTargetNode
    local samples = options.maxSamples or state.scene.samples
    for quarter = 1, 4 do
        standin.sleep(state.scene.delay_ms / 4)
        state.stats = {
            beautySamplesPerPixel = samples * quarter / 4,
            beautyMaxSamplesPerPixel = samples,
        }
        if options.callback then
            options.callback()
        end
    end
    state.rendered = { target = target, samples = samples, time = state.time }
end

function octane.render.getRenderResultStatistics()
    return state.stats
end

function octane.render.saveImage(path, kind)
    local r = state.rendered
    if r == nil or kind ~= octane.imageSaveType.EXR then
        return false
    end
    local frame = math.floor(r.time * state.scene.fps + 0.5)
    local settings = string.format("target=%s;samples=%d", r.target.name, r.samples)
    return standin.render(state.scene.text, settings, frame, r.target.width, r.target.height, path)
end
