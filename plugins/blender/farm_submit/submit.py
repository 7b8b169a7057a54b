"""The submission, step by step, free of Blender so that the operator (run
synchronously or in the background) and the tests share it.

Steps, in order: the job fields are checked by ``POST /api/v1/jobs/validate``
before anything is uploaded; then the scene's files are collected and
hashed into a bundle (a missing file is refused, naming it); the bundle is
described with ``POST /api/v1/bundles``; only the blobs the coordinator
lacks are uploaded; and the job is created on the bundle.
"""

import threading

from . import bundle as bundles
from .client import Cancelled


def scene_frames(start, end, step):
    """The frame spec of a scene's range: ``1-250``, or ``1-250x5`` when
    the step is above 1."""
    spec = "%d-%d" % (start, end) if start != end else "%d" % start
    return spec + ("x%d" % step if step > 1 and start != end else "")


def job_fields(name, frames, chunk_size=0, priority=50, parity_percent=None,
               region="", node_class="", paused=False):
    """The job fields the API takes (without the bundle), leaving out what
    the coordinator should default: a ``chunk_size`` of 0, a
    ``parity_percent`` of None, an empty region or node class."""
    fields = {
        "name": name,
        "renderer": "blender",
        "frames": frames,
        "priority": priority,
        "paused": paused,
    }
    if chunk_size > 0:
        fields["chunk_size"] = chunk_size
    if parity_percent is not None:
        fields["parity_percent"] = round(float(parity_percent), 2)
    if region:
        fields["region"] = region
    if node_class:
        fields["node_class"] = node_class
    return fields


class Progress:
    """Where a submission is, safe to read from another thread: a stage
    text and, while hashing or uploading, bytes done of a total.
    ``on_change(progress)`` is called after each change, if given."""

    def __init__(self, on_change=None):
        self._lock = threading.Lock()
        self._stage = "Starting"
        self._done = 0
        self._total = 0
        self._on_change = on_change

    def stage(self, text):
        """Enter a stage without a byte count."""
        with self._lock:
            self._stage, self._done, self._total = text, 0, 0
        self._changed()

    def bytes(self, text, done, total):
        """Report ``done`` of ``total`` bytes in the stage ``text``."""
        with self._lock:
            self._stage, self._done, self._total = text, done, total
        self._changed()

    def _changed(self):
        """Tell ``on_change``."""
        if self._on_change is not None:
            self._on_change(self)

    def fraction(self):
        """Share of the current stage done, 0 to 1 (0 without a count)."""
        with self._lock:
            return self._done / self._total if self._total else 0.0

    def text(self):
        """One line for the status bar."""
        with self._lock:
            stage, done, total = self._stage, self._done, self._total
        if not total:
            return stage
        return "%s: %s of %s (%d%%)" % (
            stage, readable_size(done), readable_size(total), 100 * done // total
        )


def readable_size(n):
    """``n`` bytes, readable: ``512 bytes``, ``3.2 MiB``."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" if unit == "bytes" else "%.1f %s") % (n, unit)
        n /= 1024
    raise AssertionError("unreachable")


class SubmitResult:
    """A submitted job: its ``job`` summary, ``job_id``, ``job_url``, the
    ``bundle_id``, and what was ``uploaded`` (the bundle answer's
    ``missing`` entries sent) with ``uploaded_bytes`` in all."""

    def __init__(self, job, job_url, bundle_id, bundle_bytes, uploaded):
        self.job = job
        self.job_id = job["id"]
        self.job_url = job_url
        self.bundle_id = bundle_id
        self.bundle_bytes = bundle_bytes
        self.uploaded = uploaded
        self.uploaded_bytes = sum(blob["bytes"] for blob in uploaded)

    def details(self):
        """The result as plain data (for scripts)."""
        return {
            "job_id": self.job_id,
            "job_url": self.job_url,
            "bundle": self.bundle_id,
            "frame_count": self.job.get("frame_count"),
            "bundle_bytes": self.bundle_bytes,
            "uploaded_bytes": self.uploaded_bytes,
            "uploaded": [
                {"hash": b["hash"], "bytes": b["bytes"], "paths": b["paths"]}
                for b in self.uploaded
            ],
        }


def submit(client, fields, collect, progress=None, cancelled=None):
    """Submit a job with ``fields`` (see :func:`job_fields`).

    ``collect()`` is called once the fields are accepted and answers
    ``(main, main_source, dependencies)``: the main file's path, the file to
    send in its place (or None), and the absolute paths of its
    dependencies. ``progress`` is a :class:`Progress`; ``cancelled()`` is
    checked between steps, files and pieces (raises :class:`Cancelled`).
    Refusals raise :class:`client.ApiError` (the coordinator's message
    verbatim) or :class:`bundle.BundleError` (naming the file).
    """
    progress = progress or Progress()
    cancelled = cancelled or (lambda: False)

    def check():
        if cancelled():
            raise Cancelled()

    progress.stage("Checking the job with the coordinator")
    client.validate_job(fields)
    check()

    progress.stage("Collecting the scene's files")
    main, main_source, dependencies = collect()
    check()
    bundle = bundles.build(
        main,
        dependencies,
        main_source,
        lambda done, total, path: progress.bytes("Hashing", done, total),
        cancelled,
    )
    check()

    progress.stage("Describing the bundle (%d files)" % len(bundle.files))
    answer = client.create_bundle(bundle.manifest())
    check()

    uploaded = client.upload_missing(
        answer["missing"],
        bundle.sources(),
        lambda done, total, paths: progress.bytes("Uploading", done, total),
        cancelled,
    )
    check()

    progress.stage("Creating the job")
    job = client.create_job(dict(fields, bundle=answer["id"]))
    return SubmitResult(
        job, client.job_url(job["id"]), answer["id"], bundle.total_bytes(),
        uploaded,
    )
