"""Demo 02: how ion gradients and leak channels set the resting potential near -70 mV.

Shows
-----
1. The Nernst potential of each ion (Na+, K+, Cl-, Ca2+) from the standard mammalian
   concentrations at 37 C, the Goldman-Hodgkin-Katz (GHK) resting potential of a membrane
   permeable mostly to K+ (P_K : P_Na : P_Cl = 1 : 0.05 : 0.45), and the few mV more the
   electrogenic 3 Na+ / 2 K+ pump adds.
2. The resting potential against the extracellular K+ concentration (the Hodgkin-Katz plot):
   near E_K at high [K+]_o, bending away at low [K+]_o where the Na+ leak matters.
3. The resting potential against the permeability ratio P_Na / P_K.
4. A membrane compartment with separate K+, Na+ and Cl- leak conductances, started at 0 mV,
   charging to the chord-conductance potential sum(g_i E_i) / sum(g_i) with tau_m = C / sum(g_i),
   computed by the implicit membrane solver.

References
----------
Hodgkin A.L. & Katz B. (1949) J. Physiol. 108:37, doi:10.1113/jphysiol.1949.sp004310.
Goldman D.E. (1943) J. Gen. Physiol. 27:37, doi:10.1085/jgp.27.1.37.
Mullins L.J. & Noda K. (1963) J. Gen. Physiol. 47:117, doi:10.1085/jgp.47.1.117.
Hille B. (2001) Ion Channels of Excitable Membranes, 3rd ed., Sinauer.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from microsyn.membrane import (CompartmentGraph, MembraneSolver, ghk_voltage, nernst_species,  # noqa: E402
                               resting_potential)
from microsyn.units import BODY_TEMPERATURE_K  # noqa: E402


def main(out_dir, fast: bool = False) -> dict:
    """Make the figures in ``out_dir`` and return the key numbers [mV, ms]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    T = BODY_TEMPERATURE_K
    ions = ["Na+", "K+", "Cl-", "Ca2+"]
    E = {k: nernst_species(k, T) for k in ions}
    rp = resting_potential(temperature_K=T)

    fig, axs = plt.subplots(2, 2, figsize=(11, 8))
    ax = axs[0, 0]
    names = ions + ["GHK\nrest", "rest +\npump"]
    vals = [E[k] for k in ions] + [rp.V_ghk, rp.V_rest]
    colors = ["tab:orange", "tab:purple", "tab:green", "tab:red", "0.4", "k"]
    ax.bar(names, vals, color=colors)
    for i, v in enumerate(vals):
        ax.text(i, v + (4 if v > 0 else -12), f"{v:.1f}", ha="center")
    ax.set_ylim(-110, 155)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel("potential [mV]")
    ax.set_title("Nernst potentials and resting potential (37 C)")

    ax = axs[0, 1]
    n = 15 if fast else 60
    ko = np.logspace(0, np.log10(150), n)
    ek = [nernst_species("K+", T, c_out=k) for k in ko]
    vr = [ghk_voltage(None, T, {"K+": (140.0, k)}) for k in ko]
    ax.semilogx(ko, ek, "--", color="tab:purple", label="E_K (Nernst)")
    ax.semilogx(ko, vr, "k", label="GHK, P_K:P_Na:P_Cl = 1:0.05:0.45")
    ax.set_xlabel("[K+] outside [mM]")
    ax.set_ylabel("resting potential [mV]")
    ax.set_title("Hodgkin-Katz plot")
    ax.legend()

    ax = axs[1, 0]
    ratio = np.logspace(-3, 1, n)
    ax.semilogx(ratio, [ghk_voltage({"K+": 1.0, "Na+": r, "Cl-": 0.45}, T) for r in ratio], "k")
    ax.axhline(E["K+"], ls="--", color="tab:purple", label="E_K")
    ax.axhline(E["Na+"], ls="--", color="tab:orange", label="E_Na")
    ax.set_xlabel("P_Na / P_K")
    ax.set_ylabel("resting potential [mV]")
    ax.set_title("More Na+ leak, less negative rest")
    ax.legend()

    # a compartment with separate leak conductances charging to rest
    area = 1000.0
    g_i = {"K+": 0.5, "Na+": 0.072, "Cl-": 0.1}  # nS: chord conductances of the three leaks
    graph = CompartmentGraph([area], np.zeros((0, 2), int), [], g_leak_nS_per_um2=0.0, e_leak_mV=0.0)
    s = MembraneSolver(graph, dt_ms=0.05, V0_mV=0.0)
    for ion, g in g_i.items():
        src = s.add_conductance(node=0, E_mV=E[ion])
        src.g_nS = g
    p = s.add_probe(0)
    t_stop = 30.0 if fast else 100.0
    s.run(t_stop)
    v_chord = sum(g * E[k] for k, g in g_i.items()) / sum(g_i.values())
    tau = graph.capacitance_pF[0] / sum(g_i.values())
    v = p.V_mV
    k63 = np.argmax(v <= v_chord * (1 - np.exp(-1.0)))
    tau_measured = float(p.time_ms[k63])
    ax = axs[1, 1]
    ax.plot(p.time_ms, v, "k", label="membrane solver")
    ax.plot(p.time_ms, v_chord * (1 - np.exp(-p.time_ms / tau)), "r--", label="V_chord (1 - exp(-t/tau))")
    ax.axhline(v_chord, color="0.5", ls=":")
    ax.set_xlabel("time [ms]")
    ax.set_ylabel("V [mV]")
    ax.set_title(f"K+, Na+, Cl- leaks charge the membrane\nto {v_chord:.1f} mV with tau = {tau:.1f} ms")
    ax.legend()
    fig.tight_layout()
    path = os.path.join(out_dir, "02_resting_potential.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)

    return {
        "E_Na_mV": E["Na+"], "E_K_mV": E["K+"], "E_Cl_mV": E["Cl-"], "E_Ca_mV": E["Ca2+"],
        "V_ghk_mV": rp.V_ghk, "V_rest_with_pump_mV": rp.V_rest, "pump_contribution_mV": rp.pump_contribution,
        "V_chord_mV": v_chord, "V_end_mV": float(v[-1]), "tau_expected_ms": tau, "tau_measured_ms": tau_measured,
        "figures": [path],
    }


if __name__ == "__main__":
    from microsyn.cli import demo_cli

    demo_cli(main, __doc__, __file__)
