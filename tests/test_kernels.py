"""Each kernel against a slow, obvious numpy reference."""
import math

import numpy as np
import pytest

import microsyn as ms
from microsyn import rng
from microsyn._kernels import brownian as kb
from microsyn._kernels.clocks import no_clocks
from microsyn._kernels.zones import no_zones
from microsyn._kernels import geometry as kg
from rng_reference import table_normals_reference as _table_normals_reference


def _step(domain, pos, D, dt, nsteps, seed=3, gaussian="table", step0=0):
    """Run the stepping kernel directly on positions; returns new positions and states."""
    cg = domain.compile(["X"])
    n = pos.shape[0]
    x, y, z = (np.array(pos[:, a], dtype=float, copy=True) for a in range(3))
    pid = np.arange(n, dtype=np.uint64)
    species = np.zeros(n, np.int16)
    state = np.zeros(n, np.int16)
    sigma = np.array([math.sqrt(2 * D * dt)])
    Ddt = np.array([D * dt])
    margin = np.where(cg.has_absorb != 0, 4.5 * sigma, 0.0)
    counters = np.zeros(((n + 511) // 512, kb.N_COUNTERS), np.int64)
    free_r = np.full(n, -1.0, np.float32)
    common = (x, y, z, pid, species, state, free_r, n, np.zeros(0, np.int64), step0, nsteps,
              rng.seed_key(seed), sigma, Ddt, margin, cg.has_absorb)
    clocks = (np.full(n, np.nan),) + no_clocks(1, dt)
    if gaussian == "table":
        kb.step_table(*common, rng.gaussian_table(), *cg.kernel_args(), *clocks, *no_zones(1), np.zeros(n, np.int64),
                      512, counters, 2)
    else:
        zx, zr = rng.ziggurat_tables()
        kb.step_exact(*common, zx, zr, *cg.kernel_args(), *clocks, 512, counters)
    return np.stack([x, y, z], 1), state, counters.sum(0)


def _reference_displacements(n, D, dt, step, seed=3):
    return math.sqrt(2 * D * dt) * _table_normals_reference(seed, np.arange(n, dtype=np.uint64), step)


def test_free_steps_equal_numpy_reference_bitwise():
    """Far from any wall the kernel adds sigma * table[hash] per axis: same bits as numpy."""
    D, dt = 1.0, 1e-6
    dom = ms.Domain(ms.Box((-1e3,) * 3, (1e3,) * 3))
    pos = np.random.default_rng(0).uniform(-1, 1, (300, 3))
    new, _, _ = _step(dom, pos, D, dt, 1, step0=42)
    ref = pos + _reference_displacements(300, D, dt, 42)
    np.testing.assert_array_equal(new, ref)


def test_box_reflection_equals_folding_reference():
    """Specular reflection in an axis-aligned box is folding: x -> 2 hi - x above hi, 2 lo - x
    below lo, repeated until inside (multiple reflections within one step). Agreement to 1e-12
    um (the kernel steps a few ulp off the wall after each reflection)."""
    D, dt = 1.0, 1e-3  # sigma = 0.045 um in a 0.1 um box: many multiple reflections
    lo, hi = np.zeros(3), np.full(3, 0.1)
    dom = ms.Domain(ms.Box(lo, hi))
    n = 2000
    pos = np.random.default_rng(1).uniform(0, 0.1, (n, 3))
    new, state, cnt = _step(dom, pos, D, dt, 1, step0=7)
    q = pos + _reference_displacements(n, D, dt, 7)
    for _ in range(50):
        q = np.where(q > hi, 2 * hi - q, q)
        q = np.where(q < lo, 2 * lo - q, q)
    assert np.all(state == 0)
    assert cnt[kb.C_REFLECT] > n // 2
    assert cnt[kb.C_REJECT] == 0
    np.testing.assert_allclose(new, q, atol=1e-12, rtol=0)


def test_reflection_off_sphere_hole_matches_geometric_reference():
    """A step into a reflecting spherical obstacle: compare with ray-sphere intersection and
    mirror reflection in the tangent plane computed in numpy."""
    c, R = np.zeros(3), 0.5
    dom = ms.Domain(ms.Box((-5,) * 3, (5,) * 3), holes=[ms.Sphere(c, R)])
    p0 = np.array([[0.0, 0.0, 0.6]])
    D, dt = 1.0, 1e-2
    d = _reference_displacements(1, D, dt, 0, seed=12)[0]
    # choose a start so that the step surely enters the sphere: aim at its centre
    p0 = np.array([-(d / np.linalg.norm(d)) * (R + 0.3 * np.linalg.norm(d))])
    new, _, cnt = _step(dom, p0, D, dt, 1, step0=0, seed=12)
    # numpy reference
    o = p0[0]
    a, b, cc = d @ d, 2 * o @ d, o @ o - R * R
    t = (-b - math.sqrt(b * b - 4 * a * cc)) / (2 * a)
    hit = o + t * d
    nrm = hit / np.linalg.norm(hit)
    rem = (1 - t) * d
    ref = hit + rem - 2 * (rem @ nrm) * nrm
    assert cnt[kb.C_REFLECT] == 1
    np.testing.assert_allclose(new[0], ref, atol=1e-12)


def test_absorbing_wall_bridge_probability_matches_formula():
    """Particles that stay on the inner side of an absorbing plane during one step are absorbed
    with probability exp(-z0 z1 / (D dt)) (Andrews & Bray 2004). 2e5 particles at z0 = 1 sigma:
    compare the absorbed fraction with the expectation over the sampled end points (4 SE)."""
    D, dt, n = 1.0, 1e-4, 200_000
    sig = math.sqrt(2 * D * dt)
    inf = math.inf
    dom = ms.Domain(ms.Box((-inf, -inf, 0.0), (inf, inf, inf), name="h"))
    dom.set_boundary("h.zmin", "absorb")
    pos = np.tile([0.0, 0.0, sig], (n, 1))
    new, state, _ = _step(dom, pos, D, dt, 1, step0=0)
    z1 = sig + _reference_displacements(n, D, dt, 0)[:, 2]
    crossed = z1 < 0
    p_bridge = np.where(crossed, 1.0, np.exp(-sig * np.maximum(z1, 0) / (D * dt)))
    expected = p_bridge.mean()
    measured = np.mean(state != 0)
    assert np.all(state[crossed] != 0)
    se = math.sqrt(expected * (1 - expected) / n)
    assert abs(measured - expected) < 4 * se


@pytest.mark.parametrize("shape", [
    ms.Box((-0.3, -0.2, -0.1), (0.4, 0.5, 0.2)),
    ms.Sphere((0.1, -0.1, 0.05), 0.35),
    ms.Cylinder((0.0, 0.1, 0.0), 0.2, 0.6, axis=(1, 1, 0)),
    ms.HalfSpace((0.1, 0.0, 0.0), (1.0, 2.0, -0.5)),
])
def test_signed_distance_kernel_matches_numpy(shape):
    pts = np.random.default_rng(2).uniform(-1, 1, (2000, 3))
    got = shape.sdf(pts)
    if isinstance(shape, ms.Box):
        q = np.maximum(shape.lo - pts, pts - shape.hi)
        ref = np.minimum(q.max(1), 0) + np.linalg.norm(np.maximum(q, 0), axis=1)
    elif isinstance(shape, ms.Sphere):
        ref = np.linalg.norm(pts - shape.center, axis=1) - shape.radius
    elif isinstance(shape, ms.Cylinder):
        base = shape.center - 0.5 * shape.length * shape.axis
        ax = (pts - base) @ shape.axis
        rad = np.linalg.norm((pts - base) - ax[:, None] * shape.axis, axis=1)
        dr, da = rad - shape.radius, np.maximum(-ax, ax - shape.length)
        ref = np.minimum(np.maximum(dr, da), 0) + np.hypot(np.maximum(dr, 0), np.maximum(da, 0))
    else:
        ref = -(pts - shape.point) @ shape.normal
    np.testing.assert_allclose(got, ref, atol=1e-12)


@pytest.mark.parametrize("shape", [
    ms.Box((-0.3, -0.2, -0.1), (0.4, 0.5, 0.2)),
    ms.Sphere((0.1, -0.1, 0.05), 0.35),
    ms.Cylinder((0.0, 0.1, 0.0), 0.2, 0.6, axis=(1, 1, 0)),
])
def test_segment_interval_matches_dense_sampling(shape):
    """[t_in, t_out] from the kernel agrees with where densely sampled points are inside."""
    cg = ms.Domain(shape).compile(["X"])
    rs = np.random.default_rng(3)
    ts = np.linspace(-1, 2, 30001)
    for _ in range(40):
        p0 = rs.uniform(-0.6, 0.6, 3)
        d = rs.normal(size=3) * 0.5
        tin, tout, _, _ = kg.segment_interval(cg.kind, cg.par, cg.sdf, cg.mesh_meta, 0, *p0, *d)
        inside = shape.sdf(p0 + ts[:, None] * d) <= 0
        if not inside.any():
            assert tin > tout or tin > 2 or tout < -1
            continue
        assert abs(ts[inside].min() - max(tin, -1)) < 2e-4
        assert abs(ts[inside].max() - min(tout, 2)) < 2e-4


def test_binning_matches_histogramdd():
    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-6, species=["Na+", "Cl-"], seed=0)
    pos = np.random.default_rng(4).uniform(0, 1, (5000, 3))
    sim.add_particles("Na+", pos[:3000])
    sim.add_particles("Cl-", pos[3000:])
    lat = ms.Lattice((0, 0, 0), (1, 1, 1), shape=(4, 5, 6))
    ref, _ = np.histogramdd(pos[:3000], bins=(4, 5, 6), range=[(0, 1)] * 3)
    np.testing.assert_array_equal(lat.counts(sim, "Na+"), ref)
    assert lat.last_outside == 0
    ref_cl, _ = np.histogramdd(pos[3000:], bins=(4, 5, 6), range=[(0, 1)] * 3)
    np.testing.assert_allclose(lat.charge_density(sim), (ref - ref_cl) / lat.voxel_volume_um3)
    conc = lat.concentration_mM(sim, "Na+")
    np.testing.assert_allclose(conc, ref / (lat.voxel_volume_um3 * 602214.076))


def test_binning_counts_particles_outside_the_lattice():
    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-6, species=["Na+"], seed=0)
    sim.add_particles("Na+", [(0.1, 0.1, 0.1), (0.9, 0.9, 0.9)])
    lat = ms.Lattice((0, 0, 0), (0.5, 0.5, 0.5), voxel_size=0.1)
    assert lat.counts(sim, "Na+").sum() == 1
    assert lat.last_outside == 1


def test_mesh_lattice_lookup_matches_scipy_trilinear():
    """The kernel's trilinear lattice lookup (``mesh_sdf``, the last-resort sign of a point
    within rounding of a triangle) is trilinear interpolation of the lattice (reference:
    scipy.ndimage.map_coordinates, order 1; tolerance 1e-6 um)."""
    from scipy import ndimage

    m = ms.Mesh("sphere")
    sdf, meta = m._mesh_arrays()
    lat = m.distance_lattice.astype(np.float64)
    pts = np.random.default_rng(5).uniform(-0.5, 0.5, (3000, 3))
    ref = ndimage.map_coordinates(lat, ((pts - m.origin) / m.voxel_size).T, order=1)
    got = np.array([kg.mesh_sdf(sdf, meta, 0, *p) for p in pts])
    np.testing.assert_allclose(got, ref, atol=1e-6)
