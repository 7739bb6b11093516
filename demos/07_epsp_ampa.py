"""Demo 07: an EPSP from one AMPA synapse on a dendrite, with the Na+ hemisphere at the pore.

Shows
-----
Numbers from the full mode (``python demos/07_epsp_ampa.py``, seed 7); temperature 37 C (AMPA
rates Q10-scaled from 22 C, Nernst potentials at 37 C).

1. A 1 mM, 1 ms glutamate pulse (from t = 0.5 ms) opens the 10 AMPA receptors of one synapse
   (Jonas, Major & Sakmann 1993 seven-state scheme, 10 pS each, stochastic gating with exact
   event times): at most 7 are open at once, the last closes at 3.59 ms, and the synaptic current
   peaks at -5.3 pA (top left).
2. The single-channel current (top middle): -0.70 pA at -70 mV, the sum of an inward Na+ part
   (-0.78 pA) and an outward K+ part (+0.08 pA), both at the local membrane voltage; the EPSP's
   peak (+0.82 mV) reduces the driving force and the current by 1.2 %.
3. Each open channel lets Na+ in (and K+ out): 46,158 Na+ ions are emitted as particles at the pore
   mouth (Poisson numbers per particle step of 1 us; 0.5 us in the fast mode) and spread into the
   cytoplasm as a *hemisphere* of concentration (bottom right, at 2 ms). Its radial profile in
   hemispherical shells (bottom middle, at 1.2, 2 and 3 ms) is compared with the quasi-steady
   point-source solution c(r) = Q/(2 pi D r) (1 - r/b) for the flux Q of the last 0.4 ms, with an
   absorbing far boundary at b = 1.5 um (the rest of the dendrite); median ratio 0.84 at 1.2 ms.
4. The same ions are the current of the electrical model: the EPSP at the synapse and at 50, 100
   and 200 um along the dendrite (a 400 um x 1 um cable, R_m 20 kohm cm^2, R_a 100 ohm cm,
   tau_m 20 ms), over 80 ms (4 tau_m; top right). Its peak attenuates with distance (+0.82,
   +0.65, +0.57, +0.47 mV), and after the channels have closed it decays with a fitted time
   constant of 20.0 ms = tau_m, to 1.3 % of its peak at 80 ms. Bottom left: the EPSPs normalised
   to their peaks over the first 10 ms: the time to half the peak grows with distance (0.77,
   0.98, 1.17, 1.70 ms), the cable's delay. The peak times (1.53, 2.61, 3.11, 3.84 ms) are less
   telling: at the synapse the EPSP is a noisy plateau while channels are open (the ions' shot
   noise), and farther away it peaks after the last channel has closed.

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
T_ON_MS = 0.5


def settings(fast: bool) -> dict:
    if fast:
        return dict(n_channels=5, b_um=1.0, dt_particle_ms=5e-4, dt_el_ms=0.01, t_end_ms=20.0, seed=7,
                    profile_times_ms=(1.0, 1.5, 2.5), n_bins=10)
    return dict(n_channels=10, b_um=1.5, dt_particle_ms=1e-3, dt_el_ms=0.01, t_end_ms=80.0, seed=7,
                profile_times_ms=(1.2, 2.0, 3.0), n_bins=20)


def _half_rise_time(t, v, v0):
    """First time [ms] at which v - v0 reaches half its maximum (linear interpolation)."""
    dv = v - v0
    half = 0.5 * dv.max()
    k = int(np.flatnonzero(dv >= half)[0])
    if k == 0:
        return float(t[0])
    return float(t[k - 1] + (half - dv[k - 1]) / (dv[k] - dv[k - 1]) * (t[k] - t[k - 1]))


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
                                  ligand=PulseLigand(1.0, T_ON_MS, 1.0)))
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
    rest = -70.0
    peaks = {d: float(probes[d].V_mV.max() - rest) for d in DISTANCES_UM}
    t_peak = {d: float(probes[d].time_ms[np.argmax(probes[d].V_mV)]) for d in DISTANCES_UM}
    t_half = {d: _half_rise_time(probes[d].time_ms, probes[d].V_mV, rest) for d in DISTANCES_UM}
    opened = np.flatnonzero(tr["n_open"] > 0)
    t_last_open = float(tr["time_ms"][opened[-1]]) if opened.size else float("nan")
    # decay of the EPSP after the last channel closed: log-linear fit of dV(t) at the synapse over
    # the second half of the window; a sealed passive cable relaxes with tau_m = c_m / g_leak
    p0 = probes[0.0]
    tail = p0.time_ms > 0.5 * p["t_end_ms"]
    slope = np.polyfit(p0.time_ms[tail], np.log(p0.V_mV[tail] - rest), 1)[0]
    tau_m = float(graph.capacitance_pF[0] / graph.g_leak_nS[0])
    unit = tr["I_per_open_channel_pA"]
    V_syn = tr["V_mV"]
    split = [syn.channel.ion_currents_pA(v) for v in V_syn]
    r_mid = 0.5 * (edges[1:] + edges[:-1])
    # quasi-steady point-source check on the profile with the largest recent flux
    best = max(profiles, key=lambda t: profiles[t]["Q"])
    prof = profiles[best]
    theory = prof["Q"] / (2 * math.pi * D * r_mid) * (1 - r_mid / b) / ms.units.PARTICLES_PER_UM3_PER_MM
    use = (r_mid > 0.2 * b) & (r_mid < 0.7 * b) & (prof["counts"] > 20)
    ratio = float(np.median(prof["conc"][use] / theory[use])) if use.any() else float("nan")
    res = dict(
        epsp_peak_mV=peaks, epsp_peak_time_ms=t_peak, epsp_half_rise_time_ms=t_half,
        probe_distance_um=node_dist, last_open_channel_ms=t_last_open,
        epsp_decay_tau_ms=float(-1.0 / slope), tau_m_ms=tau_m,
        epsp_at_end_fraction_of_peak=float((p0.V_mV[-1] - rest) / peaks[0.0]),
        peak_open_channels=int(tr["n_open"].max()), n_channels=p["n_channels"],
        single_channel_current_at_rest_pA=float(syn.channel.open_current_pA(-70.0)),
        single_channel_current_at_peak_epsp_pA=float(syn.channel.open_current_pA(rest + peaks[0.0])),
        peak_current_pA=float(tr["I_pA"].min()),
        na_in=int(syn.ions_in["Na+"]), k_out=int(syn.ions_out["K+"]), charge_in_e=int(syn.charge_in_e),
        injected_charge_e=float(cpl.charge_injected_e),
        na_conc_near_pore_mM=float(prof["conc"][0]), profile_time_ms=float(best),
        profile_vs_quasi_steady_ratio=ratio, dt_particle_us=p["dt_particle_ms"] * 1e3,
        temperature_C=syn.channel.temperature_C, wall_s=wall, figures=[],
    )

    # ---------------------------------------------------------------- figures
    fig, axs = plt.subplots(2, 3, figsize=(19, 10))
    t_zoom = (0.0, 10.0)
    ax = axs[0, 0]
    ax.step(tr["time_ms"], tr["n_open"], where="post", color="k", label="open channels")
    ax.axvspan(T_ON_MS, T_ON_MS + 1.0, color="0.9", label="glutamate 1 mM")
    ax.set(xlabel="time [ms]", ylabel="open AMPA channels (black)", xlim=t_zoom,
           title=f"{p['n_channels']} AMPA receptors, 1 mM glutamate for 1 ms\n(stochastic, exact event times)")
    ax.legend(loc="upper right", fontsize=8)
    ax2 = ax.twinx()
    ax2.plot(tr["time_ms"], tr["I_pA"], color="tab:red", lw=0.8, alpha=0.8)
    ax2.set_ylabel("synaptic current [pA] (red)", color="tab:red")
    ax = axs[0, 1]
    ax.plot(tr["time_ms"], unit, color="k", lw=2, label="net, one open channel")
    ax.plot(tr["time_ms"], [c["Na+"] for c in split], color="#e69500", label="Na+ part (inward)")
    ax.plot(tr["time_ms"], [c["K+"] for c in split], color="tab:purple", label="K+ part (outward)")
    ax.axhline(res["single_channel_current_at_rest_pA"], color="0.5", ls=":",
               label=f"{res['single_channel_current_at_rest_pA']:.2f} pA at -70 mV")
    change = 100.0 * (1.0 - res["single_channel_current_at_peak_epsp_pA"] / res["single_channel_current_at_rest_pA"])
    ax.set(xlabel="time [ms]", ylabel="single-channel current [pA] (outward +)", xlim=t_zoom,
           title=f"Single-channel current at the local V: Na+ in, K+ out;\nthe EPSP's peak lowers it by "
                 f"{change:.1f} % (driving force V - 0 mV)")
    ax.legend(fontsize=8)
    ax = axs[0, 2]
    for d in DISTANCES_UM:
        ax.plot(probes[d].time_ms, probes[d].V_mV, label=f"{node_dist[d]:.0f} um: peak +{peaks[d]:.3f} mV")
    tt = p0.time_ms[tail]
    ax.plot(tt, rest + np.exp(np.polyval(np.polyfit(tt, np.log(p0.V_mV[tail] - rest), 1), tt)), "k--", lw=1,
            label=f"exponential fit: tau = {res['epsp_decay_tau_ms']:.1f} ms (tau_m = {tau_m:.0f} ms)")
    ax.set(xlabel="time [ms]", ylabel="V [mV]", title="The EPSP decays with the membrane time constant")
    ax.legend(fontsize=8)
    ax = axs[1, 0]
    for d in DISTANCES_UM:
        v = probes[d].V_mV - rest
        line, = ax.plot(probes[d].time_ms, v / v.max(),
                        label=f"{node_dist[d]:.0f} um: half-rise {t_half[d]:.2f} ms, peak {t_peak[d]:.2f} ms")
        ax.plot([t_half[d]], [0.5], "o", color=line.get_color())
    ax.axvline(t_last_open, color="0.5", ls=":", label=f"last channel closes ({t_last_open:.2f} ms)")
    ax.set(xlabel="time [ms]", ylabel="dV / its peak", xlim=t_zoom,
           title="Attenuation and delay with distance (cable):\nlater half-rise farther away")
    ax.legend(fontsize=8)
    ax = axs[1, 1]
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
    ax = axs[1, 2]
    tp, pos = snap
    sel = np.abs(pos[:, 1]) < 0.1 * b
    ax.scatter(pos[sel, 0], pos[sel, 2], s=2, color="#e69500")
    ax.axhline(0, color="#3d5f8a", lw=3)
    ax.plot([0], [0], "v", color="red", ms=10)
    th = np.linspace(0, math.pi, 100)
    ax.plot(b * np.cos(th), b * np.sin(th), "k:", lw=1)
    ax.set(xlabel="x [um]", ylabel="z (into the cytoplasm) [um]", aspect="equal",
           title=f"Na+ ions within 0.1 b of the y = 0 plane, t = {tp:g} ms")
    fig.suptitle(f"Demo 07: EPSP from one AMPA synapse (37 C); {res['na_in']:,} Na+ in, {res['k_out']:,} K+ out")
    res["figures"].append(save_figure(fig, out_dir, "07_epsp_ampa.png"))
    return res


if __name__ == "__main__":
    from microsyn.cli import demo_cli

    demo_cli(main, __doc__, __file__)
