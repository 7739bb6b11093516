"""Demo 03: graded potentials decay in time (tau_m) and distance (lambda), and sum in time and space.

Shows, on a passive dendrite (diameter 1 um, R_m = 20 kohm cm^2, C_m = 1 uF/cm^2,
R_i = 100 ohm cm, so tau_m = 20 ms and lambda = 707 um), computed by the implicit membrane
solver:

1. Decay in time: after a brief charge an isopotential patch relaxes as exp(-t / tau_m); tau_m
   is measured from the trace.
2. Decay in distance: a steady current into one end of a long dendrite gives V(x) ~ exp(-x/lambda);
   lambda is measured from the profile.
3. An EPSP made at 0, 200, 400 and 800 um from the recording site: smaller and slower the farther
   it travels (and an IPSP from a Cl- synapse, E = -80 mV).
4. Temporal summation: two EPSPs at the same synapse 2 to 40 ms apart; the closer, the larger the
   sum.
5. Spatial summation: two synapses at different places, alone and together.

References
----------
Rall W. (1967) J. Neurophysiol. 30:1138, doi:10.1152/jn.1967.30.5.1138.
Jack J.J.B., Noble D. & Tsien R.W. (1975) Electric Current Flow in Excitable Cells, Oxford.
Koch C. (1999) Biophysics of Computation, Oxford, doi:10.1093/oso/9780195104912.001.0001.
"""
from __future__ import annotations

import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from microsyn.membrane import AlphaSynapse, CompartmentGraph, MembraneSolver, cable  # noqa: E402

GM = 5e-4  # nS/um^2
CM = 0.01  # pF/um^2
RHO = 100.0 * 1e-5  # GOhm um
D = 1.0  # um


def _epsp_at_distance(g, syn_node, rec_node, t_stop, onsets=(2.0,), gmax=0.5, E=0.0, extra=()):
    s = MembraneSolver(g, 0.05)
    for t0 in onsets:
        s.add_conductance(AlphaSynapse(syn_node, t0, gmax, 1.0, E))
    for node, t0 in extra:
        s.add_conductance(AlphaSynapse(node, t0, gmax, 1.0, E))
    p = s.add_probe(rec_node)
    s.run(t_stop)
    return p.time_ms, p.V_mV


def main(out_dir, fast: bool = False) -> dict:
    """Make the figures in ``out_dir`` and return the measured numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    tau_theory = CM / GM
    lam_theory = math.sqrt(D / (4 * RHO * GM))
    fig, axs = plt.subplots(2, 3, figsize=(15, 8))

    # 1. time: an isopotential patch after a brief charge
    patch = CompartmentGraph([1000.0], np.zeros((0, 2), int), [], g_leak_nS_per_um2=GM, e_leak_mV=-70.0)
    s = MembraneSolver(patch, 0.05)
    s.add_current_clamp(0, 200.0, 1.0, 0.5)
    p = s.add_probe(0)
    s.run(60.0 if fast else 100.0)
    t, v = p.time_ms, p.V_mV + 70.0
    sel = (t > 5) & (v > 0.01 * v.max())
    tau = -1.0 / np.polyfit(t[sel], np.log(v[sel]), 1)[0]
    ax = axs[0, 0]
    ax.plot(t, v + -70.0, "k", label="solver")
    ax.plot(t[t > 1.5], -70 + v.max() * np.exp(-(t[t > 1.5] - 1.5) / tau_theory), "r--",
            label=f"exp(-t/tau), tau = {tau_theory:.0f} ms")
    ax.set(xlabel="time [ms]", ylabel="V [mV]", title=f"Decay in time: tau_m measured {tau:.2f} ms")
    ax.legend()

    # 2. distance: steady current into one end of a 5-lambda dendrite
    n = 200 if fast else 500
    L = 5 * lam_theory
    g = cable(L, D, n, g_leak_nS_per_um2=GM, e_leak_mV=-70.0)
    s = MembraneSolver(g, 0.1)
    s.set_external_current(0, 20.0)
    V = s.steady_state() + 70.0
    x = g.xyz_um[:, 0]
    sel = x < 3 * lam_theory
    lam = -1.0 / np.polyfit(x[sel], np.log(V[sel]), 1)[0]
    ax = axs[0, 1]
    ax.plot(x, V, "k", label="solver (steady state)")
    ax.plot(x, V[0] * np.cosh((L - x) / lam_theory) / np.cosh((L - x[0]) / lam_theory), "r--",
            label=f"cosh((L-x)/lambda), lambda = {lam_theory:.0f} um")
    ax.axvline(lam_theory, color="0.6", ls=":")
    ax.set(xlabel="distance along dendrite [um]", ylabel="depolarization [mV]",
           title=f"Decay in distance: lambda measured {lam:.0f} um")
    ax.legend()

    # 3. EPSPs from synapses at several distances, recorded at x = 0
    dend = cable(1000.0, D, 100, g_leak_nS_per_um2=GM, e_leak_mV=-70.0)
    ax = axs[0, 2]
    amps = {}
    t_stop = 40.0 if fast else 60.0
    for dist in (0, 200, 400, 800):
        node = dend.nearest_node((dist + 5.0, 0.0, 0.0))
        t, v = _epsp_at_distance(dend, node, 0, t_stop)
        amps[dist] = float(v.max() + 70.0)
        ax.plot(t, v, label=f"EPSP {dist} um away ({amps[dist]:.2f} mV)")
    t, v = _epsp_at_distance(dend, 0, 0, t_stop, E=-80.0, gmax=2.0)
    ipsp = float(v.min() + 70.0)
    ax.plot(t, v, "b--", label=f"IPSP at 0 um ({ipsp:.2f} mV)")
    ax.set(xlabel="time [ms]", ylabel="V at recording site [mV]", title="Graded potentials shrink with distance")
    ax.legend(fontsize=8)

    # 4. temporal summation
    ax = axs[1, 0]
    single = amps[0]
    intervals = (2.0, 10.0, 40.0) if fast else (2.0, 5.0, 10.0, 20.0, 40.0)
    ts = {}
    for iv in intervals:
        t, v = _epsp_at_distance(dend, 0, 0, 2.0 + iv + 40.0, onsets=(2.0, 2.0 + iv))
        ts[iv] = float(v.max() + 70.0)
        ax.plot(t, v, label=f"interval {iv:g} ms: peak {ts[iv]:.2f} mV")
    ax.axhline(-70 + single, color="k", ls=":", label="single EPSP")
    ax.set(xlabel="time [ms]", ylabel="V [mV]", title="Temporal summation")
    ax.legend(fontsize=8)

    # 5. spatial summation: synapses at 0 and 200 um, alone and together, recorded at 0
    ax = axs[1, 1]
    n200 = dend.nearest_node((205.0, 0.0, 0.0))
    tA, vA = _epsp_at_distance(dend, 0, 0, t_stop)
    tB, vB = _epsp_at_distance(dend, n200, 0, t_stop)
    tAB, vAB = _epsp_at_distance(dend, 0, 0, t_stop, extra=((n200, 2.0),))
    a, b, ab = vA.max() + 70, vB.max() + 70, vAB.max() + 70
    ax.plot(tA, vA, label=f"A at 0 um: {a:.2f} mV")
    ax.plot(tB, vB, label=f"B at 200 um: {b:.2f} mV")
    ax.plot(tAB, vAB, "k", label=f"A + B together: {ab:.2f} mV")
    ax.plot(tA, vA + vB + 70, "k:", label="arithmetic sum")
    ax.set(xlabel="time [ms]", ylabel="V [mV]", title="Spatial summation (slightly sublinear)")
    ax.legend(fontsize=8)

    ax = axs[1, 2]
    ax.plot(list(amps), list(amps.values()), "ko-", label="EPSP peak at recording site")
    dd = np.linspace(0, 800, 50)
    ax.plot(dd, amps[0] * np.exp(-dd / lam_theory), "r--", label="steady-state exp(-x/lambda)")
    ax.set(xlabel="synapse distance [um]", ylabel="EPSP peak [mV]",
           title="Brief EPSPs fall off faster than exp(-x/lambda)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(out_dir, "03_graded_potentials.png")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return {
        "tau_m_ms": float(tau), "tau_m_theory_ms": tau_theory, "lambda_um": float(lam),
        "lambda_theory_um": lam_theory, "epsp_peak_by_distance_mV": amps, "ipsp_peak_mV": ipsp,
        "temporal_summation_peak_mV": ts, "single_epsp_mV": single,
        "spatial_summation_mV": {"A": float(a), "B": float(b), "A+B": float(ab)}, "figures": [path],
    }


if __name__ == "__main__":
    from microsyn.cli import demo_cli

    demo_cli(main, __doc__, __file__)
