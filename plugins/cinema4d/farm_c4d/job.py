"""A Cinema 4D document as a farm job, without any GUI: the tested core.

From the document: the frames of its render settings (the chosen take's),
its takes, and the job fields the coordinator takes (``renderer:
"cinema4d"``, ``frames``, ``take`` unless the main take, ``renderer_version``
when asked for). The render settings' own save path is not used: the worker
has Cinema 4D's Commandline write each frame as EXR itself
(``-oimage``/``-oformat EXR``), and ``overrides.samples`` is never sent
(Commandline has no such switch). Submitting saves the document with its
assets into a fresh temporary folder (``SaveProject``); every file there
becomes the bundle, sent through the shared ``farm_client`` steps:
validate, describe the bundle, upload the missing blobs, create the job.
"""

import os
import shutil
import tempfile

import c4d

from .farm_client import submit as steps

RENDERER = "cinema4d"


class JobError(Exception):
    """A document that cannot be submitted as it is; the message says what
    to change."""


class MissingAssets(JobError):
    """Assets the scene uses that Cinema 4D cannot find; ``paths`` names
    them."""

    def __init__(self, paths):
        """The refusal naming ``paths``."""
        super().__init__(
            "Cinema 4D cannot find %d asset%s the scene uses: %s. Relink or "
            "remove %s (Window > Project Asset Inspector lists them), then "
            "submit again" % (
                len(paths), "" if len(paths) == 1 else "s", ", ".join(paths),
                "it" if len(paths) == 1 else "them",
            )
        )
        self.paths = list(paths)


class Settings:
    """What the dialog (or a script) asks for; empty values leave the
    choice to the document (name, frames) or to the coordinator."""

    def __init__(self, name="", frames="", chunk_size=0, priority=50,
                 parity_percent=None, region="", node_class="", paused=False,
                 take=None, renderer_version=""):
        """Keep the settings; ``take`` None (or the main take's name)
        renders the main take."""
        self.name = name
        self.frames = frames
        self.chunk_size = chunk_size
        self.priority = priority
        self.parity_percent = parity_percent
        self.region = region
        self.node_class = node_class
        self.paused = paused
        self.take = take
        self.renderer_version = renderer_version


def document_name(doc):
    """The document's file name without ``.c4d``; ``untitled`` if none."""
    name = os.path.basename(str(doc.GetDocumentName() or "")).strip()
    stem = name[:-4] if name.lower().endswith(".c4d") else name
    return stem or "untitled"


def _frame(time, fps):
    """A BaseTime as a frame number at ``fps``."""
    return int(time.GetFrame(fps))


def render_range(doc, rd):
    """``(first, last, step)`` of the render settings ``rd``: its Frame
    Range mode (manual, current frame, all frames, preview range) read
    against ``doc``'s times."""
    fps = doc.GetFps()
    mode = rd[c4d.RDATA_FRAMESEQUENCE]
    if mode == c4d.RDATA_FRAMESEQUENCE_CURRENTFRAME:
        frame = _frame(doc.GetTime(), fps)
        return frame, frame, 1
    if mode == c4d.RDATA_FRAMESEQUENCE_MANUAL:
        first, last = rd[c4d.RDATA_FRAMEFROM], rd[c4d.RDATA_FRAMETO]
    elif mode == c4d.RDATA_FRAMESEQUENCE_ALLFRAMES:
        first, last = doc.GetMinTime(), doc.GetMaxTime()
    elif mode == c4d.RDATA_FRAMESEQUENCE_PREVIEWRANGE:
        first, last = doc.GetLoopMinTime(), doc.GetLoopMaxTime()
    else:
        raise JobError(
            "the render settings' Frame Range (mode %r) is not one the plugin "
            "reads; type the frames to render (1-100, 1-100x5, 7)" % (mode,)
        )
    step = max(1, int(rd[c4d.RDATA_FRAMESTEP] or 1))
    return _frame(first, fps), _frame(last, fps), step


def frame_spec(doc, rd):
    """The farm's frame spec of ``rd``'s range: ``1-250``, ``1-250x5``,
    ``7``. A negative frame is refused: the farm numbers frames from 0."""
    first, last, step = render_range(doc, rd)
    if first < 0 or last < 0:
        raise JobError(
            "the render settings' range %d to %d has negative frames, which "
            "the farm does not number; type frames from 0 up" % (first, last)
        )
    return steps.scene_frames(first, last, step)


class Take:
    """One take of the document: its ``name``, ``depth`` in the Take
    Manager's tree (0 for the main take), ``main`` and the ``take``."""

    def __init__(self, take, depth, main):
        """Read the take's name."""
        self.take = take
        self.name = str(take.GetName())
        self.depth = depth
        self.main = main

    def label(self):
        """The take as the dialog lists it: indented by its depth."""
        return "    " * self.depth + self.name + (" (main)" if self.main else "")


def takes(doc):
    """The document's takes: the main take first, then the others in the
    Take Manager's order (depth first). Empty when it has no take data."""
    data = doc.GetTakeData()
    main = data.GetMainTake() if data is not None else None
    if main is None:
        return []
    listed = [Take(main, 0, True)]

    def walk(take, depth):
        """List ``take``, its children and its following siblings."""
        while take is not None:
            listed.append(Take(take, depth, False))
            walk(take.GetDown(), depth + 1)
            take = take.GetNext()

    walk(main.GetDown(), 1)
    return listed


def current_take(doc):
    """The name of the document's current take; None for the main take."""
    data = doc.GetTakeData()
    take = data.GetCurrentTake() if data is not None else None
    listed = takes(doc)
    if take is None or not listed or take == listed[0].take:
        return None
    return str(take.GetName())


def find_take(doc, name):
    """The take named ``name``; None when that is the main take (or no
    take is chosen). An unknown name, or one two takes share (Commandline
    picks a take by name), is refused."""
    if not name:
        return None
    listed = takes(doc)
    named = [take for take in listed if take.name == name]
    if not named:
        raise JobError(
            "the document has no take named %r; its takes are %s" % (
                name, ", ".join(repr(t.name) for t in listed) or "none")
        )
    if len(named) > 1:
        raise JobError(
            "%d takes are named %r and Cinema 4D's Commandline picks a take "
            "by its name; rename one in the Take Manager" % (len(named), name)
        )
    return None if named[0].main else named[0]


def render_data(doc, take=None):
    """The render settings ``take`` (a :class:`Take`, None for the main
    take) renders with: its effective render data, else the document's
    active render data."""
    data = doc.GetTakeData()
    chosen = take.take if take is not None else (
        data.GetMainTake() if data is not None else None)
    if chosen is not None and hasattr(chosen, "GetEffectiveRenderData"):
        found = chosen.GetEffectiveRenderData(data)
        rd = found[0] if isinstance(found, tuple) else found
        if rd is not None:
            return rd
    return doc.GetActiveRenderData()


def output_warnings(rd):
    """What the job will not bring back, as sentences: Multi-Pass images
    (the farm's EXR holds the main image only)."""
    if rd[c4d.RDATA_MULTIPASS_ENABLE] and rd[c4d.RDATA_MULTIPASS_SAVEIMAGE]:
        return ["Multi-Pass is on in the render settings: the farm brings back "
                "the main image only (one EXR per frame), not the passes"]
    return []


def job_fields(doc, settings):
    """``(fields, warnings)``: the job fields (without the bundle) of
    ``doc`` with ``settings``, and what the job will not bring back."""
    take = find_take(doc, settings.take)
    rd = render_data(doc, take)
    frames = (settings.frames or "").strip() or frame_spec(doc, rd)
    fields = steps.job_fields(
        (settings.name or "").strip() or document_name(doc), frames,
        chunk_size=settings.chunk_size, priority=settings.priority,
        parity_percent=settings.parity_percent,
        region=(settings.region or "").strip(),
        node_class=(settings.node_class or "").strip(),
        paused=bool(settings.paused),
    )
    fields["renderer"] = RENDERER
    if take is not None:
        fields["take"] = take.name
    version = (settings.renderer_version or "").strip()
    if version:
        fields["renderer_version"] = version
    return fields, output_warnings(rd)


def _asset_name(entry):
    """A missing asset as SaveProject reports it (a dict, or a path)."""
    if isinstance(entry, dict):
        for key in ("filename", "assetname", "name"):
            if entry.get(key):
                return str(entry[key])
        return repr(entry)
    return str(entry)


def _main_file(folder, doc):
    """The .c4d SaveProject wrote under ``folder``: the shallowest one,
    the document's name first."""
    found = []
    for root, subfolders, names in os.walk(folder):
        subfolders.sort()
        for name in sorted(names):
            if name.lower().endswith(".c4d"):
                path = os.path.join(root, name)
                depth = os.path.relpath(path, folder).count(os.sep)
                found.append((depth, name[:-4] != document_name(doc), path))
    if not found:
        raise JobError(
            "Cinema 4D saved the project into %s but wrote no .c4d file there"
            % folder
        )
    return min(found)[2]


def _safe_name(name):
    """``name`` usable as a file name on every system."""
    kept = "".join("_" if c in '<>:"/\\|?*' or ord(c) < 32 else c for c in name)
    return kept.strip(" .") or "scene"


def save_project(doc, folder):
    """Save ``doc`` with its assets under the empty ``folder``
    (``SaveProject`` with assets and scene file, no dialogs, the document
    left as it was); ``(main .c4d path, other files)``. Missing assets
    refuse the submission, naming them.

    The target is ``folder/<document name>``: whether Cinema 4D takes it as
    the project's folder or as its file name without extension, all it
    writes lands under ``folder``, where the .c4d is then looked for."""
    flags = (c4d.SAVEPROJECT_ASSETS | c4d.SAVEPROJECT_SCENEFILE
             | getattr(c4d, "SAVEPROJECT_DONTTOUCHDOCUMENT", 0))
    target = os.path.join(folder, _safe_name(document_name(doc)))
    assets, missing = [], []
    saved = c4d.documents.SaveProject(doc, flags, target, assets, missing)
    if missing:
        raise MissingAssets([_asset_name(entry) for entry in missing])
    if not saved:
        raise JobError(
            "Cinema 4D could not save the project with its assets into %s "
            "(SaveProject failed): check the disk has room, then submit again"
            % folder
        )
    main = _main_file(folder, doc)
    files = []
    for root, subfolders, names in os.walk(folder):
        subfolders.sort()
        files += [os.path.join(root, n) for n in sorted(names)]
    return main, [path for path in files if path != main]


class Submission:
    """One submission of a document: the fields are read on creation (the
    main thread); :meth:`run` then submits from any thread, touching the
    document only through ``on_main``."""

    def __init__(self, client, doc, settings, workdir=None):
        """Read the job fields and warnings of ``doc``; ``workdir`` holds
        the temporary project folder (the system's temp folder if None)."""
        self.client = client
        self.doc = doc
        self.fields, self.warnings = job_fields(doc, settings)
        self.workdir = workdir
        self.saved_into = None

    def check(self, on_main=None, progress=None, cancelled=None):
        """Ask the coordinator to check the fields only (nothing saved or
        uploaded): its ``{"frame_count", "tasks"}``."""
        if progress is not None:
            progress.stage("Checking the job with the coordinator")
        return self.client.validate_job(self.fields)

    def run(self, on_main=None, progress=None, cancelled=None):
        """Validate, save the project (through ``on_main(function)``, which
        runs it on the main thread; directly if None), hash, describe the
        bundle, upload what is missing, create the job. The folder is
        removed afterwards. The shared ``SubmitResult`` with ``warnings``."""
        on_main = on_main or (lambda function: function())
        folder = tempfile.mkdtemp(prefix="farm-c4d-", dir=self.workdir)
        self.saved_into = folder

        def collect():
            """The saved project: (main, None, its other files)."""
            main, files = on_main(lambda: save_project(self.doc, folder))
            return main, None, files

        try:
            result = steps.submit(self.client, self.fields, collect,
                                  progress, cancelled)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        result.warnings = list(self.warnings)
        return result

    def details(self, result):
        """A result as plain data: the shared details with the take and
        the warnings."""
        return dict(result.details(), take=self.fields.get("take"),
                    warnings=list(self.warnings))


def submit_document(client, doc, settings, progress=None, cancelled=None,
                    workdir=None):
    """Submit ``doc`` synchronously (scripts, tests); the result."""
    submission = Submission(client, doc, settings, workdir)
    return submission.run(progress=progress, cancelled=cancelled)
