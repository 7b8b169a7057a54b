"""``c4d.modules.takesystem``: takes in a tree under the main take."""


class BaseTake:
    """A take named ``name`` with its own render settings (``render_data``,
    None to inherit its parent's) and child takes."""

    def __init__(self, name, render_data=None, children=()):
        """A take and its children, in order."""
        self._name = name
        self._rd = render_data
        self._up = None
        self._children = []
        for child in children:
            self.stub_add(child)

    def stub_add(self, child):
        """Make ``child`` the last child take (stub helper); ``child``."""
        child._up = self
        self._children.append(child)
        return child

    def GetName(self):
        """The take's name."""
        return self._name

    def SetName(self, name):
        """Rename the take."""
        self._name = name

    def GetUp(self):
        """The parent take; None for the main take."""
        return self._up

    def GetDown(self):
        """The first child take."""
        return self._children[0] if self._children else None

    def GetNext(self):
        """The next sibling take."""
        if self._up is None:
            return None
        siblings = self._up._children
        index = siblings.index(self) + 1
        return siblings[index] if index < len(siblings) else None

    def IsMain(self):
        """Whether this is the main take."""
        return self._up is None

    def GetEffectiveRenderData(self, takeData):
        """``(render data, take it comes from)``: the take's own, else the
        nearest parent's, else the document's."""
        take = self
        while take is not None:
            if take._rd is not None:
                return take._rd, take
            take = take._up
        return takeData.stub_doc.GetActiveRenderData(), takeData.GetMainTake()


class TakeData:
    """A document's takes: the ``main`` take (a bare "Main" if None) and
    the ``current`` one (the main take if None)."""

    def __init__(self, main=None, current=None):
        """The take tree."""
        self._main = main or BaseTake("Main")
        self._current = current or self._main
        self.stub_doc = None

    def GetMainTake(self):
        """The main take."""
        return self._main

    def GetCurrentTake(self):
        """The take the document shows."""
        return self._current

    def SetCurrentTake(self, take):
        """Show ``take``."""
        self._current = take
        return True
