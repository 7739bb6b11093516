"""Compartment-graph builders, Hines vs sparse solves, stimuli, clamps and probes."""
import math

import numpy as np
import pytest

from microsyn.errors import GeometryError, ParameterError
from microsyn.membrane import (HH1952, AlphaSynapse, CompartmentGraph, DisconnectedGraphError, MembraneSolver,
                               NoMembraneError, Section, branched, cable, from_swc, graph_from_surface,
                               hines_order, myelinated_axon, neuron_morphology, sheet)


def test_cable_geometry_and_axial_conductance():
    g = cable(100.0, 2.0, 10, ra_ohm_cm=100.0)
    assert g.n == 10 and g.is_tree
    assert g.area_um2 == pytest.approx(np.full(10, math.pi * 2 * 10))
    # g = pi r^2 / (rho dx), rho = 1e-3 GOhm um
    assert g.g_axial_nS == pytest.approx(np.full(9, math.pi / (1e-3 * 10)))
    assert g.capacitance_pF.sum() == pytest.approx(0.01 * math.pi * 2 * 100)


def test_branched_neuron_and_myelinated_axon_are_trees_with_labels():
    g = neuron_morphology(20.0, [(200.0, 2.0, 10), (150.0, 1.0, 5)], (500.0, 1.0, 20))
    assert g.is_tree and g.n == 36
    assert set(g.labels) == {"soma", "dend", "axon"}
    assert g.area_um2[g.sections["soma"][0]] == pytest.approx(math.pi * 400)
    m = myelinated_axon(5, internode_segments=4)
    assert m.is_tree and (m.labels == "node").sum() == 5 and (m.labels == "internode").sum() == 16


def test_swc_import_simple_tree():
    swc = """# soma + two branches
1 1 0 0 0 5 -1
2 3 10 0 0 1 1
3 3 20 0 0 1 2
4 3 20 10 0 0.5 3
5 2 -10 0 0 0.5 1
"""
    g = from_swc(swc)
    assert g.n == 5 and g.is_tree
    assert list(g.labels[[0, 1, 4]]) == ["soma", "dend", "axon"]
    # segment 2-3: cylinder r=1, L=10 -> g = pi r^2 / (rho L)
    k = [i for i, e in enumerate(g.edges.tolist()) if sorted(e) == [1, 2]][0]
    assert g.g_axial_nS[k] == pytest.approx(math.pi / (1e-3 * 10))
    with pytest.raises(GeometryError, match="parent"):
        from_swc("1 1 0 0 0 5 -1\n2 3 1 0 0 1 7\n")
    with pytest.raises(GeometryError, match="coincide"):
        from_swc("1 1 0 0 0 5 -1\n2 3 0 0 0 1 1\n")
    with pytest.raises(GeometryError, match="radii"):
        from_swc("1 1 0 0 0 5 -1\n2 3 1 0 0 -1 1\n")
    with pytest.raises(GeometryError, match="not found"):
        from_swc("no_such_file.swc")


def test_swc_import_from_file(tmp_path):
    f = tmp_path / "cell.swc"
    f.write_text("1 1 0 0 0 5 -1\n2 3 10 0 0 1 1\n3 3 20 0 0 1 2\n")
    g = from_swc(str(f))
    assert g.n == 3 and g.is_tree


def test_hines_solution_equals_sparse_solution_on_a_branched_tree():
    g = neuron_morphology(15.0, [(300.0, 2.0, 30), (200.0, 1.0, 20)], (400.0, 1.0, 40))
    s1 = MembraneSolver(g, 0.05, method="be")
    assert s1._tree
    s2 = MembraneSolver(g, 0.05, method="be")
    s2._tree = False  # force the general sparse path
    for s in (s1, s2):
        s.add_current_clamp(45, 50.0, 0.0, 2.0)
        s.insert_hh("axon", params=HH1952)
        s.init(-65.0)
        s.run(5.0)
    assert np.allclose(s1.V, s2.V, atol=1e-8)
    order, parent, gpar = hines_order(g)
    assert np.all(parent[1:] < np.arange(1, g.n)) and parent[0] == -1


def test_crank_nicolson_is_second_order_backward_euler_first_order():
    g = cable(500.0, 1.0, 50)

    def v_at(dt, method):
        s = MembraneSolver(g, dt, method=method)
        s.add_current_clamp(0, 20.0, 0.0, 100.0)
        s.run(2.0)
        return s.V[10]

    ref = v_at(0.0005, "cn")
    for m, order in (("be", 1), ("cn", 2)):
        e1, e2 = abs(v_at(0.1, m) - ref), abs(v_at(0.05, m) - ref)
        assert math.log2(e1 / e2) == pytest.approx(order, abs=0.3)


def test_voltage_clamp_holds_and_reports_current():
    g = CompartmentGraph([1000.0], np.zeros((0, 2), int), [], e_leak_mV=-70.0)
    s = MembraneSolver(g, 0.025, method="be")
    vc = s.add_voltage_clamp(0, [1.0], [-50.0], g_series_nS=1e5)
    s.run(20.0)
    assert s.V[0] == pytest.approx(-50.0, abs=0.01)
    # steady clamp current = leak current g_L (V - E_L) = 0.5 nS * 20 mV = 10 pA
    assert vc.current_pA[-1] == pytest.approx(10.0, rel=1e-3)


def test_alpha_synapse_epsp_and_ipsp_signs_and_probe_by_point():
    g = cable(500.0, 1.0, 50)
    s = MembraneSolver(g, 0.025)
    s.add_conductance(AlphaSynapse(10, 1.0, 1.0, 1.0, 0.0))
    s.add_conductance(AlphaSynapse(40, 1.0, 1.0, 1.0, -90.0))
    pe = s.add_probe(point_um=(105.0, 0.0, 0.0))
    pi = s.add_probe(point_um=(405.0, 0.0, 0.0))
    s.run(10.0)
    assert pe.node == 10 and pi.node == 40
    assert pe.V_mV.max() > -69.0 and pi.V_mV.min() < -70.2


def test_sheet_and_surface_graphs_are_general_graphs():
    g = sheet(50.0, 30.0, 5.0)
    assert g.grid_shape == (11, 7) and not g.is_tree
    # a flat square surface split into triangles equals the sheet's conductances (cotan weights)
    n = 5
    xs, ys = np.meshgrid(np.arange(n) * 2.0, np.arange(n) * 2.0, indexing="ij")
    pts = np.c_[xs.ravel(), ys.ravel(), np.zeros(n * n)]
    idx = np.arange(n * n).reshape(n, n)
    tri = []
    for i in range(n - 1):
        for j in range(n - 1):
            a, b, c, d = idx[i, j], idx[i + 1, j], idx[i + 1, j + 1], idx[i, j + 1]
            tri += [(a, b, c), (a, c, d)]
    sg = graph_from_surface((pts, np.array(tri)), thickness_um=0.5)
    assert sg.area_um2.sum() == pytest.approx(64.0)
    # cotangent weights: t / rho on interior axis-aligned edges, half on the rim, 0 on diagonals
    assert len(sg.edges) == 40
    gi = np.sort(np.round(sg.g_axial_nS, 9))
    assert np.allclose(gi[:16], 250.0) and np.allclose(gi[16:], 500.0)
    assert sg.nearest_node((4.1, 3.9, 0.2)) == idx[2, 2]
    with pytest.raises(NoMembraneError, match="no membrane"):
        sg.nearest_node((4.0, 4.0, 50.0))


def test_surface_from_pyvista_sphere_if_available():
    pv = pytest.importorskip("pyvista")
    sph = pv.Sphere(radius=5.0, theta_resolution=20, phi_resolution=20)
    g = graph_from_surface(sph, thickness_um=0.5)
    assert g.area_um2.sum() == pytest.approx(4 * math.pi * 25, rel=0.03)
    s = MembraneSolver(g, 0.025)
    s.add_current_clamp(point_um=(0.0, 0.0, 5.0), amp_pA=1.0, delay_ms=0.0, duration_ms=5.0)
    s.run(5.0)
    assert np.all(s.V > -70.0)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kw,match", [
    (dict(length_um=0.0), "length_um"), (dict(length_um=-5.0), "length_um"),
    (dict(diameter_um=0.0), "diameter_um"), (dict(diameter_um=-1.0), "diameter_um"),
    (dict(diameter_um=float("nan")), "diameter_um"), (dict(cm_pF_per_um2=0.0), "cm_pF_per_um2"),
    (dict(cm_pF_per_um2=-0.01), "cm_pF_per_um2"), (dict(ra_ohm_cm=0.0), "ra_ohm_cm"),
    (dict(ra_ohm_cm=-100.0), "ra_ohm_cm"), (dict(ra_ohm_cm=float("nan")), "ra_ohm_cm"),
    (dict(n_segments=0), "n_segments"), (dict(g_leak_nS_per_um2=-1.0), "g_leak"),
])
def test_bad_cable_parameters_raise_parameter_error(kw, match):
    args = dict(length_um=100.0, diameter_um=1.0, n_segments=10)
    args.update(kw)
    with pytest.raises(ParameterError, match=match):
        cable(**args)


def test_disconnected_graph_raises():
    with pytest.raises(DisconnectedGraphError, match="pieces"):
        CompartmentGraph([1.0, 1.0, 1.0], [[0, 1]], [1.0])
    g = CompartmentGraph([1.0, 1.0, 1.0], [[0, 1]], [1.0], allow_disconnected=True)
    with pytest.raises(DisconnectedGraphError):
        MembraneSolver(g)
    assert issubclass(DisconnectedGraphError, GeometryError)


def test_bad_graph_arrays_raise():
    with pytest.raises(ParameterError, match="area"):
        CompartmentGraph([1.0, 0.0], [[0, 1]], [1.0])
    with pytest.raises(ParameterError, match="g_axial"):
        CompartmentGraph([1.0, 1.0], [[0, 1]], [-1.0])
    with pytest.raises(GeometryError, match="outside"):
        CompartmentGraph([1.0, 1.0], [[0, 2]], [1.0])
    with pytest.raises(ParameterError, match="NaN"):
        CompartmentGraph([1.0, float("nan")], [[0, 1]], [1.0])
    with pytest.raises(GeometryError, match="parent"):
        branched([Section("a", 10, 1, 1, parent="nope")])


def test_probes_and_stimuli_where_no_membrane_raise():
    g = cable(100.0, 1.0, 10)
    s = MembraneSolver(g, 0.025)
    with pytest.raises(NoMembraneError, match="no membrane"):
        s.add_probe(point_um=(50.0, 200.0, 0.0))
    with pytest.raises(NoMembraneError, match="does not exist"):
        s.add_probe(node=10)
    with pytest.raises(NoMembraneError):
        s.add_current_clamp(point_um=(1e4, 0, 0), amp_pA=1.0)
    with pytest.raises(NoMembraneError, match="labelled"):
        s.insert_hh("axon")
    with pytest.raises(ParameterError):
        s.add_probe(point_um=(float("nan"), 0, 0))


def test_bad_solver_settings_raise():
    g = cable(100.0, 1.0, 10)
    with pytest.raises(ParameterError, match="dt_ms"):
        MembraneSolver(g, 0.0)
    with pytest.raises(ParameterError, match="method"):
        MembraneSolver(g, 0.025, method="rk4")
    with pytest.raises(ParameterError, match="V0_mV"):
        MembraneSolver(g, 0.025, V0_mV=float("nan"))
    s = MembraneSolver(g, 0.025)
    with pytest.raises(ParameterError):
        s.add_current_clamp(0, float("nan"), 0.0, 1.0)
    with pytest.raises(ParameterError):
        s.set_external_current(0, float("inf"))
    with pytest.raises(ParameterError):
        HH1952.with_(gnabar_nS_per_um2=-1.0)


def test_hh_rate_table_matches_exact_rates():
    """The interpolated rate table (0.02 mV) changes an HH cable's spike train by < 5e-3 mV."""
    out = []
    for use_table in (True, False):
        g = cable(2000.0, 2.0, 100)
        s = MembraneSolver(g, 0.025)
        s.insert_hh(params=HH1952)
        s.mechanisms[0].use_table = use_table
        s.init(-65.0)
        s.add_current_clamp(0, 300.0, 1.0, 30.0)
        p = s.add_probe(50)
        s.run(30.0)
        out.append(p.V_mV)
    assert out[0].max() > 0
    assert np.max(np.abs(out[0] - out[1])) < 5e-3


def test_numba_hh_cable_matches_plain_numpy_reference():
    """The Numba HH cable (Hines + rate table) against the obvious numpy implementation
    (exact rates, banded solve), backward Euler, 200 compartments, 20 ms: within 0.01 mV."""
    from microsyn.membrane.bench import hh_cable_microsyn, hh_cable_numpy

    _, t1, v1 = hh_cable_microsyn(n=200, t_stop_ms=20.0, method="be")
    _, t2, v2 = hh_cable_numpy(n=200, t_stop_ms=20.0)
    assert np.allclose(t1, t2) and v1.max() > 0
    assert np.max(np.abs(v1 - v2)) < 0.01


def test_changing_the_graph_after_stepping_takes_effect():
    g = CompartmentGraph([1000.0], np.zeros((0, 2), int), [], e_leak_mV=-70.0)
    s = MembraneSolver(g, 0.1)
    s.run(1.0)
    g.set_membrane(e_leak_mV=-50.0)
    s.run(300.0)
    assert s.V[0] == pytest.approx(-50.0, abs=0.01)


def test_surface_graph_merges_duplicate_vertices_like_stl():
    # two triangles sharing an edge, stored STL-style with repeated vertices
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float)
    g = graph_from_surface((pts, np.array([[0, 1, 2], [3, 4, 5]])), thickness_um=0.1)
    assert g.n == 4 and g.area_um2.sum() == pytest.approx(1.0)


def test_surface_graph_from_particle_engine_shape():
    pytest.importorskip("pyvista")
    geometry = pytest.importorskip("microsyn.geometry")
    if not hasattr(geometry, "Sphere"):
        pytest.skip("microsyn.geometry has no Sphere")
    g = graph_from_surface(geometry.Sphere(radius=2.0), thickness_um=0.2)
    assert g.area_um2.sum() == pytest.approx(4 * math.pi * 4.0, rel=0.05)
    k = g.nearest_node((0.0, 0.0, 2.0))
    assert np.linalg.norm(g.xyz_um[k] - [0, 0, 2.0]) < 0.5


def test_channel_coupling_conductance_current_and_voltage_at_point():
    """A particle-engine channel as a ConductanceSource: its current g (V - E) and the local V."""
    g = cable(100.0, 1.0, 10)
    s = MembraneSolver(g, 0.025, method="be")
    ch = s.add_conductance(point_um=(55.0, 0.0, 0.0), E_mV=0.0)
    assert ch.node == 5
    ch.g_nS = 0.02  # e.g. two open 10 pS channels
    assert ch.current_pA(s.V) == pytest.approx(0.02 * (-70.0))
    s.run(50.0)
    assert s.voltage_at((55.0, 0.0, 0.0)) > -70.0
    with pytest.raises(NoMembraneError):
        s.voltage_at((55.0, 30.0, 0.0))
