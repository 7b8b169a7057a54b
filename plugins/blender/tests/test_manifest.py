"""The add-on's two ways of describing itself agree and follow Blender's
rules: ``bl_info`` (Blender 3.4 to 4.1 add-ons) and ``blender_manifest.toml``
(4.2+ extensions). Blender 4.x is not installable on the test machine, so
the manifest is checked here against the rules Blender's extension
validator applies (``blender --command extension validate``), and the
package against what an extension needs (relative imports only, the
preferences looked up by ``__package__``).

Run: ``python3 -m unittest discover plugins/blender/tests``
"""

import ast
import os
import re
import tomllib
import unittest

ADDON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "farm_submit")


def bl_info():
    """``bl_info`` from ``__init__.py``, read without importing bpy."""
    with open(os.path.join(ADDON, "__init__.py"), encoding="utf-8") as source:
        tree = ast.parse(source.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "bl_info" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError("__init__.py has no bl_info")


def manifest():
    """The parsed ``blender_manifest.toml``."""
    with open(os.path.join(ADDON, "blender_manifest.toml"), "rb") as source:
        return tomllib.load(source)


def short_sentence(text):
    """Blender's rule for taglines and permission reasons: at most 64
    characters, not ending in punctuation."""
    return 0 < len(text) <= 64 and not re.search(r"[.!?,;:]$", text)


class ManifestTest(unittest.TestCase):
    def test_the_manifest_has_what_blender_requires(self):
        data = manifest()
        for key in (
            "schema_version",
            "id",
            "version",
            "name",
            "tagline",
            "maintainer",
            "type",
            "blender_version_min",
            "license",
        ):
            self.assertIn(key, data, key)
        self.assertEqual(data["schema_version"], "1.0.0")
        self.assertEqual(data["type"], "add-on")
        self.assertRegex(data["id"], r"^[a-z][a-z0-9_]*$")
        self.assertRegex(data["version"], r"^\d+\.\d+\.\d+$")
        self.assertTrue(short_sentence(data["tagline"]), data["tagline"])
        self.assertTrue(all(lic.startswith("SPDX:") for lic in data["license"]))
        self.assertGreaterEqual(
            tuple(int(n) for n in data["blender_version_min"].split(".")), (4, 2, 0)
        )
        for permission, reason in data.get("permissions", {}).items():
            self.assertIn(permission, ("files", "network", "clipboard", "camera", "microphone"))
            self.assertTrue(short_sentence(reason), reason)

    def test_bl_info_and_the_manifest_agree(self):
        info, data = bl_info(), manifest()
        self.assertEqual(".".join(map(str, info["version"])), data["version"])
        self.assertEqual(info["name"], data["name"])
        self.assertEqual(info["blender"], (3, 4, 0))
        self.assertEqual(data["id"], "farm_submit")

    def test_the_package_imports_only_relatively(self):
        # An extension is installed as bl_ext.<repo>.farm_submit, so an
        # absolute import of farm_submit would fail there.
        for name in sorted(os.listdir(ADDON)):
            if not name.endswith(".py"):
                continue
            with open(os.path.join(ADDON, name), encoding="utf-8") as source:
                tree = ast.parse(source.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level == 0:
                    self.assertFalse(
                        (node.module or "").startswith("farm_submit"), f"{name}: {node.module}"
                    )
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        self.assertFalse(alias.name.startswith("farm_submit"), name)


if __name__ == "__main__":
    unittest.main()
