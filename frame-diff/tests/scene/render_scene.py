"""Render the frame-diff test scene with Blender (Cycles, CPU).

Run as:
    blender -b --factory-startup --disable-autoexec --python render_scene.py -- OUTDIR

It builds a small scene (ground plane, three objects, a sun and an area
light, a camera; the cube and sphere move from frame to frame) and renders
the files the frame-diff tests compare. Every file name says what it is:

    f1_s16_seed0_a.exr   frame 1, 16 samples, seed 0 (the reference)
    f1_s16_seed0_b.exr   the same render again (must be bit-identical)
    f1_s16_seed1.exr     another seed: stands for another device or build
    f1_s20_seed0.exr     a few more samples: an honest different sample count
    f1_s1_seed0.exr      1 sample: a low-sample render substituted for 16
    f2_s16_seed0.exr     the neighbouring frame
    other_f1_s16.exr     frame 1 of another job (a different scene)
    ml_f1_s16_seed0_a.exr / ml_f1_s16_seed0_b.exr / ml_f1_s16_seed1.exr
                         the same as OPEN_EXR_MULTILAYER with a DiffCol pass

Denoising is off (Debian's build has no OpenImageDenoise), adaptive
sampling is off, and the seed is fixed, so renders are deterministic.
"""

import os
import sys

import bpy

WIDTH, HEIGHT = 256, 144


def material(name, rgb, emission=0.0):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*rgb, 1.0)
    if emission:
        bsdf.inputs["Emission"].default_value = (*rgb, 1.0)
        bsdf.inputs["Emission Strength"].default_value = emission
    return mat


def build_scene(other_job):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.use_denoising = False
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.max_bounces = 4
    scene.render.resolution_x = WIDTH
    scene.render.resolution_y = HEIGHT
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = False

    world = bpy.data.worlds.new("World")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.05, 0.07, 0.1, 1)
    scene.world = world

    bpy.ops.mesh.primitive_plane_add(size=30, location=(0, 0, 0))
    bpy.context.object.data.materials.append(material("ground", (0.6, 0.6, 0.55)))

    bpy.ops.mesh.primitive_cube_add(size=1.6, location=(-1.5, 0, 0.8))
    cube = bpy.context.object
    cube.data.materials.append(material("cube", (0.8, 0.15, 0.1)))
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.9, location=(1.4, 0.6, 0.9))
    sphere = bpy.context.object
    bpy.ops.object.shade_smooth()
    sphere.data.materials.append(material("sphere", (0.1, 0.3, 0.8)))
    bpy.ops.mesh.primitive_cylinder_add(radius=0.3, depth=2.0, location=(0.2, 2.2, 1.0))
    bpy.context.object.data.materials.append(material("lamp", (1.0, 0.8, 0.4), emission=4.0))

    for obj, start, end in ((cube, (-1.5, 0, 0.8), (1.5, -1.0, 0.8)), (sphere, (1.4, 0.6, 0.9), (-1.4, 1.6, 1.6))):
        obj.location = start
        obj.keyframe_insert("location", frame=1)
        obj.location = end
        obj.keyframe_insert("location", frame=10)
    cube.rotation_euler = (0, 0, 0)
    cube.keyframe_insert("rotation_euler", frame=1)
    cube.rotation_euler = (0, 0, 1.5)
    cube.keyframe_insert("rotation_euler", frame=10)

    bpy.ops.object.light_add(type="SUN", location=(4, -4, 8))
    sun = bpy.context.object
    sun.data.energy = 3.0
    sun.rotation_euler = (0.7, 0.2, 0.6)
    bpy.ops.object.light_add(type="AREA", location=(-3, -2, 4))
    bpy.context.object.data.energy = 400.0
    bpy.context.object.data.size = 2.0

    if other_job:
        cam_location, target = (-6.5, 5.0, 3.5), (0.5, 0, 0.5)
    else:
        cam_location, target = (6.5, -6.0, 4.0), (0, 0.4, 0.7)
    bpy.ops.object.empty_add(location=target)
    empty = bpy.context.object
    bpy.ops.object.camera_add(location=cam_location)
    camera = bpy.context.object
    constraint = camera.constraints.new("TRACK_TO")
    constraint.target = empty
    constraint.track_axis = "TRACK_NEGATIVE_Z"
    constraint.up_axis = "UP_Y"
    scene.camera = camera
    return scene


def render(scene, path, frame, samples, seed, multilayer=False):
    scene.frame_set(frame)
    scene.cycles.samples = samples
    scene.cycles.seed = seed
    settings = scene.render.image_settings
    settings.file_format = "OPEN_EXR_MULTILAYER" if multilayer else "OPEN_EXR"
    settings.color_mode = "RGBA"
    settings.color_depth = "32"
    settings.exr_codec = "ZIP"
    scene.view_layers[0].use_pass_diffuse_color = multilayer
    scene.render.filepath = path
    bpy.ops.render.render(write_still=True)


def main():
    outdir = sys.argv[sys.argv.index("--") + 1]
    os.makedirs(outdir, exist_ok=True)
    out = lambda name: os.path.join(outdir, name)

    scene = build_scene(other_job=False)
    render(scene, out("f1_s16_seed0_a.exr"), 1, 16, 0)
    render(scene, out("f1_s16_seed0_b.exr"), 1, 16, 0)
    render(scene, out("f1_s16_seed1.exr"), 1, 16, 1)
    render(scene, out("f1_s20_seed0.exr"), 1, 20, 0)
    render(scene, out("f1_s1_seed0.exr"), 1, 1, 0)
    render(scene, out("f2_s16_seed0.exr"), 2, 16, 0)
    render(scene, out("ml_f1_s16_seed0_a.exr"), 1, 16, 0, multilayer=True)
    render(scene, out("ml_f1_s16_seed0_b.exr"), 1, 16, 0, multilayer=True)
    render(scene, out("ml_f1_s16_seed1.exr"), 1, 16, 1, multilayer=True)

    scene = build_scene(other_job=True)
    render(scene, out("other_f1_s16.exr"), 1, 16, 0)


main()
