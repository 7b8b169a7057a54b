"""Test support, imported first by every test: the stub ``c4d`` module on
the path, the plugin built once by scripts/build-c4d-plugin.sh into a
temporary folder and importable from there (so the tests run what a user
installs), and the Blender tests' fake coordinator (``FakeFarm``).
"""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(TESTS, "..", "..", ".."))
STUB = os.path.join(TESTS, "c4d_stub")
BUILD_SCRIPT = os.path.join(REPO, "scripts", "build-c4d-plugin.sh")
BLENDER_TESTS = os.path.join(REPO, "plugins", "blender", "tests")


def build(out, script=BUILD_SCRIPT):
    """Run the build script with ``--out out``: the finished process
    (``returncode``, ``stdout`` with the folder's path, ``stderr``)."""
    return subprocess.run([script, "--out", out], capture_output=True,
                          text=True, timeout=120)


def _build_once():
    """Build the plugin into a temporary folder removed at exit; the
    built plugin folder."""
    parent = tempfile.mkdtemp(prefix="farm-c4d-build-")
    atexit.register(shutil.rmtree, parent, True)
    done = build(parent)
    if done.returncode != 0:
        raise RuntimeError("scripts/build-c4d-plugin.sh failed: " + done.stderr)
    return done.stdout.strip()


if STUB not in sys.path:
    sys.path.insert(0, STUB)
PLUGIN_DIR = _build_once()
sys.path.insert(0, PLUGIN_DIR)
if BLENDER_TESTS not in sys.path:
    sys.path.append(BLENDER_TESTS)

import c4d  # noqa: E402,F401
from c4d.documents import BaseDocument, RenderData  # noqa: E402,F401
from c4d.modules.takesystem import BaseTake, TakeData  # noqa: E402,F401
from fake_farm import FakeFarm  # noqa: E402,F401

WOOD = b"wood" * 1000
METAL = b"metal" * 3000


def document(takes=None, current=None, **options):
    """A stub document ``shot.c4d``: manual range 1-10, textures
    ``tex/wood.png`` and ``tex/metal.png``, takes Main > Day, Night >
    Night wide (Night with its own range 100-120) unless ``takes`` is
    given; ``current`` names the current take."""
    if takes is None:
        night = BaseTake("Night", RenderData.manual(100, 120),
                         children=[BaseTake("Night wide")])
        main = BaseTake("Main", children=[BaseTake("Day"), night])
        takes = TakeData(main)
    if current is not None:
        found = [t for t in walk(takes.GetMainTake()) if t.GetName() == current]
        takes.SetCurrentTake(found[0])
    options.setdefault("render_data", RenderData.manual(1, 10))
    options.setdefault("assets", {"tex/wood.png": WOOD, "tex/metal.png": METAL})
    return BaseDocument(takes=takes, **options)


def walk(take):
    """``take`` and every take under it, depth first."""
    found = [take]
    child = take.GetDown()
    while child is not None:
        found += walk(child)
        child = child.GetNext()
    return found
