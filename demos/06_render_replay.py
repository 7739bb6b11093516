"""Demo 06: record a run to a results file, then render a lecture movie from the file.

Shows
-----
1. Na+ entering through an open channel cluster in a flat membrane (z = 0) spreads into the
   cytoplasm (z > 0) as a hemisphere (Brownian dynamics, D = 0.667 um^2/ms). The pore passes
   64 pA for 50 us (about 90 AMPA-type channels of 0.70 pA at -70 mV, ``ms.AMPA().open_current_pA``,
   bunched at one point for visibility): 20,000 ions.
2. The same current charges the membrane: a 4 x 4 um sealed membrane patch (a spine-head-sized
   compartment graph, 1 uF/cm^2, R_m = 20 kohm cm^2) solved by the electrical model
   (:class:`microsyn.membrane.MembraneSolver`). Its voltage rises by Q / C = 3.2 fC / C
   (C = 0.18 pF with the grid's edge nodes: about 18 mV), nearly the same everywhere on the
   patch within microseconds, while the ions have moved only a few hundred nanometres: voltage
   spreads electrically, ~10^4 times faster than ions diffuse.
3. The run writes positions, lattice concentrations and voltages to an HDF5 results file
   (:class:`microsyn.results.ResultsWriter`); the movie is rendered afterwards from the file alone
   (:class:`microsyn.render.Scene`): ions (gold), a translucent isosurface of [Na+], the membrane
   coloured by V with a colour bar in mV, the channel glyph, time stamp, scale bar, title, caption,
   an inset of V(t) at the pore and 1.5 um away (the two curves nearly coincide) and of the
   channel current [pA], with a moving cursor, and a camera zooming out from the pore (tens of
   nm) to the patch (micrometres). The title and caption are stored in the file's attributes, so
   ``microsyn render replay.h5`` shows them too. The run is also exported as VTK files with a .pvd
   time series for ParaView: every 10th of the 301 stored frames (31 files per kind; every one of
   the 13 with ``--fast``), ions with their particle ids.

Run ``python demos/06_render_replay.py --out DIR`` (``--fast`` for a few-second preview).

References
----------
Crank J. (1975) The Mathematics of Diffusion, 2nd ed., Oxford University Press (point source at a
   reflecting plane).
Hille B. (2001) Ion Channels of Excitable Membranes, 3rd ed., Sinauer (Na+ diffusion; single
   channel currents).
Rall W. (1959) Exp. Neurol. 1:491, doi:10.1016/0014-4886(59)90046-9 (compartmental membrane model).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import microsyn as ms  # noqa: E402


def settings(fast: bool) -> dict:
    """Run and movie parameters [ms, um, pA]."""
    if fast:
        return dict(current_pA=32.0, t_open_ms=0.008, t_end_ms=0.012, dt_ms=5e-6, every_ms=0.001, n_frames=13,
                    size=(480, 270), fps=10, voxel_um=0.08, seed=3, vtk_every=1)
    return dict(current_pA=64.0, t_open_ms=0.05, t_end_ms=0.06, dt_ms=5e-6, every_ms=0.0002, n_frames=301,
                size=(1280, 720), fps=25, voxel_um=0.04, seed=3, vtk_every=10)


#: the traces drawn in the movie's inset (V [mV] at the pore and 1.5 um away, current [pA])
INSET_TRACES = ["V at the pore", "V 1.5 um away", "channel current"]


def patch_graph(width_um=4.0, spacing_um=0.2):
    """The membrane patch: a square grid of compartments and its triangles for drawing."""
    from microsyn.membrane import sheet

    g = sheet(width_um, width_um, spacing_um, thickness_um=0.5)
    nx, ny = g.grid_shape
    idx = np.arange(nx * ny).reshape(nx, ny)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    return g, np.r_[np.c_[a, b, c], np.c_[a, c, d]]


def membrane_voltages(g, cfg, frame_times_ms):
    """V [mV] of every compartment at the frame times, and fine traces at the pore and 1.5 um away."""
    from microsyn.membrane import MembraneSolver

    dt = 1e-4
    s = MembraneSolver(g, dt_ms=dt, method="be")
    s.init(-70.0)
    node0 = g.nearest_node((0.0, 0.0, 0.0))
    node1 = g.nearest_node((1.5, 0.0, 0.0))
    s.add_current_clamp(node0, amp_pA=cfg["current_pA"], delay_ms=0.0, duration_ms=cfg["t_open_ms"])
    frames, tr_t, tr0, tr1 = [], [], [], []
    k_every = max(1, int(round(cfg["every_ms"] / dt)))
    n_total = int(round(cfg["t_end_ms"] / dt))
    for k in range(n_total + 1):
        if k:
            s.step(1)
        if k % k_every == 0:
            frames.append(s.V.copy())
        tr_t.append(s.t_ms)
        tr0.append(s.V[node0])
        tr1.append(s.V[node1])
    V = np.array(frames)
    times = np.arange(len(frames)) * k_every * dt
    assert np.allclose(times[: len(frame_times_ms)], frame_times_ms[: len(times)], atol=1e-9)
    return V, np.array(tr_t), np.array(tr0), np.array(tr1)


def main(out_dir, fast: bool = False) -> dict:
    """Simulate, write ``replay.h5``, render ``replay.mp4`` and stills from it, export VTK.

    Returns
    -------
    dict
        Paths (``results``, ``movie``, ``stills``, ``pvd``), ``n_vtk_frames`` (frames exported to
        VTK), ``n_frames``, ``frame_size``, ``fps``,
        ``n_ions_end``, ``V_peak_mV`` at the pore, ``dV_expected_mV`` (Q / C of the patch) and the
        times [s] of simulation and rendering.
    """
    from microsyn.export_vtk import export_results
    from microsyn.render import Scene, Timeline, Zoom, render_movie
    from microsyn.render.movie import zoom_to_fit
    from microsyn.results import ResultsFile, ResultsWriter

    t_start = time.perf_counter()
    cfg = settings(fast)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    R_far = 4.0
    dom = ms.Domain(ms.Sphere((0, 0, 0), R_far, name="far"),
                    holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    dom.set_boundary("far", "absorb")
    sim = ms.Simulation(dom, dt=cfg["dt_ms"], species=["Na+"], seed=cfg["seed"])
    src = ms.FluxSource.from_current("Na+", cfg["current_pA"], 1, at=(0.0, 0.0, 0.0), stop=cfg["t_open_ms"])
    sim.add_source(src)
    g, tri = patch_graph()
    n_rec = int(round(cfg["t_end_ms"] / cfg["every_ms"])) + 1
    rec_times = np.arange(n_rec) * cfg["every_ms"]
    V, tr_t, tr0, tr1 = membrane_voltages(g, cfg, rec_times)
    lat = ms.Lattice((-1.2, -1.2, 0.0), (1.2, 1.2, 1.2), voxel_size=cfg["voxel_um"])
    path = os.path.join(out_dir, "replay.h5")
    cap = (f"gold: Na+ ions ({cfg['current_pA']:g} pA for {cfg['t_open_ms'] * 1e3:g} \u00b5s)   "
           f"pale dome: [Na+] isosurface at 20 % of the peak   red ring: channel pore\n"
           f"membrane: 4 x 4 \u00b5m patch coloured by V (electrical model); D = {sim.D('Na+'):g} \u00b5m\u00b2/ms")
    writer = ResultsWriter(path, every=cfg["every_ms"], lattice=lat, surfaces={"membrane": (g.xyz_um, tri)},
                           membrane=g, voltage=lambda s: V[int(round(s.time / cfg["every_ms"]))],
                           glyphs={"channel": [(0.0, 0.0, 0.0)]}, store_ids=True,
                           attrs=dict(title="An open channel: a hemisphere of Na+ and the potential it causes",
                                      caption=cap))
    sim.add_recorder(writer)
    t0 = time.perf_counter()
    sim.run(cfg["t_end_ms"])
    sim_s = time.perf_counter() - t0
    writer.add_trace("V at the pore", tr_t, tr0, units="mV")
    writer.add_trace("V 1.5 um away", tr_t, tr1, units="mV", label="V 1.5 \u00b5m away")
    writer.add_trace("channel current", tr_t, np.where(tr_t < cfg["t_open_ms"], cfg["current_pA"], 0.0), units="pA")

    t1 = time.perf_counter()
    with ResultsFile(path) as res:
        sc = Scene.from_results(res, size=cfg["size"], title=res.attrs["title"], caption=res.attrs["caption"],
                                glyph_size_um=0.03, iso_fraction=0.2, inset=INSET_TRACES)
        try:
            tl = Timeline(float(res.times_ms[0]), float(res.times_ms[-1]), n_frames=cfg["n_frames"])
            # planned zoom from the pore out to the patch, pulled back further wherever the cloud would leave
            cam = zoom_to_fit(sc, tl.times_ms, zoom=Zoom(focal=(0.0, 0.0, 0.02), start_distance=0.25,
                                                         end_distance=5.5, end_focal=(0.0, 0.0, 0.25), hold=0.08))
            n = len(tl)
            out = render_movie(sc, out_dir, timeline=tl, camera=cam, mp4="replay.mp4", fps=cfg["fps"],
                               keep_png=(0, n // 3, (2 * n) // 3, n - 1), progress=not fast)
        finally:
            sc.close()
        vtk_frames = list(range(0, res.n_frames, cfg["vtk_every"]))
        pvd = export_results(res, os.path.join(out_dir, "vtk"), frames=vtk_frames)
    render_s = time.perf_counter() - t1
    C_pF = float(np.sum(g.area_um2) * 0.01)
    Q_fC = cfg["current_pA"] * cfg["t_open_ms"]
    return dict(results=path, movie=out["mp4"], stills=out["stills"], pvd=pvd, n_vtk_frames=len(vtk_frames),
                n_frames=out["n_frames"],
                frame_size=out["size"], fps=cfg["fps"], n_ions_end=sim.count("Na+"),
                V_peak_mV=float(np.max(tr0)), dV_expected_mV=Q_fC / C_pF,
                sim_s=sim_s, render_s=render_s, runtime_s=time.perf_counter() - t_start)


def _cli(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join("out", "06_render_replay"), help="output folder")
    ap.add_argument("--fast", action="store_true", help="a few-second preview")
    args = ap.parse_args(argv)
    for k, v in main(args.out, fast=args.fast).items():
        print(f"{k:>16}: {v}")


if __name__ == "__main__":
    _cli()
