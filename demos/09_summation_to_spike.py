"""Demo 09: temporal and spatial summation of AMPA synapses reaching threshold and firing an AP.

Shows
-----
A ball-and-stick neuron (20 um soma with mammalian Hodgkin-Huxley Na+/K+ channels, a passive
200 um x 2 um dendrite) receives AMPA synapses (Jonas et al. 1993 scheme, stochastic gating,
ion-carried current) on the dendrite:

1. one synapse, one glutamate pulse: a subthreshold EPSP at the soma;
2. temporal summation: 4 synapses at the same site (20 um) activated one after another at 2 ms
   intervals: the EPSPs ride on each other and cross threshold: an all-or-none action potential
   (one synapse pulsed 4 times would not do: its AMPA receptors desensitise, Jonas et al. 1993);
3. spatial summation: 4 synapses at 20, 60, 100 and 140 um activated together: their EPSPs add at
   the soma and fire an action potential;
4. too few: two synapses together stay subthreshold (the AP is all-or-none, the EPSP graded).

Run ``python demos/09_summation_to_spike.py --out DIR``.

References
----------
Jonas P., Major G. & Sakmann B. (1993) J. Physiol. 472:615, doi:10.1113/jphysiol.1993.sp019873.
Hodgkin A.L. & Huxley A.F. (1952) J. Physiol. 117:500, doi:10.1113/jphysiol.1952.sp004764;
   mammalian (Traub) kinetics as in microsyn.membrane.MAMMALIAN.
Rall W. (1967) J. Neurophysiol. 30:1138, doi:10.1152/jn.1967.30.5.1138 (summation of EPSPs).
Magee J.C. (2000) Nat. Rev. Neurosci. 1:181, doi:10.1038/35044552 (dendritic integration).
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from microsyn.channels import AMPA  # noqa: E402
from microsyn.gating import PulseLigand  # noqa: E402
from microsyn.membrane import MAMMALIAN, MembraneSolver, neuron_morphology, spike_times  # noqa: E402
from microsyn.plotting import save_figure  # noqa: E402
from microsyn.synapse import Synapse, SynapticCoupling, node_at_distance  # noqa: E402

N_CHANNELS = 150
SITES_UM = (20.0, 60.0, 100.0, 140.0)


def _neuron(dt):
    g = neuron_morphology(20.0, dendrites=((200.0, 2.0, 40),), axon=None)
    s = MembraneSolver(g, dt_ms=dt)
    s.insert_hh("soma", params=MAMMALIAN)
    s.init(-70.0)
    s.settle(30.0)
    return s


def _run(sites_and_ligands, t_end, dt, seed):
    s = _neuron(dt)
    soma = int(np.flatnonzero(s.graph.labels == "soma")[0])
    cpl = SynapticCoupling(s, seed=seed)
    for k, (site, lig) in enumerate(sites_and_ligands):
        node = node_at_distance(s.graph, soma, site)
        cpl.add_synapse(Synapse(AMPA(), N_CHANNELS, node=node, ligand=lig, name=f"syn{k}"))
    p = cpl.add_voltage_probe(soma, name="soma")
    cpl.run(t_end)
    t, v = p.time_ms, p.V_mV
    return t, v, spike_times(t, v, 0.0)


def main(out_dir, fast: bool = False) -> dict:
    """Run the demo, write figures into ``out_dir``; return the measured numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    dt = 0.02 if fast else 0.01
    t_end = 20.0 if fast else 30.0
    one = PulseLigand(1.0, 2.0, 1.0)
    runs = {
        "one synapse, one pulse": [(SITES_UM[0], one)],
        "two synapses together": [(SITES_UM[0], one), (SITES_UM[1], one)],
        "temporal: 4 inputs at 20 um, 2 ms apart": [(SITES_UM[0], PulseLigand(1.0, 2.0 + 2.0 * k, 1.0))
                                                     for k in range(4)],
        "spatial: 4 synapses together": [(s, one) for s in SITES_UM],
    }
    out = {}
    for k, (label, spec) in enumerate(runs.items()):
        out[label] = _run(spec, t_end, dt, seed=10 + k)
    rest = float(out["one synapse, one pulse"][1][0])
    res = dict(
        rest_mV=rest,
        single_epsp_mV=float(out["one synapse, one pulse"][1].max() - rest),
        two_together_peak_mV=float(out["two synapses together"][1].max() - rest),
        spikes={k: len(v[2]) for k, v in out.items()},
        temporal_spike_time_ms=float(out["temporal: 4 inputs at 20 um, 2 ms apart"][2][0])
        if len(out["temporal: 4 inputs at 20 um, 2 ms apart"][2]) else None,
        spatial_spike_time_ms=float(out["spatial: 4 synapses together"][2][0])
        if len(out["spatial: 4 synapses together"][2]) else None,
        ap_peak_mV=float(max(v[1].max() for v in out.values())),
        n_channels_per_synapse=N_CHANNELS, figures=[],
    )
    fig, axs = plt.subplots(1, 2, figsize=(14, 5.5))
    for label, (t, v, sp) in out.items():
        axs[0].plot(t, v, label=f"{label}: {len(sp)} AP")
        axs[1].plot(t, v, label=label)
    axs[0].set(xlabel="time [ms]", ylabel="soma V [mV]", title="Summation to threshold: the AP is all-or-none")
    axs[0].legend(fontsize=8)
    axs[1].set(xlabel="time [ms]", ylabel="soma V [mV]", ylim=(rest - 1, rest + 25),
               title="Subthreshold detail: graded EPSPs sum in time and space")
    fig.suptitle(f"Demo 09: AMPA synapses ({N_CHANNELS} channels each) on a 200 um dendrite, HH soma")
    res["figures"].append(save_figure(fig, out_dir, "09_summation_to_spike.png"))
    return res


if __name__ == "__main__":
    from microsyn.cli import demo_cli

    demo_cli(main, __doc__, __file__)
