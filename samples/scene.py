"""Build the farm's small animated sample scene and save it as a .blend.

Run headless with Blender's factory settings:

    blender -b --factory-startup --python samples/scene.py -- OUT.blend [--frames N]

The scene: a floor plane, a glossy red monkey, a blue cube and a glass-free
emissive sphere, lit by a sun, seen by a camera that orbits the centre (it is
parented to an empty whose rotation is keyframed). Cycles on the CPU at
160x90, 16 samples, denoising off (Debian's Blender has no OpenImageDenoise),
a fixed seed, OpenEXR output. Frames 1 to N (12 by default).
"""

import argparse
import math
import os
import sys

import bpy


def parse_args():
    """The arguments after Blender's own `--`."""
    argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else []
    parser = argparse.ArgumentParser(description="Build the sample render farm scene.")
    parser.add_argument("output", help="path of the .blend file to write")
    parser.add_argument("--frames", type=int, default=12, help="last frame (first is 1)")
    return parser.parse_args(argv)


def clear_scene():
    """Remove every object the factory start-up file brings."""
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj, do_unlink=True)


def material(name, color, roughness=0.5, emission=None, strength=0.0):
    """A Principled BSDF material of one colour, optionally emissive."""
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*color, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    if emission is not None:
        bsdf.inputs["Emission"].default_value = (*emission, 1.0)
        bsdf.inputs["Emission Strength"].default_value = strength
    return mat


def add_objects():
    """Floor, meshes with distinct materials, and the sun."""
    bpy.ops.mesh.primitive_plane_add(size=20, location=(0, 0, 0))
    floor = bpy.context.active_object
    floor.name = "Floor"
    floor.data.materials.append(material("FloorGrey", (0.6, 0.6, 0.6), roughness=0.8))

    bpy.ops.mesh.primitive_monkey_add(location=(0, 0, 1.0))
    monkey = bpy.context.active_object
    monkey.name = "Monkey"
    bpy.ops.object.shade_smooth()
    monkey.data.materials.append(material("GlossyRed", (0.8, 0.1, 0.08), roughness=0.2))

    bpy.ops.mesh.primitive_cube_add(size=1.2, location=(2.2, -0.8, 0.6))
    cube = bpy.context.active_object
    cube.name = "Cube"
    cube.data.materials.append(material("MatteBlue", (0.1, 0.25, 0.8), roughness=0.6))

    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.5, location=(-2.0, 1.0, 0.5))
    sphere = bpy.context.active_object
    sphere.name = "Lamp"
    bpy.ops.object.shade_smooth()
    sphere.data.materials.append(
        material("Emissive", (1.0, 0.8, 0.4), emission=(1.0, 0.7, 0.3), strength=8.0)
    )

    bpy.ops.object.light_add(type="SUN", location=(4, -4, 8))
    sun = bpy.context.active_object
    sun.name = "Sun"
    sun.data.energy = 3.0
    sun.rotation_euler = (math.radians(40), math.radians(10), math.radians(30))

    world = bpy.data.worlds.new("Sky")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.05, 0.07, 0.1, 1.0)
    bpy.context.scene.world = world


def add_orbiting_camera(last_frame):
    """A camera parented to an empty that turns a quarter circle over the range."""
    scene = bpy.context.scene
    bpy.ops.object.empty_add(location=(0, 0, 0.8))
    pivot = bpy.context.active_object
    pivot.name = "CameraPivot"

    bpy.ops.object.camera_add(location=(0, -7.5, 3.2))
    camera = bpy.context.active_object
    camera.name = "Camera"
    camera.parent = pivot
    constraint = camera.constraints.new("TRACK_TO")
    constraint.target = pivot
    constraint.track_axis = "TRACK_NEGATIVE_Z"
    constraint.up_axis = "UP_Y"
    scene.camera = camera

    pivot.rotation_euler = (0, 0, 0)
    pivot.keyframe_insert("rotation_euler", frame=1)
    pivot.rotation_euler = (0, 0, math.radians(90))
    pivot.keyframe_insert("rotation_euler", frame=max(last_frame, 2))


def configure_render(last_frame):
    """Cycles on the CPU, small, few samples, no denoising, fixed seed, EXR."""
    scene = bpy.context.scene
    scene.frame_start = 1
    scene.frame_end = last_frame
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 16
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.seed = 0
    scene.cycles.use_animated_seed = True
    scene.cycles.use_denoising = False
    scene.cycles.max_bounces = 4
    for layer in scene.view_layers:
        layer.cycles.denoising_store_passes = False
    scene.render.resolution_x = 160
    scene.render.resolution_y = 90
    scene.render.resolution_percentage = 100
    scene.render.use_persistent_data = False
    settings = scene.render.image_settings
    settings.file_format = "OPEN_EXR"
    settings.color_depth = "16"
    settings.exr_codec = "ZIP"


def main():
    """Build the scene and save it compressed."""
    args = parse_args()
    if args.frames < 1:
        sys.exit("--frames must be at least 1")
    clear_scene()
    add_objects()
    add_orbiting_camera(args.frames)
    configure_render(args.frames)
    output = os.path.abspath(args.output)
    bpy.ops.wm.save_as_mainfile(filepath=output, compress=True)
    print(f"sample scene written to {output} (frames 1-{args.frames})")


main()
