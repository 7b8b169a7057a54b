"""The add-on's preferences: where the coordinator is and the API token.

``FARM_URL`` and ``FARM_TOKEN`` in the environment stand in for
preferences left unset (an empty token, the default URL), so pipelines and
tests can point Blender at a farm without touching its preferences.
"""

import os

import bpy
from bpy.props import StringProperty

from . import properties
from .client import FarmClient

DEFAULT_URL = "http://127.0.0.1:8080"


class FarmPreferences(bpy.types.AddonPreferences):
    """Coordinator address and token."""

    bl_idname = __package__

    url: StringProperty(
        name="Coordinator URL",
        description="Address of the render farm coordinator's API; at the "
        "default, $FARM_URL is used when set",
        default=DEFAULT_URL,
    )
    token: StringProperty(
        name="API Token",
        description="A submitter token of the farm (rf_...); empty: "
        "$FARM_TOKEN",
        subtype="PASSWORD",
    )

    def draw(self, context):
        """URL, token, the connection test and what it found."""
        layout = self.layout
        layout.prop(self, "url")
        layout.prop(self, "token")
        url, token = connection(context)
        from_env = [
            name
            for name, used, own in (("FARM_URL", url, self.url),
                                    ("FARM_TOKEN", token, self.token))
            if used != own.strip()
        ]
        if from_env:
            layout.label(
                text="Using %s from the environment" % " and ".join(from_env),
                icon="INFO",
            )
        layout.operator("farm.test_connection", icon="URL")
        offer = properties.OFFER
        if any(offer.values()):
            box = layout.box()
            for label, key in (("Renderers", "renderers"), ("Regions", "regions"),
                               ("Node classes", "node_classes")):
                box.label(text="%s: %s" % (label, ", ".join(offer[key]) or "none"))


def preferences(context):
    """This add-on's preferences."""
    return context.preferences.addons[__package__].preferences


def connection(context):
    """``(url, token)`` to use: the preferences, or the environment's
    ``FARM_URL`` / ``FARM_TOKEN`` where they are unset."""
    prefs = preferences(context)
    url = prefs.url.strip()
    if not url or url == DEFAULT_URL:
        url = os.environ.get("FARM_URL", "").strip() or url or DEFAULT_URL
    token = prefs.token.strip() or os.environ.get("FARM_TOKEN", "").strip()
    return url, token


def client(context):
    """A :class:`client.FarmClient` for the configured coordinator."""
    return FarmClient(*connection(context))


def register():
    """Register the preferences."""
    bpy.utils.register_class(FarmPreferences)


def unregister():
    """Unregister the preferences."""
    bpy.utils.unregister_class(FarmPreferences)
