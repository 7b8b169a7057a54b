"""The add-on's operators: ``farm.submit``, ``farm.estimate`` and
``farm.test_connection``.

``farm.submit`` runs :func:`submit.submit`. Invoked from the interface it
runs in a background thread while Blender stays usable, with its progress
in the status bar; Esc cancels the upload. Called from a script
(``bpy.ops.farm.submit()``, EXEC_DEFAULT) it runs the same steps before
returning. Either way the outcome is kept in ``window_manager.farm_last``
(job id, job URL, the error message verbatim, details as JSON).

``farm.estimate`` runs :func:`estimate.estimate` the same way (in the
background from the interface, synchronously from scripts): the scene's
bundle is described, not uploaded, and the coordinator's estimate is kept
in ``window_manager.farm_estimate`` for the panel. It never saves the
artist's file: a file with unsaved changes is estimated from a copy of the
session, as a submission would send it, and a file never saved from the
farm's history alone.

Everything that touches Blender's data runs on the main thread: the
background thread hands those steps (collecting the scene's files, saving
a copy) to the modal operator's timer and waits for them.
"""

import json
import os
import queue
import tempfile
import threading
import traceback

import bpy

from . import deps, estimate, prefs, properties, submit
from .bundle import BundleError
from .client import ApiError, Cancelled


def scene_job_fields(scene):
    """The job fields of ``scene``'s farm settings (step 2)."""
    settings = scene.farm
    name = settings.job_name.strip() or os.path.splitext(
        os.path.basename(bpy.data.filepath)
    )[0] or "untitled"
    frames = settings.frames.strip() or submit.scene_frames(
        scene.frame_start, scene.frame_end, scene.frame_step
    )
    return submit.job_fields(
        name,
        frames,
        chunk_size=settings.chunk_size,
        priority=settings.priority,
        parity_percent=None if settings.use_default_parity
        else settings.parity_percent,
        region=settings.region_name,
        node_class=settings.node_class_name,
        paused=settings.paused,
    )


def _failure(error, what="Submission"):
    """The message shown for an exception that ended a submission (or
    another run, ``what``)."""
    if isinstance(error, (ApiError, BundleError, Cancelled)):
        return str(error)
    traceback.print_exception(type(error), error, error.__traceback__)
    return "%s failed: %s: %s" % (what, type(error).__name__, error)


class _MainThreadCalls:
    """Calls a background thread hands to the main thread, which runs them
    from the modal operator's timer."""

    def __init__(self):
        self._pending = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False

    def call(self, function):
        """Run ``function`` on the main thread and return its result (or
        raise its exception); called from the background thread."""
        box = {}
        done = threading.Event()
        with self._lock:
            if self._closed:
                raise Cancelled()
            self._pending.put((function, box, done))
        done.wait()
        if "error" in box:
            raise box["error"]
        return box["value"]

    def run_pending(self):
        """Run what the background thread is waiting for (main thread)."""
        while True:
            try:
                function, box, done = self._pending.get_nowait()
            except queue.Empty:
                return
            try:
                if self._closed:
                    raise Cancelled()
                box["value"] = function()
            except BaseException as error:  # handed back to the caller
                box["error"] = error
            finally:
                done.set()

    def close(self):
        """Refuse every further call (the operator is going away)."""
        with self._lock:
            self._closed = True
        self.run_pending()


class _Submission:
    """One submission of the current scene: its client, job fields and
    progress, run by :meth:`run` on any thread."""

    kind = "submission"
    running_text = "Submitting"

    @staticmethod
    def clear(wm):
        """Forget the last submission's outcome."""
        last = wm.farm_last
        last.job_id = last.job_url = last.error = last.details = ""

    @staticmethod
    def refused(wm, error):
        """Record a refusal before anything was sent; its message."""
        wm.farm_last.error = _failure(error)
        return wm.farm_last.error

    def __init__(self, context, on_change=None):
        # Steps 1 and 2, on the main thread: a saved file, the job fields.
        self.main = deps.ensure_saved()
        # Read here: the background thread must not touch bpy at all.
        self.force_copy = bpy.app.background
        self.fields = scene_job_fields(context.scene)
        self.client = prefs.client(context)
        self.progress = submit.Progress(on_change)
        self.cancel = threading.Event()
        self.result = None
        self.error = None

    def run(self, on_main):
        """Submit (steps 3 to 8); Blender data is touched only through
        ``on_main(function)``. Sets ``result`` or ``error``."""
        with tempfile.TemporaryDirectory(prefix="farm-submit-") as scratch:

            def collect():
                return on_main(
                    lambda: deps.prepare(self.main, scratch, self.force_copy)
                )

            try:
                self.result = submit.submit(
                    self.client, self.fields, collect, self.progress,
                    self.cancel.is_set,
                )
            except Exception as error:  # reported to the user, never lost
                self.error = error

    def store(self, wm):
        """Record the outcome in ``wm.farm_last``."""
        last = wm.farm_last
        if self.result is not None:
            last.job_id = self.result.job_id
            last.job_url = self.result.job_url
            last.error = ""
            last.details = json.dumps(self.result.details())
        else:
            last.error = _failure(self.error)

    def report(self, operator):
        """Report the outcome on ``operator``; its return set."""
        if self.result is not None:
            operator.report(
                {"INFO"},
                "Submitted %s (%d frames, %s uploaded): %s" % (
                    self.fields["name"], self.result.job.get("frame_count", 0),
                    submit.readable_size(self.result.uploaded_bytes),
                    self.result.job_url,
                ),
            )
            return {"FINISHED"}
        level = "WARNING" if isinstance(self.error, Cancelled) else "ERROR"
        operator.report({level}, _failure(self.error))
        return {"CANCELLED"}


class _Estimation:
    """One estimate of the current scene: its client, job fields and
    progress, run by :meth:`run` on any thread. Nothing is saved: an
    unsaved change is estimated from a copy of the session, a file never
    saved without its scene."""

    kind = "estimate"
    running_text = "Estimating"

    @staticmethod
    def clear(wm):
        """Forget the last estimate."""
        out = wm.farm_estimate
        out.answer = out.fields = out.bundle = out.error = ""

    @staticmethod
    def refused(wm, error):
        """Record a refusal before anything was sent; its message."""
        wm.farm_estimate.error = _failure(error, "Estimate")
        return wm.farm_estimate.error

    def __init__(self, context, on_change=None):
        self.main = bpy.data.filepath or None
        # Read here: the background thread must not touch bpy at all.
        self.force_copy = bpy.app.background
        self.fields = scene_job_fields(context.scene)
        self.client = prefs.client(context)
        self.progress = submit.Progress(on_change)
        self.cancel = threading.Event()
        self.result = None
        self.error = None

    def run(self, on_main):
        """Estimate; Blender data is touched only through
        ``on_main(function)``. Sets ``result`` or ``error``."""
        with tempfile.TemporaryDirectory(prefix="farm-estimate-") as scratch:
            collect = None
            if self.main:

                def collect():
                    return on_main(
                        lambda: deps.prepare(self.main, scratch, self.force_copy)
                    )

            try:
                self.result = estimate.estimate(
                    self.client, self.fields, collect, self.progress,
                    self.cancel.is_set,
                )
            except Exception as error:  # reported to the user, never lost
                self.error = error

    def store(self, wm):
        """Record the outcome in ``wm.farm_estimate``."""
        out = wm.farm_estimate
        if self.result is not None:
            out.answer = json.dumps(self.result.answer)
            out.fields = fields_key(self.result.fields)
            out.bundle = self.result.bundle_id or ""
            out.error = ""
        else:
            out.error = _failure(self.error, "Estimate")

    def report(self, operator):
        """Report the outcome on ``operator``; its return set."""
        if self.result is not None:
            operator.report({"INFO"}, estimate.report_line(self.result.answer))
            return {"FINISHED"}
        level = "WARNING" if isinstance(self.error, Cancelled) else "ERROR"
        operator.report({level}, _failure(self.error, "Estimate"))
        return {"CANCELLED"}


def fields_key(fields):
    """Job fields as a string, to tell whether an estimate is still for
    the scene's settings."""
    return json.dumps(fields, sort_keys=True)


class _StagePrinter:
    """Prints each new stage of a submission (scripts in background
    mode, where there is no status bar)."""

    def __init__(self):
        self._stage = None

    def __call__(self, progress):
        """Print the stage of ``progress`` when it is new."""
        stage = progress.text().split(":")[0]
        if stage != self._stage:
            self._stage = stage
            print("Render Farm:", stage, flush=True)


def _redraw(context):
    """Redraw the farm panel and the status bar."""
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type in {"PROPERTIES", "STATUSBAR"}:
                area.tag_redraw()


# The submission or estimate running in the background, if any: one at
# a time.
_active = None


def is_running():
    """Whether a submission or an estimate is running in the background."""
    return _active is not None


def running_text():
    """``Submitting`` or ``Estimating`` while one runs, else None."""
    return _active.running_text if _active is not None else None


class _InBackground:
    """What the submit and estimate operators share: run ``_work`` (a
    :class:`_Submission` or :class:`_Estimation`) synchronously from
    scripts, or in a background thread from the interface, with progress
    in the status bar and Esc to cancel."""

    _work_class = None
    _timer = None
    _thread = None
    _calls = None
    _work = None

    def _start(self, context, on_change=None):
        """The first steps on the main thread and a clean result; False
        when they failed."""
        if is_running():
            self.report({"ERROR"}, "A%s %s is already running; wait for it "
                        "or press Esc to cancel it" % (
                            "n" if _active.kind[0] in "aeiou" else "",
                            _active.kind))
            return False
        wm = context.window_manager
        self._work_class.clear(wm)
        try:
            self._work = self._work_class(context, on_change)
        except Exception as error:  # a refusal before anything was sent
            self.report({"ERROR"}, self._work_class.refused(wm, error))
            return False
        return True

    def execute(self, context):
        """Run synchronously (scripts)."""
        printer = _StagePrinter() if bpy.app.background else None
        if not self._start(context, printer):
            return {"CANCELLED"}
        self._work.run(lambda function: function())
        self._work.store(context.window_manager)
        return self._work.report(self)

    def invoke(self, context, event):
        """Run in the background, with progress in the status bar."""
        global _active
        if not self._start(context):
            return {"CANCELLED"}
        _active = self._work
        self._calls = _MainThreadCalls()
        self._thread = threading.Thread(
            target=self._work.run, args=(self._calls.call,),
            name="farm-" + self._work.kind, daemon=True,
        )
        self._thread.start()
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        self._show(context)
        return {"RUNNING_MODAL"}

    def _show(self, context):
        """Put the progress in the status bar."""
        text = "Render Farm: " + self._work.progress.text()
        if self._work.cancel.is_set():
            text += " (cancelling)"
        else:
            text += "  (Esc to cancel)"
        if context.workspace is not None:
            context.workspace.status_text_set(text)
        _redraw(context)

    def modal(self, context, event):
        """Run main-thread steps, follow the thread, take Esc."""
        if event.type == "ESC" and event.value == "PRESS":
            self._work.cancel.set()
            self._show(context)
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        self._calls.run_pending()
        if self._thread.is_alive():
            self._show(context)
            return {"PASS_THROUGH"}
        self._finish(context)
        self._work.store(context.window_manager)
        return self._work.report(self)

    def _finish(self, context):
        """Stop the timer, clear the status bar, free the slot."""
        global _active
        _active = None
        context.window_manager.event_timer_remove(self._timer)
        if context.workspace is not None:
            context.workspace.status_text_set(None)
        _redraw(context)

    def cancel(self, context):
        """Blender ends the operator (its window closes): stop the upload."""
        self._work.cancel.set()
        self._calls.close()
        self._thread.join(timeout=10)
        self._finish(context)


class FARM_OT_submit(_InBackground, bpy.types.Operator):
    """Submit the saved scene to the render farm: upload what the farm
    lacks of it and create the job"""

    bl_idname = "farm.submit"
    bl_label = "Submit to Farm"
    bl_options = {"REGISTER"}

    _work_class = _Submission


class FARM_OT_estimate(_InBackground, bpy.types.Operator):
    """Estimate the time to complete and the cost of this job on each node
    class of the farm, from this scene's and the farm's history; nothing
    is uploaded or submitted"""

    bl_idname = "farm.estimate"
    bl_label = "Estimate"
    bl_options = {"REGISTER"}

    _work_class = _Estimation


class FARM_OT_test_connection(bpy.types.Operator):
    """Ask the coordinator which renderers, regions and node classes the
    farm has (GET /api/v1/farm)"""

    bl_idname = "farm.test_connection"
    bl_label = "Test Connection"
    bl_options = {"REGISTER"}

    def execute(self, context):
        """Fetch the farm's lists, or report why not, verbatim."""
        try:
            client = prefs.client(context)
            answer = client.farm()
        except ApiError as error:
            self.report({"ERROR"}, error.message)
            return {"CANCELLED"}
        properties.set_offer(answer)
        offer = properties.OFFER
        self.report(
            {"INFO"},
            "Connected to %s: renderers %s; regions %s; node classes %s" % (
                client.url,
                ", ".join(offer["renderers"]) or "none",
                ", ".join(offer["regions"]) or "none",
                ", ".join(offer["node_classes"]) or "none",
            ),
        )
        return {"FINISHED"}


CLASSES = (FARM_OT_submit, FARM_OT_estimate, FARM_OT_test_connection)


def register():
    """Register the operators."""
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister():
    """Unregister the operators."""
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
