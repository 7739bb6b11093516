"""Rendering benchmark: ``render_frame_720p``, frames per second of a 1280x720 lecture frame.

The frame holds 1e5 ions (shaded sprites, two species), a concentration isosurface from a
48 x 48 x 24 lattice, the membrane (a 41 x 41 grid coloured by V with a colour bar), a title,
caption, legend, time stamp, scale bar and an inset V(t) trace with its cursor; 4x MSAA. Each
frame moves the ions and rebuilds the isosurface (the per-frame work of a replay). The median of
several frames after a warm-up is reported; a plain-numpy reference is not meaningful here, so the
field ``numpy_ratio`` is absent.
"""
from __future__ import annotations

import statistics
import time

import numpy as np


def _scene_inputs(n_ions, rng):
    pos = rng.normal(0.0, 0.25, size=(n_ions, 3))
    pos[:, 2] = np.abs(pos[:, 2])
    ax = np.linspace(-0.6, 0.6, 48)
    X, Y, Z = np.meshgrid(ax, ax, np.linspace(0, 0.6, 24), indexing="ij")
    field = 10.0 * np.exp(-(X ** 2 + Y ** 2 + Z ** 2) / (2 * 0.25 ** 2))
    return pos, field


def bench_render_frame(size=(1280, 720), n_ions: int = 100_000, n_frames: int = 5, warmup: int = 2,
                       antialias: bool = True) -> dict:
    """Median seconds per rendered frame of the benchmark scene (see the module docstring)."""
    from ..membrane import sheet
    from .annotations import InsetPlot
    from .camera import preset
    from .scene import Scene

    rng = np.random.default_rng(1)
    pos, field = _scene_inputs(n_ions, rng)
    g = sheet(2.0, 2.0, 0.05)
    nx, ny = g.grid_shape
    idx = np.arange(nx * ny).reshape(nx, ny)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    tri = np.r_[np.c_[a, b, c], np.c_[a, c, d]]
    t = np.linspace(0, 0.05, 200)
    V = -70 + 8 * (1 - np.exp(-t / 0.01))
    sc = Scene(size=size, title="Benchmark: 100,000 ions, isosurface, membrane, annotations",
               caption="gold: Na+   violet: K+", t_max_ms=0.05, antialias=antialias)
    try:
        sc.add_surface("membrane", (g.xyz_um, tri), nodes_um=g.xyz_um, clim=(-70, -60))
        sc.set_inset(InsetPlot([dict(time_ms=t, values=V, units="mV", label="V at pore")],
                               size_px=(int(0.3 * sc.w), int(0.27 * sc.h)), font_px=max(8, int(12 * sc.h / 720))))
        sc.set_camera(preset("oblique", (0, 0, 0.15), 2.6))
        lo = np.array([-0.6, -0.6, 0.0])
        sp = np.array([1.2 / 47, 1.2 / 47, 0.6 / 23])
        half = n_ions // 2
        times = []
        for k in range(warmup + n_frames):
            jitter = rng.normal(0, 0.003, size=pos.shape)
            p = pos + jitter
            t0 = time.perf_counter()
            sc.set_ions({"Na+": p[:half], "K+": p[half:]})
            sc.set_isosurface("Na+", field * (1 + 0.02 * k), lo, sp, 2.0, color="#ffb000", smooth_voxels=0)
            sc.set_voltage(-70 + 8 * np.exp(-np.sum(g.xyz_um[:, :2] ** 2, 1)) * (k + 1) / (warmup + n_frames))
            sc.set_time(0.05 * k / (warmup + n_frames))
            img = sc.render()
            dt = time.perf_counter() - t0
            assert img.shape[:2] == (size[1], size[0])
            if k >= warmup:
                times.append(dt)
    finally:
        sc.close()
    med = statistics.median(times)
    return dict(case="render_frame_720p" if tuple(size) == (1280, 720) else f"render_frame_{size[0]}x{size[1]}",
                frames_per_s=1.0 / med, median_s=med, min_s=min(times), n_frames=len(times), n_ions=n_ions,
                width=size[0], height=size[1], antialias=antialias, target_frames_per_s=2.0)


def run_benchmarks(quick: bool = False) -> list[dict]:
    """The rendering benchmark cases (``quick``: fewer frames). Each is a dict with ``case``."""
    from .headless import gl_available

    ok, reason = gl_available()
    if not ok:
        return [dict(case="render_frame_720p", skipped=True, reason=reason)]
    return [bench_render_frame(n_frames=3 if quick else 7, warmup=1 if quick else 2)]
