"""Branch points of ``branched()`` trees are exact (issue 8 item 24).

References: a hand-built compartmental graph with a zero-area junction node at every branch
point (Rall 1959, doi:10.1016/0014-4886(59)90046-9), and NEURON (Hines & Carnevale 1997,
doi:10.1162/neco.1997.9.6.1179), whose sections end in zero-area nodes, run in a subprocess as
in test_membrane_neuron_comparison.py. Geometry: the Rallpack 2 binary tree (Bhalla, Bilitch &
Bower 1992, Trends Neurosci. 15:453; root 32 um x 16 um, lengths / 2^(1/3) and diameters / 2^(2/3)
per level, R_m = 40 kohm cm^2, R_a = 100 ohm cm, 1 uF/cm^2, 100 pA into the root), one
compartment per branch.
"""
import importlib.util
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from microsyn.membrane import MembraneSolver, Section, branched, from_swc

GM = 2.5e-4  # nS/um^2 (40 kohm cm^2)
RHO = 1e-3  # GOhm um (100 ohm cm); conductance in nS = area / (length * RHO) with um
CM = 0.01  # pF/um^2


def _rallpack2(levels):
    """(sections, per-level (length, diameter)) of the Rallpack 2 tree, one segment per branch."""
    secs, dims, names = [Section("b", 32.0, 16.0, 1, None)], [(32.0, 16.0)], [["b"]]
    L, d = 32.0, 16.0
    for _ in range(1, levels):
        L, d = L / 2 ** (1 / 3), d / 2 ** (2 / 3)
        dims.append((L, d))
        row = []
        for p in names[-1]:
            for k in range(2):
                row.append(f"{p}{k}")
                secs.append(Section(row[-1], L, d, 1, p))
        names.append(row)
    return secs, dims, names


def _hand_built_steady_state(levels, amp_pA):
    """Steady V - E [mV] of every branch's compartment, breadth-first order, from a dense graph
    built here: one node per branch (area pi d L, leak GM area), and per internal branch a
    junction node at its far end joined by the half-branch conductances (pi d^2/4) / (RHO L/2)."""
    dims = [_rallpack2(levels)[1][lev] for lev in range(levels)]
    nb = 2 ** levels - 1
    nj = 2 ** (levels - 1) - 1
    A = np.zeros((nb + nj, nb + nj))

    def link(i, j, g):
        A[i, i] += g
        A[j, j] += g
        A[i, j] -= g
        A[j, i] -= g

    level = [int(math.floor(math.log2(b + 1))) for b in range(nb)]
    for b in range(nb):
        L, d = dims[level[b]]
        A[b, b] += GM * math.pi * d * L
        if 2 * b + 1 < nb:  # internal: junction nb + b at its far end, children 2b+1, 2b+2
            J = nb + b
            link(b, J, math.pi * d * d / 4 / (RHO * L / 2))
            for c in (2 * b + 1, 2 * b + 2):
                Lc, dc = dims[level[c]]
                link(J, c, math.pi * dc * dc / 4 / (RHO * Lc / 2))
    rhs = np.zeros(nb + nj)
    rhs[0] = amp_pA
    return np.linalg.solve(A, rhs)[:nb]


def _microsyn_graph(levels):
    secs, _, names = _rallpack2(levels)
    g = branched(secs, ra_ohm_cm=100.0, g_leak_nS_per_um2=GM, e_leak_mV=0.0, cm_pF_per_um2=CM)
    bfs = np.array([g.sections[n][0] for row in names for n in row])
    return g, bfs


def test_rallpack2_steady_state_equals_hand_built_junction_graph():
    """Every compartment of a 4-level Rallpack 2 tree (15 branches) and of the full 10-level tree
    (1023 branches): steady V equal to the hand-built junction graph within 1e-9 relative; the
    10-level root-to-terminal drop is 0.071578 mV (NEURON's value; the old per-child series
    resistors gave 0.0537 mV). The tree stays a tree (Hines O(n) solve)."""
    for levels in (4, 10):
        g, bfs = _microsyn_graph(levels)
        assert g.is_tree and len(g.junctions) == 2 ** (levels - 1) - 1
        s = MembraneSolver(g, 0.05)
        s.add_current_clamp(0, 100.0, 0.0, 1e9)
        v = s.steady_state()[bfs]
        ref = _hand_built_steady_state(levels, 100.0)
        np.testing.assert_allclose(v, ref, rtol=1e-9)
        # the implicit time stepping settles to the same steady state
        s.init(0.0)
        s.run(600.0)
        np.testing.assert_allclose(s.V[bfs], ref, rtol=1e-6)
    assert ref[0] - ref[-1] == pytest.approx(0.071578, abs=2e-6)


def test_junction_is_excluded_from_membrane_selections():
    """Junctions carry no membrane: insert_hh on everything skips them, an explicit junction
    index raises NoMembraneError, nearest_node never returns one, and the junction potential
    balances its neighbours' currents (weighted mean with no injected current)."""
    from microsyn.membrane import NoMembraneError

    g, _ = _microsyn_graph(3)
    J = int(g.junctions[0])
    assert g.area_um2[J] == 0 and g.labels[J] == "junction"
    s = MembraneSolver(g, 0.025)
    hh = s.insert_hh()
    assert J not in hh.nodes.tolist() and hh.nodes.size == g.n - len(g.junctions)
    with pytest.raises(NoMembraneError, match="junction"):
        s.insert_hh(nodes=[J])
    assert not g.is_junction[g.nearest_node(g.xyz_um[J])]
    s.add_current_clamp(0, 50.0, 0.0, 5.0)
    s.run(3.0)
    a = g.adjacency()
    nb = a[J].indices
    w = a[J].data
    assert s.V[J] == pytest.approx(np.sum(w * s.V[nb]) / np.sum(w), rel=1e-12)


_NEURON_CODE = r"""
import json, sys
from neuron import h
h.load_file("stdrun.hoc")
levels = int(sys.argv[1])
secs = [h.Section(name="b")]
secs[0].L, secs[0].diam = 32.0, 16.0
L, d, rows = 32.0, 16.0, [[secs[0]]]
for lev in range(1, levels):
    L, d = L / 2 ** (1 / 3), d / 2 ** (2 / 3)
    row = []
    for p in rows[-1]:
        for k in range(2):
            c = h.Section(name=p.name() + str(k))
            c.L, c.diam = L, d
            c.connect(p(1), 0)
            row.append(c)
    rows.append(row)
    secs += row
for s in secs:
    s.nseg, s.Ra, s.cm = 1, 100.0, 1.0
    s.insert("pas")
    s.g_pas, s.e_pas = 2.5e-5, 0.0
stim = h.IClamp(secs[0](0.5))
stim.delay, stim.dur, stim.amp = 0.0, 1e9, 0.1
vr = h.Vector().record(secs[0](0.5)._ref_v)
vt = h.Vector().record(secs[-1](0.5)._ref_v)
h.secondorder = 0
h.dt = 0.025
h.steps_per_ms = 40
h.finitialize(0.0)
h.continuerun(5.0)
tr = [list(vr), list(vt)]
h.dt = 5.0
h.steps_per_ms = 0.2
h.continuerun(3005.0)
json.dump(dict(trace=tr, steady=[secs[0](0.5).v, secs[-1](0.5).v]), open(sys.argv[2], "w"))
"""


@pytest.mark.skipif(importlib.util.find_spec("neuron") is None, reason="neuron is not installed")
def test_rallpack2_tree_matches_neuron(tmp_path):
    """A 5-level Rallpack 2 tree (31 branches, nseg = 1) in NEURON and microsyn, backward Euler,
    dt 0.025 ms: the root and last-terminal traces over 5 ms agree within 1e-5 mV and the steady
    root-to-terminal drop within 1e-6 relative."""
    levels = 5
    out = tmp_path / "neuron.json"
    r = subprocess.run([sys.executable, "-c", _NEURON_CODE, str(levels), str(out)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-800:]
    ref = json.loads(out.read_text())
    g, bfs = _microsyn_graph(levels)
    s = MembraneSolver(g, 0.025, method="be")
    s.add_current_clamp(0, 100.0, 0.0, 1e9)
    pr, pt = s.add_probe(bfs[0]), s.add_probe(bfs[-1])
    s.run(5.0)
    n = min(len(pr.V_mV), len(ref["trace"][0]))
    assert n == 201
    np.testing.assert_allclose(pr.V_mV[:n], ref["trace"][0][:n], atol=1e-5)
    np.testing.assert_allclose(pt.V_mV[:n], ref["trace"][1][:n], atol=1e-5)
    v = s.steady_state()
    drop = ref["steady"][0] - ref["steady"][1]
    assert v[bfs[0]] - v[bfs[-1]] == pytest.approx(drop, rel=1e-6)


def test_swc_branch_sample_is_its_own_node():
    """from_swc puts a compartment at every sample, the branch point included, with one frustum
    conductance pi r1 r2 / (rho L) per segment: a Y of three 20 um, r = 1 um segments has the
    steady state of the three-resistor star around the branch node (hand-built, 1e-10 rel)."""
    swc = "1 3 0 0 0 1 -1\n2 3 20 0 0 1 1\n3 3 40 0 0 1 2\n4 3 20 20 0 1 2\n"
    g = from_swc(swc, g_leak_nS_per_um2=GM, e_leak_mV=0.0)
    assert g.is_tree and g.n == 4 and len(g.junctions) == 0
    s = MembraneSolver(g, 0.05)
    s.add_current_clamp(0, 100.0, 0.0, 1e9)
    v = s.steady_state()
    ga = math.pi * 1.0 * 1.0 / (RHO * 20.0)
    lat = math.pi * 2.0 * 20.0  # lateral area of one segment, split half/half
    area = np.array([lat / 2, 3 * lat / 2, lat / 2, lat / 2])
    A = np.diag(GM * area)
    for i, j in ((0, 1), (1, 2), (1, 3)):
        A[i, i] += ga
        A[j, j] += ga
        A[i, j] -= ga
        A[j, i] -= ga
    ref = np.linalg.solve(A, [100.0, 0, 0, 0])
    np.testing.assert_allclose(v, ref, rtol=1e-10)
