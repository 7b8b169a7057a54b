"""The Submit to Farm window (a ``c4d.gui.GeDialog``): the coordinator's
URL and token, the job's settings as in the Blender add-on (name, frames,
chunk, priority, parity, region, node class, submit paused) plus the take
and a Cinema 4D version range; **Check** asks the coordinator to check the
job (nothing is saved or uploaded), **Submit** submits it in the
background, **Cancel** stops that. A refusal shows the coordinator's
message as it wrote it; a job shows its URL.
"""

import traceback

import c4d

from . import PLUGIN_ID, TITLE, background, job, prefs
from .farm_client.bundle import BundleError
from .farm_client.client import ApiError, Cancelled, FarmClient
from .farm_client.submit import readable_size

ID_URL, ID_TOKEN, ID_NAME, ID_TAKE, ID_FRAMES = 1001, 1002, 1003, 1004, 1005
ID_CHUNK, ID_PRIORITY, ID_DEFAULT_PARITY, ID_PARITY = 1006, 1007, 1008, 1009
ID_REGION, ID_NODE_CLASS, ID_VERSION, ID_PAUSED = 1010, 1011, 1012, 1013
ID_CHECK, ID_SUBMIT, ID_CANCEL, ID_MESSAGE, ID_JOB_URL = 1020, 1021, 1022, 1030, 1031
ID_FORM, ID_PARITY_ROW, ID_BUTTONS = 1100, 1101, 1102

# How often the dialog looks at a running submission, milliseconds.
TIMER_MS = 150


def failure(error, what="Submission"):
    """The message shown for the exception that ended a run: the
    coordinator's or the plugin's own words, verbatim."""
    if isinstance(error, (ApiError, BundleError, job.JobError, Cancelled)):
        return str(error)
    traceback.print_exception(type(error), error, error.__traceback__)
    return "%s failed: %s: %s" % (what, type(error).__name__, error)


class FarmDialog(c4d.gui.GeDialog):
    """The Submit to Farm dialog; at most one run at a time."""

    runner = None
    submission = None
    kind = None
    take_names = ()

    def _row(self, label, add):
        """A form row: ``label`` and the gadget ``add()`` makes."""
        self.AddStaticText(0, c4d.BFH_LEFT | c4d.BFV_CENTER, name=label)
        add()

    def CreateLayout(self):
        """Lay the dialog out."""
        self.SetTitle(TITLE)
        wide = c4d.BFH_SCALEFIT
        if self.GroupBegin(ID_FORM, wide, cols=2, title=""):
            self.GroupBorderSpace(8, 8, 8, 4)
            self._row("Coordinator URL", lambda: self.AddEditText(ID_URL, wide, 320))
            self._row("API token", lambda: self.AddEditText(
                ID_TOKEN, wide, 320, editflags=c4d.EDITTEXT_PASSWORD))
            self._row("Job name", lambda: self.AddEditText(ID_NAME, wide, 320))
            self._row("Take", lambda: self.AddComboBox(ID_TAKE, wide, 320))
            self._row("Frames", lambda: self.AddEditText(ID_FRAMES, wide, 320))
            self._row("Chunk size", lambda: self.AddEditNumberArrows(
                ID_CHUNK, c4d.BFH_LEFT, 80))
            self._row("Priority", lambda: self.AddEditNumberArrows(
                ID_PRIORITY, c4d.BFH_LEFT, 80))
            self.AddStaticText(0, c4d.BFH_LEFT | c4d.BFV_CENTER, name="Parity %")
            if self.GroupBegin(ID_PARITY_ROW, wide, cols=2, title=""):
                self.AddCheckbox(ID_DEFAULT_PARITY, c4d.BFH_LEFT, 0, 0,
                                 "The farm's default")
                self.AddEditNumberArrows(ID_PARITY, c4d.BFH_LEFT, 80)
            self.GroupEnd()
            self._row("Region", lambda: self.AddEditText(ID_REGION, wide, 320))
            self._row("Node class", lambda: self.AddEditText(ID_NODE_CLASS, wide, 320))
            self._row("Cinema 4D version", lambda: self.AddEditText(
                ID_VERSION, wide, 320))
            self._row("", lambda: self.AddCheckbox(ID_PAUSED, c4d.BFH_LEFT, 0, 0,
                                                   "Submit paused"))
        self.GroupEnd()
        if self.GroupBegin(ID_BUTTONS, c4d.BFH_RIGHT, cols=3, title=""):
            self.GroupBorderSpace(8, 4, 8, 4)
            self.AddButton(ID_CHECK, c4d.BFH_RIGHT, 100, 0, "Check")
            self.AddButton(ID_SUBMIT, c4d.BFH_RIGHT, 100, 0, "Submit")
            self.AddButton(ID_CANCEL, c4d.BFH_RIGHT, 100, 0, "Cancel")
        self.GroupEnd()
        self.AddMultiLineEditText(
            ID_MESSAGE, c4d.BFH_SCALEFIT | c4d.BFV_SCALEFIT, 0, 90,
            style=c4d.DR_MULTILINE_READONLY | c4d.DR_MULTILINE_WORDWRAP)
        self.AddEditText(ID_JOB_URL, wide, 320)
        return True

    def InitValues(self):
        """Fill the fields: the saved URL and token, the document's takes,
        the defaults of the job's settings."""
        saved = prefs.load()
        self.SetString(ID_URL, saved["url"])
        self.SetString(ID_TOKEN, saved["token"])
        self.SetInt32(ID_CHUNK, 0, min=0, max=10000)
        self.SetInt32(ID_PRIORITY, 50, min=0, max=100)
        self.SetBool(ID_DEFAULT_PARITY, True)
        self.SetFloat(ID_PARITY, 5.0, min=0.0, max=100.0, step=0.5)
        self.Enable(ID_PARITY, False)
        self.SetBool(ID_PAUSED, False)
        self._help(ID_VERSION, "any; e.g. >=2024.1,<2025 or 2024.4")
        self._help(ID_REGION, "any")
        self._help(ID_NODE_CLASS, "any")
        self.take_names = ()
        self._document_changed()
        self._busy(False)
        return True

    def _help(self, gadget, text):
        """Show ``text`` greyed in an empty edit field (Cinema 4D R21+)."""
        flag = getattr(c4d, "EDITTEXT_HELPTEXT", None)
        if flag is not None:
            self.SetString(gadget, text, flags=flag)

    def _document_changed(self):
        """List the active document's takes (keeping the chosen one when
        it is still there) and show its name and frames as the defaults."""
        doc = c4d.documents.GetActiveDocument()
        if doc is None:
            return
        listed = job.takes(doc)
        names = tuple(take.name for take in listed)
        if names != tuple(self.take_names):
            keep = self._take() if self.take_names else job.current_take(doc)
            self.FreeChildren(ID_TAKE)
            for index, take in enumerate(listed):
                self.AddChild(ID_TAKE, index, take.label())
            self.take_names = names
            chosen = names.index(keep) if keep in names[1:] else 0
            self.SetInt32(ID_TAKE, chosen)
        self._show_defaults(doc)

    def _show_defaults(self, doc):
        """The job name and the chosen take's frames, as help text."""
        self._help(ID_NAME, job.document_name(doc))
        try:
            rd = job.render_data(doc, job.find_take(doc, self._take()))
            self._help(ID_FRAMES, job.frame_spec(doc, rd) + " (the render settings)")
        except job.JobError:
            self._help(ID_FRAMES, "e.g. 1-100, 1-100x5, 1,5,10-12")

    def _take(self):
        """The chosen take's name; None for the main take."""
        index = self.GetInt32(ID_TAKE)
        if 0 < index < len(self.take_names):
            return self.take_names[index]
        return None

    def settings(self):
        """The job's settings as the fields hold them."""
        return job.Settings(
            name=self.GetString(ID_NAME), frames=self.GetString(ID_FRAMES),
            chunk_size=self.GetInt32(ID_CHUNK), priority=self.GetInt32(ID_PRIORITY),
            parity_percent=None if self.GetBool(ID_DEFAULT_PARITY)
            else self.GetFloat(ID_PARITY),
            region=self.GetString(ID_REGION), node_class=self.GetString(ID_NODE_CLASS),
            paused=self.GetBool(ID_PAUSED), take=self._take(),
            renderer_version=self.GetString(ID_VERSION),
        )

    def _busy(self, running):
        """Enable the buttons for a run going on, or none."""
        self.Enable(ID_CHECK, not running)
        self.Enable(ID_SUBMIT, not running)
        self.Enable(ID_CANCEL, running)

    def _say(self, text, job_url=""):
        """Show ``text`` (and a job's URL, or clear it)."""
        self.SetString(ID_MESSAGE, text)
        self.SetString(ID_JOB_URL, job_url)

    def Command(self, gadget, msg):
        """A gadget was used."""
        if gadget == ID_DEFAULT_PARITY:
            self.Enable(ID_PARITY, not self.GetBool(ID_DEFAULT_PARITY))
        elif gadget == ID_TAKE:
            doc = c4d.documents.GetActiveDocument()
            if doc is not None:
                self._show_defaults(doc)
        elif gadget in (ID_CHECK, ID_SUBMIT):
            self.start("check" if gadget == ID_CHECK else "submit")
        elif gadget == ID_CANCEL and self.runner is not None:
            self.runner.cancel()
            self._say("Cancelling\u2026")
        return True

    def start(self, kind):
        """Start a ``check`` or a ``submit`` of the active document in the
        background; whether it started."""
        if self.runner is not None:
            return False
        url, token = self.GetString(ID_URL), self.GetString(ID_TOKEN)
        notes = []
        try:
            prefs.save(url, token)
        except OSError as error:
            notes.append("The URL and token were not saved (%s)." % error)
        try:
            client = FarmClient(url, token)
            doc = c4d.documents.GetActiveDocument()
            if doc is None:
                raise job.JobError("no document is open")
            submission = job.Submission(client, doc, self.settings())
        except (ApiError, job.JobError) as error:
            self._say("\n".join([str(error)] + notes))
            return False
        self.submission, self.kind = submission, kind
        self.runner = background.Runner(
            submission.check if kind == "check" else submission.run)
        self._say("\n".join(notes + submission.warnings))
        self._busy(True)
        self.runner.begin()
        self.SetTimer(TIMER_MS)
        return True

    def Timer(self, msg):
        """Look at the running submission."""
        self.poll()

    def CoreMessage(self, message, msg):
        """The thread's wake-up, or a change of the document."""
        if message == PLUGIN_ID:
            self.poll()
        elif message == c4d.EVMSG_CHANGE and self.runner is None:
            self._document_changed()
        return c4d.gui.GeDialog.CoreMessage(self, message, msg)

    def poll(self):
        """Run what the thread hands to the main thread, show its progress,
        and its outcome once it is over."""
        runner = self.runner
        if runner is None:
            return
        runner.pump()
        if not runner.finished():
            text = runner.progress.text()
            c4d.StatusSetText(text)
            c4d.StatusSetBar(int(100 * runner.progress.fraction()))
            self.SetString(ID_MESSAGE, text)
            return
        self.runner = None
        self.SetTimer(0)
        c4d.StatusClear()
        self._busy(False)
        self._finish(runner)

    def _finish(self, runner):
        """Show how ``runner`` ended."""
        warnings = list(self.submission.warnings)
        if runner.error is not None:
            what = "Check" if self.kind == "check" else "Submission"
            self._say(failure(runner.error, what))
        elif self.kind == "check":
            answer = runner.result or {}
            self._say("\n".join([
                "The coordinator accepts the job: %s frames in %s tasks. "
                "Nothing was saved or uploaded." % (
                    answer.get("frame_count", "?"), answer.get("tasks", "?"))
            ] + warnings))
        else:
            result = runner.result
            self._say("\n".join([
                "Submitted %s (%s frames, %s uploaded of %s): %s" % (
                    self.submission.fields["name"],
                    result.job.get("frame_count", "?"),
                    readable_size(result.uploaded_bytes),
                    readable_size(result.bundle_bytes), result.job_url)
            ] + warnings), result.job_url)

    def AskClose(self):
        """Closing stops a running submission; the window may close."""
        if self.runner is not None:
            self.runner.cancel()
            self.runner = None
            self.SetTimer(0)
            c4d.StatusClear()
        return False
