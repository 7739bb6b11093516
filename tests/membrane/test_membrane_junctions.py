"""Junction nodes (zero-area branch points) in compartment graphs and the solver (issue 8 item 24)."""
import numpy as np
import pytest

from microsyn.errors import GeometryError
from microsyn.membrane import HH1952, CompartmentGraph, MembraneSolver, Section, branched, hines_order


def _y_tree(n_seg=3):
    return branched([Section("trunk", 200.0, 2.0, n_seg), Section("a", 150.0, 1.0, n_seg, "trunk", direction=(1, 1, 0)),
                     Section("b", 100.0, 1.0, n_seg, "trunk", direction=(1, -1, 0)),
                     Section("c", 80.0, 0.8, n_seg, "a")])


def test_branched_adds_one_junction_per_multi_child_cylinder_only():
    """A Y (trunk with two children) gets one junction after all section nodes, at the trunk's far
    end, joined by the half-segment conductances (pi d^2/4)/(rho dx/2) (reference: cylinder
    resistance, rho = 100 ohm cm); the single child c of a stays a direct series edge, and a
    sphere parent needs no junction."""
    g = _y_tree()
    assert g.n == 13 and g.junctions.tolist() == [12] and g.labels[12] == "junction"
    assert [int(v[-1]) for v in g.sections.values()][-1] == 11
    np.testing.assert_allclose(g.xyz_um[12], [200.0, 0.0, 0.0])
    a = g.adjacency()
    rho = 1e-3
    g_trunk = np.pi * 2.0 ** 2 / 4 / (rho * 200.0 / 3 / 2)
    g_a = np.pi * 1.0 ** 2 / 4 / (rho * 150.0 / 3 / 2)
    assert a[12, 2] == pytest.approx(g_trunk, rel=1e-12)
    assert a[12, g.sections["a"][0]] == pytest.approx(g_a, rel=1e-12)
    ga, gc = g_a, np.pi * 0.8 ** 2 / 4 / (rho * 80.0 / 3 / 2)
    assert a[g.sections["a"][-1], g.sections["c"][0]] == pytest.approx(1 / (1 / ga + 1 / gc), rel=1e-12)
    soma = branched([Section("soma", 20.0, 20.0, 1, None, "soma", sphere=True), Section("d1", 100.0, 1.0, 2, "soma"),
                     Section("d2", 100.0, 1.0, 2, "soma")])
    assert len(soma.junctions) == 0


def test_junction_graph_validation():
    """Area 0 is accepted only at declared junctions, a junction must have area 0, two junctions
    may not touch, and a graph of junctions only is refused (GeometryError)."""
    e = [[0, 1], [1, 2], [1, 3]]
    CompartmentGraph([10.0, 0.0, 10.0, 10.0], e, [1.0, 1.0, 1.0], junctions=[1])
    with pytest.raises(GeometryError, match="junction"):
        CompartmentGraph([10.0, 0.0, 10.0, 10.0], e, [1.0, 1.0, 1.0])
    with pytest.raises(GeometryError, match="junction"):
        CompartmentGraph([10.0, 5.0, 10.0, 10.0], e, [1.0, 1.0, 1.0], junctions=[1])
    with pytest.raises(GeometryError, match="joined directly"):
        CompartmentGraph([10.0, 0.0, 0.0], [[0, 1], [1, 2]], [1.0, 1.0], junctions=[1, 2])
    with pytest.raises(GeometryError, match="at least one membrane"):
        CompartmentGraph([0.0], np.zeros((0, 2), int), [], junctions=[0])


@pytest.mark.parametrize("method", ["be", "cn"])
def test_hines_equals_sparse_lu_on_a_tree_with_junctions(method):
    """HH on a Y tree with a junction, 5 ms of a 300 pA pulse: the Hines O(n) path and the
    sparse-LU path (reference) agree within 1e-8 mV, and the tree keeps the Hines ordering."""
    out = []
    for tree in (True, False):
        g = _y_tree(5)
        s = MembraneSolver(g, 0.025, method=method)
        s._tree = tree
        s.insert_hh(params=HH1952)
        s.init(-65.0)
        s.add_current_clamp(0, 300.0, 0.5, 2.0)
        p = s.add_probe(int(g.sections["c"][-1]))
        s.run(5.0)
        out.append((s.V.copy(), p.V_mV))
    assert np.max(out[0][1]) > 0  # the spike reached the far tip
    np.testing.assert_allclose(out[0][0], out[1][0], atol=1e-8)
    np.testing.assert_allclose(out[0][1], out[1][1], atol=1e-8)
    order, parent, _ = hines_order(_y_tree(5))
    assert parent[0] == -1 and np.all(parent[1:] < np.arange(1, order.size))
