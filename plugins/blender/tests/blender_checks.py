"""Checks of the add-on inside real Blender, against the fake coordinator
(no farm needed): the test project renders its known colours here, the
dependency collection finds exactly its files, the operator's refusals and
uploads, the estimate (its body, nothing uploaded, the panel's lines),
and what the fake received, laid out as a worker lays a bundle out,
renders the same colours: the relative paths hold.

Run (after ``scripts/build-addon.sh``)::

    blender -b --factory-startup --python-exit-code 1 \\
        --python plugins/blender/tests/blender_checks.py -- \\
        --zip dist/farm_submit-0.1.0.zip [--work DIR]

Exits non-zero naming every failed check.
"""

import argparse
import hashlib
import importlib
import json
import os
import shutil
import sys
import tempfile

import bpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import addon  # noqa: E402
import farm_scene  # noqa: E402

FAILURES = []


def check(ok, what):
    """Record and print one check."""
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILURES.append(what)


def sha1(path):
    """A file's SHA-1, to tell whether it changed."""
    with open(path, "rb") as file:
        return hashlib.sha1(file.read()).hexdigest()


def submit_op():
    """``bpy.ops.farm.submit()`` as a script calls it: its result set, or
    the RuntimeError Blender raises for an operator reporting an error."""
    try:
        return bpy.ops.farm.submit()
    except RuntimeError as error:
        return error


def check_local_render(project, work):
    """The project renders its known colours here, and a missing texture
    shows as magenta (so the pixel check can tell)."""
    frame = farm_scene.render_frame(os.path.join(work, "local", "frame.exr"))
    problems = farm_scene.check_frame(frame)
    check(problems == [], "local render has the textures' colours %s" % problems)

    hidden = project.prop + ".hidden"
    os.rename(project.prop, hidden)
    prop = next(i for i in bpy.data.images if i.library is not None)
    prop.reload()
    frame = farm_scene.render_frame(os.path.join(work, "local", "missing.exr"))
    problems = farm_scene.check_frame(frame)
    check(any("magenta" in p and "prop" in p for p in problems),
          "a missing texture renders magenta and is caught: %s" % problems)
    os.rename(hidden, project.prop)
    prop.reload()


def check_collect(deps, project, scratch):
    """Exactly the project's files; image sequences, UDIM tiles and
    unbaked caches handled; the saved file sent as it is."""
    found = deps.collect(project.shot)
    check(found == sorted([project.poster, project.library, project.prop]),
          "dependencies are the poster, the library and its texture: %s" % found)
    main, source, listed = deps.prepare(project.shot, scratch)
    check(source is None and listed == found,
          "a saved file with relative paths is sent as it is")

    folder = os.path.join(project.root, "textures")
    for name in ("tiles.1001.png", "tiles.1002.png", "seq_0001.png",
                 "seq_0002.png", "seq_0003.png", "other_0001.jpg"):
        farm_scene.write_png(os.path.join(folder, name), (0.5, 0.5, 0.5))
    tiled = bpy.data.images.load(os.path.join(folder, "tiles.1001.png"))
    tiled.source = "TILED"
    tiled.tiles.new(tile_number=1002)
    sequence = bpy.data.images.load(os.path.join(folder, "seq_0001.png"))
    sequence.source = "SEQUENCE"
    generated = bpy.data.images.new("generated", 4, 4)
    domain = bpy.data.objects.new("Domain", bpy.data.meshes.new("Domain"))
    domain.modifiers.new("Fluid", "FLUID").fluid_type = "DOMAIN"
    try:
        found = deps.collect(project.shot)
        extra = sorted(set(found) - {project.poster, project.library, project.prop})
        want = sorted(os.path.join(folder, name) for name in (
            "tiles.1001.png", "tiles.1002.png", "seq_0001.png", "seq_0002.png",
            "seq_0003.png"))
        check(extra == want,
              "UDIM tiles and the whole sequence, no generated image, no "
              "unbaked fluid cache: %s" % extra)
    finally:
        bpy.data.objects.remove(domain)
        for image in (tiled, sequence, generated):
            bpy.data.images.remove(image)


def check_operator(farm, project, work):
    """The operator against the fake farm: a refusal sends nothing, a
    submission sends everything once, a changed texture only itself.
    Returns the bundle id of the last job."""
    wm = bpy.context.window_manager
    scene = bpy.context.scene

    scene.farm.frames = "5-x"
    result = submit_op()
    check(isinstance(result, RuntimeError)
          and "cannot read the frame spec" in str(result),
          "a bad frame spec fails the operator: %r" % (result,))
    check(wm.farm_last.error == "cannot read the frame spec '5-x': write frames "
          "as 1-100, 1-100x5, 1,5,10-12 or 100-1",
          "the server's message is kept verbatim: %r" % wm.farm_last.error)
    check(farm.uploads == [] and farm.bundles == {} and wm.farm_last.job_id == "",
          "nothing was described or uploaded after the refusal")

    scene.farm.frames = ""
    result = submit_op()
    check(result == {"FINISHED"}, "a good submission finishes: %r" % (result,))
    job = farm.jobs.get(wm.farm_last.job_id, {})
    check(job.get("frames") == "1-3" and job.get("name") == "shot",
          "the job renders the scene's range 1-3, named after the file: %s" % job)
    check(wm.farm_last.job_url == farm.url + "/api/v1/jobs/" + wm.farm_last.job_id,
          "the job URL is kept: %s" % wm.farm_last.job_url)
    first = json.loads(wm.farm_last.details)
    sent = sorted(p for blob in first["uploaded"] for p in blob["paths"])
    check(sent == ["lib/props.blend", "lib/tex/prop.png", "shots/shot.blend",
                   "textures/poster.png"], "every file is uploaded once: %s" % sent)

    farm_scene.write_png(project.poster, farm_scene.CHANGED_POSTER_SRGB)
    bpy.ops.wm.save_mainfile()
    result = submit_op()
    second = json.loads(wm.farm_last.details)
    sent = sorted(p for blob in second["uploaded"] for p in blob["paths"])
    check(result == {"FINISHED"} and "textures/poster.png" in sent
          and "lib/props.blend" not in sent and "lib/tex/prop.png" not in sent,
          "after changing the poster only it (and the main file) is sent: %s" % sent)
    return second["bundle"]


def estimate_op():
    """``bpy.ops.farm.estimate()`` as a script calls it (see
    :func:`submit_op`)."""
    try:
        return bpy.ops.farm.estimate()
    except RuntimeError as error:
        return error


class Layout:
    """A stand-in for a panel's ``UILayout`` (none exists in background
    mode) that records the labels drawn and the icons named."""

    def __init__(self, record=None):
        self.record = record if record is not None else {"labels": [], "icons": []}

    def _child(self, *args, **kwargs):
        return Layout(self.record)

    row = column = box = split = _child

    def label(self, text="", icon="NONE", **kwargs):
        self.record["labels"].append(text)
        self.record["icons"].append(icon)

    def operator(self, idname, text="", icon="NONE", **kwargs):
        self.record["icons"].append(icon)
        return type("Properties", (), {})()

    def prop(self, *args, icon="NONE", **kwargs):
        self.record["icons"].append(icon)


def draw_estimate_panel(package):
    """Draw the Estimate panel into a :class:`Layout`; what it recorded."""
    panel = importlib.import_module(package.__name__ + ".panel")
    layout = Layout()
    panel.FARM_PT_estimate.draw(type("Panel", (), {"layout": layout})(), bpy.context)
    return layout.record


def check_estimate(farm, package, project):
    """The estimate operator against the fake farm: the job's fields and a
    described bundle are sent, nothing is uploaded, no job is made, the
    artist's file is not saved; the panel draws the classes; refusals keep
    the server's words."""
    from fake_farm import Refusal

    wm = bpy.context.window_manager
    scene = bpy.context.scene
    operators = importlib.import_module(package.__name__ + ".operators")
    uploads, jobs, before = len(farm.uploads), len(farm.jobs), sha1(project.shot)
    farm.price["standard"] = 1400
    scene.farm.frames = "1-100"
    scene.farm.use_default_parity = False
    scene.farm.parity_percent = 0.0
    result = estimate_op()
    check(result == {"FINISHED"}, "an estimate finishes: %r %s"
          % (result, wm.farm_estimate.error))
    out = wm.farm_estimate
    body = farm.estimates[-1] if farm.estimates else {}
    fields = operators.scene_job_fields(scene)
    check(body == dict(fields, bundle=out.bundle) and out.bundle in farm.bundles,
          "the estimate posts the job's fields with its described bundle: %s" % body)
    check(len(farm.uploads) == uploads and len(farm.jobs) == jobs,
          "an estimate uploads nothing and creates no job")
    check(sha1(project.shot) == before, "an estimate leaves the artist's file alone")
    answer = json.loads(out.answer or "{}")
    check(answer.get("frames") == 100 and answer["classes"][0]["node_class"]
          == "standard", "the coordinator's answer is kept: %s" % out.answer)
    drawn = draw_estimate_panel(package)
    labels = drawn["labels"]
    check("100 frames" in labels and "standard" in labels
          and "2 workers online" in labels
          and "EUR 0.42 (0.28\u20130.70)" in labels
          and "2 min 30 s (1 min 40 s\u20134 min 10 s)" in labels
          and any(label.startswith("From this scene's history")
                  or label.startswith("From the farm's history") for label in labels),
          "the panel shows workers, time, cost and basis: %s" % labels)
    known = bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items
    unknown = sorted(set(drawn["icons"]) - set(known.keys()))
    check(unknown == [], "the panel's icons exist in this Blender: %s" % unknown)

    scene.farm.frames = "1-50"
    labels = draw_estimate_panel(package)["labels"]
    check("The settings changed since: estimate again" in labels,
          "the panel tells when the settings changed since the estimate")

    farm.node_classes.append("gpu-fast")
    result = estimate_op()
    labels = draw_estimate_panel(package)["labels"]
    check(result == {"FINISHED"} and "gpu-fast" in labels
          and "No history yet" in labels,
          "a class without history reads 'no history yet': %s" % labels)
    farm.node_classes.remove("gpu-fast")

    scene.farm.frames = "5-x"
    result = estimate_op()
    check(isinstance(result, RuntimeError)
          and wm.farm_estimate.error == "cannot read the frame spec '5-x': write "
          "frames as 1-100, 1-100x5, 1,5,10-12 or 100-1"
          and wm.farm_estimate.answer == "",
          "bad frames fail the estimate with the server's message: %r"
          % wm.farm_estimate.error)
    scene.farm.frames = ""
    farm.estimate_refusal = Refusal(422, "unmatched_placement",
                                    "no worker can ever take this job")
    result = estimate_op()
    farm.estimate_refusal = None
    labels = draw_estimate_panel(package)["labels"]
    check(isinstance(result, RuntimeError)
          and wm.farm_estimate.error == "no worker can ever take this job"
          and "no worker can ever take this job" in labels,
          "a refused estimate shows the server's message: %r %s"
          % (wm.farm_estimate.error, labels))
    scene.farm.use_default_parity = True


def check_absolute_paths(deps, bundle, project, scratch):
    """An absolute texture path: a relative copy is sent, the session and
    the file on disk keep theirs. Returns the copy's bundle."""
    poster = next(i for i in bpy.data.images if i.library is None)
    poster.filepath = project.poster
    before = sha1(project.shot)
    main, source, listed = deps.prepare(project.shot, scratch)
    check(source is not None and os.path.dirname(source) == scratch,
          "an absolute path makes a copy in the scratch folder: %s" % source)
    check(poster.filepath == project.poster,
          "the session keeps its absolute path: %s" % poster.filepath)
    check(sha1(project.shot) == before, "the artist's file on disk is unchanged")
    return bundle.build(main, listed, source)


def check_linked_absolute(deps, bundle_module, project, scratch):
    """A library that uses a file by an absolute path is refused, naming
    both."""
    texture = os.path.join(project.root, "lib", "tex", "abs.png")
    farm_scene.write_png(texture, (0.2, 0.2, 0.2))
    image = bpy.data.images.load(texture)
    image.name = "AbsoluteTexture"
    library_path = os.path.join(project.root, "lib", "absolute.blend")
    bpy.data.libraries.write(library_path, {image}, path_remap="ABSOLUTE",
                             fake_user=True)
    bpy.data.images.remove(image)
    with bpy.data.libraries.load(library_path, link=True, relative=True) as (_, target):
        target.images = ["AbsoluteTexture"]
    try:
        deps.prepare(project.shot, scratch)
        check(False, "a library's absolute path is refused")
    except bundle_module.BundleError as error:
        check(texture in str(error) and library_path in str(error),
              "a library's absolute path is refused naming both: %s" % error)
    library = next(lib for lib in bpy.data.libraries
                   if lib.filepath.endswith("absolute.blend"))
    bpy.data.libraries.remove(library)


def render_layout(main, poster_srgb, what):
    """Open a laid-out bundle's main file and check its render."""
    bpy.ops.wm.open_mainfile(filepath=main)
    paths = bpy.utils.blend_paths(absolute=False, packed=False, local=False)
    check(all(p.startswith("//") for p in paths),
          "%s: every path is relative: %s" % (what, paths))
    frame = farm_scene.render_frame(os.path.join(os.path.dirname(main), "frame.exr"))
    problems = farm_scene.check_frame(frame, poster_srgb)
    check(problems == [], "%s renders the textures' colours %s" % (what, problems))


def lay_out(built, folder):
    """Copy a bundle's files to their manifest paths under ``folder``;
    the main file's path there."""
    for file in built.files:
        target = os.path.join(folder, *file.path.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(file.source, target)
    return os.path.join(folder, *built.main.split("/"))


def main():
    """Run every check; exit 1 when one failed."""
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zip", required=True, help="the add-on zip")
    parser.add_argument(
        "--work", help="folder for the project (default: a temporary one)"
    )
    args = parser.parse_args(argv)
    work = os.path.abspath(args.work or tempfile.mkdtemp(prefix="farm-checks-"))
    bpy.context.preferences.filepaths.save_version = 0

    # Marked textures: the corner texel must not reach the patch centres.
    project = farm_scene.build(work, marker=255)
    bpy.ops.wm.open_mainfile(filepath=project.shot)
    package = addon.install(args.zip)
    # Only now: fake_farm imports the add-on's client, which must be the
    # installed one.
    from fake_farm import FakeFarm

    farm = FakeFarm().start()
    prefs = bpy.context.preferences.addons[package.__name__].preferences
    prefs.url, prefs.token = farm.url, farm.token
    deps = importlib.import_module(package.__name__ + ".deps")
    bundle = importlib.import_module(package.__name__ + ".bundle")
    scratch = os.path.join(work, "scratch")
    os.makedirs(scratch)
    try:
        check(bpy.ops.farm.test_connection() == {"FINISHED"}, "test connection")
        check_local_render(project, work)
        check_collect(deps, project, scratch)
        bundle_id = check_operator(farm, project, work)
        check_estimate(farm, package, project)
        copy_bundle = check_absolute_paths(deps, bundle, project, scratch)
        check_linked_absolute(deps, bundle, project, scratch)
        render_layout(farm.unpack(bundle_id, os.path.join(work, "unpacked")),
                      farm_scene.CHANGED_POSTER_SRGB, "the uploaded bundle")
        render_layout(lay_out(copy_bundle, os.path.join(work, "copy-layout")),
                      farm_scene.CHANGED_POSTER_SRGB, "the absolute-path copy's bundle")
    finally:
        farm.stop()
        addon.remove()
    print("%d failed" % len(FAILURES) if FAILURES else "all checks passed", flush=True)
    if FAILURES:
        sys.exit(1)


main()
