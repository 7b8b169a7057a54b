"""Build the farm's small animated sample scene and save it as a .blend.

Run headless with Blender's factory settings:

    blender -b --factory-startup --python samples/scene.py -- OUT.blend [--frames N]

The scene: a floor plane, a glossy red monkey, a blue cube and a glass-free
emissive sphere, lit by a sun, seen by a camera that orbits the centre (it is
parented to an empty whose rotation is keyframed). Cycles on the CPU at
160x90, 16 samples, denoising off (Debian's Blender has no OpenImageDenoise),
a fixed seed, OpenEXR output. Frames 1 to N (12 by default).

With `--texture`, the floor is tiled with an image texture written beside
the .blend as `textures/tiles.png` and named by the relative path
`//textures/tiles.png`, so the scene is a bundle of two files: the demo's
sample scene.
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
    parser.add_argument(
        "--texture",
        action="store_true",
        help="tile the floor with textures/tiles.png, written beside the .blend",
    )
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


TILE_COLOURS = ((0.85, 0.62, 0.25), (0.08, 0.32, 0.34))
"""The texture's two colours (linear RGB): ochre and dark teal."""


def write_tiles(path, size=64, squares=8):
    """A `size` x `size` PNG checkerboard of `TILE_COLOURS`, saved at `path`."""
    image = bpy.data.images.new("tiles", size, size)
    step = size // squares
    pixels = []
    for y in range(size):
        for x in range(size):
            pixels.extend((*TILE_COLOURS[(x // step + y // step) % 2], 1.0))
    image.pixels = pixels
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image.filepath_raw = path
    image.file_format = "PNG"
    image.save()
    bpy.data.images.remove(image)


def tiled_material(relative_path):
    """A rough material whose colour is the image at `relative_path`, repeated."""
    mat = bpy.data.materials.new("FloorTiles")
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = nodes["Principled BSDF"]
    bsdf.inputs["Roughness"].default_value = 0.8
    texture = nodes.new("ShaderNodeTexImage")
    texture.image = bpy.data.images.load(relative_path)
    texture.interpolation = "Closest"
    coords = nodes.new("ShaderNodeTexCoord")
    scale = nodes.new("ShaderNodeMapping")
    scale.inputs["Scale"].default_value = (4.0, 4.0, 1.0)
    links.new(coords.outputs["UV"], scale.inputs["Vector"])
    links.new(scale.outputs["Vector"], texture.inputs["Vector"])
    links.new(texture.outputs["Color"], bsdf.inputs["Base Color"])
    return mat


def add_objects(floor_texture=None):
    """Floor (grey, or tiled with `floor_texture`), meshes with distinct
    materials, and the sun."""
    bpy.ops.mesh.primitive_plane_add(size=20, location=(0, 0, 0))
    floor = bpy.context.active_object
    floor.name = "Floor"
    if floor_texture is None:
        floor.data.materials.append(material("FloorGrey", (0.6, 0.6, 0.6), roughness=0.8))
    else:
        floor.data.materials.append(tiled_material(floor_texture))

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
    output = os.path.abspath(args.output)
    clear_scene()
    floor_texture = None
    if args.texture:
        write_tiles(os.path.join(os.path.dirname(output), "textures", "tiles.png"))
        floor_texture = "//textures/tiles.png"
    bpy.context.preferences.filepaths.save_version = 0
    # Saving first makes `//` mean the output's folder while the scene is built.
    bpy.ops.wm.save_as_mainfile(filepath=output, compress=True)
    add_objects(floor_texture)
    add_orbiting_camera(args.frames)
    configure_render(args.frames)
    bpy.ops.wm.save_as_mainfile(filepath=output, compress=True, relative_remap=False)
    print(f"sample scene written to {output} (frames 1-{args.frames})")


main()
