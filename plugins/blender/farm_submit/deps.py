"""The open scene's files: the main file to send and every file it needs
(textures, linked libraries and what they use, image sequences and UDIM
tiles, baked simulation caches).

The worker lays the bundle out at the manifest's relative paths and opens
the main file there, so the main file it gets must reach every dependency
by a ``//``-relative path. How the main file is chosen:

* When the saved file already uses only relative paths and has no unsaved
  changes, it is sent as it is: unchanged, it is not uploaded again on the
  next submission.
* Otherwise (an absolute path, the scene changed while the submission ran,
  or Blender runs in background mode, where no change marks the file as
  unsaved) a copy of the session is sent. The copy is written to a temporary folder with
  ``save_as_mainfile(copy=True, relative_remap=False)``, so its relative
  paths stay exactly as they are, relative to the artist's file: in the
  bundle the copy sits at the artist's file's place, where they resolve.
  Absolute paths are made relative (``file.make_paths_relative``) just for
  that save and put back right after, so the artist's session and the file
  on disk keep their own paths; nothing is written next to the artist's
  file.

Linked libraries cannot be rewritten this way: a library that uses a file
by an absolute path is refused, naming both.
"""

import os
import re

import bpy

from .bundle import BundleError

# Data-block collections whose items name a file in ``filepath``.
FILE_COLLECTIONS = (
    "images", "libraries", "movieclips", "sounds", "volumes", "cache_files",
    "fonts",
)


def ensure_saved():
    """The main file's path, saving it first when it has unsaved changes
    (step 1 of a submission)."""
    if not bpy.data.filepath:
        raise BundleError(
            "save the .blend file first: the farm renders the saved file "
            "together with the textures and libraries it uses"
        )
    if bpy.data.is_dirty:
        bpy.ops.wm.save_mainfile()
    return bpy.data.filepath


def _absolute(path, library=None):
    """A data path (maybe ``//``-relative to the file of ``library``, or
    of the main file) as a normalised absolute path."""
    return os.path.normpath(bpy.path.abspath(path, library=library))


def _sequence_files(path):
    """The files of the numbered sequence ``path`` is one frame of: those
    in its folder with the same name around the last run of digits."""
    folder, name = os.path.split(path)
    match = re.match(r"^(.*?)(\d+)(\D*)$", name)
    if match is None or not os.path.isdir(folder):
        return [path]
    pattern = re.compile(
        re.escape(match.group(1)) + r"\d+" + re.escape(match.group(3)) + "$"
    )
    found = [
        os.path.join(folder, entry) for entry in sorted(os.listdir(folder))
        if pattern.match(entry)
    ]
    return found or [path]


def _udim_files(image, path):
    """The tile files of a UDIM image whose path has a ``<UDIM>`` or
    ``<UVTILE>`` token."""
    files = []
    for tile in image.tiles:
        u, v = (tile.number - 1001) % 10, (tile.number - 1001) // 10
        files.append(
            path.replace("<UDIM>", str(tile.number))
            .replace("<UVTILE>", "u%d_v%d" % (u + 1, v + 1))
        )
    return files


def _cache_folders():
    """Simulation cache folders (fluid domains, ocean caches): they exist
    only once baked, and an unbaked one is no missing file."""
    folders = set()
    for obj in bpy.data.objects:
        for modifier in obj.modifiers:
            if modifier.type == "FLUID" and modifier.fluid_type == "DOMAIN":
                folder = modifier.domain_settings.cache_directory
            elif modifier.type == "OCEAN":
                folder = modifier.filepath
            else:
                continue
            if folder:
                folders.add(_absolute(folder, obj.library))
    return folders


def collect(main):
    """Absolute paths of the files (and baked cache folders) the open
    scene uses, without the main file ``main``: everything
    ``bpy.utils.blend_paths`` lists, linked libraries' data included, with
    image sequences and UDIM tiles expanded. Packed and generated images
    need no file and are left out; a path that is not on disk is kept, so
    that building the bundle refuses it by name."""
    paths = {
        os.path.normpath(path)
        for path in bpy.utils.blend_paths(absolute=True, packed=False, local=False)
    }
    for library in bpy.data.libraries:
        paths.add(_absolute(library.filepath, library.parent))
    for image in bpy.data.images:
        if image.packed_file is not None or not image.filepath:
            continue
        path = _absolute(image.filepath, image.library)
        if image.source == "TILED":
            paths.discard(path)
            paths.update(_udim_files(image, path))
        elif image.source == "SEQUENCE":
            paths.update(_sequence_files(path))
    for clip in bpy.data.movieclips:
        if clip.source == "SEQUENCE":
            paths.update(_sequence_files(_absolute(clip.filepath, clip.library)))
    for volume in bpy.data.volumes:
        if volume.is_sequence and volume.packed_file is None:
            paths.update(
                _sequence_files(_absolute(volume.filepath, volume.library))
            )
    for folder in _cache_folders():
        if not os.path.isdir(folder):
            paths.discard(folder)
    paths.discard(os.path.normpath(os.path.abspath(main)))
    return sorted(paths)


def _is_relative(path):
    """Whether a stored data path is ``//``-relative (or names no file)."""
    return not path or path.startswith("//") or path == "<builtin>"


def _linked_absolute():
    """``(library, path)`` of each file a linked library uses by an
    absolute path."""
    found = []
    for name in FILE_COLLECTIONS:
        for block in getattr(bpy.data, name):
            owner = block.parent if name == "libraries" else block.library
            if owner is None or getattr(block, "packed_file", None) is not None:
                continue
            if not _is_relative(block.filepath):
                found.append((_absolute(owner.filepath, owner.parent), block.filepath))
    return found


def _path_slots():
    """``(owner, attribute)`` of every local file path
    ``file.make_paths_relative`` may rewrite."""
    for name in FILE_COLLECTIONS:
        for block in getattr(bpy.data, name):
            linked = block.parent if name == "libraries" else block.library
            if linked is None:
                # An image's raw path changes without reloading its pixels,
                # so unsaved paint on it survives.
                yield block, "filepath_raw" if name == "images" else "filepath"
    for obj in bpy.data.objects:
        if obj.library is not None:
            continue
        for modifier in obj.modifiers:
            if modifier.type == "FLUID" and modifier.fluid_type == "DOMAIN":
                yield modifier.domain_settings, "cache_directory"
            elif modifier.type == "OCEAN":
                yield modifier, "filepath"
    for scene in bpy.data.scenes:
        if scene.library is None and scene.sequence_editor is not None:
            for strip in scene.sequence_editor.sequences_all:
                for attribute in ("directory", "filepath"):
                    if hasattr(strip, attribute):
                        yield strip, attribute


def _save_relative_copy(copy, make_relative):
    """Save the open scene to ``copy``, first making every local path
    ``//``-relative to the artist's file when ``make_relative``; the
    session's own paths are put back afterwards."""
    saved = [(owner, attribute, getattr(owner, attribute))
             for owner, attribute in _path_slots()]
    try:
        if make_relative:
            bpy.ops.file.make_paths_relative()
        still = [
            path
            for path in bpy.utils.blend_paths(absolute=False, packed=False, local=True)
            if not _is_relative(path)
        ]
        if still:
            raise BundleError(
                "%s cannot be made relative to %s (another drive?); move it "
                "beside the project or pack it into the .blend, then submit "
                "again" % (still[0], bpy.data.filepath)
            )
        bpy.ops.wm.save_as_mainfile(
            filepath=copy, copy=True, relative_remap=False, check_existing=False
        )
    finally:
        for owner, attribute, value in saved:
            if getattr(owner, attribute) != value:
                setattr(owner, attribute, value)


def prepare(main, scratch, force_copy=False):
    """What to send for the open scene saved at ``main``: ``(main,
    main_source, dependencies)`` for :func:`bundle.build`, where
    ``main_source`` is a relative-path copy written into the folder
    ``scratch``, or None when the saved file itself is right.

    ``force_copy`` sends a copy of the session even when the saved file
    looks right: Blender in background mode never marks a file as changed,
    so there only a copy is sure to hold what a script did to the scene.
    """
    linked = _linked_absolute()
    if linked:
        library, path = linked[0]
        raise BundleError(
            "the linked library %s uses %s by an absolute path, which the "
            "farm cannot resolve; open the library, run File > External Data "
            "> Make Paths Relative, save it, then submit again"
            % (library, path)
        )
    dependencies = collect(main)
    absolute = [
        path
        for path in bpy.utils.blend_paths(absolute=False, packed=False, local=True)
        if not _is_relative(path)
    ]
    if not (absolute or bpy.data.is_dirty or force_copy):
        return main, None, dependencies
    copy = os.path.join(scratch, os.path.basename(main))
    _save_relative_copy(copy, bool(absolute))
    return main, copy, dependencies
