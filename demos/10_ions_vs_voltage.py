"""Demo 10: ions diffuse micrometres in milliseconds; the voltage spreads electrically far faster.

Shows
-----
An AMPA synapse (Jonas et al. 1993 scheme, 8 channels, stochastic gating, 37 C) on a thin
dendrite (1 um diameter) lets Na+ in after a 3 mM, 0.5 ms glutamate pulse at t = 0.1 ms. Two
processes start at the pore at the same instant:

1. the Na+ ions themselves, tracked as particles inside a 40 um piece of the dendrite (a
   cylinder whose wall reflects and whose far ends absorb): they fill the 1 um cross-section
   within a fraction of a millisecond, then spread along the dendrite. Each ion's displacement
   along the axis is free 1D diffusion, so their rms distance is sqrt(2 D <age>) with
   D = 0.667 um^2/ms and <age> the mean time since the ions entered (they enter while the
   channels are open, so it is less than the time since the pulse: at 2 ms 1.24 um, not the
   sqrt(2 D t) = 1.63 um of an ion that entered at the pulse onset). Measured (full mode,
   seed 3): 0.54, 0.81, 1.24 and 2.02 um at 0.5, 1, 2 and 4 ms after the pulse onset, against
   sqrt(2 D <age>) = 0.54, 0.82, 1.25 and 2.03 um from the recorded entry times;
2. the voltage, from the electrical model of a 4 mm long piece of the same dendrite (cable
   theory; R_m 20 kohm cm^2, R_a 100 ohm cm: length constant lambda = 707 um, tau_m =
   20 ms; the ends are 2 mm = 2.8 lambda away, so the cable is effectively infinite).
   For t << tau_m the cable equation is a diffusion equation for the voltage with
   D_V = lambda^2 / tau_m = 25,000 um^2/ms (times the leak's decay exp(-t/tau_m)); the rms
   spread of the depolarisation is 105, 157, 240 and 392 um at the same times, against 105, 157,
   240 and 392 um from the infinite-cable Green's function driven by the recorded synaptic
   current.

The physically meaningful ratio of the two spreads is sqrt(D_V / D) = 194
(independent of time while t << tau_m, since both spread as sqrt(t) from the same source time
course); measured: 193-194 at every time (full mode, seed 3).

The figure shows the Na+ excess along the dendrite (left, micrometres), the depolarisation along
the dendrite (middle, millimetres; both normalised to their own peak, drawn only once some
channel has opened and some ion entered), and both rms spreads against time with their theories
(right). The voltage is not where the ions are: it comes from the membrane model.

Temperature: 37 C (AMPA rates Q10-scaled from 22 C, Nernst potentials at 37 C).
Run ``python demos/10_ions_vs_voltage.py --out DIR``.

References
----------
Rall W. (1967) J. Neurophysiol. 30:1138, doi:10.1152/jn.1967.30.5.1138 (cable theory of synaptic
   potentials).
Jack J.J.B., Noble D. & Tsien R.W. (1975) Electric Current Flow in Excitable Cells, Oxford
   (Green's function of the infinite cable).
Koch C. (1999) Biophysics of Computation, ch. 2 (cable) and ch. 11 (diffusion vs electrotonus).
Crank J. (1975) The Mathematics of Diffusion, 2nd ed. (rms displacement sqrt(2 D t) per axis).
Kushmerick M.J. & Podolsky R.J. (1969) Science 166:1297, doi:10.1126/science.166.3910.1297.
"""
from __future__ import annotations

import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import microsyn as ms  # noqa: E402
from microsyn.channels import AMPA  # noqa: E402
from microsyn.gating import PulseLigand  # noqa: E402
from microsyn.membrane import MembraneSolver, cable  # noqa: E402
from microsyn.membrane.graph import DEFAULT_CM_PF_PER_UM2, DEFAULT_G_LEAK_NS_PER_UM2, DEFAULT_RA_OHM_CM  # noqa: E402
from microsyn.plotting import save_figure  # noqa: E402
from microsyn.synapse import Synapse, SynapticCoupling  # noqa: E402
from microsyn.units import resistivity_ohm_cm_to_base  # noqa: E402

RADIUS_UM = 0.5
CABLE_UM = 4000.0
T_ON_MS = 0.1


def settings(fast):
    if fast:
        return dict(n_channels=4, dt_particle_ms=1e-3, times_ms=(0.5, 1.0, 2.0), seed=3, piece_um=20.0)
    return dict(n_channels=8, dt_particle_ms=5e-4, times_ms=(0.5, 1.0, 2.0, 4.0), seed=3, piece_um=40.0)


def cable_constants(diameter_um: float = 2 * RADIUS_UM):
    """(lambda [um], tau_m [ms]) of the default passive membrane: lambda = sqrt(d / (4 rho g_m)),
    tau_m = c_m / g_m."""
    rho = resistivity_ohm_cm_to_base(DEFAULT_RA_OHM_CM)
    return (math.sqrt(diameter_um / (4.0 * rho * DEFAULT_G_LEAK_NS_PER_UM2)),
            DEFAULT_CM_PF_PER_UM2 / DEFAULT_G_LEAK_NS_PER_UM2)


def _rms(x, w=None):
    if w is None:
        return float(np.sqrt(np.mean(x ** 2))) if x.size else float("nan")
    return float(np.sqrt(np.sum(w * x ** 2) / np.sum(w)))


def main(out_dir, fast: bool = False) -> dict:
    """Run the demo, write figures into ``out_dir``; return the measured numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    p = settings(fast)
    piece = p["piece_um"]
    lam, tau = cable_constants()
    graph = cable(CABLE_UM, 2 * RADIUS_UM, 1000, origin_um=(-CABLE_UM / 2, 0.0, 0.0))
    solver = MembraneSolver(graph, dt_ms=0.01)
    solver.init(-70.0)
    dend = ms.Cylinder((0, 0, 0), RADIUS_UM, piece, axis=(1, 0, 0), name="dend")
    dom = ms.Domain(dend)
    dom.set_boundary("dend.bottom", "absorb")
    dom.set_boundary("dend.top", "absorb")
    sim = ms.Simulation(dom, dt=p["dt_particle_ms"], species=["Na+"], seed=p["seed"])
    cpl = SynapticCoupling(solver, sim)
    syn = cpl.add_synapse(Synapse(AMPA(), p["n_channels"], at=(0, 0, RADIUS_UM), normal=(0, 0, -1),
                                  point_um=(0.0, 0.0, 0.0), ligand=PulseLigand(3.0, T_ON_MS, 0.5)))
    D = sim.D("Na+")
    D_V = lam ** 2 / tau
    x_el = graph.xyz_um[:, 0]
    snaps = []
    t_prev = 0.0
    for tp in p["times_ms"]:
        cpl.run(round(T_ON_MS + tp - t_prev, 9))
        t_prev = T_ON_MS + tp
        t_now = cpl.t_ms
        pos = sim.positions("Na+")
        dV = solver.V - (-70.0)
        tr = syn.trace()
        # sources over the steps so far (step k covers [t_k - dt, t_k]; its midpoint is its time)
        t_mid = tr["time_ms"] - 0.5 * cpl.dt_ms
        na_rate = np.array([-syn.channel.ion_flux_per_ms(v)["Na+"] for v in tr["V_mV"]]) * tr["mean_open"]
        age = t_now - t_mid
        I_in = -tr["I_pA"]  # current into the cell [pA]
        w_v = I_in * np.exp(-age / tau)
        opened = bool(tr["n_open"].max() > 0 and pos.shape[0] > 0 and dV.max() > 0)
        snaps.append(dict(
            t=tp, x=pos[:, 0].copy(), n=int(pos.shape[0]), dV=dV.copy(), opened=opened,
            ion_rms=_rms(pos[:, 0]) if opened else float("nan"),
            ion_rms_theory=math.sqrt(2 * D * np.sum(na_rate * age) / np.sum(na_rate)) if opened else float("nan"),
            v_rms=_rms(x_el, np.clip(dV, 0.0, None)) if opened else float("nan"),
            v_rms_theory=math.sqrt(2 * D_V * np.sum(w_v * age) / np.sum(w_v)) if opened else float("nan")))
    ion_rms = [s["ion_rms"] for s in snaps]
    v_rms = [s["v_rms"] for s in snaps]
    res = dict(
        D_um2_per_ms=D, length_constant_um=lam, tau_m_ms=tau, D_voltage_um2_per_ms=D_V,
        na_in=int(syn.ions_in["Na+"]), times_ms=list(p["times_ms"]), channels_opened=[s["opened"] for s in snaps],
        ion_rms_um=ion_rms, ion_rms_theory_um=[s["ion_rms_theory"] for s in snaps],
        voltage_rms_um=v_rms, voltage_rms_theory_um=[s["v_rms_theory"] for s in snaps],
        ratio_voltage_to_ion_spread=[v / i for v, i in zip(v_rms, ion_rms)],
        ratio_theory_sqrt_DV_over_D=math.sqrt(D_V / D),
        dV_at_synapse_mV=[float(s["dV"][np.argmin(np.abs(x_el))]) for s in snaps],
        dV_at_100um_mV=[float(s["dV"][np.argmin(np.abs(x_el - 100.0))]) for s in snaps],
        temperature_C=AMPA().temperature_C, figures=[])

    fig, axs = plt.subplots(1, 3, figsize=(19, 5.8))
    cmap = plt.get_cmap("plasma")
    cols = [cmap(0.1 + 0.75 * i / max(1, len(snaps) - 1)) for i in range(len(snaps))]
    bins = np.linspace(-8.0, 8.0, 65)
    xc = 0.5 * (bins[1:] + bins[:-1])
    for s, col in zip(snaps, cols):
        if not s["opened"]:
            axs[0].plot([], [], color=col, label=f"t = {s['t']:g} ms: no channel open yet")
            continue
        h, _ = np.histogram(s["x"], bins=bins)
        axs[0].plot(xc, h / h.max(), "-", color=col, lw=2,
                    label=f"t = {s['t']:g} ms: {s['n']:,} ions, rms {s['ion_rms']:.2f} um")
        axs[1].plot(x_el, s["dV"] / s["dV"].max(), "-", color=col, lw=1.8,
                    label=f"t = {s['t']:g} ms: dV(0) = {s['dV'][np.argmin(np.abs(x_el))]:.3f} mV, "
                          f"rms {s['v_rms']:.0f} um")
    axs[0].set(xlabel="position along the dendrite x [um]", ylabel="Na+ excess / its peak", xlim=(-8, 8),
               title="Na+ ions: micrometres (particles, 1 um dendrite)")
    axs[0].legend(fontsize=8)
    axs[1].axvspan(-3 * np.nanmax(ion_rms), 3 * np.nanmax(ion_rms), color="#e69500", alpha=0.6,
                   label="where the Na+ ions are (3 rms)")
    axs[1].set(xlabel="position along the dendrite x [um]", ylabel="depolarisation / its peak",
               xlim=(-1500, 1500), ylim=(0, 1.05),
               title=f"Voltage: hundreds of micrometres (cable, lambda = 707 um)")
    axs[1].legend(fontsize=8, loc="upper right")
    ax = axs[2]
    ts = np.array(p["times_ms"])
    ax.plot(ts, v_rms, "s", color="tab:blue", ms=8, label="voltage rms spread (model)")
    ax.plot(ts, res["voltage_rms_theory_um"], "_", color="tab:blue", ms=22, mew=2,
            label="infinite-cable theory, same current")
    ax.plot(ts, ion_rms, "o", color="#e69500", ms=8, label="Na+ rms distance (particles)")
    ax.plot(ts, res["ion_rms_theory_um"], "_", color="#e69500", ms=22, mew=2,
            label="sqrt(2 D <age>), same entry times")
    tt = np.linspace(0.05, ts.max(), 100)
    ax.plot(tt, np.sqrt(2 * D_V * tt), ":", color="tab:blue", lw=1, label="sqrt(2 D_V t), D_V = lambda^2/tau_m")
    ax.plot(tt, np.sqrt(2 * D * tt), ":", color="#e69500", lw=1, label="sqrt(2 D t)")
    ratios = [r for r in res["ratio_voltage_to_ion_spread"] if np.isfinite(r)]
    ax.set(xlabel="time after the glutamate pulse onset [ms]", ylabel="rms spread along the dendrite [um]",
           yscale="log", ylim=(0.1, 3000),
           title=f"Spread ratio voltage / ions: {min(ratios):.0f}-{max(ratios):.0f} "
                 f"(theory sqrt(D_V/D) = {res['ratio_theory_sqrt_DV_over_D']:.0f})")
    ax.legend(fontsize=7.5, loc="center right")
    fig.suptitle(f"Demo 10: {res['na_in']:,} Na+ ions vs the voltage, AMPA synapse on a 1 um dendrite (37 C)")
    res["figures"].append(save_figure(fig, out_dir, "10_ions_vs_voltage.png"))
    return res


if __name__ == "__main__":
    from microsyn.cli import demo_cli

    demo_cli(main, __doc__, __file__)
