"""The add-on's properties: each scene's job settings (``scene.farm``),
the last submission's result (``window_manager.farm_last``), the last
estimate (``window_manager.farm_estimate``), and the
regions and node classes last fetched from ``GET /api/v1/farm``."""

import zlib

import bpy
from bpy.props import (
    BoolProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

# What ``GET /api/v1/farm`` answered last (regions and node classes of the
# enrolled workers), for the choices in the panel.
OFFER = {"renderers": [], "regions": [], "node_classes": []}

ANY = "ANY"

# Blender keeps no reference to the items a dynamic EnumProperty callback
# returns, so they live here while shown.
_ITEMS = {}


def set_offer(answer):
    """Remember the farm's lists from a ``GET /api/v1/farm`` answer."""
    for key in OFFER:
        OFFER[key] = sorted(str(name) for name in answer.get(key) or [])


def _number(name):
    """A stable enum number for a name, so a choice survives the list
    being fetched again in another order."""
    return zlib.crc32(name.encode("utf-8")) & 0x3FFFFFFF or 1


def _choice(key, attribute, what):
    """An EnumProperty over the farm's ``OFFER[key]`` plus "Any", stored by
    name in the string property ``attribute`` (so it survives restarts,
    before the lists are fetched again)."""

    def items(settings, context):
        names = list(OFFER[key])
        current = getattr(settings, attribute)
        listed = [(ANY, "Any", "Any %s of the farm" % what, 0)]
        for name in names:
            listed.append((name, name, "Only workers of %s %s" % (what, name),
                           _number(name)))
        if current and current not in names:
            listed.append((current, current + " (not seen on the farm)",
                           "Not among the farm's %ss when last fetched" % what,
                           _number(current)))
        _ITEMS[key] = listed
        return listed

    def get(settings):
        current = getattr(settings, attribute)
        return _number(current) if current else 0

    def set_(settings, value):
        for identifier, _, _, number in items(settings, None):
            if number == value:
                setattr(settings, attribute, "" if identifier == ANY else identifier)
                return

    return EnumProperty(
        name=what.capitalize(),
        description="Render only on workers of this %s "
        "(Refresh fetches the farm's list)" % what,
        items=items,
        get=get,
        set=set_,
    )


class FarmSettings(bpy.types.PropertyGroup):
    """How a scene is submitted to the farm."""

    job_name: StringProperty(
        name="Job Name",
        description="Name of the job on the farm; empty: the file's name",
    )
    frames: StringProperty(
        name="Frames",
        description="Frames to render, as the farm writes them: 1-100, "
        "1-100x5 (every 5th), 1,5,10-12, 100-1 (backwards); empty: the "
        "scene's frame range and step",
    )
    chunk_size: IntProperty(
        name="Chunk Size",
        description="Frames per task (one Blender start renders a whole "
        "chunk); 0: the coordinator's default",
        default=0,
        min=0,
        max=10000,
    )
    priority: IntProperty(
        name="Priority",
        description="0 (lowest) to 100; higher jobs are rendered first",
        default=50,
        min=0,
        max=100,
    )
    use_default_parity: BoolProperty(
        name="Default Parity",
        description="Use the coordinator's share of frames rendered twice "
        "to verify the workers",
        default=True,
    )
    parity_percent: FloatProperty(
        name="Parity",
        description="Share of frames rendered a second time by another "
        "worker and compared, in percent; 0 turns verification off",
        default=5.0,
        min=0.0,
        max=100.0,
        precision=2,
    )
    region_name: StringProperty(
        name="Region Name",
        description="Region the job must render in; empty: any",
    )
    node_class_name: StringProperty(
        name="Node Class Name",
        description="Node class the job must render on; empty: any",
    )
    region: _choice("regions", "region_name", "region")
    node_class: _choice("node_classes", "node_class_name", "node class")
    paused: BoolProperty(
        name="Submit Paused",
        description="Create the job paused: nothing renders until it is "
        "resumed on the farm",
        default=False,
    )


class FarmLastResult(bpy.types.PropertyGroup):
    """The last submission of this session, for the panel and scripts."""

    job_id: StringProperty(name="Job ID")
    job_url: StringProperty(name="Job URL")
    error: StringProperty(
        name="Error", description="Why the last submission failed, verbatim"
    )
    details: StringProperty(
        name="Details",
        description="The last successful submission as JSON: job, bundle, "
        "bytes uploaded and the files they were",
    )


class FarmEstimate(bpy.types.PropertyGroup):
    """The last estimate of this session (``POST /api/v1/jobs/estimate``),
    for the panel and scripts."""

    answer: StringProperty(
        name="Answer",
        description="The coordinator's estimate as JSON: frames, parity, "
        "currency and, per node class, workers, basis, time and cost",
    )
    fields: StringProperty(
        name="Fields",
        description="The job fields the estimate was made for, as JSON",
    )
    bundle: StringProperty(
        name="Bundle",
        description="The bundle described for the estimate; empty: made "
        "without the scene (the file was never saved)",
    )
    error: StringProperty(
        name="Error", description="Why the last estimate failed, verbatim"
    )


CLASSES = (FarmSettings, FarmLastResult, FarmEstimate)


def register():
    """Register the property groups and attach them."""
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.farm = PointerProperty(type=FarmSettings)
    bpy.types.WindowManager.farm_last = PointerProperty(type=FarmLastResult)
    bpy.types.WindowManager.farm_estimate = PointerProperty(type=FarmEstimate)


def unregister():
    """Detach and unregister the property groups."""
    del bpy.types.WindowManager.farm_estimate
    del bpy.types.WindowManager.farm_last
    del bpy.types.Scene.farm
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
