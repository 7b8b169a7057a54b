"""``c4d.threading``: C4DThread on Python threads."""

import threading as _threading

import c4d


class C4DThread:
    """A thread running ``Main``; ``End`` asks it to stop (``TestBreak``)."""

    _stub_thread = None
    _stub_break = False

    def Main(self):
        """Override: the thread's work."""

    def Start(self, mode=c4d.THREADMODE_ASYNC, priority=c4d.THREADPRIORITYEX_NORMAL):
        """Run ``Main``: in a new thread, or here when synchronous."""
        c4d.record("C4DThread.Start", mode)
        self._stub_break = False
        if mode == c4d.THREADMODE_SYNCHRONOUS:
            self.Main()
            return True
        self._stub_thread = _threading.Thread(target=self.Main, daemon=True)
        self._stub_thread.start()
        return True

    def End(self, wait=True):
        """Ask the thread to stop, and wait for it."""
        self._stub_break = True
        if wait and self._stub_thread is not None:
            self._stub_thread.join()

    def TestBreak(self):
        """Whether the thread was asked to stop."""
        return self._stub_break

    def IsRunning(self):
        """Whether ``Main`` is running."""
        return self._stub_thread is not None and self._stub_thread.is_alive()

    def Wait(self, checkevents=False):
        """Wait for the thread."""
        if self._stub_thread is not None:
            self._stub_thread.join()
