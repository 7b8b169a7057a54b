"""``c4d.gui``: a GeDialog that keeps its gadgets' values in dicts."""

import c4d


def MessageDialog(text, type=0):
    """A message box (recorded only)."""
    c4d.record("MessageDialog", text)
    return True


class GeDialog:
    """A dialog without a window: the layout calls note each gadget
    (``gadgets``: id -> kind), Set*/Get* keep values (``values``), help
    texts (``help``), combo children (``children``), enabled state
    (``enabled``) and the timer interval (``timer``). ``stub_click`` and
    ``stub_type`` stand for the user."""

    def __init__(self):
        """An unopened dialog."""
        self.gadgets, self.values, self.help = {}, {}, {}
        self.children, self.enabled = {}, {}
        self.timer, self.title, self.opened = 0, "", False
        self.groups = 0

    def _add(self, gadget, kind):
        """Note a gadget; an id used twice is a layout error."""
        if gadget and gadget in self.gadgets:
            raise AssertionError("gadget id %d used twice" % gadget)
        if gadget:
            self.gadgets[gadget] = kind
        return True

    def SetTitle(self, title):
        """The window title."""
        self.title = title

    def GroupBegin(self, id, flags, cols=0, rows=0, title="", groupflags=0,
                   initw=0, inith=0):
        """Open a group."""
        self.groups += 1
        return self._add(id, "group")

    def GroupEnd(self):
        """Close a group."""
        self.groups -= 1
        return True

    def GroupBorderSpace(self, left, top, right, bottom):
        """Group margins."""
        return True

    def AddStaticText(self, id, flags, initw=0, inith=0, name="", borderstyle=0):
        """A label."""
        return self._add(id, "static")

    def AddEditText(self, id, flags, initw=80, inith=0, editflags=0):
        """A one-line text field."""
        return self._add(id, "password" if editflags & c4d.EDITTEXT_PASSWORD else "edit")

    def AddMultiLineEditText(self, id, flags, initw=0, inith=0, style=0):
        """A text box."""
        return self._add(id, "multiline")

    def AddEditNumberArrows(self, id, flags, initw=80, inith=0):
        """A number field."""
        return self._add(id, "number")

    def AddCheckbox(self, id, flags, initw, inith, name):
        """A checkbox."""
        return self._add(id, "checkbox")

    def AddComboBox(self, id, flags, initw=80, inith=0, specialalign=False,
                    allowfiltering=False):
        """A drop-down list."""
        self.children[id] = []
        return self._add(id, "combo")

    def AddChild(self, id, subid, child):
        """An entry ``subid`` of the drop-down ``id``."""
        self.children.setdefault(id, []).append((subid, child))
        return True

    def FreeChildren(self, id):
        """Remove the drop-down's entries."""
        self.children[id] = []
        return True

    def AddButton(self, id, flags, initw=80, inith=0, name=""):
        """A button."""
        return self._add(id, "button")

    def SetString(self, id, value, tristate=False, flags=0):
        """A text field's text, or its help text."""
        if flags & c4d.EDITTEXT_HELPTEXT:
            self.help[id] = value
        else:
            self.values[id] = value
        return True

    def GetString(self, id):
        """A text field's text."""
        return self.values.get(id, "")

    def SetInt32(self, id, value, min=-2 ** 31, max=2 ** 31 - 1, step=1,
                 tristate=False, min2=0, max2=0):
        """A number (clamped) or a drop-down's chosen entry."""
        self.values[id] = int(value) if self.gadgets.get(id) == "combo" else \
            int(sorted((min, value, max))[1])
        return True

    def GetInt32(self, id):
        """A number, or a drop-down's chosen entry."""
        return int(self.values.get(id, 0))

    def SetFloat(self, id, value, min=-1e308, max=1e308, step=1.0, format=0,
                 min2=0.0, max2=0.0, quadscale=False, tristate=False):
        """A number, clamped."""
        self.values[id] = float(sorted((min, value, max))[1])
        return True

    def GetFloat(self, id):
        """A number."""
        return float(self.values.get(id, 0.0))

    def SetBool(self, id, value):
        """A checkbox's state."""
        self.values[id] = bool(value)
        return True

    def GetBool(self, id):
        """A checkbox's state."""
        return bool(self.values.get(id, False))

    def Enable(self, id, enable):
        """Enable or grey out a gadget."""
        self.enabled[id] = bool(enable)
        return True

    def SetTimer(self, value):
        """Call Timer every ``value`` ms (0: stop)."""
        self.timer = value

    def Timer(self, msg):
        """Override."""

    def CoreMessage(self, id, msg):
        """Override; the default handling."""
        return True

    def AskClose(self):
        """Override: True keeps the window open."""
        return False

    def Open(self, dlgtype, pluginid=0, xpos=-1, ypos=-1, defaultw=0,
             defaulth=0, subid=0):
        """Lay the dialog out and fill it, as Cinema 4D does on opening."""
        c4d.record("GeDialog.Open", dlgtype, pluginid)
        return self._open()

    def Restore(self, pluginid, secret):
        """Reopen a dialog the layout kept."""
        c4d.record("GeDialog.Restore", pluginid)
        return self._open()

    def _open(self):
        """CreateLayout then InitValues."""
        GeDialog.__init__(self)
        if not self.CreateLayout() or self.groups != 0:
            raise AssertionError("CreateLayout failed or left a group open")
        self.opened = bool(self.InitValues())
        return self.opened

    def Close(self):
        """Close unless AskClose keeps the window open."""
        if not self.AskClose():
            self.opened = False
        return True

    def stub_click(self, id):
        """The user uses the gadget ``id``."""
        if self.enabled.get(id, True) is False:
            raise AssertionError("gadget %d is disabled" % id)
        return self.Command(id, None)

    def stub_type(self, id, value):
        """The user sets a gadget's value (text, number, state, entry)."""
        self.values[id] = value
        return self.Command(id, None)
