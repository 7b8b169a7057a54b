"""``c4d.modules``: only the take system."""

from . import takesystem  # noqa: F401
