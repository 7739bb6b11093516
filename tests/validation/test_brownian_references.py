"""Brownian dynamics against analytic references.

Each test names its ground truth, uses a fixed seed and states its tolerance. Statistical
tolerances are 4 standard errors (a false alarm about once in 16,000 runs).
"""
import math

import numpy as np
import pytest
from scipy import special, stats

import microsyn as ms


def _radial_cdf(r, D, t):
    """P(|X| <= r) for a 3D Gaussian with per-axis variance 2Dt (also the half-space case)."""
    u = r / math.sqrt(4.0 * D * t)
    return special.erf(u) - 2.0 * u * np.exp(-u * u) / math.sqrt(math.pi)


@pytest.mark.parametrize("gaussian", ["table", "exact"])
def test_mean_squared_displacement_equals_6Dt(gaussian):
    """Einstein: <r^2> = 6 D t in free space. Tolerance 4 SE (SE = sqrt(24/36/N) relative)."""
    D, dt, n = 1.0, 1e-4, 20000
    box = ms.Box((-50, -50, -50), (50, 50, 50))
    sim = ms.Simulation(box, dt=dt, species=["Na+"], D={"Na+": D}, seed=11, gaussian=gaussian)
    sim.add_particles("Na+", np.zeros((n, 3)))
    msd = sim.add_recorder(ms.MeanSquaredDisplacement("Na+"), trigger=0.01)
    sim.run(0.1)
    t = np.array(msd.times_ms)[1:]
    measured = msd.msd_um2[1:]
    rel_se = math.sqrt(24.0 / 36.0 / n)
    np.testing.assert_allclose(measured, 6 * D * t, rtol=4 * rel_se)


def test_point_source_on_reflecting_plane_matches_half_space_greens_function():
    """c(r, t) = 2N (4 pi D t)^(-3/2) exp(-r^2 / 4Dt) above a reflecting plane (Crank 1975, eq.
    3.5 with the image source): radial histogram by chi-square (p > 1e-3), mean height
    2 sqrt(Dt/pi) within 4 SE, and no particle below the plane."""
    D, dt, n, t_end = 1.0, 1e-4, 100_000, 0.1
    L = 10 * math.sqrt(4 * D * t_end)
    dom = ms.Domain(ms.Box((-L, -L, 0.0), (L, L, L), name="cyto"))
    sim = ms.Simulation(dom, dt=dt, species=["Na+"], D={"Na+": D}, seed=5)
    sim.release("Na+", n=n, at=(0, 0, 0))
    sim.run(t_end)
    p = sim.positions("Na+")
    assert p.shape[0] == n
    assert p[:, 2].min() >= 0.0
    r = np.linalg.norm(p, axis=1)
    edges = np.linspace(0, 4 * math.sqrt(4 * D * t_end), 41)
    obs, _ = np.histogram(r, edges)
    exp = n * np.diff(_radial_cdf(edges, D, t_end))
    keep = exp >= 20
    chi2 = float(np.sum((obs[keep] - exp[keep]) ** 2 / exp[keep]))
    pval = stats.chi2.sf(chi2, keep.sum() - 1)
    assert pval > 1e-3, f"chi2 = {chi2:.1f} over {keep.sum()} shells"
    mean_h = p[:, 2].mean()
    theory = 2 * math.sqrt(D * t_end / math.pi)
    se = math.sqrt(2 * D * t_end * (1 - 2 / math.pi) / n)
    assert abs(mean_h - theory) < 4 * se


@pytest.mark.parametrize("dt", [1e-5, 1e-4, 1e-3])
def test_survival_above_absorbing_plane_is_erf_and_independent_of_dt(dt):
    """S(t) = erf(z0 / sqrt(4 D t)) (Carslaw & Jaeger 1959) for any dt, thanks to the
    Brownian-bridge crossing probability exp(-z0 z1 / D dt). At dt = 1e-3 ms the start height is
    only 2.2 rms steps. Tolerance 4 SE."""
    D, z0, t_end, n = 1.0, 0.1, 0.05, 100_000
    inf = math.inf
    dom = ms.Domain(ms.Box((-inf, -inf, 0.0), (inf, inf, inf), name="half"))
    dom.set_boundary("half.zmin", "absorb")
    sim = ms.Simulation(dom, dt=dt, species=["Na+"], D={"Na+": D}, seed=2)
    sim.add_particles("Na+", np.tile([0.0, 0.0, z0], (n, 1)))
    sim.run(t_end)
    surv = sim.count("Na+") / n
    theory = special.erf(z0 / math.sqrt(4 * D * t_end))
    se = math.sqrt(theory * (1 - theory) / n)
    assert abs(surv - theory) < 4 * se, f"dt={dt}: survival {surv:.4f} vs {theory:.4f}"
    assert sim.absorbed_count("half.zmin") == n - sim.count("Na+")


@pytest.mark.parametrize("b, dt", [(1.0, 1e-5), (0.5, 1e-5), (1.0, 1e-4)])
def test_absorbing_sphere_hitting_probability(b, dt):
    """Probability to hit an absorbing sphere of radius a before an absorbing outer sphere of
    radius b, from r0: (a / r0) (b - r0) / (b - a) (Redner 2001, "A Guide to First-Passage
    Processes", ch. 6), which tends to a / r0 as b -> inf. Tolerance 4 SE."""
    a, r0, D, n = 0.1, 0.2, 1.0, 20_000
    dom = ms.Domain(ms.Sphere((0, 0, 0), b, name="outer"), holes=[ms.Sphere((0, 0, 0), a, name="target")])
    dom.set_boundary("outer", "absorb").set_boundary("target", "absorb")
    sim = ms.Simulation(dom, dt=dt, species=["Na+"], D={"Na+": D}, seed=9)
    rng = np.random.default_rng(1)
    v = rng.normal(size=(n, 3))
    sim.add_particles("Na+", r0 * v / np.linalg.norm(v, axis=1, keepdims=True))
    for _ in range(60):
        sim.run(0.1)
        if sim.count("Na+") == 0:
            break
    assert sim.count("Na+") == 0
    p_hit = sim.absorbed_count("target") / n
    theory = (a / r0) * (b - r0) / (b - a)
    se = math.sqrt(theory * (1 - theory) / n)
    assert abs(p_hit - theory) < 4 * se, f"P = {p_hit:.4f} vs {theory:.4f}"


def test_constant_flux_pore_steady_count_in_hemisphere():
    """A pore emitting Q particles/ms on a reflecting plane, open space beyond b (absorbing
    hemisphere): steady c(r) = Q / (2 pi D) (1/r - 1/b), so the mean count within radius R is
    (Q/D) (R^2/2 - R^3/(3b)) -> (Q/D) R^2 / 2 as b -> inf (Crank 1975, ch. 6).
    Tolerance 4% (about 5 SE of the time average)."""
    Q, D, R, b, dt = 2e4, 1.0, 0.3, 1.0, 1e-4
    dom = ms.Domain(ms.Sphere((0, 0, 0), b, name="far"),
                    holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    dom.set_boundary("far", "absorb")
    sim = ms.Simulation(dom, dt=dt, species=["Na+"], D={"Na+": D}, seed=4)
    sim.add_source(ms.FluxSource("Na+", rate=Q, at=(0, 0, 0)))
    sim.run(1.5)  # slowest mode decays as exp(-pi^2 D t / b^2): e^-15
    counts = []
    for _ in range(100):
        sim.run(0.02)
        r = np.linalg.norm(sim.positions("Na+"), axis=1)
        counts.append(np.count_nonzero(r < R))
    theory = (Q / D) * (R**2 / 2 - R**3 / (3 * b))
    assert abs(np.mean(counts) - theory) / theory < 0.04
    assert sim.positions("Na+")[:, 2].min() >= 0.0


@pytest.mark.parametrize("mesh_name", ["sphere", "spine"])
def test_closed_mesh_holds_1e5_particles_for_1e4_steps(mesh_name):
    """Zero escapes: 1e5 particles, 1e4 steps in a 20,480-triangle sphere and a non-convex
    30,000-triangle dendritic spine. The kernel's own check (every stretch) and the true
    triangle surface: no particle lies more than 5% of a voxel outside the triangles (the
    lattice surface's interpolation error), and by an exact test (ray parity in numpy,
    tolerance 0) no particle is outside them at all."""
    import pyvista as pv

    m = ms.Mesh(mesh_name)
    sim = ms.Simulation(m, dt=1e-5, species=["Na+"], seed=7)
    n_target = 100_000
    sim.fill("Na+", conc_mM=n_target / (m.volume() * ms.units.PARTICLES_PER_UM3_PER_MM))
    sim.run(0.0)
    n = sim.count("Na+")
    assert abs(n - n_target) < 0.01 * n_target
    sim.run(1e-5 * 10_000)  # escapes raise DomainEscapeError inside run()
    assert sim.count("Na+") == n
    assert sim.stats["rejected_steps"] < 1e-5 * n * 10_000
    d = pv.PolyData(sim.positions("Na+")).compute_implicit_distance(m.polydata)["implicit_distance"]
    assert d.max() < 0.05 * m.voxel_size
    from mesh_reference import outside_points

    assert len(outside_points(m, sim.positions("Na+"), 2 * m.voxel_size)) == 0
