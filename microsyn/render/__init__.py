"""Headless rendering of microsyn runs: scenes, annotations, camera paths, PNG/MP4/GIF output.

This is the only part of microsyn that imports pyvista at import time (``import microsyn`` does
not). Importing it chooses VTK's EGL window when there is no display.

- :class:`Scene` (``Scene.from_results``, ``Scene.from_simulation``): ions, membranes coloured by
  V, isosurfaces, glyphs, slices, clipping, time stamp, scale bar, title, caption, inset trace.
- :mod:`.camera`: presets (side, top, oblique) and paths (:class:`Orbit`, :class:`Zoom`,
  :class:`FitZoom`: a zoom that keeps given points in view).
- :mod:`.movie`: :func:`render_movie`, :class:`Timeline`, :class:`MP4Writer`, :class:`GIFWriter`,
  :class:`PNGSequence`, :func:`write_png`, :func:`zoom_to_fit` (the CLI's ``zoom`` camera).
- :mod:`.fonts`: every label draws in DejaVu Sans (VTK's arial draws "[" as "(").
- :func:`gl_available`: a subprocess probe of the GL stack.
- :mod:`.cli`: ``microsyn render``; :mod:`.bench`: ``render_frame_720p``.
"""
from .headless import configure, gl_available, require_gl

configure()

from .annotations import InsetPlot, TimeFormatter, format_length, format_time, nice_length  # noqa: E402
from .camera import CameraState, FitZoom, Orbit, Static, Zoom, camera_path, preset  # noqa: E402
from .movie import (GIFWriter, MP4Writer, PNGSequence, Timeline, render_movie, write_frame, write_png,  # noqa: E402
                    zoom_to_fit)
from .scene import SIZE_PRESETS, SPECIES_COLORS, Scene, parse_size, species_color  # noqa: E402

__all__ = [
    "CameraState", "FitZoom", "GIFWriter", "InsetPlot", "MP4Writer", "Orbit", "PNGSequence", "SIZE_PRESETS",
    "SPECIES_COLORS",
    "Scene", "Static", "TimeFormatter", "Timeline", "Zoom", "camera_path", "configure", "format_length",
    "format_time", "gl_available", "nice_length", "parse_size", "preset", "render_movie", "require_gl",
    "species_color", "write_frame", "write_png", "zoom_to_fit",
]
