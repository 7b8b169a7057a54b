"""Stand-in for the Blender add-on's `bundle.py` when `farm submit` runs
the add-on's `deps.py` in background Blender: only the errors `deps.py`
raises. The bundle itself is built by `farm`."""


class BundleError(Exception):
    """A scene that cannot be bundled; the message names the file."""


class MissingDependency(BundleError):
    """A dependency that is not on disk; ``path`` is the file."""

    def __init__(self, path):
        super().__init__("%s is missing" % path)
        self.path = path
