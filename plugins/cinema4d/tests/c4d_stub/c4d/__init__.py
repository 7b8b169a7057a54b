"""A stand-in for Cinema 4D's ``c4d`` module, for tests under plain Python.

It offers the few parts of Maxon's Python SDK the plugin uses, with the
SDK's names and call shapes, and records what is called: ``calls`` is a
list of ``(name, args)``. Documents, render settings, takes and times are
plain objects a test configures (``c4d.documents``,
``c4d.modules.takesystem``); ``c4d.documents.SaveProject`` really writes
the scene and its assets into the target folder. Nothing here is Cinema
4D: constant values are the stub's own.
"""

calls = []


def record(name, *args):
    """Note a call of ``name`` with ``args``."""
    calls.append((name, args))


def called(name):
    """The argument tuples of every recorded call of ``name``."""
    return [args for seen, args in calls if seen == name]


def reset():
    """Forget the calls and the active document; a test's fresh start."""
    del calls[:]
    documents.active = None
    storage.PATHS.clear()


# Render settings (RenderData) parameters and their Frame Range modes.
RDATA_FRAMESEQUENCE = 5001
RDATA_FRAMESEQUENCE_MANUAL = 0
RDATA_FRAMESEQUENCE_CURRENTFRAME = 1
RDATA_FRAMESEQUENCE_ALLFRAMES = 2
RDATA_FRAMESEQUENCE_PREVIEWRANGE = 3
RDATA_FRAMEFROM = 5002
RDATA_FRAMETO = 5003
RDATA_FRAMESTEP = 5004
RDATA_MULTIPASS_ENABLE = 5005
RDATA_MULTIPASS_SAVEIMAGE = 5006
RDATA_SAVEIMAGE = 5007
RDATA_PATH = 5008

# SaveProject flags.
SAVEPROJECT_NONE = 0
SAVEPROJECT_ASSETS = 1 << 0
SAVEPROJECT_SCENEFILE = 1 << 1
SAVEPROJECT_DIALOGSALLOWED = 1 << 2
SAVEPROJECT_SHOWMISSINGASSETDIALOG = 1 << 3
SAVEPROJECT_ADDTORECENTLIST = 1 << 4
SAVEPROJECT_DONTCOPYFILES = 1 << 5
SAVEPROJECT_PROGRESSALLOWED = 1 << 6
SAVEPROJECT_DONTTOUCHDOCUMENT = 1 << 7
SAVEPROJECT_DONTFAILONMISSINGASSETS = 1 << 8

# Paths, threads, messages.
C4D_PATH_PREFS = 1
C4D_PATH_HOME = 6
THREADMODE_SYNCHRONOUS = 1
THREADMODE_ASYNC = 0
THREADPRIORITYEX_NORMAL = 0
THREADPRIORITYEX_BELOW = 1
EVMSG_CHANGE = 604
DLG_TYPE_ASYNC = 2
DLG_TYPE_MODAL = 1

# Dialog layout flags and gadget styles.
BFH_CENTER = 0
BFH_LEFT = 1
BFH_RIGHT = 2
BFH_FIT = 3
BFH_SCALE = 4
BFH_SCALEFIT = 7
BFV_CENTER = 0
BFV_TOP = 8
BFV_BOTTOM = 16
BFV_FIT = 24
BFV_SCALE = 32
BFV_SCALEFIT = 56
EDITTEXT_PASSWORD = 1 << 0
EDITTEXT_HELPTEXT = 1 << 1
DR_MULTILINE_READONLY = 1 << 0
DR_MULTILINE_WORDWRAP = 1 << 1


class BaseTime:
    """A time: ``BaseTime(z, n)`` is ``z / n`` seconds, as in the SDK."""

    def __init__(self, z=0.0, n=1.0):
        """``z / n`` seconds."""
        self.seconds = float(z) / float(n)

    def Get(self):
        """The time in seconds."""
        return self.seconds

    def GetFrame(self, fps):
        """The frame at ``fps`` frames per second."""
        return int(round(self.seconds * fps))

    def __repr__(self):
        """Readable in a failed assertion."""
        return "BaseTime(%gs)" % self.seconds


def SpecialEventAdd(messageid, p1=0, p2=0):
    """Wake the dialogs with a core message (recorded only)."""
    record("SpecialEventAdd", messageid)


def StatusSetText(text):
    """Status bar text."""
    record("StatusSetText", text)


def StatusSetBar(percent):
    """Status bar progress."""
    record("StatusSetBar", percent)


def StatusClear():
    """Clear the status bar."""
    record("StatusClear")


def GetC4DVersion():
    """The stub's Cinema 4D version number."""
    return 2024400


from . import documents, gui, modules, plugins, storage, threading  # noqa: E402,F401
