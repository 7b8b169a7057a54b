"""A submission run off Cinema 4D's main thread (``c4d.threading.C4DThread``)
so the interface stays responsive: hashing and uploading run in the
thread; what must touch the document (``SaveProject``) is handed to the
main thread, which runs it when the dialog's timer calls :meth:`Runner.pump`.
A cancel stops between steps, files and pieces.
"""

import queue
import threading

import c4d

from . import PLUGIN_ID
from .farm_client import submit as steps
from .farm_client.client import Cancelled


class MainThreadCalls:
    """Calls the background thread hands to the main thread."""

    def __init__(self):
        """No call pending."""
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
        c4d.SpecialEventAdd(PLUGIN_ID)
        done.wait()
        if "error" in box:
            raise box["error"]
        return box["value"]

    def run_pending(self):
        """Run what the background thread waits for (main thread)."""
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
        """Refuse every further call; a waiting one gets :class:`Cancelled`."""
        with self._lock:
            self._closed = True
        self.run_pending()


class Runner(c4d.threading.C4DThread):
    """Runs ``work(on_main, progress, cancelled)`` in a Cinema 4D thread;
    ``result`` or ``error`` once :meth:`finished`."""

    def __init__(self, work):
        """Prepare the run of ``work``; :meth:`begin` starts it."""
        self.work = work
        self.calls = MainThreadCalls()
        self.progress = steps.Progress()
        self.result = None
        self.error = None
        self._cancel = threading.Event()
        self._done = threading.Event()

    def begin(self):
        """Start the thread."""
        self.Start(c4d.THREADMODE_ASYNC, c4d.THREADPRIORITYEX_BELOW)

    def Main(self):
        """The thread: run the work, keep its outcome, wake the dialog."""
        try:
            self.result = self.work(self.calls.call, self.progress,
                                    self.cancelled)
        except Exception as error:  # reported to the user, never lost
            self.error = error
        finally:
            self._done.set()
            c4d.SpecialEventAdd(PLUGIN_ID)

    def cancelled(self):
        """Whether the run should stop (a cancel, or Cinema 4D ending the
        thread)."""
        return self._cancel.is_set() or bool(self.TestBreak())

    def cancel(self):
        """Stop at the next check; a pending main-thread call is refused."""
        self._cancel.set()
        self.calls.close()

    def pump(self):
        """Run the thread's pending main-thread calls (main thread)."""
        self.calls.run_pending()

    def finished(self):
        """Whether the work is over (``result`` or ``error`` is set)."""
        return self._done.is_set()

    def wait(self, timeout=None, pump_every=0.05):
        """Pump and wait until finished (scripts, tests); whether it did."""
        while not self._done.wait(pump_every):
            self.pump()
            if timeout is not None:
                timeout -= pump_every
                if timeout <= 0:
                    return False
        return True
