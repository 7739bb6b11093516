"""Demo 05: continuous conduction in an unmyelinated axon against saltatory conduction in a
myelinated one, with the conduction velocities measured.

Shows, with Hodgkin-Huxley kinetics at 18.5 C and an axon diameter of 2 um:

1. Space-time pictures of the action potential travelling along an unmyelinated axon (channels
   everywhere) and a myelinated axon (channels only at 1 um nodes of Ranvier every 200 um,
   internodes wrapped in myelin: 0.05 uF/cm^2 at 2 um, falling as 1/d, and almost no leak).
2. Voltage traces at successive nodes: in the myelinated axon the spike jumps from node to node.
3. Velocity against diameter: ~sqrt(d) for unmyelinated axons (Rushton 1951; HH 1952), faster
   growth for myelinated ones with internode length proportional to diameter.

References
----------
Hodgkin A.L. & Huxley A.F. (1952) J. Physiol. 117:500, doi:10.1113/jphysiol.1952.sp004764.
Huxley A.F. & Stampfli R. (1949) J. Physiol. 108:315, doi:10.1113/jphysiol.1949.sp004326.
Rushton W.A.H. (1951) J. Physiol. 115:101, doi:10.1113/jphysiol.1951.sp004655.
Waxman S.G. (1980) Muscle Nerve 3:141, doi:10.1002/mus.880030207.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from microsyn.membrane import HH1952, MembraneSolver, cable, myelinated_axon, spike_times  # noqa: E402

T_C = 18.5
NODE_PARAMS = HH1952.at(T_C).with_(gnabar_nS_per_um2=12.0, gkbar_nS_per_um2=3.6)


def unmyelinated(d_um, length_um, n, t_stop, dt=0.01, every=4):
    g = cable(length_um, d_um, n)
    s = MembraneSolver(g, dt)
    s.insert_hh(params=HH1952.at(T_C))
    s.init(-65.0)
    s.add_current_clamp(0, 1000.0 * d_um ** 1.5, 0.1, 0.2)
    probes = [s.add_probe(k, every=every) for k in range(0, n, max(1, n // 100))]
    s.run(t_stop)
    return g, probes


def myelinated(d_um, n_nodes, t_stop, internode_um=200.0, dt=0.005, every=4):
    # myelin thickness grows with the diameter (constant g-ratio): its capacitance and leak per
    # area fall as 1/d (0.05 uF/cm^2 at d = 2 um)
    g = myelinated_axon(n_nodes, diameter_um=d_um, internode_length_um=internode_um, internode_segments=10,
                        internode_cm_pF_per_um2=0.0005 * 2.0 / d_um, internode_g_leak_nS_per_um2=1e-5 * 2.0 / d_um)
    s = MembraneSolver(g, dt)
    s.insert_hh("node", params=NODE_PARAMS)
    s.init(-65.0)
    nodes = g.select("node")
    s.add_current_clamp(int(nodes[0]), 250.0 * d_um, 0.1, 0.2)
    probes = [s.add_probe(k, every=every) for k in range(g.n)]
    s.run(t_stop)
    return g, probes, nodes


def _velocity(g, probes, a, b):
    pa, pb = probes[a], probes[b]
    ta, tb = spike_times(pa.time_ms, pa.V_mV, -20.0)[0], spike_times(pb.time_ms, pb.V_mV, -20.0)[0]
    return abs(g.xyz_um[pb.node, 0] - g.xyz_um[pa.node, 0]) / (tb - ta) / 1000.0


def main(out_dir, fast: bool = False) -> dict:
    """Make the figures in ``out_dir`` and return the measured velocities [m/s]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    d = 2.0
    n_nodes = 16 if fast else 31
    length = 200.0 * (n_nodes - 1)
    t_stop = 12.0 if fast else 18.0
    gu, pu = unmyelinated(d, length, 300 if fast else 600, t_stop)
    gm, pm, nodes = myelinated(d, n_nodes, t_stop)
    v_un = _velocity(gu, pu, len(pu) // 4, 3 * len(pu) // 4)
    node_probes = [pm[k] for k in nodes]
    v_my = _velocity(gm, node_probes, len(nodes) // 4, 3 * len(nodes) // 4)

    fig, axs = plt.subplots(2, 2, figsize=(13, 9))
    for ax, g, probes, title, v in ((axs[0, 0], gu, pu, "Unmyelinated: continuous", v_un),
                                   (axs[0, 1], gm, pm, "Myelinated: saltatory", v_my)):
        t = probes[0].time_ms
        x = g.xyz_um[[p.node for p in probes], 0] / 1000.0
        V = np.array([p.V_mV for p in probes])
        im = ax.pcolormesh(t, x, V, shading="auto", cmap="inferno", vmin=-80, vmax=40)
        ax.set(xlabel="time [ms]", ylabel="position [mm]", title=f"{title}, {v:.2f} m/s (d = {d:g} um)")
        fig.colorbar(im, ax=ax, label="V [mV]")
    ax = axs[1, 0]
    for k in range(0, len(nodes), max(1, len(nodes) // 6)):
        p = pm[nodes[k]]
        ax.plot(p.time_ms, p.V_mV, label=f"node {k} ({gm.xyz_um[p.node, 0] / 1000:.1f} mm)")
    for k in range(0, len(pu), max(1, len(pu) // 6)):
        ax.plot(pu[k].time_ms, pu[k].V_mV, "k", lw=0.7, alpha=0.6)
    ax.set(xlabel="time [ms]", ylabel="V [mV]", xlim=(0, 8 if fast else 14),
           title="Traces every 1 mm (colours: myelinated nodes, grey: unmyelinated)")
    ax.legend(fontsize=7)

    diams = [1.0, 2.0, 4.0] if fast else [0.5, 1.0, 2.0, 4.0, 8.0]
    vu, vm = [], []
    for dd in diams:
        n_u = 300
        L = 3000.0 * np.sqrt(dd)
        g, pr = unmyelinated(dd, L, n_u, 2.5 * L / 1000 / (0.5 * np.sqrt(dd)) + 2.0, every=1)
        vu.append(_velocity(g, pr, len(pr) // 4, 3 * len(pr) // 4))
        g, pr, nd = myelinated(dd, 12, 3.0, internode_um=100.0 * dd)
        npr = [pr[k] for k in nd]
        vm.append(_velocity(g, npr, 3, 9))
    ax = axs[1, 1]
    ax.loglog(diams, vu, "ko-", label="unmyelinated")
    ax.loglog(diams, vm, "ro-", label="myelinated (internode = 100 d)")
    ax.loglog(diams, vu[0] * np.sqrt(np.array(diams) / diams[0]), "k:", label="~ sqrt(d)")
    ax.loglog(diams, vm[0] * (np.array(diams) / diams[0]), "r:", label="~ d")
    ax.set(xlabel="axon diameter [um]", ylabel="conduction velocity [m/s]", title="Velocity against diameter")
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(NullFormatter())
    ax.set_xticks(diams)
    ax.legend()
    fig.tight_layout()
    path = os.path.join(out_dir, "05_conduction.png")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return {"diameter_um": d, "velocity_unmyelinated_m_per_s": float(v_un), "velocity_myelinated_m_per_s": float(v_my),
            "speedup": float(v_my / v_un), "diameters_um": diams, "velocities_unmyelinated_m_per_s": vu,
            "velocities_myelinated_m_per_s": vm, "figures": [path]}


if __name__ == "__main__":
    from microsyn.cli import demo_cli

    demo_cli(main, __doc__, __file__)
