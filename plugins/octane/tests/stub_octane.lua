-- stub_octane.lua: a stand-in for OctaneRender's `octane` Lua table, for tests.
--
-- It implements the subset batch.lua and submit.lua use, records every call
-- in `stub.calls` (and, when `config.log` names a file, appends each call to
-- it as one line, so a test can read what a script in a subprocess did), and
-- is configured by a table:
--   targets       = { "A", { name = "B", film = false }, ... }  render targets
--   fps           = 24            frames per second of the project
--   load_fails    = false         octane.project.load returns false
--   graph_raises  = nil           getSceneGraph raises this Lua error
--   save_fails    = false         octane.render.saveImage returns false
--   export_fails  = false         octane.project.saveAsReferencePackage returns false
--   package       = "stub orbx package\n"  what saveAsReferencePackage writes
--   scene_samples = 100           max samples when render.start gets none (0: no progress)
--   steps         = 4             callback calls per render
--   time_span     = { 0, 2 }      graph:getAnimationTimeSpan(), nil: no such method
--   project       = "/p/shot.ocs" octane.project.getCurrentProject()
--   temp_dir      = "/tmp"        getSpecialDirectories().tempDirectory
--   on_show_window = function(window) end   what "the artist" does in a window
--   dialog_result  = { result = "" }         what showDialog returns
-- Use: `local stub = dofile("stub_octane.lua").install(config)` sets the global.

local M = {}

-- Turn a value into short text for the call log (tables by their name or size).
local function show(v)
    if type(v) == "table" then
        if v.name ~= nil then
            return "node:" .. tostring(v.name)
        end
        local parts = {}
        for i, x in ipairs(v) do
            parts[i] = show(x)
        end
        return "{" .. table.concat(parts, ",") .. "}"
    end
    return tostring(v)
end

-- Build and install a fresh stub as the global `octane`; returns the stub.
function M.install(config)
    config = config or {}
    local stub = { calls = {}, components = {}, dialogs = {}, config = config }
    local stats = { beautySamplesPerPixel = 0, beautyMaxSamplesPerPixel = 0 }

    -- Record a call: name and arguments, in memory and in the log file.
    local function record(name, ...)
        local args = { ... }
        local call = { name = name, args = args }
        stub.calls[#stub.calls + 1] = call
        if config.log then
            local parts = { name }
            for i = 1, select("#", ...) do
                parts[#parts + 1] = show(args[i])
            end
            local f = assert(io.open(config.log, "a"))
            f:write(table.concat(parts, "\t"), "\n")
            f:close()
        end
        return call
    end

    -- A film settings node whose setPinValue is recorded.
    local function film_node(owner)
        return {
            name = owner .. " film",
            -- Set a pin's value (the resolution): recorded only.
            setPinValue = function(self, pin, value)
                record("film:setPinValue", self, pin, value)
                return true
            end,
        }
    end

    -- A render target node from its configuration (a name or a table).
    local function target_node(spec)
        if type(spec) == "string" then
            spec = { name = spec }
        end
        local node = { name = spec.name }
        local film = nil
        if spec.film ~= false then
            film = film_node(spec.name)
        end
        -- Its input node for a pin: the film settings node, if it has one.
        function node.getInputNode(self, pin)
            record("node:getInputNode", self, pin)
            if pin == M.P_FILM_SETTINGS then
                return film
            end
            return nil
        end
        return node
    end

    local targets = {}
    for i, spec in ipairs(config.targets or { "Render target" }) do
        targets[i] = target_node(spec)
    end

    local graph = {}
    -- All nodes of a type (only render targets exist here).
    function graph.findNodes(self, type_id, recursive)
        record("graph:findNodes", type_id, recursive)
        if type_id ~= M.NT_RENDERTARGET then
            return {}
        end
        local copy = {}
        for i, n in ipairs(targets) do
            copy[i] = n
        end
        return copy
    end
    -- Move the scene to a time, in seconds.
    function graph.updateTime(self, seconds)
        record("graph:updateTime", seconds)
    end
    if config.time_span ~= nil then
        -- The animation's start and end time, in seconds.
        function graph.getAnimationTimeSpan(self)
            record("graph:getAnimationTimeSpan")
            return { config.time_span[1], config.time_span[2] }
        end
    end

    -- Write a small file at path; false when it cannot be written.
    local function write_file(path, text)
        local f = io.open(path, "wb")
        if not f then
            return false
        end
        f:write(text)
        f:close()
        return true
    end

    local octane = {
        NT_RENDERTARGET = M.NT_RENDERTARGET,
        P_FILM_SETTINGS = M.P_FILM_SETTINGS,
        P_RESOLUTION = M.P_RESOLUTION,
        A_FRAMES_PER_SECOND = M.A_FRAMES_PER_SECOND,
        imageSaveType = { PNG8 = 0, PNG16 = 1, EXR = 2, EXRTONEMAPPED = 3 },
    }

    octane.project = {
        -- Load a project; false when configured to fail.
        load = function(path)
            record("project.load", path)
            return not config.load_fails
        end,
        -- The root node graph.
        getSceneGraph = function()
            record("project.getSceneGraph")
            if config.graph_raises then
                error(config.graph_raises)
            end
            return graph
        end,
        -- The project settings node, which knows the frame rate.
        getProjectSettings = function()
            record("project.getProjectSettings")
            return {
                name = "Project settings",
                -- An attribute: the configured fps for A_FRAMES_PER_SECOND.
                getAttribute = function(self, id)
                    record("settings:getAttribute", id)
                    if id == M.A_FRAMES_PER_SECOND then
                        return config.fps or 24
                    end
                    return nil
                end,
            }
        end,
        -- The open project's file.
        getCurrentProject = function()
            record("project.getCurrentProject")
            return config.project or ""
        end,
        -- Write the project as an .orbx package (here: a small file).
        saveAsReferencePackage = function(path, ...)
            record("project.saveAsReferencePackage", path, ...)
            if config.export_fails then
                return false
            end
            return write_file(path, config.package or "stub orbx package\n")
        end,
    }

    octane.render = {
        -- Render: call the callback `steps` times with rising samples.
        start = function(props)
            record("render.start", props.renderTargetNode, props.maxSamples)
            local max = props.maxSamples or config.scene_samples or 100
            local steps = config.steps or 4
            for i = 1, steps do
                stats = { beautySamplesPerPixel = max * i / steps, beautyMaxSamplesPerPixel = max }
                if props.callback then
                    props.callback()
                end
            end
        end,
        -- The statistics of the render in progress.
        getRenderResultStatistics = function()
            return stats
        end,
        -- Save the image; writes a small file, false when configured to fail.
        saveImage = function(path, save_type)
            record("render.saveImage", path, save_type)
            if config.save_fails then
                return false
            end
            return write_file(path, "stub exr\n")
        end,
    }

    octane.file = {
        -- Special folders; only the temporary one is filled in.
        getSpecialDirectories = function()
            return { tempDirectory = config.temp_dir or os.getenv("TMPDIR") or "/tmp" }
        end,
        -- Make a folder (with mkdir, which is enough for a test).
        createDirectory = function(path)
            record("file.createDirectory", path)
            return os.execute("mkdir -p '" .. string.gsub(path, "'", "'\\''") .. "'")
        end,
    }

    -- A GUI component: its properties, readable and updatable.
    local function component(props)
        local c = { props = props }
        -- A copy of the component's properties.
        function c.getProperties(self)
            local copy = {}
            for k, v in pairs(self.props) do
                copy[k] = v
            end
            return copy
        end
        -- Change some of the component's properties.
        function c.updateProperties(self, changes)
            for k, v in pairs(changes) do
                self.props[k] = v
            end
        end
        -- Show a window: modal, so the test's hook plays the artist.
        function c.showWindow(self)
            record("window:showWindow", self.props.text)
            self.open = true
            if config.on_show_window then
                config.on_show_window(self, stub)
            end
            self.open = false
        end
        -- Close a window.
        function c.closeWindow(self)
            record("window:closeWindow", self.props.text)
            self.open = false
        end
        return c
    end

    octane.gui = {
        componentType = {
            WINDOW = 1, BUTTON = 2, CHECK_BOX = 3, COMBO_BOX = 4, LABEL = 5,
            GROUP = 6, TEXT_EDITOR = 7,
        },
        dialogType = { BUTTON_DIALOG = 1, FILE_DIALOG = 2 },
        dialogIcon = { INFO = 1, WARNING = 2, ERROR = 3 },
        eventType = { BUTTON_CLICKED = 1 },
        -- Make a component from its properties.
        create = function(props)
            local c = component(props)
            stub.components[#stub.components + 1] = c
            return c
        end,
        -- Show a dialog: recorded, answered with config.dialog_result.
        showDialog = function(props)
            record("gui.showDialog", props.title, props.text)
            stub.dialogs[#stub.dialogs + 1] = props
            return config.dialog_result or { result = "" }
        end,
    }

    stub.octane = octane
    _G.octane = octane
    return stub
end

-- Constants (any distinct numbers do; real Octane has its own values).
M.NT_RENDERTARGET = 56
M.P_FILM_SETTINGS = 1001
M.P_RESOLUTION = 1002
M.A_FRAMES_PER_SECOND = 2001

return M
