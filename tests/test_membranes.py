"""Internal membranes of zero thickness (``Domain(..., membranes=[...])``): particles stay on their
side of every shape of membrane, each side has its own condition per species, a membrane that
transmits lets particles through (one way where only one side transmits), and wrong use is
refused. The first-passage physics of an absorbing side is in
``tests/validation/test_membrane_absorption.py``.
"""
import numpy as np
import pytest

import microsyn as ms


def _box(h=0.5):
    return ms.Box((-h, -h, -h), (h, h, h), name="box")


def _mesh_sphere(r):
    import pyvista as pv

    return ms.Mesh(pv.Sphere(radius=r, theta_resolution=24, phi_resolution=24).triangulate(), name="m")


MEMBRANES = {
    "sphere": lambda: ms.Sphere((0.02, 0, 0), 0.25, name="cell"),
    "box": lambda: ms.Box((-0.2, -0.25, -0.15), (0.25, 0.2, 0.3), name="cell"),
    "cylinder": lambda: ms.Cylinder((0, 0, 0), 0.2, 0.6, axis=(1, 1, 0), name="cell"),
    "plane": lambda: ms.HalfSpace((0, 0, 0.05), (0, 0.3, 1), name="cell"),
    "mesh": lambda: _mesh_sphere(0.25),
}


@pytest.mark.parametrize("kind", list(MEMBRANES))
def test_particles_stay_on_their_side_of_every_membrane(kind):
    """2,000 particles on each side of a reflecting membrane near it, 300 steps of rms 8 nm:
    every one is still on its side, none is outside the domain, and both sides saw reflections."""
    mem = MEMBRANES[kind]()
    dom = ms.Domain(_box(), membranes=[mem])
    sim = ms.Simulation(dom, dt=2e-5, species=["K+", "Na+"], D={"K+": 1.0, "Na+": 1.0}, seed=4)
    rng = np.random.default_rng(1)
    pts = rng.uniform(-0.45, 0.45, (200_000, 3))
    d = mem.sdf(pts)
    near = np.abs(d) < 0.03
    k_in, na_out = pts[near & (d < 0)][:2000], pts[near & (d > 0)][:2000]
    assert len(k_in) == 2000 and len(na_out) == 2000
    sim.add_particles("K+", k_in)
    sim.add_particles("Na+", na_out)
    sim.run(300 * sim.dt)
    assert np.all(mem.sdf(sim.positions("K+")) <= 0.0)
    assert np.all(mem.sdf(sim.positions("Na+")) > 0.0)
    assert sim.count("K+") == 2000 and sim.count("Na+") == 2000
    assert sim.stats["reflections"] > 1000
    sim.assert_no_escapes()


def test_membrane_surfaces_have_two_sides_with_their_own_conditions():
    cell = ms.Sphere((0, 0, 0), 0.2, name="cell")
    dom = ms.Domain(_box(), membranes=[cell])
    assert dom.surface_names()[-2:] == ["cell:in", "cell:out"]
    dom.set_boundary("cell:in", "absorb", species="K+")
    assert dom.boundary("cell:in", "K+") == "absorb" and dom.boundary("cell:out", "K+") == "reflect"
    dom.set_boundary("cell", "transmit", species="Cl-")
    assert dom.boundary("cell:in", "Cl-") == "transmit" == dom.boundary("cell:out", "Cl-")
    cg = dom.compile(["K+", "Cl-"])
    assert cg.role.tolist() == [0, 2] and cg.active[:, 1].tolist() == [1, 0]
    assert [m.name for m in dom.barrier_membranes("Cl-")] == []
    assert [m.name for m in dom.barrier_membranes("K+")] == ["cell"]
    box_mem = ms.Box((0, 0, 0), (0.1, 0.1, 0.1), name="bm")
    d2 = ms.Domain(_box(), membranes=[box_mem])
    d2.set_boundary("bm.zmax", "absorb")
    assert d2.boundary("bm.zmax:in") == "absorb" and d2.boundary("bm.zmax:out") == "absorb"
    assert d2.boundary("bm.zmin:in") == "reflect"
    assert "bm" in repr(d2) and "cell" in repr(dom.copy()) and (dom | ms.Sphere((2, 0, 0), 0.1)).membranes


def test_absorbing_inner_side_takes_only_the_particles_inside():
    cell = ms.Sphere((0, 0, 0), 0.2, name="cell")
    dom = ms.Domain(_box(), membranes=[cell])
    dom.set_boundary("cell:in", "absorb")
    sim = ms.Simulation(dom, dt=1e-5, species=["K+", "Na+"], D={"K+": 1.0, "Na+": 1.0}, seed=5)
    sim.add_particles("K+", np.zeros((500, 3)))
    sim.add_particles("Na+", np.tile((0.3, 0, 0), (500, 1)))
    sim.run(0.2)
    assert sim.count("K+") == 0 and sim.absorbed_count("cell:in", "K+") == 500
    assert sim.count("Na+") == 500 and sim.absorbed_count("cell:out") == 0
    assert np.all(np.linalg.norm(sim.positions("Na+"), axis=1) > 0.2)


def test_one_sided_transmission_is_a_valve():
    """The outer side transmits Na+, the inner side reflects it: Na+ goes in and never out, so
    after 2 ms (many diffusion times of the 1 um box) nearly all of it is inside; K+, reflected on
    both sides, stays outside."""
    cell = ms.Sphere((0, 0, 0), 0.3, name="cell")
    dom = ms.Domain(_box(), membranes=[cell])
    dom.set_boundary("cell:out", "transmit", species="Na+")
    sim = ms.Simulation(dom, dt=2e-5, species=["Na+", "K+"], D={"Na+": 1.0, "K+": 1.0}, seed=6)
    start = np.tile((0.4, 0.4, 0.4), (400, 1))
    sim.add_particles("Na+", start)
    sim.add_particles("K+", start)
    sim.run(2.0)
    r_na = np.linalg.norm(sim.positions("Na+"), axis=1)
    r_k = np.linalg.norm(sim.positions("K+"), axis=1)
    assert np.mean(r_na <= 0.3) > 0.95
    assert np.all(r_k > 0.3)


def test_transmitting_membrane_is_no_barrier():
    """A membrane that transmits on both sides is absent: particles from one corner spread over
    the whole box, a third of them inside the sphere's volume fraction within 5 binomial SE after
    mixing."""
    cell = ms.Sphere((0, 0, 0), 0.35, name="cell")
    dom = ms.Domain(_box(), membranes=[cell])
    dom.set_boundary("cell", "transmit")
    sim = ms.Simulation(dom, dt=5e-5, species=["Na+"], D={"Na+": 2.0}, seed=7)
    sim.add_particles("Na+", np.tile((0.45, 0.45, 0.45), (2000, 1)))
    sim.run(2.0)
    frac = 4 / 3 * np.pi * 0.35 ** 3
    got = np.mean(np.linalg.norm(sim.positions("Na+"), axis=1) <= 0.35)
    assert abs(got - frac) < 5 * np.sqrt(frac * (1 - frac) / 2000)


def test_regions_and_products_keep_to_their_side():
    cell = ms.Sphere((0, 0, 0), 0.2, name="cell")
    dom = ms.Domain(_box(), membranes=[cell])
    inside = dom.membrane_side("cell", "in")
    outside = dom.membrane_side("cell", "out")
    assert inside.contains([(0, 0, 0), (0.3, 0, 0)]).tolist() == [True, False]
    assert outside.contains([(0, 0, 0), (0.3, 0, 0)]).tolist() == [False, True]
    assert dom.same_side([(0, 0, 0.19), (0, 0, 0.19)], [(0, 0, 0.0), (0, 0, 0.21)]).tolist() == [True, False]
    with pytest.raises(ms.GeometryError, match="no membrane named"):
        dom.membrane_side("nope", "in")
    with pytest.raises(ms.ParameterError, match="'in' or 'out'"):
        dom.membrane_side("cell", "up")


def test_bad_membrane_use_is_refused():
    cell = ms.Sphere((0, 0, 0), 0.2, name="cell")
    dom = ms.Domain(_box(), membranes=[cell])
    with pytest.raises(ms.GeometryError, match="patches on membranes"):
        dom.add_patch("p", "cell:in", ms.DiscPatch((0, 0, 0.2), 0.05))
    with pytest.raises(ms.GeometryError, match="two shapes named"):
        ms.Domain(_box(), membranes=[cell, ms.Sphere((0.1, 0, 0), 0.1, name="cell")])
    with pytest.raises(ms.GeometryError, match="no surface named"):
        dom.set_boundary("cell:side", "absorb")
    sim = ms.Simulation(dom, dt=1e-5, species=["Na+"], seed=1)
    sim.use_field_lattice(0.05)
    with pytest.raises(ms.GeometryError, match="lattice fields do not see membranes"):
        sim.add_species(ms.Species("B", 0, 0.1, 0.1), kind="field")


def test_membranes_are_drawn_by_default():
    cell = ms.Sphere((0, 0, 0), 0.2, name="cell")
    ves = ms.Sphere((0.3, 0, 0), 0.05, name="ves")
    dom = ms.Domain(_box(), holes=[ves], membranes=[cell])
    assert list(dom.drawn_surfaces()) == ["ves", "cell"]


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_plane_membrane_reflects_by_folds_on_either_side(side):
    """Next to a reflecting plane membrane the stepping kernel folds steps in the plane (as for a
    hole's plane) on whichever side the particle is: most boundary steps are folds, few go
    through the general resolver, and all particles keep their side."""
    mem = ms.HalfSpace((0, 0, 0), (0, 0, 1), name="mem")
    dom = ms.Domain(_box(1.0), membranes=[mem])
    sim = ms.Simulation(dom, dt=1e-5, species=["Na+"], D={"Na+": 0.5}, seed=8)
    rng = np.random.default_rng(2)
    p = rng.uniform(-0.8, 0.8, (5000, 3))
    p[:, 2] = side * rng.uniform(1e-4, 0.03, len(p))
    sim.add_particles("Na+", p)
    sim.run(100 * sim.dt)
    st = sim.stats
    assert st["folds"] > 5 * st["resolved"] > 0
    assert np.all(side * sim.positions("Na+")[:, 2] > 0)


def test_too_many_shapes_with_membranes_is_refused():
    """A membrane's side is one bit per shape index: more than 62 shapes with a membrane is
    refused at compile time with what to do."""
    holes = [ms.Sphere((0.4, 0.4, -0.45 + 0.014 * i), 0.005, name=f"v{i}") for i in range(62)]
    dom = ms.Domain(_box(), holes=holes, membranes=[ms.Sphere((0, 0, 0), 0.2, name="cell")])
    with pytest.raises(ms.GeometryError, match="at most 62 shapes"):
        dom.compile(["Na+"])
