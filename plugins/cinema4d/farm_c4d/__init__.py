"""Submit to Farm for Cinema 4D: the plugin's package.

``job`` reads a document (frames, takes, render settings) and saves it
with its assets for the farm, ``background`` runs a submission off the
main thread, ``dialog`` is the window, ``prefs`` keeps the coordinator's
URL and token. ``farm_client`` (the HTTP client, bundles and submission
steps) is copied from the Blender add-on by scripts/build-c4d-plugin.sh,
so this package imports only from the built plugin folder.
"""

# PLACEHOLDER plugin ID from Maxon's testing range (1000001-1000010): it may
# clash with any other plugin under test. Get a unique ID from Maxon
# (https://developers.maxon.net, "Plugin IDs", formerly plugincafe) and put
# it here before shipping.
PLUGIN_ID = 1000001

TITLE = "Submit to Farm\u2026"
