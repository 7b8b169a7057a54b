-- submit.lua: "Submit to Farm" for OctaneRender Standalone (Script menu).
--
-- Shows a small dialog (job name, frames, render target, samples, priority,
-- paused, path to the `farm` program), exports the open project as an .orbx
-- package into a temporary folder, runs
--   farm --json submit <file.orbx> --renderer octane --render-target <name>
--        --frames <spec> [--samples N] [--name NAME] [--priority P] [--paused]
-- and shows the job's id and URL, or the farm's error message. The farm's URL
-- and token come from `farm`'s own settings (FARM_URL / FARM_TOKEN or
-- ~/.config/farm/config.toml).
--
-- With the global FARM_SUBMIT_AS_MODULE set, `dofile("submit.lua")` only
-- returns the module table (for tests); otherwise it runs the dialog.
-- Plain Lua that runs on Lua 5.1 / LuaJIT as well as 5.4.

local M = {}

-- Printed by the POSIX shell after farm ends, with farm's exit status.
M.EXIT_MARK = "__FARM_SUBMIT_EXIT__="

-- "windows" when Lua runs on Windows (paths use backslashes), else "posix".
function M.shell_kind()
    if string.sub(package.config, 1, 1) == "\\" then
        return "windows"
    end
    return "posix"
end

-- Leading and trailing blanks removed.
function M.trim(text)
    local s = string.gsub(tostring(text or ""), "^%s+", "")
    s = string.gsub(s, "%s+$", "")
    return s
end

-- One word for a POSIX shell: in single quotes, each ' written as '\''.
-- Nothing inside single quotes is special, so $(...), `...`, ; & | stay text.
function M.quote_posix(text)
    return "'" .. string.gsub(text, "'", "'\\''") .. "'"
end

-- One word for cmd.exe and the C runtime's argv parsing: in double quotes,
-- trailing backslashes doubled. Characters cmd.exe would still interpret
-- inside quotes (" % ! ^ and line breaks) are refused, not escaped.
function M.quote_windows(text)
    local bad = string.match(text, "[\"%%!^\r\n]")
    if bad ~= nil then
        error(string.format("%q contains %q, which cannot be passed safely on Windows", text, bad), 0)
    end
    local s = string.gsub(text, "(\\+)$", "%1%1")
    return '"' .. s .. '"'
end

-- One word quoted for the shell `kind` ("posix" or "windows").
function M.quote(text, kind)
    if (kind or M.shell_kind()) == "windows" then
        return M.quote_windows(tostring(text))
    end
    return M.quote_posix(tostring(text))
end

-- The command line for io.popen: every word quoted, stderr to `err_file`;
-- on POSIX stdin is empty and farm's exit status is echoed after EXIT_MARK.
function M.command_line(argv, err_file, kind)
    kind = kind or M.shell_kind()
    local words = {}
    for i, a in ipairs(argv) do
        words[i] = M.quote(a, kind)
    end
    local line = table.concat(words, " ")
    if kind == "windows" then
        -- cmd /c strips the first and last quote of the line: add a pair.
        return '"' .. line .. " 2>" .. M.quote(err_file, kind) .. '"'
    end
    return line .. " </dev/null 2>" .. M.quote(err_file, kind) .. "; echo \"" .. M.EXIT_MARK .. "$?\""
end

-- The frames to render by default: the animation's range in frames
-- ("0-48" for 0 s to 2 s at 24 fps, both ends included), "1" without one.
function M.frames_from_range(start_seconds, end_seconds, fps)
    start_seconds, end_seconds, fps = tonumber(start_seconds), tonumber(end_seconds), tonumber(fps)
    if start_seconds == nil or end_seconds == nil or fps == nil or fps <= 0 then
        return "1"
    end
    local first = math.floor(start_seconds * fps + 0.5)
    local last = math.floor(end_seconds * fps + 0.5)
    if last <= first then
        return "1"
    end
    return string.format("%d-%d", first, last)
end

-- A whole number from the dialog's text between low and high, or an error.
local function whole(label, text, low, high)
    local n = nil
    if string.find(text, "^%d+$") then
        n = tonumber(text)
    end
    if n == nil or n < low or n > high then
        error(string.format("%s must be a whole number from %d to %d, not '%s'", label, low, high, text), 0)
    end
    return n
end

-- Check a job's settings (text as typed) and normalise them; errors say what to fix.
-- job: { farm, file, target, frames, samples, name, priority, paused }
function M.check_job(job)
    local j = {
        farm = M.trim(job.farm),
        file = job.file,
        target = job.target,
        frames = M.trim(job.frames),
        name = M.trim(job.name),
        paused = job.paused and true or false,
    }
    if j.farm == "" then j.farm = "farm" end
    if j.target == nil or j.target == "" then
        error("choose a render target", 0)
    end
    if j.frames == "" then
        error("frames are empty; write them like 1-100, 1-100x5 or 1,5,10-12", 0)
    end
    j.samples = whole("Samples", M.trim(job.samples or "0"), 0, 2147483647)
    local priority = M.trim(job.priority or "")
    if priority ~= "" then
        j.priority = whole("Priority", priority, 0, 100)
    end
    return j
end

-- The farm command's arguments (argv[1] is the program) for a checked job.
function M.build_argv(j)
    local argv = {
        j.farm, "--json", "submit", j.file,
        "--renderer", "octane",
        "--render-target", j.target,
        "--frames", j.frames,
    }
    -- Append one option and its value.
    local function add(...)
        for _, v in ipairs({ ... }) do
            argv[#argv + 1] = v
        end
    end
    if j.samples ~= nil and j.samples > 0 then add("--samples", tostring(j.samples)) end
    if j.name ~= nil and j.name ~= "" then add("--name", j.name) end
    if j.priority ~= nil then add("--priority", tostring(j.priority)) end
    if j.paused then add("--paused") end
    return argv
end

-- The value of a string field in JSON text, searched from `from` (no JSON library).
local function json_string(text, key, from)
    local value = string.match(text, '"' .. key .. '"%s*:%s*"([^"]*)"', from or 1)
    if value == nil then
        value = string.match(text, '"' .. key .. '"%s*:%s*(%d+)', from or 1)
    end
    return value
end

-- The job's id and URL from `farm --json submit`'s output: the "id" inside
-- the "job" object when there is one, else the first "id".
function M.parse_json(stdout)
    local id = nil
    local job_at = string.find(stdout, '"job"%s*:%s*{')
    if job_at ~= nil then
        id = json_string(stdout, "id", job_at)
    end
    id = id or json_string(stdout, "id")
    return id, json_string(stdout, "url")
end

-- What farm's run came to: { ok = true, id, url } or { ok = false, message }.
-- Exit codes: 0 ok, 2 usage, 3 refused, 5 coordinator unreachable.
function M.parse_result(stdout, stderr, code)
    stdout, stderr = stdout or "", M.trim(stderr)
    local said = stderr
    if said == "" then said = M.trim(stdout) end
    if code == 0 then
        local id, url = M.parse_json(stdout)
        if id ~= nil then
            return { ok = true, id = id, url = url }
        end
        return { ok = false, message = "farm printed no job id: " .. M.trim(stdout) }
    end
    local why
    if code == 3 then
        why = "The farm refused the job"
    elseif code == 5 then
        why = "The coordinator cannot be reached"
    elseif code == 2 then
        why = "farm did not accept its arguments (is it new enough for Octane jobs?)"
    elseif code == 127 or code == 9009 then
        why = "The farm program was not found; set its path in the dialog"
    elseif code == nil then
        why = "farm failed"
    else
        why = "farm failed (exit code " .. tostring(code) .. ")"
    end
    if said ~= "" then
        return { ok = false, message = why .. ": " .. said }
    end
    return { ok = false, message = why .. "." }
end

-- Read a whole file's text ("" when it is missing).
local function read_file(path)
    local f = io.open(path, "rb")
    if not f then return "" end
    local text = f:read("*a") or ""
    f:close()
    return text
end

-- Run argv, stderr into err_file; returns stdout, stderr and the exit code
-- (nil when this Lua cannot tell it).
function M.run(argv, err_file, kind)
    kind = kind or M.shell_kind()
    local pipe = assert(io.popen(M.command_line(argv, err_file, kind), "r"))
    local out = pipe:read("*a") or ""
    local _, _, status = pipe:close()
    local code = nil
    if kind == "posix" then
        local mark_at, mark_end, digits = nil, 0, nil
        repeat -- the last mark counts
            local s, e, d = string.find(out, M.EXIT_MARK .. "(%d+)", mark_end + 1, false)
            if s then mark_at, mark_end, digits = s, e, d end
        until s == nil
        if mark_at then
            code = tonumber(digits)
            out = string.sub(out, 1, mark_at - 1)
        end
    elseif type(status) == "number" then
        code = status
    end
    local err = read_file(err_file)
    os.remove(err_file)
    return out, err, code
end

-- A name fit for a file: letters, digits, - _ . kept, anything else "_".
function M.safe_file_name(text)
    local s = string.gsub(text, "[^%w%-_%.]", "_")
    if s == "" or s == "." or s == ".." then s = "scene" end
    return s
end

-- The open project's name: its file name without folder and extension.
function M.project_name()
    local path = octane.project.getCurrentProject and octane.project.getCurrentProject() or ""
    local base = string.match(path or "", "([^/\\]+)$") or ""
    base = string.gsub(base, "%.[^%.]*$", "")
    if base == "" then base = "untitled" end
    return base
end

-- A new empty folder for the export, inside Octane's temporary folder.
function M.temp_folder()
    local dirs = octane.file and octane.file.getSpecialDirectories and octane.file.getSpecialDirectories() or {}
    local base = dirs.tempDirectory or os.getenv("TMPDIR") or os.getenv("TEMP") or "/tmp"
    local sep = "/"
    if M.shell_kind() == "windows" then sep = "\\" end
    base = string.gsub(base, "[/\\]+$", "")
    local folder = string.format("%s%sfarm-submit-%d-%d", base, sep, os.time(), math.random(100000, 999999))
    if not (octane.file and octane.file.createDirectory) then
        error("this Octane has no octane.file.createDirectory", 0)
    end
    octane.file.createDirectory(folder)
    return folder, sep
end

-- Remove the exported package, farm's stderr file and their folder (errors are ignored).
local function clean_up(path, folder, err_file)
    if path then pcall(os.remove, path) end
    if err_file then pcall(os.remove, err_file) end
    if octane.file and octane.file.remove then
        pcall(octane.file.remove, folder)
    else
        pcall(os.remove, folder)
    end
end

-- Export the open project as an .orbx package named after `name`; returns
-- its path, its folder and the path separator. On failure the folder goes.
function M.export_package(name)
    local folder, sep = M.temp_folder()
    local path = folder .. sep .. M.safe_file_name(name) .. ".orbx"
    local saved = octane.project.saveAsReferencePackage(path)
    local f = io.open(path, "rb")
    if f then f:close() end
    if saved == false or not f then
        clean_up(path, folder, nil)
        if saved == false then
            error("Octane could not export the project to " .. path, 0)
        end
        error("the exported package is missing: " .. path, 0)
    end
    return path, folder, sep
end

-- Submit a job as typed in the dialog: check, export, run farm, clean up.
-- Returns parse_result's table.
function M.submit(job)
    local ok, checked = pcall(M.check_job, job)
    if not ok then
        return { ok = false, message = tostring(checked) }
    end
    local exported, path, folder, sep = pcall(M.export_package, checked.name ~= "" and checked.name or M.project_name())
    if not exported then
        return { ok = false, message = tostring(path) }
    end
    checked.file = path
    local err_file = folder .. sep .. "farm-stderr.txt"
    local ran, out, err, code = pcall(M.run, M.build_argv(checked), err_file)
    clean_up(path, folder, err_file)
    if not ran then
        return { ok = false, message = "cannot run farm: " .. tostring(out) }
    end
    return M.parse_result(out, err, code)
end

-- The names of the project's render targets, in scene order.
function M.render_target_names()
    local graph = octane.project.getSceneGraph()
    local names = {}
    for i, node in ipairs(graph:findNodes(octane.NT_RENDERTARGET, true) or {}) do
        names[i] = node.name
    end
    return names
end

-- The default frames: the project's animation range, else "1".
function M.default_frames()
    local graph = octane.project.getSceneGraph()
    if not graph.getAnimationTimeSpan then
        return "1"
    end
    local ok, span = pcall(graph.getAnimationTimeSpan, graph)
    if not ok or type(span) ~= "table" then
        return "1"
    end
    local fps = octane.project.getProjectSettings():getAttribute(octane.A_FRAMES_PER_SECOND)
    return M.frames_from_range(span[1], span[2], fps)
end

-- The dialog's components: label/field pairs and the buttons, in a window.
-- Returns a table of the fields (name, frames, target, samples, priority,
-- paused, farm, submit, cancel, window).
function M.build_dialog(defaults, on_button)
    local gui = octane.gui
    local t = gui.componentType
    local d = {}
    local cells = {}
    -- Add a label and its field as one row of the grid.
    local function row(label, field)
        cells[#cells + 1] = gui.create({ type = t.LABEL, text = label, width = 130, height = 20 })
        cells[#cells + 1] = field
        return field
    end
    -- A one-line text field holding `text`.
    local function editor(text)
        return gui.create({ type = t.TEXT_EDITOR, text = text, width = 260, height = 20 })
    end
    d.name = row("Job name", editor(defaults.name))
    d.frames = row("Frames", editor(defaults.frames))
    d.target = row("Render target", gui.create({
        type = t.COMBO_BOX, items = defaults.targets, selectedIx = 1, width = 260, height = 20 }))
    d.samples = row("Samples (0: scene's)", editor("0"))
    d.priority = row("Priority (0-100)", editor("50"))
    d.paused = row("", gui.create({ type = t.CHECK_BOX, text = "Submit paused", checked = false, width = 260, height = 20 }))
    d.farm = row("farm program", editor(defaults.farm or "farm"))
    d.submit = gui.create({ type = t.BUTTON, text = "Submit", width = 100, height = 24, callback = on_button })
    d.cancel = gui.create({ type = t.BUTTON, text = "Cancel", width = 100, height = 24, callback = on_button })
    cells[#cells + 1] = d.cancel
    cells[#cells + 1] = d.submit
    local group = gui.create({
        type = t.GROUP, text = "", rows = math.floor(#cells / 2), cols = 2, children = cells,
        border = false, padding = { 4 }, inset = { 6 },
    })
    local size = group:getProperties()
    d.window = gui.create({
        type = t.WINDOW, text = "Submit to Farm", children = { group },
        width = size.width or 420, height = size.height or 300,
    })
    return d
end

-- The job as typed in the dialog's fields.
function M.read_dialog(d, targets)
    local p = d.target:getProperties()
    return {
        name = d.name:getProperties().text,
        frames = d.frames:getProperties().text,
        target = targets[p.selectedIx or 1] or p.selectedItem or p.text,
        samples = d.samples:getProperties().text,
        priority = d.priority:getProperties().text,
        paused = d.paused:getProperties().checked,
        farm = d.farm:getProperties().text,
    }
end

-- Show a message in a dialog with an OK button.
function M.message(title, text, is_error)
    local gui = octane.gui
    local icons = gui.dialogIcon or {}
    local types = gui.dialogType or {}
    gui.showDialog({
        type = types.BUTTON_DIALOG or types.OK,
        icon = is_error and icons.ERROR or icons.INFO,
        title = title,
        text = text,
    })
end

-- The text shown when a job was created.
function M.success_text(result)
    local text = "Job " .. result.id .. " created."
    if result.url ~= nil and result.url ~= "" then
        text = text .. "\n" .. result.url
    end
    return text
end

-- The script: ask for the job, submit it, say how it went.
function M.main()
    local targets = M.render_target_names()
    if #targets == 0 then
        M.message("Submit to Farm", "The project has no render target to render.", true)
        return
    end
    local job = nil
    local d
    -- Buttons: Submit reads the fields, both close the window.
    local function on_button(component)
        if component == d.submit then
            job = M.read_dialog(d, targets)
        end
        d.window:closeWindow()
    end
    d = M.build_dialog({ name = M.project_name(), frames = M.default_frames(), targets = targets }, on_button)
    M.last_dialog = d
    d.window:showWindow()
    if job == nil then
        return
    end
    local result = M.submit(job)
    if result.ok then
        M.message("Submitted to Farm", M.success_text(result), false)
    else
        M.message("Submit to Farm failed", result.message, true)
    end
end

if FARM_SUBMIT_AS_MODULE then
    return M
end
local ok, err = pcall(M.main)
if not ok then
    M.message("Submit to Farm failed", tostring(err), true)
end
