"""The stepping kernels' cheap exact boundary paths give the same steps as the general resolution.

References: the general exact resolution (:func:`microsyn._kernels.boundaries.resolve_step`),
and the kernels' own results when a run is cut into one-step kernel calls (every step then
starts from a fresh checkpoint, so the fast path, the fold planes, the container spheres and the
single-surface resolution are used differently). Agreement is bitwise (tolerance 0): every path
does the same arithmetic for the same step.
"""
import numpy as np
import pytest

import microsyn as ms
from microsyn._kernels import boundaries as kbd


def _hemisphere(absorb=True, R=1.0):
    dom = ms.Domain(ms.Sphere((0, 0, 0), R, name="far"),
                    holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    if absorb:
        dom.set_boundary("far", "absorb")
    return dom


def _cleft():
    # a 50 nm x 1 um cleft: reflecting membranes (lower, upper), absorbing rim (x and y faces)
    dom = ms.Domain(ms.Slab(0.0, 0.05, half_width=0.5, name="cleft"))
    for f in ("xmin", "xmax", "ymin", "ymax"):
        dom.set_boundary(f"cleft.{f}", "absorb")
    return dom


def _tilted_plane_in_sphere():
    n = np.array([1.0, 2.0, -2.0]) / 3.0
    return ms.Domain(ms.Sphere((0, 0, 0), 1.0, name="cell"), holes=[ms.HalfSpace((0.1, 0, 0), n, name="wall")])


def _cylinder():
    return ms.Domain(ms.Cylinder((0, 0, 0), 0.15, 1.0, axis=(0.6, 0.0, 0.8), name="neck"))


def _obstacles():
    return ms.Domain(ms.Box((-0.5,) * 3, (0.5,) * 3, name="box"),
                     holes=[ms.Sphere((0.12, 0, 0), 0.1, name="vesicle"),
                            ms.Box((-0.3, -0.1, -0.1), (-0.05, 0.1, 0.1), name="pillar")])


def _corner():
    return ms.Domain(ms.Box((0, 0, 0), (0.3, 0.3, 0.3), name="box"))


#: geometry and where the particles start [um]
GEOMETRIES = {
    "hemisphere_absorbing": (_hemisphere, (0.0, 0.0, 0.001)),
    "hemisphere_reflecting": (lambda: _hemisphere(False, 0.1), (0.05, 0.02, 0.001)),
    "cleft_absorbing_rim": (_cleft, (0.45, 0.0, 0.025)),
    "tilted_plane_in_sphere": (_tilted_plane_in_sphere, (0.3, -0.2, 0.0)),
    "cylinder": (_cylinder, (0.24, 0.1, 0.32)),
    "obstacles": (_obstacles, (0.0, 0.0, 0.0)),
    "box_corner": (_corner, (0.01, 0.01, 0.01)),
}


def _run(name, gaussian, one_step_calls: bool, n=400, steps=80, dt=2e-5):
    make, at = GEOMETRIES[name]
    dom = make()
    sim = ms.Simulation(dom, dt=dt, species=["Na+"], seed=5, gaussian=gaussian)
    pts = np.asarray(at) + np.random.default_rng(1).normal(0, 0.02, (4 * n, 3))
    pts = pts[dom.contains(pts)][:n]
    sim.add_particles("Na+", pts)
    if one_step_calls:
        for _ in range(steps):
            sim.run(dt)
    else:
        sim.run(steps * dt)
    ids, pos = sim.ids_and_positions()
    return ids, pos, dict(sim.stats), dict(sim.absorbed)


@pytest.mark.parametrize("gaussian", ["table", "exact"])
@pytest.mark.parametrize("name", list(GEOMETRIES))
def test_one_kernel_call_equals_one_step_calls_bitwise(name, gaussian):
    """Reference: 80 one-step kernel calls (fresh checkpoints every step); one 80-step call must
    give the same ids, positions, reflections and absorptions bit for bit, in geometries that use
    every path: folds in membrane planes (also tilted ones), container spheres,
    single-surface resolution of spheres, cylinders and boxes, the general resolution near
    several surfaces (box corners, obstacles) and absorption with the Brownian bridge."""
    i1, p1, st1, ab1 = _run(name, gaussian, one_step_calls=False)
    i2, p2, st2, ab2 = _run(name, gaussian, one_step_calls=True)
    assert np.array_equal(i1, i2) and np.array_equal(p1, p2)
    assert ab1 == ab2
    assert st1["reflections"] == st2["reflections"] > 0
    assert st1["rejected_steps"] == st2["rejected_steps"] == 0


@pytest.mark.parametrize("name", list(GEOMETRIES))
def test_the_light_one_step_path_equals_one_kernel_call_bitwise(name):
    """One-step calls over at least ONE_STEP_MIN_PARTICLES particles take the light path
    (``step_once``; the particles it cannot step are gathered for ``step_table``). Reference:
    one 20-step call; same ids, positions, reflections and absorptions bit for bit, in every
    geometry above."""
    from microsyn.simulation import ONE_STEP_MIN_PARTICLES

    n = ONE_STEP_MIN_PARTICLES + 1000
    i1, p1, st1, ab1 = _run(name, "table", one_step_calls=False, n=n, steps=20)
    i2, p2, st2, ab2 = _run(name, "table", one_step_calls=True, n=n, steps=20)
    assert st2.get("one_step_general", 0) > 0 and len(i1) > ONE_STEP_MIN_PARTICLES
    assert np.array_equal(i1, i2) and np.array_equal(p1, p2)
    assert ab1 == ab2
    assert st1["reflections"] == st2["reflections"] > 0


def test_the_light_one_step_path_runs_reaction_clocks_bitwise():
    """With first-order reactions (A -> B, A + F -> AF with a field) the clocks of the light
    one-step path equal those of one long kernel call: 40 runs of one step vs one run of 40
    steps give the same particles and reaction counts."""
    def run(pieces):
        sim = ms.Simulation(ms.Box((0, 0, 0), (0.4, 0.4, 0.4)), dt=1e-5, seed=9)
        sim.use_field_lattice(voxel_size=0.05)
        sim.add_species(ms.Species("A", 0, 0.2, 0.2))
        sim.add_species(ms.Species("B", 0, 0.2, 0.2))
        sim.add_species(ms.Species("F", 0, 0.1, 0.1), kind="field")
        sim.add_species(ms.Species("AF", 0, 0.1, 0.1), kind="field")
        sim.fill("F", 0.5)
        sim.add_particles("A", np.random.default_rng(4).uniform(0, 0.4, (6000, 3)))
        sim.add_reaction(ms.Reaction("A -> B", rate=300.0))
        sim.add_reaction(ms.Reaction("A + F -> AF", rate=500.0))
        for _ in range(pieces):
            sim.run(40 * 1e-5 / pieces)
        return sim.ids_and_positions(), sim.reaction_counts, sim.stats

    (i1, p1), c1, _ = run(1)
    (i2, p2), c2, st2 = run(40)
    assert st2.get("one_step_general", 0) > 0
    assert c1 == c2 and min(c1.values()) > 0
    assert np.array_equal(i1, i2) and np.array_equal(p1, p2)


def test_fast_paths_are_used_where_they_apply():
    """Near a reflecting membrane most boundary work is folds in the fast path and the general
    resolution is rare; each geometry above exercises the path it names (counters of the
    kernels, fixed seed)."""
    _, _, st, _ = _run("hemisphere_reflecting", "table", False)
    assert st["folds"] > 0 and st["single_surface"] > 0
    assert st["resolved"] < 0.2 * (st["single_surface"] + st["folds"])
    _, _, st, _ = _run("box_corner", "table", False)
    assert st["resolved"] > 0  # several faces within reach: the general path
    _, _, st, ab = _run("cleft_absorbing_rim", "table", False)
    assert st["single_surface"] + st["resolved"] > 0 and sum(ab.values()) > 0


def _random_steps(n, center, spread, sigma, seed):
    rng = np.random.default_rng(seed)
    return center + rng.normal(0, spread, (n, 3)), rng.normal(0, sigma, (n, 3))


@pytest.mark.parametrize("name", ["hemisphere_absorbing", "hemisphere_reflecting", "cylinder", "obstacles",
                                  "tilted_plane_in_sphere"])
def test_single_surface_resolution_equals_general_resolution(name):
    """Reference: :func:`resolve_step` (the general exact resolution). Wherever
    :func:`single_surface` hands a step to :func:`resolve_single`, both give the same end
    point, fate, reflection count and rejection, bitwise, for 20,000 random steps near the
    surfaces (rms step 0.03 um)."""
    make, at = GEOMETRIES[name]
    dom = make()
    cg = dom.compile(["Na+"])
    kind, role, active, par, face_base, sdf, mesh_meta, bc, patches = cg.kernel_args()
    n = kind.shape[0]
    tin, tout = np.empty(n), np.empty(n)
    fin, fout = np.empty(n, np.int64), np.empty(n, np.int64)
    sigma = 0.03
    Ddt = sigma ** 2 / 2
    margin = 4.5 * sigma if cg.has_absorb[0] else 0.0
    P, D = _random_steps(20_000, np.asarray(at), 0.1, sigma, seed=3)
    P = P[dom.contains(P)]
    used = 0
    for i, (p, d) in enumerate(zip(P, D)):
        L = float(np.linalg.norm(d))
        one = kbd.single_surface(0, *p, L + margin, kind, role, active, par, sdf, mesh_meta, face_base, bc)
        if one < 0:
            continue
        used += 1
        a = kbd.resolve_single(0, one, *p, *d, np.uint64(9), i, Ddt, margin, kind, role, par, face_base, sdf,
                               mesh_meta, bc, patches)
        b = kbd.resolve_step(0, *p, *d, np.uint64(9), i, Ddt, margin, kind, role, active, par, face_base, sdf,
                             mesh_meta, bc, patches, bool(cg.has_absorb[0]), tin, tout, fin, fout)
        assert a == b, (p, d)
    assert used > 500
