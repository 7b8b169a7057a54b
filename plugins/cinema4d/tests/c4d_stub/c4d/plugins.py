"""``c4d.plugins``: command plugins."""

import c4d

registered = {}


class CommandData:
    """A command's data class: ``Execute(doc)`` when the user runs it."""

    def Execute(self, doc):
        """Override."""
        return True

    def RestoreLayout(self, sec_ref):
        """Override."""
        return True


def RegisterCommandPlugin(id, str, info, icon, help, dat):
    """Register a command (kept in ``registered`` by id)."""
    c4d.record("RegisterCommandPlugin", id, str, info, icon, help, dat)
    if not isinstance(dat, CommandData):
        raise TypeError("dat must be a c4d.plugins.CommandData")
    registered[id] = dat
    return True
