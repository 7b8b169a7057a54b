"""Submit to Farm: sends the active Cinema 4D document, with its assets, to
the render farm's coordinator.

Registers the command "Submit to Farm…" (Extensions menu), which opens the
dialog of ``farm_c4d.dialog``. Build the plugin folder with
scripts/build-c4d-plugin.sh and copy dist/farm_submit_c4d into Cinema 4D's
plugins folder; see README.md.
"""

import os
import sys

import c4d

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from farm_c4d import PLUGIN_ID, TITLE  # noqa: E402
from farm_c4d.dialog import FarmDialog  # noqa: E402


class SubmitCommand(c4d.plugins.CommandData):
    """The "Submit to Farm…" command: opens the (asynchronous) dialog."""

    dialog = None

    def _dialog(self):
        """The one dialog of this command, made when first needed."""
        if self.dialog is None:
            self.dialog = FarmDialog()
        return self.dialog

    def Execute(self, doc):
        """Open the dialog."""
        return self._dialog().Open(dlgtype=c4d.DLG_TYPE_ASYNC, pluginid=PLUGIN_ID,
                                   defaultw=480, defaulth=0)

    def RestoreLayout(self, sec_ref):
        """Restore the dialog where the user's layout keeps it."""
        return self._dialog().Restore(pluginid=PLUGIN_ID, secret=sec_ref)


def register():
    """Register the command; whether Cinema 4D accepted it."""
    return c4d.plugins.RegisterCommandPlugin(
        id=PLUGIN_ID, str=TITLE, info=0, icon=None,
        help="Submit the active document and its assets to the render farm",
        dat=SubmitCommand(),
    )


if __name__ == "__main__":
    register()
