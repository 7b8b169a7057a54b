"""Render Farm: submit the open scene to the render farm from Blender.

Properties > Output > Render Farm holds the job settings and the Submit to
Farm button; the add-on's preferences hold the coordinator URL and token.
See ``plugins/blender/README.md``.

The Blender-facing modules are imported in :func:`register` only, so the
pure ones (``client``, ``bundle``, ``submit``, ``blake3_py``) import
outside Blender, for the tests.
"""

bl_info = {
    "name": "Render Farm",
    "description": "Submit the scene, its textures and libraries to the "
    "render farm",
    "author": "Render farm contributors",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "Properties > Output > Render Farm",
    "category": "Render",
}


def _modules():
    """The modules that register something, in registration order."""
    from . import operators, panel, prefs, properties

    return (prefs, properties, operators, panel)


def register():
    """Register the add-on."""
    for module in _modules():
        module.register()


def unregister():
    """Unregister the add-on."""
    for module in reversed(_modules()):
        module.unregister()
