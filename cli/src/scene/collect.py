"""Run by `farm submit` inside Blender in background mode:

    blender -b SCENE --factory-startup --disable-autoexec \
        --python-exit-code 1 --python SCRATCH/collect.py -- SCRATCH/out

Beside this script, `farm` writes the package `farm_deps`: the Blender
add-on's own `deps.py` (plugins/blender/farm_submit/), so the add-on and the
command line agree on what a dependency is, and a stand-in for the add-on's
`bundle.py` that holds only the errors `deps.py` raises.

Writes OUT/scene.json: the scene file's absolute path, its frame range and
resolution, every file it depends on as absolute paths (folders stand for
every file under them), and the copy to send instead of the artist's file
when that one names files by absolute paths (saved under OUT with its paths
made relative to the artist's file's folder). When the add-on's rules
refuse the scene (a linked library with an absolute path), the report
holds only `refused`, the add-on's message.
"""

import json
import os
import sys

import bpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from farm_deps import deps  # noqa: E402
from farm_deps.bundle import BundleError  # noqa: E402


def report(out):
    """What the command line needs to know about the open scene."""
    scene = bpy.context.scene
    render = scene.render
    try:
        main, copy, dependencies = deps.prepare(bpy.data.filepath, out)
    except BundleError as error:
        return {"refused": str(error)}
    return {
        "blend": os.path.normpath(main),
        "frame_start": scene.frame_start,
        "frame_end": scene.frame_end,
        "frame_step": scene.frame_step,
        "resolution": [
            render.resolution_x * render.resolution_percentage // 100,
            render.resolution_y * render.resolution_percentage // 100,
        ],
        "dependencies": dependencies,
        "relative_copy": copy,
    }


def main():
    """Write the report into the folder named after ``--``."""
    out = sys.argv[sys.argv.index("--") + 1]
    with open(os.path.join(out, "scene.json"), "w", encoding="utf-8") as file:
        json.dump(report(out), file)


main()
