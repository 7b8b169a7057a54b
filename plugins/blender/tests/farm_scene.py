"""The small test project the Blender tests of the add-on render, built
with ``bpy`` (run inside Blender):

```
proj/shots/shot.blend    orthographic camera looking down, black world,
                         a poster patch on the left, the linked prop on
                         the right
proj/textures/poster.png a solid colour
proj/lib/props.blend     collection "Props": a patch with its own texture
proj/lib/tex/prop.png    another solid colour
```

Both patches are emission shaders (strength 1) fed by their image
texture, so each renders as exactly the texture's colour, whatever the
lighting: the linear value of its 8-bit sRGB colour. The shot links the
library (it does not append it) and instances its collection. Every path
is saved ``//``-relative.
"""

import os

import bpy

WIDTH, HEIGHT = 64, 48
FRAME_START, FRAME_END = 1, 3

POSTER_SRGB = (0.9, 0.5, 0.1)
PROP_SRGB = (0.1, 0.6, 0.9)
CHANGED_POSTER_SRGB = (0.2, 0.8, 0.3)

# The camera shows 4 x 3 units, 16 px per unit; the patches are 1.5 x 2
# units, centred 1 unit left and right of the middle.
ORTHO_SCALE = 4.0
POSTER_PIXEL = (16, 24)
PROP_PIXEL = (48, 24)


class Project:
    """Paths of the test project under ``work``."""

    def __init__(self, work):
        self.root = os.path.join(os.path.abspath(work), "proj")
        self.shot = os.path.join(self.root, "shots", "shot.blend")
        self.poster = os.path.join(self.root, "textures", "poster.png")
        self.library = os.path.join(self.root, "lib", "props.blend")
        self.prop = os.path.join(self.root, "lib", "tex", "prop.png")


def srgb_to_linear(value):
    """The linear value of an sRGB-encoded one (IEC 61966-2-1)."""
    if value <= 0.04045:
        return value / 12.92
    return ((value + 0.055) / 1.055) ** 2.4


def expected_linear(srgb):
    """The linear RGB a patch of the 8-bit sRGB colour ``srgb`` renders."""
    return tuple(srgb_to_linear(round(c * 255) / 255) for c in srgb)


def write_png(path, srgb, marker=0):
    """Write an 8 x 8 PNG of the sRGB colour ``srgb``. A ``marker`` (0 to
    255) goes into the corner texel, away from what the patch centres
    sample, so that runs can make their files unlike earlier runs'."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = bpy.data.images.new("solid", 8, 8, alpha=False)
    pixels = (list(srgb) + [1.0]) * 64
    pixels[0:3] = (marker / 255, marker / 255, marker / 255)
    image.pixels[:] = pixels
    image.filepath_raw = path
    image.file_format = "PNG"
    image.save()
    bpy.data.images.remove(image)


def _emission_material(name, texture):
    """A material that emits the colour of the image file ``texture``."""
    material = bpy.data.materials.new(name)
    material.use_nodes = True
    nodes = material.node_tree.nodes
    nodes.clear()
    image = nodes.new("ShaderNodeTexImage")
    image.image = bpy.data.images.load(texture)
    emission = nodes.new("ShaderNodeEmission")
    emission.inputs["Strength"].default_value = 1.0
    output = nodes.new("ShaderNodeOutputMaterial")
    links = material.node_tree.links
    links.new(image.outputs["Color"], emission.inputs["Color"])
    links.new(emission.outputs["Emission"], output.inputs["Surface"])
    return material


def _patch(name, material, collection, x):
    """A 1.5 x 2 plane facing up at ``x`` in ``collection``."""
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(
        [(-0.75, -1, 0), (0.75, -1, 0), (0.75, 1, 0), (-0.75, 1, 0)],
        [],
        [(0, 1, 2, 3)],
    )
    uvs = mesh.uv_layers.new(name="UVMap")
    for loop, uv in zip(uvs.data, ((0, 0), (1, 0), (1, 1), (0, 1))):
        loop.uv = uv
    mesh.materials.append(material)
    patch = bpy.data.objects.new(name, mesh)
    patch.location.x = x
    collection.objects.link(patch)
    return patch


def _save_relative(path):
    """Save the open file as ``path`` with every path ``//``-relative."""
    bpy.ops.file.make_paths_relative()
    bpy.ops.wm.save_as_mainfile(filepath=path, relative_remap=True)


def _new_file(path):
    """Start an empty file saved as ``path`` (so paths can be relative)."""
    bpy.ops.wm.read_homefile(use_empty=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=path)


def _render_settings(scene):
    """Cycles on the CPU, small, exact and untone-mapped."""
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 4
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.use_denoising = False
    scene.cycles.filter_width = 0.01
    for layer in scene.view_layers:
        layer.cycles.use_denoising = False
    scene.render.resolution_x = WIDTH
    scene.render.resolution_y = HEIGHT
    scene.render.resolution_percentage = 100
    scene.frame_start = FRAME_START
    scene.frame_end = FRAME_END
    scene.frame_step = 1
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
    world = bpy.data.worlds.new("Black")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (
        0, 0, 0, 1
    )
    scene.world = world


def build(work, marker=0):
    """Build the project under ``work`` (its textures marked with
    ``marker``, see :func:`write_png`) and leave the shot open; returns
    its :class:`Project`."""
    project = Project(work)
    write_png(project.poster, POSTER_SRGB, marker)
    write_png(project.prop, PROP_SRGB, marker)

    _new_file(project.library)
    props = bpy.data.collections.new("Props")
    bpy.context.scene.collection.children.link(props)
    _patch("Prop", _emission_material("PropMaterial", project.prop), props, 0.0)
    _save_relative(project.library)

    _new_file(project.shot)
    scene = bpy.context.scene
    _render_settings(scene)
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    camera.data.type = "ORTHO"
    camera.data.ortho_scale = ORTHO_SCALE
    camera.location = (0, 0, 10)
    scene.collection.objects.link(camera)
    scene.camera = camera
    _patch(
        "Poster",
        _emission_material("PosterMaterial", project.poster),
        scene.collection,
        -1.0,
    )
    with bpy.data.libraries.load(project.library, link=True, relative=True) as (
        source,
        target,
    ):
        target.collections = ["Props"]
    instance = bpy.data.objects.new("PropsInstance", None)
    instance.instance_type = "COLLECTION"
    instance.instance_collection = target.collections[0]
    instance.location.x = 1.0
    scene.collection.objects.link(instance)
    _save_relative(project.shot)
    return project


def render_frame(path, frame=FRAME_START):
    """Render ``frame`` of the open scene to the EXR ``path`` here, as a
    worker would; ``path``."""
    scene = bpy.context.scene
    scene.render.image_settings.file_format = "OPEN_EXR"
    scene.render.filepath = path
    scene.render.use_file_extension = False
    scene.frame_set(frame)
    bpy.ops.render.render(write_still=True)
    return path


def pixel(image, xy):
    """The RGB of pixel ``xy`` (from the bottom left) of a loaded image."""
    x, y = xy
    width = image.size[0]
    channels = image.channels
    start = (y * width + x) * channels
    return tuple(image.pixels[start:start + 3])


def check_frame(path, poster_srgb=POSTER_SRGB, tolerance=0.02):
    """Problems with the rendered EXR at ``path`` (an empty list when both
    patches show their texture's colour at the right size)."""
    image = bpy.data.images.load(path, check_existing=False)
    problems = []
    try:
        if tuple(image.size) != (WIDTH, HEIGHT):
            problems.append(
                "%s is %dx%d, not %dx%d" % (path, *image.size, WIDTH, HEIGHT)
            )
            return problems
        for name, xy, srgb in (
            ("poster", POSTER_PIXEL, poster_srgb),
            ("prop", PROP_PIXEL, PROP_SRGB),
        ):
            got = pixel(image, xy)
            want = expected_linear(srgb)
            if all(abs(g - m) < 0.05 for g, m in zip(got, (1.0, 0.0, 1.0))):
                problems.append(
                    "%s patch at %s is magenta %s: its texture was missing "
                    "on the renderer" % (name, xy, _rgb(got))
                )
            elif any(abs(g - w) > tolerance for g, w in zip(got, want)):
                problems.append(
                    "%s patch at %s is %s, expected linear %s (sRGB %s)"
                    % (name, xy, _rgb(got), _rgb(want), _rgb(srgb))
                )
    finally:
        bpy.data.images.remove(image)
    return problems


def _rgb(values):
    """Three values, short."""
    return "(%s)" % ", ".join("%.4f" % v for v in values)
