"""The true triangles of a Mesh are its boundary (issue 8, item 23).

Kernels against slow independent references: ray parity in numpy (``mesh_reference``) for the
side of a point, VTK's implicit distance for the distance to the triangles, brute-force
Moller-Trumbore over all triangles for segment crossings. Fixed seeds throughout.
"""
import math

import numpy as np
import pytest

import microsyn as ms
from microsyn._kernels import geometry as kg
from microsyn._kernels.voxelize import cell_triangles
from mesh_reference import inside_by_ray_parity, outside_points, triangles


@pytest.fixture(scope="module", params=["sphere", "spine"])
def mesh(request):
    return ms.Mesh(request.param)


def _vtk_distance(m, pts):
    import pyvista as pv

    return pv.PolyData(pts).compute_implicit_distance(m.polydata)["implicit_distance"]


def _normals(tri):
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    vol = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()
    return n if vol > 0 else -n


def _near_surface_points(m, rng, n_tri=300):
    """Points at 1e-3, 1e-6 and 1e-9 um on both sides of triangle centroids and edge points."""
    tri = triangles(m)
    nrm = _normals(tri)
    pick = rng.choice(len(tri), n_tri, replace=False)
    w = np.array([[1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0], [0.02, 0.49, 0.49]])
    base = np.einsum("wk,tkd->twd", w, tri[pick]).reshape(-1, 3)
    nn = np.repeat(nrm[pick], len(w), axis=0)
    offs = np.array([1e-3, 1e-6, 1e-9, -1e-3, -1e-6, -1e-9])
    return (base[:, None, :] + offs[None, :, None] * nn[:, None, :]).reshape(-1, 3)


def _kernel_args(m):
    sdf, meta = m._mesh_arrays()
    return m.params()[None, :], sdf, meta


def test_cell_lists_hold_every_triangle_that_touches_the_cell(mesh):
    """Reference: 28 points on every triangle (vertices, edges, interior); the cell holding each
    point must list the triangle. Exact (no tolerance)."""
    m = mesh
    tri = triangles(m)
    nx, ny, nz = m.dims
    start, idx = cell_triangles(np.ascontiguousarray(tri), m.origin, m.voxel_size, nx, ny, nz)
    g = np.array([(i, j) for i in range(7) for j in range(7 - i)]) / 6.0
    w = np.column_stack([1 - g.sum(1), g])
    pts = np.einsum("wk,tkd->twd", w, tri)
    f = np.floor((pts - m.origin) / m.voxel_size).astype(np.int64)
    cell = (f[..., 0] * (ny - 1) + f[..., 1]) * (nz - 1) + f[..., 2]
    want = np.unique(cell * len(tri) + np.arange(len(tri))[:, None])
    have = np.repeat(np.arange(len(start) - 1), np.diff(start)) * len(tri) + idx
    assert np.isin(want, have).all()
    # and the lists stay short: at most a few dozen triangles per cell
    counts = np.diff(start)
    assert counts.max() < 60


def test_mesh_inside_matches_ray_parity_reference(mesh):
    """Exact side of random points and of points 1e-9 .. 1e-3 um off triangles and edges:
    reference ray parity in numpy; no mismatch, no undecidable point."""
    m = mesh
    rng = np.random.default_rng(3)
    lo, hi = m.bounds()
    pts = np.concatenate([rng.uniform(lo - 0.05, hi + 0.05, (3000, 3)), _near_surface_points(m, rng)])
    par, sdf, meta = _kernel_args(m)
    got = np.array([kg.mesh_inside(par, sdf, meta, 0, *p) for p in pts])
    ref = inside_by_ray_parity(triangles(m), pts)
    assert not np.any(got < 0)
    assert np.array_equal(got == 1, ref)
    # the user-facing test agrees
    assert np.array_equal(m.contains(pts), ref)
    assert np.array_equal(ms.Domain(m).contains(pts), ref)


def test_safe_distance_is_a_lower_bound_on_the_distance_to_the_triangles(mesh):
    """The fast path's safe radius never exceeds the true distance to the triangles (reference:
    VTK's implicit distance, tolerance 1e-9 um), and where positive it has the true sign
    (reference: ray parity)."""
    m = mesh
    rng = np.random.default_rng(4)
    lo, hi = m.bounds()
    pts = np.concatenate([rng.uniform(lo - 0.1, hi + 0.1, (4000, 3)), _near_surface_points(m, rng, 100)])
    sdf, meta = m._mesh_arrays()
    safe = np.array([kg.mesh_safe_distance(sdf, meta, 0, *p) for p in pts])
    d = np.abs(_vtk_distance(m, pts))
    assert np.all(np.abs(safe) <= d + 1e-9)
    ref = inside_by_ray_parity(triangles(m), pts)
    nz = safe != 0
    assert np.array_equal(safe[nz] < 0, ref[nz])
    assert np.mean(nz[:4000]) > 0.9  # and it is useful: positive almost everywhere


def test_mesh_sdf_is_the_exact_distance_to_the_triangles_in_the_band(mesh):
    """Mesh.sdf within two voxels of the surface equals the distance to the triangles (reference:
    VTK's implicit distance, tolerance 1e-9 um), is a lower bound beyond, and has the sign of
    ray parity."""
    m = mesh
    rng = np.random.default_rng(5)
    lo, hi = m.bounds()
    pts = np.concatenate([rng.uniform(lo - 0.1, hi + 0.1, (3000, 3)), _near_surface_points(m, rng, 100)])
    got = m.sdf(pts)
    d = np.abs(_vtk_distance(m, pts))
    near = d < 2 * m.voxel_size
    np.testing.assert_allclose(np.abs(got[near]), d[near], rtol=0, atol=1e-9)
    assert np.all(np.abs(got) <= d + 1e-9)
    assert np.array_equal(got <= 0, inside_by_ray_parity(triangles(m), pts))


def test_segment_crossings_match_brute_force_moller_trumbore(mesh):
    """First crossing of short segments through the surface: parameter t within 1e-9 and the
    direction (leaving/entering by the outward normal) of the reference, brute-force
    Moller-Trumbore over all triangles."""
    m = mesh
    tri = triangles(m)
    nrm = _normals(tri)
    rng = np.random.default_rng(6)
    pick = rng.choice(len(tri), 400, replace=False)
    bary = rng.dirichlet((1, 1, 1), len(pick))
    on = np.einsum("tk,tkd->td", bary, tri[pick])
    p0 = on - nrm[pick] * rng.uniform(1e-4, 2, (len(pick), 1)) * m.voxel_size
    d = rng.normal(size=(len(pick), 3)) * m.voxel_size
    par, sdf, meta = _kernel_args(m)
    a = tri[:, 0]
    e1 = tri[:, 1] - a
    e2 = tri[:, 2] - a
    n_checked = 0
    for q in range(len(pick)):
        pv_ = np.cross(d[q], e2)
        det = np.einsum("ij,ij->i", e1, pv_)
        sv = p0[q] - a
        u = np.einsum("ij,ij->i", sv, pv_) / det
        qv = np.cross(sv, e1)
        v = (qv @ d[q]) / det
        t = np.einsum("ij,ij->i", qv, e2) / det
        hit = (u >= 0) & (v >= 0) & (u + v <= 1) & (t >= 0) & (t <= 1)
        t1, o1, t2, o2 = kg.mesh_crossings(par, sdf, meta, 0, *p0[q], *d[q])
        if not hit.any():
            assert o1 == 0
            continue
        first = np.flatnonzero(hit)[np.argmin(t[hit])]
        assert o1 != 0 and abs(t1 - t[first]) < 1e-9
        assert o1 == (1 if d[q] @ nrm[first] > 0 else -1)
        n_checked += 1
    assert n_checked > 50


def _largest_dt_run(name, n, steps, seed, chunks=1):
    m = ms.Mesh(name)
    D = 1.0
    dt_max = (0.25 * m.smallest_feature()) ** 2 / (6 * D)
    sim = ms.Simulation(m, dt=0.99 * dt_max, species=["Na+"], D={"Na+": D}, seed=seed)
    sim.fill("Na+", conc_mM=n / (m.volume() * ms.units.PARTICLES_PER_UM3_PER_MM))
    sim.run(0.0)
    bad0 = outside_points(m, sim.positions("Na+"), 2 * m.voxel_size)
    bad = []
    for _ in range(chunks):
        sim.run(sim.dt * (steps // chunks))
        bad.extend(outside_points(m, sim.positions("Na+"), 2 * m.voxel_size).tolist())
    return m, sim, bad0, bad


#: bound on the fraction of rejected steps near the largest allowed dt
REJECT_BOUND = 1e-6


@pytest.mark.parametrize("name", ["sphere", "spine"])
def test_mesh_particles_stay_inside_the_true_triangles_at_the_largest_dt(name):
    """1e4 particles x 1000 steps (1e7 particle-steps) at 0.99 of the largest allowed dt: every
    particle inside the true triangles after the fill and after the run (reference: ray parity
    in numpy, no tolerance); rejected steps below 1e-6 of all steps."""
    m, sim, bad0, bad = _largest_dt_run(name, 10_000, 1000, seed=21)
    assert len(bad0) == 0 and len(bad) == 0
    n_steps = sim.count("Na+") * 1000
    assert sim.stats["rejected_steps"] <= REJECT_BOUND * n_steps
    assert sim.stats["reflections"] > 1000  # the exact path did work


def test_mesh_hole_keeps_particles_outside_its_triangles():
    """A sphere mesh cut out of a box: after 2e6 particle-steps no particle is inside the
    triangles (reference: ray parity in numpy, no tolerance)."""
    m = ms.Mesh("sphere")
    dom = ms.Domain(ms.Box((-0.6, -0.6, -0.6), (0.6, 0.6, 0.6), name="box"), holes=[m])
    sim = ms.Simulation(dom, dt=2e-5, species=["Na+"], D={"Na+": 1.0}, seed=5)
    n = 4000
    vol = 1.2**3 - m.volume()
    sim.fill("Na+", conc_mM=n / (vol * ms.units.PARTICLES_PER_UM3_PER_MM))
    sim.run(0.0)
    tri = triangles(m)
    assert not inside_by_ray_parity(tri, sim.positions("Na+")).any()
    sim.run(sim.dt * 500)
    assert not inside_by_ray_parity(tri, sim.positions("Na+")).any()
    assert sim.stats["reflections"] > 100


def test_absorbing_sphere_mesh_survival_matches_the_series_solution():
    """Particles released at the centre of an absorbing sphere mesh (R = 0.5 um, D = 1): the
    surviving fraction at t = 0.02 ms is S(t) = 2 sum_n (-1)^(n+1) exp(-n^2 pi^2 D t / R^2)
    (Carslaw & Jaeger 1959, sec. 9.3; the Brownian bridge uses the exact distance to the
    triangles). Tolerance 4 SE + 0.001 (the faceting: about 0.02 % of the radius)."""
    m = ms.Mesh("sphere")
    dom = ms.Domain(m)
    dom.set_boundary(m.name, "absorb")
    D, t, n = 1.0, 0.02, 20_000
    sim = ms.Simulation(dom, dt=1e-4, species=["Na+"], D={"Na+": D}, seed=8)
    sim.add_particles("Na+", np.zeros((n, 3)))
    sim.run(t)
    R = (3 * m.volume() / (4 * math.pi)) ** (1 / 3)  # the polyhedron's equal-volume radius
    k = np.arange(1, 200)
    theory = 2 * np.sum((-1.0) ** (k + 1) * np.exp(-(k**2) * math.pi**2 * D * t / R**2))
    got = sim.count("Na+") / n
    se = math.sqrt(theory * (1 - theory) / n)
    assert abs(got - theory) < 4 * se + 0.001
    assert sim.absorbed_count() == n - sim.count("Na+")
