"""The "Render Farm" panel in Properties > Output: the scene's job
settings, the Submit to Farm button, and the last submission's job URL or
error."""

import textwrap

import bpy

from . import operators, submit


def _wrapped(layout, text, width=60, icon="NONE"):
    """``text`` as labels of at most ``width`` characters, first with
    ``icon``."""
    for number, line in enumerate(textwrap.wrap(text, width) or [""]):
        layout.label(text=line, icon=icon if number == 0 else "BLANK1")


class FARM_PT_render_farm(bpy.types.Panel):
    """Submit this scene to the render farm."""

    bl_label = "Render Farm"
    bl_idname = "FARM_PT_render_farm"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "output"

    def draw(self, context):
        """Settings, the button, the outcome."""
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        scene = context.scene
        settings = scene.farm

        layout.prop(settings, "job_name")
        layout.prop(settings, "frames")
        if not settings.frames.strip():
            hint = submit.scene_frames(
                scene.frame_start, scene.frame_end, scene.frame_step
            )
            layout.label(text="Scene range: " + hint, icon="BLANK1")
        layout.prop(settings, "chunk_size")
        layout.prop(settings, "priority", slider=True)
        row = layout.row(heading="Parity")
        row.prop(settings, "use_default_parity", text="Server Default")
        sub = layout.row()
        sub.enabled = not settings.use_default_parity
        sub.prop(settings, "parity_percent", text="Percent")
        row = layout.row(align=True)
        row.prop(settings, "region")
        row.operator("farm.test_connection", text="", icon="FILE_REFRESH")
        row = layout.row(align=True)
        row.prop(settings, "node_class")
        row.operator("farm.test_connection", text="", icon="FILE_REFRESH")
        layout.prop(settings, "paused")

        row = layout.row()
        row.scale_y = 1.4
        row.enabled = not operators.is_running()
        row.operator("farm.submit", icon="EXPORT")

        last = context.window_manager.farm_last
        if operators.is_running():
            layout.label(text="Submitting: progress in the status bar, Esc "
                         "cancels", icon="INFO")
        elif last.error:
            box = layout.box()
            box.alert = True
            _wrapped(box, last.error, icon="ERROR")
        elif last.job_url:
            box = layout.box()
            box.label(text="Last job: " + last.job_id, icon="CHECKMARK")
            row = box.row(align=True)
            row.label(text=last.job_url)
            row.operator("wm.url_open", text="", icon="URL").url = last.job_url


def register():
    """Register the panel."""
    bpy.utils.register_class(FARM_PT_render_farm)


def unregister():
    """Unregister the panel."""
    bpy.utils.unregister_class(FARM_PT_render_farm)
