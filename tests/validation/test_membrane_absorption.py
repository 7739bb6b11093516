"""One absorbing side of an internal membrane against the first-passage solution of a plane.

A plane membrane z = 0 inside a reflecting box (half-width 1 um) absorbs on its upper (``:in``)
side and reflects on its lower side. Particles released at height z0 above it are absorbed by
time t with probability erfc(z0 / sqrt(4 D t)) (the absorbing plane of Carslaw & Jaeger 1959,
"Conduction of Heat in Solids", sec. 2.2; the box walls are 7 diffusion lengths away), whatever
the step size, because the Brownian bridge corrects for excursions within a step (Andrews &
Bray 2004). Particles released the same distance below it are never absorbed. Tolerance: 4
binomial standard errors; fixed seeds.
"""
import math

import numpy as np
import pytest

import microsyn as ms

D = 1.0  # um^2/ms
Z0 = 0.05  # um
T = 0.005  # ms


@pytest.mark.parametrize("dt", [1e-5, 1e-4])
def test_absorbing_side_of_a_plane_membrane_matches_erfc(dt):
    """20,000 particles above and 2,000 below; rms steps of z0/11 and z0/3.5."""
    mem = ms.HalfSpace((0, 0, 0), (0, 0, 1), name="mem")
    dom = ms.Domain(ms.Box((-1, -1, -1), (1, 1, 1), name="box"), membranes=[mem])
    dom.set_boundary("mem:in", "absorb")
    sim = ms.Simulation(dom, dt=dt, species=["Na+", "K+"], D={"Na+": D, "K+": D}, seed=31)
    n = 20_000
    sim.add_particles("Na+", np.tile((0, 0, Z0), (n, 1)))
    sim.add_particles("K+", np.tile((0, 0, -Z0), (2000, 1)))
    sim.run(T)
    p = sim.absorbed_count("mem:in", "Na+") / n
    theory = math.erfc(Z0 / math.sqrt(4 * D * T))
    se = math.sqrt(theory * (1 - theory) / n)
    assert abs(p - theory) < 4 * se, f"dt={dt}: {p:.4f} vs {theory:.4f} (4 SE {4 * se:.4f})"
    assert sim.count("K+") == 2000 and sim.absorbed_count(species="K+") == 0
    assert np.all(sim.positions("K+")[:, 2] < 0) and np.all(sim.positions("Na+")[:, 2] > 0)


def test_outer_side_of_a_spherical_membrane_captures_like_a_sphere():
    """A spherical membrane (radius a = 0.1 um) absorbing on its outer side inside an absorbing
    sphere (radius b = 0.4 um), particles started at r0 = 0.15 um in random directions: it
    captures (a / r0) (b - r0) / (b - a) of them (Redner 2001, "A Guide to First-Passage
    Processes", ch. 6), 10,000 particles, rms step a/20. Particles started inside it stay there."""
    a, r0, b = 0.1, 0.15, 0.4
    mem = ms.Sphere((0, 0, 0), a, name="ves")
    dom = ms.Domain(ms.Sphere((0, 0, 0), b, name="outer"), membranes=[mem])
    dom.set_boundary("outer", "absorb").set_boundary("ves:out", "absorb")
    sim = ms.Simulation(dom, dt=(a / 20) ** 2 / (2 * D), species=["Na+", "K+"], D={"Na+": D, "K+": D}, seed=32)
    n = 10_000
    v = np.random.default_rng(3).normal(size=(n, 3))
    sim.add_particles("Na+", r0 * v / np.linalg.norm(v, axis=1, keepdims=True))
    sim.add_particles("K+", np.zeros((200, 3)))
    for _ in range(200):
        if sim.count("Na+") == 0:
            break
        sim.run(0.01)
    assert sim.count("Na+") == 0
    p = sim.absorbed_count("ves:out", "Na+") / n
    theory = (a / r0) * (b - r0) / (b - a)
    se = math.sqrt(theory * (1 - theory) / n)
    assert abs(p - theory) < 4 * se, f"{p:.4f} vs {theory:.4f} (4 SE {4 * se:.4f})"
    assert sim.count("K+") == 200 and np.all(np.linalg.norm(sim.positions("K+"), axis=1) <= a)
