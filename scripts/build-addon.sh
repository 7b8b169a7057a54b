#!/usr/bin/env bash
# Build the Blender add-on: dist/farm_submit-<version>.zip, holding the
# plugins/blender/farm_submit/ folder. Blender 3.4 to 4.1 install it with
# Preferences > Add-ons > Install; 4.2 and later with Install from Disk, as
# an extension (blender_manifest.toml). The version comes from bl_info and
# must match the manifest's. Prints the zip's path.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "$@" <<'PY'
import ast
import os
import re
import sys
import zipfile

package = os.path.join("plugins", "blender", "farm_submit")
if len(sys.argv) > 1:
    sys.exit("usage: scripts/build-addon.sh (no arguments)")

with open(os.path.join(package, "__init__.py"), encoding="utf-8") as file:
    module = ast.parse(file.read())
bl_info = next(
    ast.literal_eval(node.value)
    for node in module.body
    if isinstance(node, ast.Assign)
    and any(getattr(t, "id", None) == "bl_info" for t in node.targets)
)
version = ".".join(str(part) for part in bl_info["version"])
with open(os.path.join(package, "blender_manifest.toml"), encoding="utf-8") as file:
    manifest = re.search(r'^version\s*=\s*"([^"]+)"', file.read(), re.M)
if manifest is None or manifest.group(1) != version:
    sys.exit(
        "error: bl_info's version %s and blender_manifest.toml's %s differ; "
        "make them equal" % (version, manifest.group(1) if manifest else "(none)")
    )

os.makedirs("dist", exist_ok=True)
target = os.path.join("dist", "farm_submit-%s.zip" % version)
members = []
for folder, subfolders, names in os.walk(package):
    subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
    members += [
        os.path.join(folder, name)
        for name in sorted(names)
        if name.endswith((".py", ".toml"))
    ]
partial = target + ".partial"
with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
    for path in members:
        name = os.path.relpath(path, os.path.dirname(package)).replace(os.sep, "/")
        # Fixed timestamps: the same sources give the same zip.
        info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        with open(path, "rb") as file:
            archive.writestr(info, file.read())
os.replace(partial, target)
print(target)
PY
