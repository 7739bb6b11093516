"""Demo 12: Ca2+ sensors of vesicle fusion: step responses, the power law, and sensors that meet real ions.

Shows, for the five-site sensor of Schneggenburger & Neher (2000; k_on 9e7 /M/s, k_off 9500 /s,
cooperativity b = 0.25, fusion 6000 /s from the fully bound state) and the allosteric sensor of
Lou, Scheuss & Schneggenburger (2005; k_on 1e8 /M/s, k_off 4000 /s, b = 0.5, fusion l+ f^i from
state i with l+ = 2e-4 /s, f = 31.3):

1. The release rate per vesicle (of the vesicles there were at the step) after a step of
   intracellular [Ca2+] to 10, 20 and 50 uM (the master equation), with the fusion times of
   4000 simulated vesicles at 20 uM drawn on it as a histogram (the exact stochastic ensemble
   of the five-site scheme).
2. The peak release rate (within 10 ms) against the step's [Ca2+] on log-log axes, from 0.02
   to 100 uM: at
   low [Ca2+] the five-site sensor's slope tends to its 5 sites; at a few uM it is near the
   fourth-power law (Dodge & Rahamimoff 1967 measured 3.8 +- 0.2 against extracellular Ca2+);
   the allosteric sensor flattens towards its basal rate l+ at rest, as Lou et al. showed.
3. The same five-site sensors as fixed sites in a particle simulation: 200 sensors in a 1 um box
   of 20 uM Ca2+ ions (D = 0.22 um^2/ms) that bind them by real encounters; the fused count
   against the master equation driven by the free [Ca2+] the run had.

Temperature: the rates as published (room temperature, 22-24 C); no Q10 is applied.

References
----------
Schneggenburger R. & Neher E. (2000) Nature 406:889-893, doi:10.1038/35022702.
Lou X., Scheuss V. & Schneggenburger R. (2005) Nature 435:497-501, doi:10.1038/nature03568.
Dodge F.A. & Rahamimoff R. (1967) J. Physiol. 193:419-432, doi:10.1113/jphysiol.1967.sp008367.
"""
from __future__ import annotations

import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import microsyn as ms  # noqa: E402
from microsyn.plotting import save_figure  # noqa: E402
from microsyn.presynaptic import SensorSites, ca_step, lou_2005, schneggenburger_neher_2000  # noqa: E402
from microsyn.units import PARTICLES_PER_UM3_PER_MM  # noqa: E402


def _peak(scheme, ca_uM, t_end=10.0):
    t, _, rate, _ = scheme.occupancy(ca_step(ca_uM, 0.0, 0.0), t_end, dt_ms=2e-3, p0=np.eye(scheme.n_sites + 1)[0])
    i = int(np.argmax(rate))
    return float(rate[i]), float(t[i])


def _particle_sensors(n_sensors, t_end, seed=3):
    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=5e-4, species=["Ca2+"], seed=seed)
    n_ca = int(round(20e-3 * PARTICLES_PER_UM3_PER_MM))
    rng = np.random.default_rng(seed)
    sim.add_particles("Ca2+", rng.uniform(0, 1, (n_ca, 3)))
    scheme = schneggenburger_neher_2000()
    sensors = SensorSites(sim, scheme, rng.uniform(0.05, 0.95, (n_sensors, 3)))
    ts, free, fused = [0.0], [n_ca], [0]
    while sim.time < t_end - 1e-9:
        sim.run(0.1)
        ts.append(sim.time)
        free.append(sim.count("Ca2+"))
        fused.append(sensors.fused())
    cc = np.array(free) / PARTICLES_PER_UM3_PER_MM * 1e3
    t, _, _, f = scheme.occupancy(lambda tt: float(np.interp(tt, ts, cc)), t_end, dt_ms=1e-3, p0=np.eye(6)[0])
    return np.array(ts), np.array(fused), t, f * n_sensors, np.array(free) / n_ca


def main(out_dir, fast: bool = False) -> dict:
    """Make the figure in ``out_dir`` and return the measured numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    sn, lou = schneggenburger_neher_2000(), lou_2005()
    fig, ax = plt.subplots(1, 3, figsize=(16, 5))

    # 1. step responses
    colours = {10.0: "tab:blue", 20.0: "tab:orange", 50.0: "tab:red"}
    peaks = {}
    for ca, col in colours.items():
        for scheme, ls in ((sn, "-"), (lou, "--")):
            t, _, rate, _ = scheme.occupancy(ca_step(ca, 0.0, 0.0), 5.0, dt_ms=2e-3, p0=np.eye(6)[0])
            ax[0].plot(t, rate * 1e3, ls, color=col, label=f"{ca:g} uM, {scheme.name.split(',')[0].split(' &')[0]}")
            peaks[(scheme.name, ca)] = _peak(scheme, ca)
    n_ves = 1000 if fast else 4000
    times = sn.fusion_times(ca_step(20.0, 0.0, 0.0), 5.0, n_ves, seed=7, dt_ms=2e-3, ca_rest_uM=0.0)
    hist, edges = np.histogram(times[np.isfinite(times)], bins=40, range=(0.0, 5.0))
    ax[0].stairs(hist / (n_ves * np.diff(edges)) * 1e3, edges, color="tab:orange", alpha=0.5,
                 label=f"20 uM, {n_ves} simulated vesicles")
    ax[0].set(xlabel="time after the Ca$^{2+}$ step [ms]", ylabel="release rate per vesicle [1/s]",
              title="Step responses (solid: Schneggenburger & Neher 2000;\ndashed: Lou et al. 2005)")
    ax[0].legend(fontsize=7)

    # 2. the power law
    cas = np.geomspace(0.02, 100.0, 12 if fast else 30)
    pk_sn = np.array([_peak(sn, c)[0] for c in cas])
    pk_lou = np.array([lou.steady_release_rate(c) if c < 0.3 else _peak(lou, c)[0] for c in cas])
    ax[1].loglog(cas, pk_sn * 1e3, "o-", label="Schneggenburger & Neher 2000 (peak)")
    ax[1].loglog(cas, pk_lou * 1e3, "s--", label="Lou et al. 2005 (peak; steady below 0.3 uM)")
    ref = pk_sn[np.argmin(abs(cas - 2.0))] * 1e3
    for n, ls in ((4, ":"), (5, "-.")):
        ax[1].loglog(cas, ref * (cas / 2.0) ** n, ls, color="grey", label=f"slope {n}")
    ax[1].axhline(2e-4, color="tab:green", lw=0.8)
    ax[1].text(3.0, 5e-5, "basal rate l+ = 2e-4 /s", color="tab:green", fontsize=8)
    slope_low = math.log(_peak(sn, 0.04)[0] / _peak(sn, 0.02)[0]) / math.log(2.0)
    slope_mid = math.log(_peak(sn, 3.0)[0] / _peak(sn, 1.0)[0]) / math.log(3.0)
    ax[1].set(xlabel="[Ca$^{2+}$] of the step [uM]", ylabel="peak release rate per vesicle [1/s]",
              ylim=(1e-6, 1e4), title=f"Power law (five-site sensor): log-log slope\n{slope_low:.2f} at 0.02-0.04 uM, "
                                      f"{slope_mid:.2f} at 1-3 uM")
    ax[1].legend(fontsize=7)

    # 3. sensors as sites in a particle simulation
    n_sensors, t_end = (60, 1.5) if fast else (200, 3.0)
    ts, fused, t_ode, f_ode, free_frac = _particle_sensors(n_sensors, t_end)
    ax[2].plot(t_ode, f_ode, "k-", label="master equation at the run's free [Ca$^{2+}$]")
    ax[2].step(ts, fused, where="post", color="tab:orange", label=f"{n_sensors} sensor sites, Ca$^{{2+}}$ particles")
    sd = np.sqrt(np.clip(f_ode * (1 - f_ode / n_sensors), 0, None))
    ax[2].fill_between(t_ode, f_ode - 2 * sd, f_ode + 2 * sd, color="grey", alpha=0.3, label="+- 2 binomial SD")
    ax[2].set(xlabel="time [ms]", ylabel="sensors fused",
              title=f"Sensor sites that meet real Ca$^{{2+}}$ ions\n(20 uM at first; "
                    f"{100 * (1 - free_frac[-1]):.1f} % bound or held at the end)")
    ax[2].legend(fontsize=8)
    path = save_figure(fig, out_dir, "release_sensor.png")
    return {
        "peak_rate_per_ms": {f"{k[0].split(' ')[0]} {k[1]:g} uM": v[0] for k, v in peaks.items()},
        "peak_time_ms": {f"{k[0].split(' ')[0]} {k[1]:g} uM": v[1] for k, v in peaks.items()},
        "slope_low_ca": slope_low, "slope_1_3_uM": slope_mid,
        "basal_rate_per_s": lou.steady_release_rate(0.0) * 1e3,
        "sites_fused": int(fused[-1]), "sites_fused_ode": float(f_ode[-1]), "n_sensors": n_sensors,
        "figures": [path],
    }


if __name__ == "__main__":  # pragma: no cover
    import json

    out = sys.argv[1] if len(sys.argv) > 1 else "demo12_out"
    print(json.dumps(main(out, fast="--fast" in sys.argv), indent=1, default=str))
