"""The font of every VTK text actor: DejaVu Sans (and DejaVu Sans Mono for time stamps).

VTK's built-in "arial" face (VTK 9.7) draws square brackets as parentheses, so a label such as
``[Na+] isosurface`` reads ``(Na+) isosurface`` and ``V [mV]`` reads ``V (mV)``. DejaVu Sans
draws them; matplotlib (a dependency of microsyn) ships the TrueType files in
``matplotlib/mpl-data/fonts/ttf/``, so they are there wherever microsyn is installed. Text
properties are switched to them with ``SetFontFamily(VTK_FONT_FILE)`` and ``SetFontFile(path)``.
"""
from __future__ import annotations

import os

from ..errors import RenderError

SANS = "DejaVuSans.ttf"
MONO = "DejaVuSansMono.ttf"


def font_file(mono: bool = False) -> str:
    """Path of the TrueType font used for text (``mono``: the fixed-width one for time stamps)."""
    import matplotlib

    path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", MONO if mono else SANS)
    if not os.path.isfile(path):
        raise RenderError(f"font file {path} is missing; reinstall matplotlib (pip install --force-reinstall "
                          f"matplotlib), which ships the DejaVu fonts microsyn draws its labels with")
    return path


def apply_font(text_property, mono: bool = False):
    """Make a ``vtkTextProperty`` draw with DejaVu Sans (or Sans Mono); returns it."""
    import vtk

    text_property.SetFontFamily(vtk.VTK_FONT_FILE)
    text_property.SetFontFile(font_file(mono))
    return text_property


def text_properties(renderer):
    """Every ``vtkTextProperty`` of the 2D actors of ``renderer`` (text, scalar bars, legends):
    (description, property) pairs, e.g. to check which font they draw with."""
    import vtk

    out = []
    props = renderer.GetViewProps()
    props.InitTraversal()
    for _ in range(props.GetNumberOfItems()):
        a = props.GetNextProp()
        if isinstance(a, vtk.vtkTextActor):
            out.append((f"text {a.GetInput()!r}", a.GetTextProperty()))
        elif isinstance(a, vtk.vtkScalarBarActor):
            out.append(("scalar bar labels", a.GetLabelTextProperty()))
            out.append(("scalar bar title", a.GetTitleTextProperty()))
        elif isinstance(a, vtk.vtkLegendBoxActor):
            out.append(("legend entries", a.GetEntryTextProperty()))
        elif isinstance(a, vtk.vtkCornerAnnotation):
            out.append(("corner annotation", a.GetTextProperty()))
        elif isinstance(a, vtk.vtkActor2D) and isinstance(a.GetMapper(), vtk.vtkLabeledDataMapper):
            out.append(("point labels", a.GetMapper().GetLabelTextProperty()))
        elif isinstance(a, vtk.vtkActor2D) and isinstance(a.GetMapper(), vtk.vtkLabelPlacementMapper):
            hier = a.GetMapper().GetInputAlgorithm()
            if hasattr(hier, "GetTextProperty"):
                out.append(("point labels", hier.GetTextProperty()))
    return out


def text_size_px(text: str, size_px: int, mono: bool = False) -> tuple[int, int]:
    """(width, height) [px] of ``text`` drawn ``size_px`` tall in the font of :func:`apply_font`."""
    import vtk

    tp = apply_font(vtk.vtkTextProperty(), mono=mono)
    tp.SetFontSize(int(size_px))
    bbox = [0, 0, 0, 0]
    if not vtk.vtkTextRenderer.GetInstance().GetBoundingBox(tp, str(text), bbox, 72):
        raise RenderError(f"VTK could not measure the text {text!r}")
    return bbox[1] - bbox[0] + 1, bbox[3] - bbox[2] + 1
