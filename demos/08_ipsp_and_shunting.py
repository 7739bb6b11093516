"""Demo 08: IPSPs from Cl- entry and from K+ exit, and shunting inhibition.

Shows
-----
1. An IPSP from Cl- *entry*: GABA_A receptors (27 pS, two-state scheme of Destexhe et al. 1994)
   open; with a low intracellular [Cl-] (4 mM, E_Cl = -88.6 mV) Cl- ions flow in and
   hyperpolarise the dendrite below the -70 mV rest.
2. An IPSP from K+ *exit*: GIRK-like K+ channels (E_K = -89.1 mV) open more slowly; K+ ions leave
   and the membrane hyperpolarises.
3. Shunting inhibition: with [Cl-]_i = 8.0 mM, E_Cl equals the resting potential (-70 mV). The
   GABA_A synapse alone moves V by almost nothing (no IPSP), yet opened together with an
   excitatory AMPA synapse at the same site it shrinks the EPSP, because its conductance divides
   the synaptic current (Koch 1999, ch. 5): V - E_rest ~ I_syn / (g_rest + g_shunt).

Ion numbers come from the same channels (counted; no particle tracking here, see demo 07).
Full mode (``python demos/08_ipsp_and_shunting.py``, seeds 1-4): IPSP -4.1 mV from 549,405 Cl-
ions in; IPSP -11.1 mV from 3,831,969 K+ ions out; EPSP +2.69 mV alone, +1.81 mV with the shunt
(33 % smaller), while the shunt alone moves V by less than 1e-10 mV.

Temperature: 37 C: Nernst potentials, and the channel rates Q10-scaled from their reference
temperatures (AMPA and GABA_A from 22 C, x3.72 and x5.2; the illustrative GIRK rates are meant
for 37 C; see :mod:`microsyn.channels`).
Run ``python demos/08_ipsp_and_shunting.py --out DIR``.

References
----------
Destexhe A., Mainen Z.F. & Sejnowski T.J. (1994) J. Comput. Neurosci. 1:195, doi:10.1007/BF00961734.
Bormann J., Hamill O.P. & Sakmann B. (1987) J. Physiol. 385:243, doi:10.1113/jphysiol.1987.sp016493.
Koch C. (1999) Biophysics of Computation, Oxford University Press, ch. 5 (shunting inhibition).
Staley K.J. & Mody I. (1992) J. Neurophysiol. 68:197, doi:10.1152/jn.1992.68.1.197 (shunting
   GABA_A inhibition when E_GABA is near rest).
Hille B. (2001) Ion Channels of Excitable Membranes, 3rd ed. (GIRK channels, ch. 6).
"""
from __future__ import annotations

import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from microsyn.channels import AMPA, GABA_A, GIRK  # noqa: E402
from microsyn.gating import PulseLigand  # noqa: E402
from microsyn.membrane import MembraneSolver, cable  # noqa: E402
from microsyn.plotting import save_figure  # noqa: E402
from microsyn.synapse import Synapse, SynapticCoupling  # noqa: E402
from microsyn.units import thermal_voltage  # noqa: E402

REST = -70.0
CL_OUT = 110.0


def cl_in_for(E_mV):
    """[Cl-]_i [mM] giving E_Cl = E_mV with [Cl-]_o = 110 mM at 37 C."""
    return CL_OUT * math.exp(E_mV / thermal_voltage())


def _run(specs, t_end, seed, dt=0.01):
    """specs: list of (channel, n, ligand, concentrations). Returns (t, V at the synapse, synapses)."""
    solver = MembraneSolver(cable(300.0, 2.0, 60), dt_ms=dt)
    solver.init(REST)
    cpl = SynapticCoupling(solver, seed=seed)
    syns = [cpl.add_synapse(Synapse(ch, n, node=10, ligand=lig, concentrations=conc, name=f"s{k}"))
            for k, (ch, n, lig, conc) in enumerate(specs)]
    cpl.run(t_end)
    tr = syns[0].trace()
    return np.r_[0.0, tr["time_ms"]], np.r_[REST, tr["V_mV"]], syns


def main(out_dir, fast: bool = False) -> dict:
    """Run the demo, write figures into ``out_dir``; return the measured numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    t_end = 40.0 if fast else 80.0
    glu = PulseLigand(1.0, 2.0, 1.0)
    gaba = PulseLigand(1.0, 2.0, 1.0)
    cl_low = {"Cl-": (4.0, CL_OUT)}
    cl_rest = {"Cl-": (cl_in_for(REST), CL_OUT)}
    n_gaba, n_girk, n_ampa = 100, 200, 100
    t1, v_cl, s_cl = _run([(GABA_A(), n_gaba, gaba, cl_low)], t_end, 1)
    t2, v_k, s_k = _run([(GIRK(), n_girk, PulseLigand(0.2, 2.0, 20.0), None)], t_end, 2)
    t3, v_e, s_e = _run([(AMPA(), n_ampa, glu, None)], t_end, 3)
    t4, v_sh, _ = _run([(GABA_A(), n_gaba * 3, gaba, cl_rest)], t_end, 4)
    t5, v_es, s_es = _run([(AMPA(), n_ampa, glu, None), (GABA_A(), n_gaba * 3, gaba, cl_rest)], t_end, 3)
    res = dict(
        E_Cl_low_mV=float(GABA_A().reversal_mV(cl_low)), E_Cl_shunt_mV=float(GABA_A().reversal_mV(cl_rest)),
        E_K_mV=float(GIRK().reversal_mV()),
        ipsp_cl_mV=float(v_cl.min() - REST), cl_in=int(s_cl[0].ions_in["Cl-"]), cl_out=int(s_cl[0].ions_out["Cl-"]),
        ipsp_k_mV=float(v_k.min() - REST), k_out=int(s_k[0].ions_out["K+"]), k_in=int(s_k[0].ions_in["K+"]),
        epsp_alone_mV=float(v_e.max() - REST), shunt_alone_max_abs_mV=float(np.max(np.abs(v_sh - REST))),
        epsp_with_shunt_mV=float(v_es.max() - REST), figures=[],
    )
    res["shunt_reduction"] = 1.0 - res["epsp_with_shunt_mV"] / res["epsp_alone_mV"]

    fig, axs = plt.subplots(1, 3, figsize=(16, 5))
    ax = axs[0]
    ax.plot(t1, v_cl, label=f"GABA_A, E_Cl = {res['E_Cl_low_mV']:.1f} mV: {res['cl_in']:,} Cl- in")
    ax.plot(t2, v_k, label=f"GIRK, E_K = {res['E_K_mV']:.1f} mV: {res['k_out']:,} K+ out")
    ax.axhline(REST, color="0.6", ls=":")
    ax.set(xlabel="time [ms]", ylabel="V at the synapse [mV]", title="IPSPs: Cl- entry and K+ exit hyperpolarise")
    ax.legend(fontsize=8, loc="lower right")
    ax = axs[1]
    ax.plot(t3, v_e, label=f"AMPA alone: +{res['epsp_alone_mV']:.2f} mV")
    ax.plot(t4, v_sh, label=f"GABA_A alone, E_Cl = rest: max |dV| {res['shunt_alone_max_abs_mV']:.3f} mV")
    ax.plot(t5, v_es, label=f"AMPA + GABA_A: +{res['epsp_with_shunt_mV']:.2f} mV")
    ax.axhline(REST, color="0.6", ls=":")
    ax.set(xlabel="time [ms]", ylabel="V at the synapse [mV]",
           title=f"Shunting inhibition: no IPSP, EPSP {100 * res['shunt_reduction']:.0f} % smaller")
    ax.legend(fontsize=8)
    ax = axs[2]
    tr_a = s_es[0].trace()
    tr_g = s_es[1].trace()
    ax.plot(tr_a["time_ms"], tr_a["I_pA"], label="AMPA current (with shunt)")
    ax.plot(tr_g["time_ms"], tr_g["I_pA"], label="GABA_A current (E_Cl = rest)")
    ax.set(xlabel="time [ms]", ylabel="membrane current [pA] (outward +)", xlim=(0, 15),
           title="During the EPSP the shunt passes outward current\n(Cl- enters), cancelling part of the AMPA current")
    ax.legend(fontsize=8)
    fig.suptitle("Demo 08: inhibitory synapses on a dendrite (300 um, 2 um; synapse at 50 um)")
    res["figures"].append(save_figure(fig, out_dir, "08_ipsp_and_shunting.png"))
    return res


if __name__ == "__main__":
    from microsyn.cli import demo_cli

    demo_cli(main, __doc__, __file__)
