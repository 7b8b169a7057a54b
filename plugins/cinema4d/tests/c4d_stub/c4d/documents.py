"""``c4d.documents``: documents, render settings, SaveProject."""

import os
import threading as _threading

import c4d

from .modules.takesystem import TakeData

# What GetActiveDocument answers; tests set it.
active = None
# Every SaveProject: dicts with the flags, path, thread and files written.
saves = []


def GetActiveDocument():
    """The active document."""
    c4d.record("GetActiveDocument")
    return active


def SetActiveDocument(doc):
    """Make ``doc`` the active document."""
    global active
    active = doc


class RenderData:
    """Render settings: a container read with ``rd[c4d.RDATA_...]``."""

    def __init__(self, values=None, name="My Render Setting"):
        """Defaults (manual range 0-0, step 1, no Multi-Pass), then ``values``."""
        self._name = name
        self._data = {
            c4d.RDATA_FRAMESEQUENCE: c4d.RDATA_FRAMESEQUENCE_MANUAL,
            c4d.RDATA_FRAMEFROM: c4d.BaseTime(0),
            c4d.RDATA_FRAMETO: c4d.BaseTime(0),
            c4d.RDATA_FRAMESTEP: 1,
            c4d.RDATA_MULTIPASS_ENABLE: False,
            c4d.RDATA_MULTIPASS_SAVEIMAGE: False,
            c4d.RDATA_SAVEIMAGE: True,
            c4d.RDATA_PATH: "",
        }
        self._data.update(values or {})

    @classmethod
    def manual(cls, first, last, step=1, fps=30, values=None):
        """Render settings of a manual range ``first`` to ``last``, and
        ``values``."""
        data = {c4d.RDATA_FRAMEFROM: c4d.BaseTime(first, fps),
                c4d.RDATA_FRAMETO: c4d.BaseTime(last, fps),
                c4d.RDATA_FRAMESTEP: step}
        data.update(values or {})
        return cls(data)

    def __getitem__(self, key):
        """A parameter (None when unset)."""
        return self._data.get(key)

    def __setitem__(self, key, value):
        """Set a parameter."""
        self._data[key] = value

    def GetName(self):
        """The render setting's name."""
        return self._name


class BaseDocument:
    """A document: its name, fps, times (in frames), render settings and
    takes; what SaveProject writes: ``scene`` (the .c4d's bytes) and
    ``assets`` (relative path -> bytes); ``missing`` assets (reported,
    nothing written) and the ``save_result``."""

    def __init__(self, name="shot.c4d", fps=30, time=0, min_frame=0,
                 max_frame=90, loop=(0, 90), render_data=None, takes=None,
                 scene=b"C4D stub scene", assets=None, missing=(),
                 save_result=True):
        """A document as configured."""
        self.name, self.fps = name, fps
        self.time, self.min_frame, self.max_frame, self.loop = time, min_frame, max_frame, loop
        self.render_data = render_data or RenderData.manual(0, 90, fps=fps)
        self.takes = takes if takes is not None else TakeData()
        if self.takes is not False:
            self.takes.stub_doc = self
        self.scene = scene
        self.assets = dict(assets or {})
        self.missing = list(missing)
        self.save_result = save_result

    def GetDocumentName(self):
        """The document's file name."""
        return self.name

    def GetDocumentPath(self):
        """The document's folder (never saved: empty)."""
        return ""

    def GetFps(self):
        """Frames per second."""
        return self.fps

    def GetTime(self):
        """The current time."""
        return c4d.BaseTime(self.time, self.fps)

    def GetMinTime(self):
        """The document's first time."""
        return c4d.BaseTime(self.min_frame, self.fps)

    def GetMaxTime(self):
        """The document's last time."""
        return c4d.BaseTime(self.max_frame, self.fps)

    def GetLoopMinTime(self):
        """The preview range's start."""
        return c4d.BaseTime(self.loop[0], self.fps)

    def GetLoopMaxTime(self):
        """The preview range's end."""
        return c4d.BaseTime(self.loop[1], self.fps)

    def GetActiveRenderData(self):
        """The active render settings."""
        return self.render_data

    def GetTakeData(self):
        """The take data (None when configured with ``takes=False``)."""
        return self.takes or None


def SaveProject(doc, flags, targetPath, assets=None, missingAssets=None):
    """Save ``doc`` and its assets into the folder ``targetPath``: the
    scene at ``<targetPath>/<document name>``, each asset at its relative
    path. Missing assets are appended to ``missingAssets`` (dicts, as the
    SDK reports them) and fail the save unless
    SAVEPROJECT_DONTFAILONMISSINGASSETS is set."""
    c4d.record("SaveProject", doc, flags, targetPath)
    written = []
    saves.append({"flags": flags, "path": targetPath, "files": written,
                  "main_thread": _threading.current_thread() is _threading.main_thread()})
    for path in doc.missing:
        missingAssets.append({"filename": path, "assetname": os.path.basename(path),
                              "exists": False})
    if doc.missing and not flags & c4d.SAVEPROJECT_DONTFAILONMISSINGASSETS:
        return False
    if not doc.save_result:
        return False
    if flags & c4d.SAVEPROJECT_SCENEFILE:
        os.makedirs(targetPath, exist_ok=True)
        items = [(doc.name, doc.scene)]
        if flags & c4d.SAVEPROJECT_ASSETS:
            items += sorted(doc.assets.items())
        for relative, data in items:
            path = os.path.join(targetPath, *relative.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as file:
                file.write(data)
            written.append(relative)
            if relative != doc.name and assets is not None:
                assets.append({"filename": path, "assetname": relative, "exists": True})
    return True
