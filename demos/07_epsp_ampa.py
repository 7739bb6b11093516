"""Demo 07: an EPSP from one AMPA synapse on a dendrite, with the Na+ hemisphere at the pore.

Shows
-----
1. A 1 mM, 1 ms glutamate pulse opens the AMPA receptors of one synapse (Jonas, Major & Sakmann
   1993 seven-state scheme, 10 pS each, stochastic gating with exact event times). Their open
   count, the synaptic current and the single-channel current (-0.70 pA at -70 mV) are plotted.
2. Each open channel lets Na+ in (and K+ out) at the local membrane voltage: the Na+ ions are
   emitted as particles at the pore mouth (Poisson numbers per 0.1-0.5 us step) and spread into the
   cytoplasm as a *hemisphere* of concentration. Its radial profile in hemispherical shells is
   compared with the quasi-steady point-source solution c(r) = Q/(2 pi D r) (1 - r/b) for the
   instantaneous flux Q, with an absorbing far boundary at b (the rest of the dendrite).
3. The same ions are the current of the electrical model: the EPSP at the synapse and at 50, 100
   and 200 um along the dendrite (a 1 um cable, R_m 20 kohm cm^2, R_a 100 ohm cm), decaying in
   amplitude and delayed with distance (cable theory).

The particle domain is a local flat patch of membrane (the hemisphere of radius b around the pore);
the electrical model is the whole dendrite. Ions move micrometres while the voltage spreads over
hundreds (see demo 10). Run ``python demos/07_epsp_ampa.py --out DIR`` (``--fast`` for a preview).

References
----------
Jonas P., Major G. & Sakmann B. (1993) J. Physiol. 472:615, doi:10.1113/jphysiol.1993.sp019873.
Rall W. (1967) J. Neurophysiol. 30:1138, doi:10.1152/jn.1967.30.5.1138 (EPSPs along dendrites).
Crank J. (1975) The Mathematics of Diffusion, 2nd ed., Oxford (steady point source).
Hille B. (2001) Ion Channels of Excitable Membranes, 3rd ed. (single-channel currents).
"""
from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import microsyn as ms  # noqa: E402
from microsyn.channels import AMPA  # noqa: E402
from microsyn.gating import PulseLigand  # noqa: E402
from microsyn.membrane import MembraneSolver, cable  # noqa: E402
from microsyn.plotting import save_figure  # noqa: E402
from microsyn.synapse import Synapse, SynapticCoupling  # noqa: E402

DISTANCES_UM = (0.0, 50.0, 100.0, 200.0)


def settings(fast: bool) -> dict:
    if fast:
        return dict(n_channels=5, b_um=1.0, dt_particle_ms=5e-4, dt_el_ms=0.01, t_end_ms=8.0, seed=7,
                    profile_times_ms=(1.0, 2.0, 3.0), n_bins=10)
    return dict(n_channels=10, b_um=1.5, dt_particle_ms=1e-3, dt_el_ms=0.01, t_end_ms=15.0, seed=7,
                profile_times_ms=(0.8, 1.5, 3.0, 5.0), n_bins=20)


def main(out_dir, fast: bool = False) -> dict:
    """Run the demo, write figures into ``out_dir``; return the measured numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    p = settings(fast)
    t_start = time.time()
    # electrical model: a 400 um dendrite, 1 um thick, 2 um compartments; synapse at its end
    graph = cable(400.0, 1.0, 200)
    solver = MembraneSolver(graph, dt_ms=p["dt_el_ms"])
    solver.init(-70.0)
    # particle model: the cytoplasm above a flat membrane patch around the pore
    b = p["b_um"]
    dom = ms.Domain(ms.Sphere((0, 0, 0), b, name="far"), holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    dom.set_boundary("far", "absorb")
    sim = ms.Simulation(dom, dt=p["dt_particle_ms"], species=["Na+"], seed=p["seed"])
    cpl = SynapticCoupling(solver, sim)
    syn = cpl.add_synapse(Synapse(AMPA(), p["n_channels"], at=(0, 0, 0), node=0, membrane="membrane",
                                  ligand=PulseLigand(1.0, 0.5, 1.0)))
    probes = {d: cpl.add_voltage_probe(synapse=syn, distance_um=d) for d in DISTANCES_UM}
    node_dist = {d: float(graph.path_distance_um(0)[probes[d].node]) for d in DISTANCES_UM}
    edges = np.linspace(0.0, b, p["n_bins"] + 1)
    profiles = {}
    snap = None
    t_prev = 0.0
    for tp in p["profile_times_ms"]:
        cpl.run(round(tp - t_prev, 9))
        t_prev = tp
        counts, conc = syn.shell_counts(sim, "Na+", edges)
        # Na+ flux [1/ms] averaged over the last 0.4 ms (~ the relaxation time R^2/D of the inner shells)
        trn = syn.trace()
        recent = trn["time_ms"] > tp - 0.4
        per_open = np.array([-syn.channel.ion_flux_per_ms(v)["Na+"] for v in trn["V_mV"][recent]])
        Q = float(np.mean(per_open * trn["mean_open"][recent]))
        profiles[tp] = dict(counts=counts, conc=conc, Q=Q)
        if snap is None or tp == p["profile_times_ms"][1]:
            snap = (tp, sim.positions("Na+"))
    cpl.run(round(p["t_end_ms"] - t_prev, 9))
    tr = syn.trace()
    D = sim.D("Na+")
    wall = time.time() - t_start

    # ---------------------------------------------------------------- numbers
    peaks = {d: float(probes[d].V_mV.max() + 70.0) for d in DISTANCES_UM}
    t_peak = {d: float(probes[d].time_ms[np.argmax(probes[d].V_mV)]) for d in DISTANCES_UM}
    r_mid = 0.5 * (edges[1:] + edges[:-1])
    # quasi-steady point-source check on the profile with the largest recent flux
    best = max(profiles, key=lambda t: profiles[t]["Q"])
    prof = profiles[best]
    theory = prof["Q"] / (2 * math.pi * D * r_mid) * (1 - r_mid / b) / ms.units.PARTICLES_PER_UM3_PER_MM
    use = (r_mid > 0.2 * b) & (r_mid < 0.7 * b) & (prof["counts"] > 20)
    ratio = float(np.median(prof["conc"][use] / theory[use])) if use.any() else float("nan")
    res = dict(
        epsp_peak_mV=peaks, epsp_peak_time_ms=t_peak, probe_distance_um=node_dist,
        peak_open_channels=int(tr["n_open"].max()), n_channels=p["n_channels"],
        single_channel_current_at_rest_pA=float(syn.channel.open_current_pA(-70.0)),
        peak_current_pA=float(tr["I_pA"].min()),
        na_in=int(syn.ions_in["Na+"]), k_out=int(syn.ions_out["K+"]), charge_in_e=int(syn.charge_in_e),
        injected_charge_e=float(cpl.charge_injected_e),
        na_conc_near_pore_mM=float(prof["conc"][0]), profile_time_ms=float(best),
        profile_vs_quasi_steady_ratio=ratio, wall_s=wall, figures=[],
    )

    # ---------------------------------------------------------------- figures
    fig, axs = plt.subplots(2, 2, figsize=(13, 9))
    ax = axs[0, 0]
    ax.step(tr["time_ms"], tr["n_open"], where="post", color="k", label="open channels")
    ax.set(xlabel="time [ms]", ylabel="open AMPA channels", title=f"{p['n_channels']} AMPA receptors, "
           "1 mM glutamate for 1 ms (stochastic, exact event times)")
    ax2 = ax.twinx()
    ax2.plot(tr["time_ms"], tr["I_pA"], color="tab:red", lw=0.8, alpha=0.8)
    ax2.set_ylabel("synaptic current [pA] (red)", color="tab:red")
    ax = axs[0, 1]
    for d in DISTANCES_UM:
        ax.plot(probes[d].time_ms, probes[d].V_mV, label=f"{node_dist[d]:.0f} um: peak +{peaks[d]:.3f} mV")
    ax.set(xlabel="time [ms]", ylabel="V [mV]", title="The EPSP decays and is delayed with distance")
    ax.legend()
    ax = axs[1, 0]
    cmap = plt.get_cmap("viridis")
    for i, (tp, pr) in enumerate(profiles.items()):
        col = cmap(i / max(1, len(profiles) - 1))
        ok = pr["counts"] > 0
        ax.errorbar(r_mid[ok], pr["conc"][ok] * 1e3, yerr=np.sqrt(pr["counts"][ok]) / pr["counts"][ok].clip(1)
                    * pr["conc"][ok] * 1e3, fmt="o", ms=4, color=col, label=f"t = {tp:g} ms (Q = {pr['Q']:.0f}/ms)")
        rr = np.linspace(0.02 * b, b, 200)
        ax.plot(rr, pr["Q"] / (2 * math.pi * D * rr) * (1 - rr / b) / ms.units.PARTICLES_PER_UM3_PER_MM * 1e3,
                "-", color=col, lw=1)
    ax.set(xlabel="distance from the pore r [um]", ylabel="added [Na+] [uM]", yscale="log",
           title="Na+ hemisphere: shells (points) vs quasi-steady Q/(2 pi D r)(1 - r/b)\n"
                 "(lines; Q = mean Na+ flux over the last 0.4 ms)")
    ax.legend(fontsize=8)
    ax = axs[1, 1]
    tp, pos = snap
    sel = np.abs(pos[:, 1]) < 0.1 * b
    ax.scatter(pos[sel, 0], pos[sel, 2], s=2, color="#e69500")
    ax.axhline(0, color="#3d5f8a", lw=3)
    ax.plot([0], [0], "v", color="red", ms=10)
    th = np.linspace(0, math.pi, 100)
    ax.plot(b * np.cos(th), b * np.sin(th), "k:", lw=1)
    ax.set(xlabel="x [um]", ylabel="z (into the cytoplasm) [um]", aspect="equal",
           title=f"Na+ ions within 0.1 b of the y = 0 plane, t = {tp:g} ms")
    fig.suptitle(f"Demo 07: EPSP from one AMPA synapse; {res['na_in']:,} Na+ in, {res['k_out']:,} K+ out")
    res["figures"].append(save_figure(fig, out_dir, "07_epsp_ampa.png"))
    return res


if __name__ == "__main__":
    from microsyn.cli import demo_cli

    demo_cli(main, __doc__, __file__)
