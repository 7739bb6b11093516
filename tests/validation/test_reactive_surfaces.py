"""Partially absorbing (reactive) surfaces against the Robin-boundary solutions.

References: a semi-infinite medium, initially at uniform c0, whose surface takes up particles
at D dc/dn = kappa c, has lost M(t) = (c0 / h) [exp(h^2 D t) erfc(h sqrt(D t)) - 1 +
2 h sqrt(D t / pi)] per unit area, h = kappa / D (Crank 1975, The Mathematics of Diffusion,
eq. 3.5x "surface evaporation", section 3.3.2); a sphere of radius a with that condition in
an initially uniform medium absorbs at the Collins-Kimball rate k(t) = k_CK [1 + (k_a / k_D)
erfcx(alpha sqrt(D t))], k_a = 4 pi a^2 kappa, k_D = 4 pi D a, k_CK = k_a k_D / (k_a + k_D),
alpha = (1 + k_a / k_D) / a (Collins & Kimball 1949). The simulated surface absorbs each hit
with P = kappa sqrt(pi dt / D) (Erban & Chapman 2007, Phys. Biol. 4:16,
doi:10.1088/1478-3975/4/1/003). Tolerance: 4 Poisson standard errors plus the 2 % the scheme
itself is off at the P used (Erban & Chapman 2007, Fig. 3: the error is O(P)).
"""
import math

import numpy as np
import pytest
from scipy import integrate, special

import microsyn as ms
from microsyn.errors import ParameterError, TimeStepError


def _crank_lost(c0, D, kappa, t):
    h = kappa / D
    u = h * math.sqrt(D * t)
    return c0 / h * (special.erfcx(u) - 1 + 2 * u / math.sqrt(math.pi))


@pytest.mark.parametrize("shape", ["box face", "half-space hole"])
@pytest.mark.parametrize("kappa", [1.0, 5.0])
def test_partially_absorbing_plane_matches_the_robin_solution(shape, kappa):
    """Uniform particles above a reactive plane (box face, or a half-space plane): the number
    absorbed by t = 0.02 and 0.05 ms against Crank's surface-evaporation solution."""
    D, dt, n, L = 1.0, 1e-5, 100_000, 1.5
    sp = ms.Species("X", 0, D, D)
    if shape == "box face":
        dom = ms.Domain(ms.Box((0, 0, 0), (1, 1, L), name="box"))
        dom.set_boundary("box.zmin", "partial", rate=kappa)
    else:
        dom = ms.Domain(ms.Box((0, 0, -1), (1, 1, L), name="box"), holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="plane")])
        dom.set_boundary("plane", "partial", rate=kappa)
    sim = ms.Simulation(dom, dt=dt, species=[sp], seed=41)
    sim.add_particles("X", np.random.default_rng(4).uniform((0, 0, 0), (1, 1, L), (n, 3)))
    c0 = n / L  # per um^3 over a unit area
    for t in (0.02, 0.05):
        sim.run_until(t)
        lost = n - sim.count("X")
        expect = _crank_lost(c0, D, kappa, sim.time)
        assert abs(lost - expect) < 4 * math.sqrt(expect) + 0.02 * expect, (shape, kappa, t, lost, expect)


def test_partially_absorbing_sphere_target_matches_collins_kimball():
    """A reactive sphere (a hole of radius 50 nm, kappa = 2 um/ms, D = 1 um^2/ms) in a box of
    uniform particles: the number absorbed by 0.05 ms against c0 times the integral of the
    Collins-Kimball k(t)."""
    D, dt, n, a, kappa, L = 1.0, 4e-6, 200_000, 0.05, 2.0, 1.0
    dom = ms.Domain(ms.Box((-L / 2,) * 3, (L / 2,) * 3, name="box"), holes=[ms.Sphere((0, 0, 0), a, name="target")])
    dom.set_boundary("target", "partial", rate=kappa)
    sp = ms.Species("X", 0, D, D)
    sim = ms.Simulation(dom, dt=dt, species=[sp], seed=42)
    rng = np.random.default_rng(5)
    pts = rng.uniform(-L / 2, L / 2, (int(n * 1.01), 3))
    pts = pts[np.linalg.norm(pts, axis=1) > a][:n]
    sim.add_particles("X", pts)
    c0 = n / (L**3 - 4 / 3 * math.pi * a**3)
    T = 0.05
    sim.run(T)
    ka, kD = 4 * math.pi * a * a * kappa, 4 * math.pi * D * a
    kck = ka * kD / (ka + kD)
    alpha = (1 + ka / kD) / a
    integral = integrate.quad(lambda t: kck * (1 + ka / kD * special.erfcx(alpha * math.sqrt(D * t))), 0, T)[0]
    expect = c0 * integral
    lost = n - sim.count("X")
    assert abs(lost - expect) < 4 * math.sqrt(expect) + 0.02 * expect, (lost, expect)


def test_partial_boundary_needs_a_rate_and_a_short_enough_step():
    dom = ms.Domain(ms.Box((0, 0, 0), (1, 1, 1), name="box"))
    with pytest.raises(ParameterError, match="rate="):
        dom.set_boundary("box.zmin", "partial")
    with pytest.raises(ParameterError, match="partial"):
        dom.set_boundary("box.zmin", "absorb", rate=1.0)
    with pytest.raises(ParameterError, match="adsorption rate"):
        dom.set_boundary("box.zmin", "partial", rate=-1.0)
    dom.set_boundary("box.zmin", "partial", rate=50.0)
    sim = ms.Simulation(dom, dt=1e-4, species=[ms.Species("X", 0, 1.0, 1.0)], seed=1)
    sim.add_particles("X", [[0.5, 0.5, 0.5]])
    with pytest.raises(TimeStepError, match="dt <="):
        sim.run(1e-4)
    assert dom.boundary("box.zmin") == "partial" and dom.adsorption_rate("box.zmin") == 50.0
