"""``c4d.storage``: Cinema 4D's folders."""

import tempfile

import c4d

# Folder per C4D_PATH_* constant; tests set them. Unset: a fresh temp folder.
PATHS = {}


def GeGetC4DPath(whichpath):
    """The folder ``whichpath`` names."""
    c4d.record("GeGetC4DPath", whichpath)
    if whichpath not in PATHS:
        PATHS[whichpath] = tempfile.mkdtemp(prefix="c4d-stub-path-")
    return PATHS[whichpath]
