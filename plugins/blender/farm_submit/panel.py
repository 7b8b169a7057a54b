"""The "Render Farm" panel in Properties > Output: the scene's job
settings, the Submit to Farm button, and the last submission's job URL or
error; and its "Estimate" sub-panel: the Estimate button and, per node
class, workers online, time to complete, cost and what they come from."""

import json
import textwrap

import bpy

from . import estimate, operators, submit


def _wrapped(layout, text, width=60, icon="NONE"):
    """``text`` as labels of at most ``width`` characters, first with
    ``icon``."""
    for number, line in enumerate(textwrap.wrap(text, width) or [""]):
        layout.label(text=line, icon=icon if number == 0 else "BLANK1")


def _sentence(text):
    """``text`` with its first letter in capitals (and only that one)."""
    return text[:1].upper() + text[1:]


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
        if operators.running_text() == "Submitting":
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


class FARM_PT_estimate(bpy.types.Panel):
    """What this job would take and cost on the farm's node classes."""

    bl_label = "Estimate"
    bl_idname = "FARM_PT_estimate"
    bl_parent_id = "FARM_PT_render_farm"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "output"

    def draw(self, context):
        """The button, then the last estimate or its error."""
        layout = self.layout
        row = layout.row()
        row.enabled = not operators.is_running()
        row.operator("farm.estimate", icon="TIME")

        out = context.window_manager.farm_estimate
        if operators.running_text() == "Estimating":
            layout.label(text="Estimating: progress in the status bar, Esc "
                         "cancels", icon="INFO")
        elif out.error:
            box = layout.box()
            box.alert = True
            _wrapped(box, out.error, icon="ERROR")
        elif out.answer:
            _draw_estimate(layout, context, out)


def _draw_estimate(layout, context, out):
    """The stored estimate ``out`` (``window_manager.farm_estimate``)."""
    try:
        answer = json.loads(out.answer)
    except ValueError:
        return
    head, classes = estimate.lines(answer)
    layout.label(text=head, icon="INFO")
    try:
        current = operators.fields_key(operators.scene_job_fields(context.scene))
    except Exception:  # the panel draws whatever the settings are
        current = out.fields
    if current != out.fields:
        layout.label(text="The settings changed since: estimate again",
                     icon="ERROR")
    if not out.bundle:
        _wrapped(layout, "Made without the scene (the file was never saved): "
                 "from the farm's history only", icon="BLANK1")
    if not classes:
        _wrapped(layout, _sentence(estimate.NO_CLASSES), icon="ERROR")
    for row in classes:
        box = layout.box()
        head = box.row()
        head.label(text=row["node_class"], icon="NODETREE")
        head.label(text=row["workers"])
        column = box.column(align=True)
        if row["has_figures"]:
            split = column.split(factor=0.3)
            split.label(text="Time to complete")
            split.label(text=row["time"])
            split = column.split(factor=0.3)
            split.label(text="Cost")
            split.label(text=row["cost"])
            split = column.split(factor=0.3)
            split.label(text="Per frame")
            split.label(text=row["per_frame"])
        column.label(text=_sentence(row["basis"]), icon="BLANK1")


CLASSES = (FARM_PT_render_farm, FARM_PT_estimate)


def register():
    """Register the panels."""
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister():
    """Unregister the panels."""
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
