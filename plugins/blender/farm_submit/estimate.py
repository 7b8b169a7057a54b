"""What a job would take and cost on each node class, before it is
submitted, free of Blender so that the operator and the tests share it.

Steps, as a submission takes them up to its upload: the job fields are
checked by ``POST /api/v1/jobs/validate``; the scene's files are collected
and hashed into a bundle; the bundle is described with
``POST /api/v1/bundles`` (nothing is uploaded: a later submission of the
same files sends only what the farm lacks, as always); and
``POST /api/v1/jobs/estimate`` gets the very body the submission would
post, the bundle's id included, so that the coordinator can tell this
scene's own history from the farm's. Without a saved file there is no
bundle: the estimate then comes from the farm's history alone.

The rest turns the coordinator's answer into lines for people: durations
(``4 min 10 s``), costs in the currency (``EUR 0.42 (0.30–0.61)``, from
integer micro-units) and where the figures come from.
"""

from . import bundle as bundles
from .client import Cancelled

# What the figures of a class come from, in words; a basis the coordinator
# adds later reads as itself (see :func:`basis_text`).
BASES = {
    "scene": "from this scene's history",
    "farm": "from the farm's history",
    "none": "no history yet",
    "speed_score": "from the node class's speed score",
}

# Shown for a figure the coordinator has none of (no history yet).
NO_FIGURE = "\u2014"
DASH = "\u2013"


class EstimateResult:
    """The coordinator's ``answer`` for job ``fields``, made with the
    bundle ``bundle_id`` (None: without the scene)."""

    def __init__(self, answer, fields, bundle_id=None):
        self.answer = answer
        self.fields = fields
        self.bundle_id = bundle_id

    def details(self):
        """The estimate as plain data (for scripts and the panel)."""
        return {"answer": self.answer, "fields": self.fields,
                "bundle": self.bundle_id}


def estimate(client, fields, collect=None, progress=None, cancelled=None):
    """Estimate a job with ``fields`` (see :func:`submit.job_fields`).

    ``collect()`` answers ``(main, main_source, dependencies)`` as for
    :func:`submit.submit`; None estimates without the scene. ``progress``
    is a :class:`submit.Progress`, ``cancelled()`` is checked between
    steps, files and pieces (raises :class:`Cancelled`). Refusals raise
    :class:`client.ApiError` (the coordinator's message verbatim) or
    :class:`bundle.BundleError`. Returns an :class:`EstimateResult`.
    """
    cancelled = cancelled or (lambda: False)

    def stage(text):
        if progress is not None:
            progress.stage(text)

    def check():
        if cancelled():
            raise Cancelled("Cancelled: no estimate was made")

    stage("Checking the job with the coordinator")
    client.validate_job(fields)
    check()
    body = dict(fields)
    bundle_id = None
    if collect is not None:
        stage("Collecting the scene's files")
        main, main_source, dependencies = collect()
        check()
        built = bundles.build(
            main,
            dependencies,
            main_source,
            None if progress is None
            else lambda done, total, path: progress.bytes("Hashing", done, total),
            cancelled,
        )
        check()
        stage("Describing the bundle (%d files)" % len(built.files))
        bundle_id = client.create_bundle(built.manifest())["id"]
        body["bundle"] = bundle_id
        check()
    stage("Estimating")
    answer = client.estimate_job(body)
    return EstimateResult(answer, fields, bundle_id)


def duration(seconds):
    """``seconds`` for people: ``42 s``, ``4 min 10 s``, ``2 h 5 min``,
    ``3 d 4 h``; under ten seconds to a tenth, ``2.5 s``."""
    seconds = max(float(seconds), 0.0)
    if seconds < 9.95:
        text = "%.1f" % seconds
        return (text[:-2] if text.endswith(".0") else text) + " s"
    whole = int(seconds + 0.5)
    for big, big_unit, small, small_unit in (
        (86400, "d", 3600, "h"), (3600, "h", 60, "min"), (60, "min", 1, "s"),
    ):
        if whole >= big:
            # Rounded to the smaller unit, which may carry into the bigger.
            whole = (whole + small // 2) // small * small
            parts = ["%d %s" % (whole // big, big_unit)]
            if whole % big:
                parts.append("%d %s" % (whole % big // small, small_unit))
            return " ".join(parts)
    return "%d s" % whole


def amount(micros):
    """Integer micro-units as a decimal amount: two decimals (``0.42``,
    ``1,234.50``), more for a small amount that two would show as 0
    (``0.001``)."""
    micros = int(micros)
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    for decimals in range(2, 7):
        unit = 10 ** (6 - decimals)
        rounded = (micros + unit // 2) // unit
        if rounded or micros == 0 or decimals == 6:
            break
    whole, fraction = divmod(rounded, 10 ** decimals)
    return "%s%s.%0*d" % (sign, "{:,}".format(whole), decimals, fraction)


def money(micros, currency):
    """``micros`` of ``currency``: ``EUR 0.42``."""
    return ("%s %s" % (currency, amount(micros))).strip()


def spread(figures, show, prefix=""):
    """``typical (low–high)`` of a ``{low, typical, high}`` figure shown
    by ``show`` (``prefix`` before the typical only), or a dash when the
    coordinator has none; ``typical`` alone when all three agree."""
    if not figures:
        return NO_FIGURE
    low, typical, high = (show(figures[k]) for k in ("low", "typical", "high"))
    if low == typical == high:
        return prefix + typical
    return "%s%s (%s%s%s)" % (prefix, typical, low, DASH, high)


def basis_text(entry):
    """Where a class's figures come from, in words: ``from this scene's
    history``, ``from the farm's history``, ``no history yet``; with the
    class they were scaled from when the class has none of its own."""
    basis = str(entry.get("basis") or "none")
    text = BASES.get(basis) or "from %s" % basis.replace("_", " ")
    source = entry.get("scaled_from")
    if source and basis != "none":
        text += " on %s, scaled by speed score" % source
    samples = entry.get("samples")
    if basis in ("scene", "farm") and samples:
        text += " (%d frame%s)" % (samples, "" if samples == 1 else "s")
    return text


def class_lines(entry, currency):
    """One node class of an answer as display strings: ``node_class``,
    ``workers`` (``3 workers online``), ``time``, ``per_frame``, ``cost``
    and ``basis``; ``has_figures`` tells whether there are any."""
    workers = entry.get("workers") or 0
    return {
        "node_class": str(entry.get("node_class") or "any"),
        "workers": "%d worker%s online" % (workers, "" if workers == 1 else "s"),
        "time": spread(entry.get("time_to_complete_secs"), duration),
        "per_frame": spread(entry.get("seconds_per_frame"), duration),
        "cost": spread(entry.get("cost_micros"), amount,
                       (currency + " ") if currency else ""),
        "basis": basis_text(entry),
        "has_figures": bool(entry.get("time_to_complete_secs")
                            or entry.get("cost_micros")),
    }


def summary(answer):
    """The answer's first line: ``120 frames, 5% rendered twice to verify
    them``."""
    frames = answer.get("frames") or 0
    parity = float(answer.get("parity_percent") or 0)
    text = "%d frame%s" % (frames, "" if frames == 1 else "s")
    if parity:
        text += ", %s%% rendered twice to verify them" % ("%g" % round(parity, 2))
    return text


def lines(answer):
    """The answer for people: ``(summary, classes)``, one
    :func:`class_lines` per node class, as the coordinator ordered them."""
    currency = str(answer.get("currency") or "")
    return summary(answer), [
        class_lines(entry, currency) for entry in answer.get("classes") or []
    ]


# Shown when no node class the job admits has a worker online.
NO_CLASSES = ("no worker the job's placement admits is online now; the job "
              "would wait for one")


def report_line(answer):
    """One line for Blender's report (the status bar)."""
    head, classes = lines(answer)
    if not classes:
        return "Estimate: %s; %s" % (head, NO_CLASSES)
    parts = []
    for row in classes:
        if row["has_figures"]:
            parts.append("%s %s, %s" % (row["node_class"], row["time"], row["cost"]))
        else:
            parts.append("%s %s" % (row["node_class"], row["basis"]))
    return "Estimate: %s; %s" % (head, "; ".join(parts))
