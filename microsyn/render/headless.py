"""Headless OpenGL set-up and a crash-safe probe.

VTK 9.7 wheels render with EGL and Mesa's software rasterizer when there is no display. Setting
``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow`` before VTK loads skips the X probe. A missing GL
stack crashes the process (segfault or abort) rather than raising, so :func:`gl_available`
tries a tiny render in a subprocess, once per process, and reports why it failed.
"""
from __future__ import annotations

import os
import subprocess
import sys

_PROBE = r"""
import os
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
import pyvista as pv
p = pv.Plotter(off_screen=True, window_size=(64, 48))
p.add_mesh(pv.Sphere())
p.render()
img = p.screenshot(return_img=True)
assert img.shape == (48, 64, 3), img.shape
p.close()
print("GL-OK")
"""

_cache: tuple[bool, str] | None = None


def configure() -> None:
    """Choose VTK's EGL window when no X display is set (call before importing vtk/pyvista)."""
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


def gl_available(timeout_s: float = 120.0) -> tuple[bool, str]:
    """Whether off-screen rendering works here, probed in a subprocess (cached per process).

    Returns
    -------
    (bool, str)
        ``(True, "...")`` or ``(False, reason)`` where reason quotes the probe's error and says
        what to install (``libegl1`` and ``libgl1-mesa-dri`` on Debian).
    """
    global _cache
    if _cache is not None:
        return _cache
    env = dict(os.environ)
    if not env.get("DISPLAY"):
        env.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    try:
        r = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        _cache = (False, f"the OpenGL probe did not finish in {timeout_s:g} s")
        return _cache
    if r.returncode == 0 and "GL-OK" in r.stdout:
        _cache = (True, "off-screen rendering works (VTK " + env.get("VTK_DEFAULT_OPENGL_WINDOW", "default") + ")")
    else:
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        _cache = (False, f"off-screen OpenGL rendering failed (exit code {r.returncode}: {' | '.join(tail)}); "
                         f"install EGL and Mesa (Debian: apt-get install libegl1 libgl1-mesa-dri) or set DISPLAY")
    return _cache


def require_gl() -> None:
    """Raise :class:`~microsyn.errors.RenderError` with the reason if rendering cannot work here."""
    from ..errors import RenderError

    ok, reason = gl_available()
    if not ok:
        raise RenderError(reason)
