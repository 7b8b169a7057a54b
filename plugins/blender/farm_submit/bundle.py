"""A scene bundle: the main file and every file it depends on, laid out
relative to their common folder, each with its BLAKE3 hash and size.

This is the manifest ``POST /api/v1/bundles`` takes. The worker unpacks the
files at these relative paths and opens the main file there, so a file the
main file reaches by a ``//``-relative path is found beside it again.

Missing dependencies are reported before upload, not discovered on the
farm: a dependency that is not on disk, or that cannot be placed relative
to the others (another drive), is refused here, naming the file.
"""

import os

from .client import hash_file


class BundleError(Exception):
    """A bundle that cannot be built; the message names the file."""


class MissingDependency(BundleError):
    """A dependency that is not on disk; ``path`` is the file."""

    def __init__(self, path):
        super().__init__(
            "%s is missing: the scene uses it but it is not on disk; relink "
            "or remove it (File > External Data > Report Missing Files lists "
            "them), then submit again" % path
        )
        self.path = path


class BundleFile:
    """One file of a bundle: where it goes (``path``, relative, ``/``),
    where it is read from (``source``), its ``hash`` and ``bytes``."""

    __slots__ = ("path", "source", "hash", "bytes")

    def __init__(self, path, source, blob_hash, size):
        self.path = path
        self.source = source
        self.hash = blob_hash
        self.bytes = size

    def manifest_entry(self):
        """The file as the manifest lists it."""
        return {"path": self.path, "hash": self.hash, "bytes": self.bytes}


class Bundle:
    """A main file and its dependencies under one ``root`` folder."""

    def __init__(self, root, main, files):
        self.root = root
        self.main = main
        self.files = files

    def manifest(self):
        """The manifest for ``POST /api/v1/bundles``."""
        return {
            "main": self.main,
            "files": [file.manifest_entry() for file in self.files],
        }

    def sources(self):
        """Local file per blob hash, to upload what the coordinator lacks."""
        return {file.hash: file.source for file in self.files}

    def total_bytes(self):
        """All files together, in bytes."""
        return sum(file.bytes for file in self.files)


def _normal(path):
    """``path`` absolute and normalised (``..`` and ``.`` resolved)."""
    return os.path.normpath(os.path.abspath(path))


def _expand(paths):
    """Files of ``paths``, a folder standing for every file under it; a
    path that is neither raises :class:`MissingDependency`."""
    files = []
    for path in paths:
        if os.path.isfile(path):
            files.append(path)
        elif os.path.isdir(path):
            for folder, subfolders, names in os.walk(path):
                subfolders.sort()
                files.extend(os.path.join(folder, name) for name in sorted(names))
        else:
            raise MissingDependency(path)
    return files


def bundle_root(main, dependencies):
    """The deepest folder that holds ``main`` and every dependency.

    Raises :class:`BundleError` naming a dependency on another drive than
    the main file (Windows), which no relative path reaches.
    """
    folders = [os.path.dirname(main)]
    drive = os.path.splitdrive(main)[0].lower()
    for path in dependencies:
        if os.path.splitdrive(path)[0].lower() != drive:
            raise BundleError(
                "%s is on another drive than the main file %s, so the farm "
                "cannot place it relative to it; move it beside the project "
                "(or pack it into the .blend), then submit again" % (path, main)
            )
        folders.append(os.path.dirname(path))
    try:
        return os.path.commonpath(folders)
    except ValueError as error:
        raise BundleError(
            "the files of %s have no common folder (%s); keep the scene's "
            "files on one drive" % (main, error)
        ) from None


def relative_path(root, path):
    """``path`` relative to the folder ``root``, with ``/`` separators.

    Raises :class:`BundleError` naming the file when it is not inside
    ``root``.
    """
    try:
        relative = os.path.relpath(path, root)
    except ValueError:
        relative = None
    if relative is None or relative == os.pardir or relative.startswith(
        os.pardir + os.sep
    ) or os.path.isabs(relative):
        raise BundleError(
            "%s cannot be made relative to %s, the folder of the scene's "
            "files" % (path, root)
        )
    return relative.replace(os.sep, "/")


def build(main, dependencies, main_source=None, progress=None, cancelled=None):
    """Build the bundle of the main file ``main`` and its ``dependencies``
    (absolute paths of files, or folders standing for all their files).

    ``main_source`` is the file to send as the main file when it is not
    ``main`` itself (a copy with relative paths), placed at ``main``'s
    location. The main file itself and duplicates among the dependencies
    are skipped. ``progress(done, total, path)`` follows the bytes hashed;
    ``cancelled()`` is checked between pieces.
    """
    main = _normal(main)
    source = _normal(main_source) if main_source else main
    if not os.path.isfile(source):
        raise MissingDependency(source)
    seen = {os.path.normcase(main)}
    files = []
    for path in _expand(_normal(p) for p in dependencies):
        key = os.path.normcase(path)
        if key not in seen:
            seen.add(key)
            files.append(path)
    root = bundle_root(main, files)
    placed = [(relative_path(root, main), source)]
    placed += [(relative_path(root, path), path) for path in files]

    total = sum(os.path.getsize(path) for _, path in placed)
    done = 0
    hashed = []
    for relative, path in placed:
        def advance(n, path=path):
            nonlocal done
            done += n
            if progress is not None:
                progress(done, total, path)

        blob_hash, size = hash_file(path, advance, cancelled)
        hashed.append(BundleFile(relative, path, blob_hash, size))
    return Bundle(root, placed[0][0], hashed)
