"""Checks of the add-on in Blender's interface, against the fake
coordinator: the panel draws, Submit to Farm runs in the background while
the interface keeps going, and Esc cancels it; Estimate runs in the
background too and its sub-panel draws the answer.

Needs a display; on a headless machine run it under Xvfb (after
``scripts/build-addon.sh``)::

    xvfb-run -a -s "-screen 0 1600x1000x24" blender --factory-startup \\
        --enable-event-simulate \\
        --python plugins/blender/tests/gui_checks.py -- \\
        --zip dist/farm_submit-0.1.0.zip [--work DIR]

Exits non-zero naming every failed check.
"""

import argparse
import importlib
import os
import sys
import tempfile
import time
import traceback

import bpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import addon  # noqa: E402
import farm_scene  # noqa: E402

FAILURES = []
ERRORS = []
TIMEOUT_S = 120


def check(ok, what):
    """Record and print one check."""
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILURES.append(what)


def record_error(kind, value, trace):
    """Python errors in the interface (a panel's draw, say) fail the run."""
    ERRORS.append("".join(traceback.format_exception(kind, value, trace)))
    sys.__excepthook__(kind, value, trace)


def window_context():
    """A context override with the window and its Properties area."""
    window = bpy.context.window_manager.windows[0]
    area = next(a for a in window.screen.areas if a.type == "PROPERTIES")
    region = next(r for r in area.regions if r.type == "WINDOW")
    return {"window": window, "screen": window.screen, "area": area,
            "region": region}


def redraw():
    """Draw the whole window once, the farm panel included."""
    with bpy.context.temp_override(**window_context()):
        bpy.ops.wm.redraw_timer(type="DRAW_WIN", iterations=1)


def invoke_submit():
    """Press Submit to Farm; the operator's return set."""
    with bpy.context.temp_override(**window_context()):
        return bpy.ops.farm.submit("INVOKE_DEFAULT")


def invoke_estimate():
    """Press Estimate; the operator's return set."""
    with bpy.context.temp_override(**window_context()):
        return bpy.ops.farm.estimate("INVOKE_DEFAULT")


def steps(args):
    """The checks, as a generator the timer steps through; each yield is
    the seconds to wait (the interface runs meanwhile)."""
    work = os.path.abspath(args.work or tempfile.mkdtemp(prefix="farm-gui-"))
    bpy.context.preferences.filepaths.save_version = 0
    project = farm_scene.build(work)
    bpy.ops.wm.open_mainfile(filepath=project.shot)
    yield 0.5
    package = addon.install(args.zip)
    from fake_farm import FakeFarm  # after the install: its client is the add-on's

    farm = FakeFarm().start()
    prefs = bpy.context.preferences.addons[package.__name__].preferences
    prefs.url, prefs.token = farm.url, farm.token
    operators = importlib.import_module(package.__name__ + ".operators")
    last = bpy.context.window_manager.farm_last

    window_context()["area"].spaces[0].context = "OUTPUT"
    redraw()
    check(bpy.ops.farm.test_connection() == {"FINISHED"}, "test connection")
    bpy.context.scene.farm.region = "local"
    redraw()
    check(ERRORS == [], "the panel draws without errors")

    check(invoke_submit() == {"RUNNING_MODAL"}, "Submit to Farm runs in the background")
    check(operators.is_running(), "the submission is marked running")
    # Meanwhile Blender's own loop draws the tagged panel. No redraw() here:
    # redraw_timer, an operator called from Python, lets Blender 3.4 run
    # Python on the main thread while the background thread runs Python
    # too, and it crashes (faulthandler showed the hasher's thread dying).
    deadline = time.monotonic() + TIMEOUT_S
    while operators.is_running() and time.monotonic() < deadline:
        yield 0.1
    check(not operators.is_running() and last.job_id in farm.jobs,
          "the background submission created job %r (%s)" % (last.job_id, last.error))
    check(farm.jobs.get(last.job_id, {}).get("region") == "local",
          "the chosen region was sent")
    redraw()

    # Estimate, in the background, with a class nothing rendered on yet.
    farm.node_classes.append("gpu-fast")
    uploads, jobs = len(farm.uploads), len(farm.jobs)
    check(invoke_estimate() == {"RUNNING_MODAL"}, "Estimate runs in the background")
    check(operators.running_text() == "Estimating", "the estimate is marked running")
    deadline = time.monotonic() + TIMEOUT_S
    while operators.is_running() and time.monotonic() < deadline:
        yield 0.1
    out = bpy.context.window_manager.farm_estimate
    check(not operators.is_running() and out.answer and out.bundle in farm.bundles
          and not out.error,
          "the background estimate kept the answer (%s)" % out.error)
    check(len(farm.uploads) == uploads and len(farm.jobs) == jobs,
          "the estimate uploaded nothing and created no job")
    check(farm.estimates and farm.estimates[-1].get("region") == "local",
          "the estimate was asked for the job's settings")
    redraw()
    check(ERRORS == [], "the estimate panel draws without errors")
    farm.node_classes.remove("gpu-fast")

    # A big file keeps the pure hasher busy long enough to press Esc.
    big = os.path.join(project.root, "textures", "big.png")
    with open(big, "wb") as file:
        file.write(os.urandom(40 * 1024 * 1024))
    image = bpy.data.images.load(big)
    image.filepath = "//../textures/big.png"
    jobs = len(farm.jobs)
    check(invoke_submit() == {"RUNNING_MODAL"}, "a second submission starts")
    active = operators._active
    while (active is not None and not active.progress.text().startswith("Hashing")
           and operators.is_running()):
        yield 0.05
    bpy.context.window_manager.windows[0].event_simulate(type="ESC", value="PRESS")
    pressed = time.monotonic()
    deadline = pressed + TIMEOUT_S
    while operators.is_running() and time.monotonic() < deadline:
        yield 0.05
    took = time.monotonic() - pressed
    check(last.error.startswith("Cancelled") and len(farm.jobs) == jobs,
          "Esc cancels the submission, no job is created: %r" % last.error)
    # How fast is reported, not judged: CI machines are loaded.
    print("info the cancel was taken in %.2f s" % took)
    check(len(farm.bundles) == 1,
          "nothing of the cancelled submission reached the farm")
    redraw()
    check(ERRORS == [], "no Python errors in the interface:\n" + "\n".join(ERRORS))
    farm.stop()
    addon.remove()


def main():
    """Run the steps from a timer; quit with the outcome."""
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zip", required=True, help="the add-on zip")
    parser.add_argument(
        "--work", help="folder for the project (default: a temporary one)"
    )
    args = parser.parse_args(argv)
    sys.excepthook = record_error
    running = steps(args)

    def step():
        try:
            return next(running)
        except StopIteration:
            pass
        except Exception:
            FAILURES.append(traceback.format_exc())
            print(FAILURES[-1], flush=True)
        print("%d failed" % len(FAILURES) if FAILURES else "all checks passed",
              flush=True)
        # Blender's own quit would exit 0 whatever happened.
        os._exit(1 if FAILURES else 0)

    # Persistent: the steps open files, which drops other timers.
    bpy.app.timers.register(step, first_interval=1.0, persistent=True)


main()
