"""Demo 10: ions diffuse micrometres in milliseconds; the voltage spreads electrically far faster.

Shows
-----
An AMPA synapse (Jonas et al. 1993 scheme, stochastic gating) on a thin dendrite (1 um
diameter) lets Na+ in. Two processes start at the pore at the same instant:

1. the Na+ ions themselves, tracked as particles inside a 40 um piece of the dendrite (a
   cylinder whose wall reflects and whose far ends absorb): they fill the 1 um cross-section
   within a fraction of a millisecond, then spread along the dendrite with rms distance
   sqrt(2 D t) (D = 0.667 um^2/ms): about 1.6 um after 2 ms;
2. the voltage, from the electrical model of the whole 400 um dendrite (cable theory: the charge
   relaxes through the cytoplasm's resistance and the membrane capacitance): within the same 2 ms
   the depolarisation reaches 100 um and beyond at a good fraction of its size at the synapse.

The figure sets the normalised Na+ excess c(x)/c(0) against the normalised depolarisation
dV(x)/dV(0) along the dendrite, and the rms ion spread against the voltage's half-width in time.
The voltage is not where the ions are: it comes from the membrane model.

Run ``python demos/10_ions_vs_voltage.py --out DIR``.

References
----------
Rall W. (1967) J. Neurophysiol. 30:1138, doi:10.1152/jn.1967.30.5.1138 (cable theory of synaptic
   potentials).
Koch C. (1999) Biophysics of Computation, ch. 2 (cable) and ch. 11 (diffusion vs electrotonus).
Crank J. (1975) The Mathematics of Diffusion, 2nd ed. (rms displacement sqrt(2 D t) per axis).
Kushmerick M.J. & Podolsky R.J. (1969) Science 166:1297, doi:10.1126/science.166.3910.1297.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import microsyn as ms  # noqa: E402
from microsyn.channels import AMPA  # noqa: E402
from microsyn.gating import PulseLigand  # noqa: E402
from microsyn.membrane import MembraneSolver, cable  # noqa: E402
from microsyn.plotting import save_figure  # noqa: E402
from microsyn.synapse import Synapse, SynapticCoupling  # noqa: E402


def settings(fast):
    if fast:
        return dict(n_channels=4, dt_particle_ms=1e-3, times_ms=(0.5, 1.0, 2.0), seed=3, piece_um=20.0)
    return dict(n_channels=8, dt_particle_ms=5e-4, times_ms=(0.25, 0.5, 1.0, 2.0, 4.0), seed=3, piece_um=40.0)


def _half_width(x, y):
    """Distance [um] from the peak over which y stays above half its peak (to the right)."""
    k0 = int(np.argmax(y))
    half = 0.5 * y[k0]
    right = np.flatnonzero(y[k0:] < half)
    return float(x[k0 + right[0]] - x[k0]) if right.size else float(x[-1] - x[k0])


def main(out_dir, fast: bool = False) -> dict:
    """Run the demo, write figures into ``out_dir``; return the measured numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    p = settings(fast)
    radius, piece = 0.5, p["piece_um"]
    graph = cable(400.0, 2 * radius, 200, origin_um=(-200.0, 0.0, 0.0))
    solver = MembraneSolver(graph, dt_ms=0.01)
    solver.init(-70.0)
    dend = ms.Cylinder((0, 0, 0), radius, piece, axis=(1, 0, 0), name="dend")
    dom = ms.Domain(dend)
    dom.set_boundary("dend.bottom", "absorb")
    dom.set_boundary("dend.top", "absorb")
    sim = ms.Simulation(dom, dt=p["dt_particle_ms"], species=["Na+"], seed=p["seed"])
    cpl = SynapticCoupling(solver, sim)
    t_on = 0.1
    syn = cpl.add_synapse(Synapse(AMPA(), p["n_channels"], at=(0, 0, radius), normal=(0, 0, -1),
                                  point_um=(0.0, 0.0, 0.0), ligand=PulseLigand(3.0, t_on, 0.5)))
    D = sim.D("Na+")
    x_el = graph.xyz_um[:, 0]
    snaps = []
    t_prev = 0.0
    for tp in p["times_ms"]:
        cpl.run(round(t_on + tp - t_prev, 9))
        t_prev = t_on + tp
        pos = sim.positions("Na+")
        dV = solver.V - (-70.0)
        snaps.append(dict(t=tp, x=pos[:, 0].copy(), n=pos.shape[0], dV=dV.copy(),
                          x_rms=float(np.sqrt(np.mean(pos[:, 0] ** 2))) if pos.shape[0] else float("nan"),
                          v_half_um=_half_width(x_el[x_el >= 0], dV[x_el >= 0])))
    res = dict(D_um2_per_ms=D, na_in=int(syn.ions_in["Na+"]), times_ms=list(p["times_ms"]),
               ion_rms_um=[s["x_rms"] for s in snaps], voltage_half_width_um=[s["v_half_um"] for s in snaps],
               dV_at_synapse_mV=[float(s["dV"][np.argmin(np.abs(x_el))]) for s in snaps],
               dV_at_100um_mV=[float(s["dV"][np.argmin(np.abs(x_el - 100.0))]) for s in snaps], figures=[])
    res["ratio_voltage_to_ion_spread"] = [v / i for v, i in zip(res["voltage_half_width_um"], res["ion_rms_um"])]

    fig, axs = plt.subplots(1, 2, figsize=(14, 5.5))
    ax = axs[0]
    cmap = plt.get_cmap("plasma")
    bins = np.linspace(-piece / 2, piece / 2, 81)
    for i, s in enumerate(snaps):
        col = cmap(0.1 + 0.75 * i / max(1, len(snaps) - 1))
        h, _ = np.histogram(s["x"], bins=bins)
        xc = 0.5 * (bins[1:] + bins[:-1])
        if h.max() > 0:
            ax.plot(xc, h / h.max(), "-", color=col, lw=2, label=f"Na+ ions, t = {s['t']:g} ms")
        ax.plot(x_el, s["dV"] / s["dV"].max(), "--", color=col, lw=1.2, label=f"voltage, t = {s['t']:g} ms")
    ax.set(xlabel="position along the dendrite x [um]", ylabel="normalised Na+ excess  /  depolarisation",
           xlim=(-200, 200), title="Ions stay within microns; the depolarisation spans the dendrite")
    ax.legend(fontsize=7, ncol=2)
    ax = axs[1]
    ts = np.array(p["times_ms"])
    ax.plot(ts, res["ion_rms_um"], "o-", color="#e69500", label="Na+ rms distance along the dendrite")
    tt = np.linspace(0, ts.max(), 100)
    ax.plot(tt, np.sqrt(2 * D * tt), "k:", label="sqrt(2 D t): an ion that entered at t = 0")
    ax.plot(ts, res["voltage_half_width_um"], "s-", color="tab:blue", label="voltage half-width (dV > dV_peak/2)")
    ax.set(xlabel="time after the glutamate pulse [ms]", ylabel="distance [um]", yscale="log",
           title="Spread: diffusion (um) vs electrotonus (tens to hundreds of um)")
    ax.legend(fontsize=8)
    fig.suptitle(f"Demo 10: {res['na_in']:,} Na+ ions vs the voltage, AMPA synapse on a 1 um dendrite")
    res["figures"].append(save_figure(fig, out_dir, "10_ions_vs_voltage.png"))
    return res


if __name__ == "__main__":
    from microsyn.cli import demo_cli

    demo_cli(main, __doc__, __file__)
