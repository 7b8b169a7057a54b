#!/usr/bin/env bash
# Build the Cinema 4D plugin folder dist/farm_submit_c4d/ (or <DIR>/farm_submit_c4d
# with --out DIR): plugins/cinema4d/farm_submit_c4d.pyp, the farm_c4d package,
# and the Blender add-on's bpy-free client, bundle, submit and blake3_py modules
# copied into farm_c4d/farm_client/ (one source: they are edited in
# plugins/blender/farm_submit/ only). Copy the folder into Cinema 4D's plugins
# folder. The same sources give the same folder; prints its path. Exits
# non-zero, naming it, when a source is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "$@" <<'PY'
import os
import shutil
import sys

NAME = "farm_submit_c4d"
PLUGIN = os.path.join("plugins", "cinema4d")
PACKAGE = "farm_c4d"
SHARED = os.path.join("plugins", "blender", "farm_submit")
SHARED_MODULES = ("client.py", "bundle.py", "submit.py", "blake3_py.py")
# Fixed times (2024-01-01): the same sources give byte- and time-equal files.
STAMP = 1704067200
CLIENT_INIT = '''"""The farm's HTTP client, bundle and submission steps, shared with the
Blender add-on: copied from plugins/blender/farm_submit/ by
scripts/build-c4d-plugin.sh. Edit them there, never here."""
'''


def fail(message):
    """Stop the build with ``message``."""
    sys.exit("build-c4d-plugin: error: " + message)


def arguments(argv):
    """The output folder's parent (``--out DIR``, default ``dist``)."""
    if not argv:
        return "dist"
    if len(argv) == 2 and argv[0] == "--out" and argv[1]:
        return argv[1]
    fail("usage: scripts/build-c4d-plugin.sh [--out DIR]")


def sources():
    """(source path or None for generated text, path in the built folder,
    text) for every file of the plugin, in a fixed order."""
    files = [(os.path.join(PLUGIN, NAME + ".pyp"), NAME + ".pyp", None),
             (os.path.join(PLUGIN, "README.md"), "README.md", None)]
    package = os.path.join(PLUGIN, PACKAGE)
    if not os.path.isdir(package):
        fail("%s is missing: the plugin's package" % package)
    if os.path.exists(os.path.join(package, "farm_client")):
        fail("%s must not exist: the build copies the shared modules from %s"
             % (os.path.join(package, "farm_client"), SHARED))
    names = sorted(n for n in os.listdir(package) if n.endswith(".py"))
    if "__init__.py" not in names:
        fail("%s is missing" % os.path.join(package, "__init__.py"))
    files += [(os.path.join(package, n), PACKAGE + "/" + n, None) for n in names]
    files.append((None, PACKAGE + "/farm_client/__init__.py", CLIENT_INIT))
    files += [(os.path.join(SHARED, n), PACKAGE + "/farm_client/" + n, None)
              for n in SHARED_MODULES]
    for source, _, _ in files:
        if source is not None and not os.path.isfile(source):
            fail("%s is missing: the plugin is built from it" % source)
    return files


def build(parent):
    """Write the plugin folder under ``parent``; its path."""
    files = sources()
    target = os.path.join(parent, NAME)
    partial = target + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    for source, relative, text in files:
        path = os.path.join(partial, *relative.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if source is None:
            with open(path, "w", encoding="utf-8", newline="\n") as out:
                out.write(text)
        else:
            shutil.copyfile(source, path)
        os.chmod(path, 0o644)
        os.utime(path, (STAMP, STAMP))
    for folder, _, _ in sorted(os.walk(partial), reverse=True):
        os.utime(folder, (STAMP, STAMP))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)
    return target


print(build(arguments(sys.argv[1:])))
PY
