"""Install and enable the add-on from its zip inside the running Blender,
as an artist would, without touching the user's own Blender folders.

Blender up to 4.1 installs the zip as an add-on into a temporary user
scripts folder (``BLENDER_USER_SCRIPTS``, read at each lookup). Blender
4.2 and later install it as an extension into the user repository and
:func:`remove` uninstalls it afterwards.
"""

import importlib
import os
import tempfile

import bpy

EXTENSIONS = bpy.app.version >= (4, 2, 0)


def install(zip_path, url=None, token=None):
    """Install the zip, enable it, set its preferences; the package
    module (``farm_submit`` or ``bl_ext.user_default.farm_submit``)."""
    zip_path = os.path.abspath(zip_path)
    if not os.path.isfile(zip_path):
        raise SystemExit("no add-on zip at %s: run scripts/build-addon.sh" % zip_path)
    if EXTENSIONS:
        name = "bl_ext.user_default.farm_submit"
        bpy.ops.extensions.package_install_files(
            filepath=zip_path, repo="user_default", enable_on_install=True
        )
    else:
        name = "farm_submit"
        os.environ["BLENDER_USER_SCRIPTS"] = tempfile.mkdtemp(prefix="farm-scripts-")
        bpy.ops.preferences.addon_install(filepath=zip_path, overwrite=True)
        bpy.ops.preferences.addon_enable(module=name)
    if name not in bpy.context.preferences.addons:
        raise SystemExit("the add-on %s did not enable from %s" % (name, zip_path))
    prefs = bpy.context.preferences.addons[name].preferences
    if url is not None:
        prefs.url = url
    if token is not None:
        prefs.token = token
    return importlib.import_module(name)


def remove():
    """Uninstall what :func:`install` put in the user's folders (4.2+;
    the temporary scripts folder of older versions needs nothing)."""
    if EXTENSIONS:
        bpy.ops.extensions.package_uninstall(
            repo_index=_user_repo(), pkg_id="farm_submit"
        )


def _user_repo():
    """Index of the ``user_default`` extension repository."""
    repos = bpy.context.preferences.extensions.repos
    return next(i for i, repo in enumerate(repos) if repo.module == "user_default")
