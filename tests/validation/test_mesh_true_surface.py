"""Long runs in the shipped meshes against their true triangles (issue 8, item 23).

Ground truth: the triangles the user gave. After a uniform fill and every 250 steps of a
1e8 particle-step run at 0.99 of the largest allowed dt, every particle must be inside them by
an independent exact test (ray parity in numpy, no tolerance; ``tests/mesh_reference.py``), and
at most 1e-6 of the steps may be rejected. (The 1e9 particle-steps per mesh with the same exact
check run at dt = 1e-5 ms in ``test_brownian_references.py``; at the largest dt the exact
triangle search is slow enough that 1e9 steps take hours on two cores.)
"""
import pytest

import microsyn as ms
from mesh_reference import outside_points

#: bound on the fraction of rejected steps near the largest allowed dt
REJECT_BOUND = 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sphere", "spine"])
def test_1e8_particle_steps_at_the_largest_dt_stay_inside_the_true_triangles(name):
    """1e5 particles x 1e3 steps at 0.99 dt_max (D = 1 um^2/ms): zero particles outside the
    true triangles at t = 0 and at four checkpoints (ray parity, tolerance 0); rejected steps
    <= 1e-6 of all steps."""
    m = ms.Mesh(name)
    D = 1.0
    dt_max = (0.25 * m.smallest_feature()) ** 2 / (6 * D)
    sim = ms.Simulation(m, dt=0.99 * dt_max, species=["Na+"], D={"Na+": D}, seed=23)
    n = 100_000
    sim.fill("Na+", conc_mM=n / (m.volume() * ms.units.PARTICLES_PER_UM3_PER_MM))
    sim.run(0.0)
    n = sim.count("Na+")
    assert len(outside_points(m, sim.positions("Na+"), 2 * m.voxel_size)) == 0
    for _ in range(4):
        sim.run(sim.dt * 250)
        assert sim.count("Na+") == n
        assert len(outside_points(m, sim.positions("Na+"), 2 * m.voxel_size)) == 0
    steps = n * 1_000
    assert steps >= 1e8 * 0.99
    assert sim.stats["rejected_steps"] <= REJECT_BOUND * steps
    print(f"{name}: dt {sim.dt:.3g} ms, {steps:.3g} particle-steps, rejected "
          f"{sim.stats['rejected_steps']}, resolved fraction {sim.stats['resolved'] / steps:.4f}")
