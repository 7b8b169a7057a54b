"""scripts/build-c4d-plugin.sh (one source for the shared modules, the
same folder every time, a missing source refused) and e2e_submit.py run
against the fake coordinator."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import plugin
from plugin import FakeFarm

SHARED = ("client.py", "bundle.py", "submit.py", "blake3_py.py")


def tree(folder):
    """Every file under ``folder``: relative path -> (bytes, mtime, mode)."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            info = os.stat(path)
            with open(path, "rb") as file:
                found[os.path.relpath(path, folder)] = (
                    file.read(), int(info.st_mtime), info.st_mode)
    return found


class Build(unittest.TestCase):
    """The plugin folder the script writes."""

    def setUp(self):
        """A temporary output folder."""
        self.out = tempfile.mkdtemp(prefix="farm-c4d-out-")
        self.addCleanup(shutil.rmtree, self.out, True)

    def test_the_layout_and_one_source(self):
        """The layout and one source."""
        done = plugin.build(self.out)
        self.assertEqual(done.returncode, 0, done.stderr)
        folder = done.stdout.strip()
        self.assertEqual(folder, os.path.join(self.out, "farm_submit_c4d"))
        files = sorted(tree(folder))
        self.assertIn("farm_submit_c4d.pyp", files)
        self.assertIn("README.md", files)
        for name in ("__init__.py", "job.py", "dialog.py", "background.py", "prefs.py"):
            self.assertIn(os.path.join("farm_c4d", name), files)
        self.assertIn(os.path.join("farm_c4d", "farm_client", "__init__.py"), files)
        for name in SHARED:
            built = os.path.join(folder, "farm_c4d", "farm_client", name)
            source = os.path.join(plugin.REPO, "plugins", "blender", "farm_submit", name)
            with open(built, "rb") as a, open(source, "rb") as b:
                self.assertEqual(a.read(), b.read(), name + " is copied as it is")
        self.assertFalse([f for f in files if "tests" in f or f.endswith(".pyc")])
        self.assertFalse(os.path.exists(os.path.join(
            plugin.REPO, "plugins", "cinema4d", "farm_c4d", "farm_client")),
            "the shared modules are not in the source tree")

    def test_the_same_sources_give_the_same_folder(self):
        """The same sources give the same folder."""
        first = tree(plugin.build(self.out).stdout.strip())
        with open(os.path.join(self.out, "farm_submit_c4d", "stale.txt"), "w") as file:
            file.write("left from before")
        second = tree(plugin.build(self.out).stdout.strip())
        self.assertEqual(first, second)

    def test_a_missing_source_is_refused_by_name(self):
        """A missing source is refused by name."""
        mirror = os.path.join(self.out, "repo")
        shutil.copytree(os.path.join(plugin.REPO, "plugins", "cinema4d"),
                        os.path.join(mirror, "plugins", "cinema4d"),
                        ignore=shutil.ignore_patterns("tests", "__pycache__"))
        blender = os.path.join(mirror, "plugins", "blender", "farm_submit")
        os.makedirs(blender)
        for name in ("client.py", "submit.py", "blake3_py.py"):
            shutil.copy(os.path.join(plugin.REPO, "plugins", "blender",
                                     "farm_submit", name), blender)
        os.makedirs(os.path.join(mirror, "scripts"))
        script = os.path.join(mirror, "scripts", "build-c4d-plugin.sh")
        shutil.copy(plugin.BUILD_SCRIPT, script)
        done = plugin.build(os.path.join(self.out, "dist"), script)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn(os.path.join("plugins", "blender", "farm_submit", "bundle.py"),
                      done.stderr)
        self.assertEqual(done.stdout, "")
        self.assertFalse(os.path.exists(os.path.join(self.out, "dist", "farm_submit_c4d")))

    def test_bad_arguments(self):
        """Bad arguments."""
        done = subprocess.run([plugin.BUILD_SCRIPT, "--bogus"], capture_output=True,
                              text=True)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("usage:", done.stderr)


class EndToEndScript(unittest.TestCase):
    """e2e_submit.py against the fake coordinator."""

    def setUp(self):
        """A fake farm, a work folder and stand-in scene files."""
        self.farm = FakeFarm().start()
        self.addCleanup(self.farm.stop)
        self.work = tempfile.mkdtemp(prefix="farm-c4d-e2e-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.scene = os.path.join(self.work, "hero.c4d")
        with open(self.scene, "wb") as file:
            file.write(b"C4D real scene bytes")
        self.wood = os.path.join(self.work, "wood.png")
        with open(self.wood, "wb") as file:
            file.write(b"PNG wood")

    def script(self, *extra, token=None):
        """Run e2e_submit.py with the farm's URL and ``extra`` arguments."""
        return subprocess.run(
            [sys.executable, os.path.join(plugin.TESTS, "e2e_submit.py"),
             "--url", self.farm.url, "--token", token or self.farm.token,
             "--workdir", os.path.join(self.work, "run")] + list(extra),
            capture_output=True, text=True, timeout=120)

    def test_submits_and_prints_the_job_id(self):
        """Submits and prints the job id."""
        done = self.script("--take", "Night", "--frames", "1-2",
                           "--scene-file", self.scene, "--asset", "tex/wood.png=" + self.wood)
        self.assertEqual(done.returncode, 0, done.stderr)
        lines = done.stdout.splitlines()
        self.assertEqual(len(lines), 1, done.stdout)
        job_id = json.loads(lines[0])["job_id"]
        created = self.farm.jobs[job_id]
        self.assertEqual((created["renderer"], created["take"], created["frames"]),
                         ("cinema4d", "Night", "1-2"))
        self.assertEqual(created["name"], "hero")
        manifest = self.farm.bundles[created["bundle"]]
        self.assertEqual(manifest["main"], "hero.c4d")
        main = self.farm.unpack(created["bundle"], os.path.join(self.work, "unpacked"))
        with open(main, "rb") as file:
            self.assertEqual(file.read(), b"C4D real scene bytes")
        with open(os.path.join(self.work, "unpacked", "tex", "wood.png"), "rb") as file:
            self.assertEqual(file.read(), b"PNG wood")

    def test_a_refusal_exits_non_zero_with_the_message(self):
        """A refusal exits non zero with the message."""
        done = self.script("--frames", "5-x")
        self.assertEqual(done.returncode, 1)
        self.assertEqual(done.stdout, "")
        self.assertIn("cannot read the frame spec '5-x'", done.stderr)
        self.assertEqual(self.farm.jobs, {})

    def test_a_bad_asset_argument(self):
        """A bad asset argument."""
        done = self.script("--asset", "../escape.png=" + self.wood)
        self.assertEqual(done.returncode, 1)
        self.assertIn("relative path", done.stderr)


if __name__ == "__main__":
    unittest.main()
