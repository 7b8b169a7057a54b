"""End to end: the add-on, installed from its zip into real Blender,
submits the test project (a shot, its texture, a linked library with its
own texture) to a running farm, and the frames come back with the
textures' colours.

Run with ``FARM_URL`` and ``FARM_TOKEN`` (a submitter token of a running
coordinator with a Blender worker)::

    blender -b --factory-startup --python-exit-code 1 \\
        --python plugins/blender/tests/e2e_submit.py -- \\
        --zip dist/farm_submit-0.1.0.zip --work /tmp/farm-e2e

Steps: a refused submission (bad frames) shows the server's message and
uploads nothing; a good one renders the scene's range 1-3, whose frame 1 has
the right size and colours; an estimate of the same job then has figures
from what the farm rendered; after one
texture changes, a second submission uploads only that texture and the main
file. The last line printed is
``FARM_E2E {...}`` with the figures. Exits non-zero at the first failed
check, saying what was wrong.
"""

import argparse
import importlib
import json
import os
import random
import sys
import time

import bpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import addon  # noqa: E402
import farm_scene  # noqa: E402

DEADLINE_S = 600
POLL_S = 0.25


def fail(message):
    """Stop the test with ``message``."""
    print("FAIL " + message, flush=True)
    sys.exit(1)


def check(ok, message):
    """Go on when ``ok``, else :func:`fail`."""
    if not ok:
        fail(message)
    print("ok   " + message, flush=True)


def submit_op():
    """``bpy.ops.farm.submit()`` as a script calls it: its result set, or
    the RuntimeError Blender raises when the operator reports an error."""
    try:
        return bpy.ops.farm.submit()
    except RuntimeError as error:
        return error


def estimate_op():
    """``bpy.ops.farm.estimate()`` as a script calls it (see
    :func:`submit_op`)."""
    try:
        return bpy.ops.farm.estimate()
    except RuntimeError as error:
        return error


def missing_paths(answer):
    """Paths of a bundle answer's missing blobs."""
    return sorted(path for blob in answer["missing"] for path in blob["paths"])


def disk_manifest(package, project):
    """The manifest of the project's files as they are on disk (the
    test's own view of what the add-on must send)."""
    deps = importlib.import_module(package.__name__ + ".deps")
    bundle = importlib.import_module(package.__name__ + ".bundle")
    return bundle.build(project.shot, deps.collect(project.shot)).manifest()


def wait_for_job(client, job_id, started):
    """Poll the job until it is done; ``(detail, seconds from started to
    its first frame rendering)``. Fails on a failed or cancelled job."""
    first_frame = None
    deadline = started + DEADLINE_S
    while True:
        detail = client.job(job_id)
        now = time.monotonic()
        if first_frame is None and any(
            frame["state"] in ("rendering", "done") for frame in detail["frame_list"]
        ):
            first_frame = now - started
        if detail["state"] == "done":
            return detail, first_frame
        if detail["state"] in ("failed", "cancelled"):
            fail("job %s ended %s:\n%s" % (job_id, detail["state"],
                                           json.dumps(detail, indent=2)))
        if now > deadline:
            fail("job %s is still %s after %d s:\n%s" % (
                job_id, detail["state"], DEADLINE_S, json.dumps(detail, indent=2)))
        time.sleep(POLL_S)


def check_frames(client, detail, work, poster_srgb, what):
    """The job's frames are the scene's range and frame 1 renders the
    textures' colours at the scene's size."""
    frames = sorted(frame["frame"] for frame in detail["frame_list"])
    want = list(range(farm_scene.FRAME_START, farm_scene.FRAME_END + 1))
    check(detail["frame_count"] == len(want) and frames == want,
          "%s: frames %s are the scene's range %s" % (what, frames, want))
    first = next(f for f in detail["frame_list"] if f["frame"] == want[0])
    if not first.get("download"):
        fail("%s: frame %d has no download link:\n%s" % (
            what, want[0], json.dumps(first, indent=2)))
    path = os.path.join(work, "%s-frame%d.exr" % (detail["id"], want[0]))
    client.download(first["download"], path)
    problems = farm_scene.check_frame(path, poster_srgb)
    check(problems == [], "%s: frame %d from the farm has the textures' "
          "colours at %dx%d %s" % (what, want[0], farm_scene.WIDTH,
                                   farm_scene.HEIGHT, problems))


def main():
    """Run the steps; print the figures."""
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zip", required=True, help="the add-on zip")
    parser.add_argument("--work", required=True, help="folder for the project")
    args = parser.parse_args(argv)
    url, token = os.environ.get("FARM_URL"), os.environ.get("FARM_TOKEN")
    if not url or not token:
        fail("set FARM_URL and FARM_TOKEN (a submitter token) to a running farm")
    work = os.path.abspath(args.work)
    bpy.context.preferences.filepaths.save_version = 0

    # 1-2: the project (its textures unlike any earlier run's), then the
    # add-on from the zip, as an artist would have it.
    marker = random.randrange(1, 256)
    project = farm_scene.build(work, marker)
    bpy.ops.wm.open_mainfile(filepath=project.shot)
    package = addon.install(args.zip, url=url, token=token)
    try:
        run(package, project, work, marker)
    finally:
        addon.remove()


def run(package, project, work, marker):
    """Steps 3 to 5."""
    client_module = importlib.import_module(package.__name__ + ".client")
    submit = importlib.import_module(package.__name__ + ".submit")
    operators = importlib.import_module(package.__name__ + ".operators")
    client = client_module.FarmClient(os.environ["FARM_URL"], os.environ["FARM_TOKEN"])
    wm = bpy.context.window_manager
    scene = bpy.context.scene
    figures = {}

    # 3: a refused submission shows the server's words and sends nothing.
    scene.farm.frames = "5-x"
    result = submit_op()
    check(isinstance(result, RuntimeError) or result == {"CANCELLED"},
          "a bad frame spec cancels the submission: %r" % (result,))
    try:
        client.validate_job(operators.scene_job_fields(scene))
        fail("the coordinator accepted frames %r" % scene.farm.frames)
    except client_module.ApiError as error:
        check(wm.farm_last.error == error.message and error.code == "bad_frame_spec",
              "the stored error is the server's message verbatim: %r"
              % wm.farm_last.error)
    check(wm.farm_last.job_id == "", "no job was created")
    answer = client.create_bundle(disk_manifest(package, project))
    listed = sorted(entry["path"] for entry in answer["manifest"]["files"])
    check(missing_paths(answer) == listed,
          "nothing was uploaded: the farm still lacks every file %s" % listed)

    # 4: a good submission of the scene's range renders the right pixels.
    # No parity copies: a farm of one worker could not verify them, and
    # frame 1 must be downloadable once the job is done.
    scene.farm.frames = ""
    scene.farm.use_default_parity = False
    scene.farm.parity_percent = 0.0
    started = time.monotonic()
    result = submit_op()
    figures["first_submit_s"] = round(time.monotonic() - started, 3)
    check(result == {"FINISHED"}, "the submission finishes: %r %s"
          % (result, wm.farm_last.error))
    job_id = wm.farm_last.job_id
    check(job_id and wm.farm_last.job_url == client.job_url(job_id),
          "the job id and URL are stored: %s" % wm.farm_last.job_url)
    first = json.loads(wm.farm_last.details)
    figures["first_submit_uploaded_bytes"] = first["uploaded_bytes"]
    figures["bundle_bytes"] = first["bundle_bytes"]
    detail, first_frame = wait_for_job(client, job_id, started)
    figures["first_submit_to_first_frame_s"] = round(first_frame, 3)
    figures["first_submit_to_done_s"] = round(time.monotonic() - started, 3)
    check_frames(client, detail, work, farm_scene.POSTER_SRGB, "first job")

    # 4b: an estimate of the same job, from what the farm just rendered.
    estimate = importlib.import_module(package.__name__ + ".estimate")
    result = estimate_op()
    out = wm.farm_estimate
    check(result == {"FINISHED"} and out.answer and out.bundle,
          "the estimate finishes with a described bundle: %r %s"
          % (result, out.error))
    answer = json.loads(out.answer)
    classes = answer.get("classes") or []
    check(answer.get("frames") == farm_scene.FRAME_END - farm_scene.FRAME_START + 1
          and classes and classes[0].get("workers", 0) >= 1
          and classes[0].get("time_to_complete_secs")
          and classes[0].get("cost_micros"),
          "the estimate has the scene's frames and a class with figures: %s"
          % out.answer)
    figures["estimate_basis"] = classes[0]["basis"]
    figures["estimate"] = estimate.report_line(answer)

    # 5: one texture changes; only it (and the main file) is sent again.
    farm_scene.write_png(project.poster, farm_scene.CHANGED_POSTER_SRGB, marker)
    bpy.ops.wm.save_mainfile()
    answer = client.create_bundle(disk_manifest(package, project))
    lacking = set(missing_paths(answer)) - {"shots/shot.blend"}
    check(lacking == {"textures/poster.png"},
          "the farm lacks only the changed texture: %s" % sorted(lacking))
    poster_bytes = os.path.getsize(project.poster)
    started = time.monotonic()
    result = submit_op()
    check(result == {"FINISHED"}, "the second submission finishes: %r %s"
          % (result, wm.farm_last.error))
    second = json.loads(wm.farm_last.details)
    sent = sorted(path for blob in second["uploaded"] for path in blob["paths"])
    figures["second_submit_uploaded_bytes"] = second["uploaded_bytes"]
    figures["second_submit_uploaded_files"] = sent
    check("lib/props.blend" not in sent and "lib/tex/prop.png" not in sent,
          "the library and its texture were not uploaded again: %s" % sent)
    check(set(sent) <= {"textures/poster.png", "shots/shot.blend"}
          and "textures/poster.png" in sent,
          "the changed texture (and the main file) were: %s, %s"
          % (sent, submit.readable_size(second["uploaded_bytes"])))
    main_bytes = sum(b["bytes"] for b in second["uploaded"]
                     if "shots/shot.blend" in b["paths"])
    check(second["uploaded_bytes"] == poster_bytes + main_bytes,
          "%d bytes uploaded: the texture's %d and the main file's %d"
          % (second["uploaded_bytes"], poster_bytes, main_bytes))
    detail, _ = wait_for_job(client, second["job_id"], started)
    figures["second_submit_to_done_s"] = round(time.monotonic() - started, 3)
    check_frames(client, detail, work, farm_scene.CHANGED_POSTER_SRGB, "second job")

    print("FARM_E2E " + json.dumps(figures), flush=True)


main()
