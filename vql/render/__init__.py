"""Pictures of query results: annotated clips or images (``render_clip``) and timeline plots
(``render_timeline``). In SQL: ``RENDER 'out.mp4' AS <query>`` and
``RENDER TIMELINE 'out.png' AS <query>``; on the command line: ``vql render``."""

from vql.render.clip import MAX_FRAMES, Rendered, render_clip
from vql.render.draw import class_colour, track_colour
from vql.render.timeline import render_timeline
from vql.render.writers import h264_encoder

__all__ = ["MAX_FRAMES", "Rendered", "class_colour", "h264_encoder", "render_clip",
           "render_timeline", "track_colour"]
