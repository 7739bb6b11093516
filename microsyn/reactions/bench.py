"""Benchmarks of reactions: pairs of tracked particles, and particles in a lattice field.

``run_benchmarks(quick=False)`` returns one dict per case (``microsyn bench`` joins them):

- ``reaction_pair``: a reflecting 1 um cube with 1e5 A and 1e5 B (D = 0.5 um^2/ms each, dt =
  1 ns) and A + B <-> C at kf = 1e9 /M/s (1000 /(mM ms)), kb = 10 /ms (about 17 bindings
  per step at the start);
- ``reaction_field``: 1e5 A particles in the same cube with a lattice field F (1 mM, 20 nm
  voxels, D = 0.2 um^2/ms) and A + F <-> AF (AF a field too) at kf = 100 /(mM ms), kb = 1 /ms.

Each reports ``particle_steps_per_s`` (particles alive x steps / wall time, median of repeats)
and ``ratio_vs_diffusion``: against the same particles diffusing without reactions in the same
box, advanced in one kernel call per repeat, on the same threads, measured in the same run. The
``profile`` splits the reacting run's wall time into the Brownian steps, the pair search
(cell list, proposals, acceptance), the fired reaction clocks, the products, the fields and the
rest. For scale, the issue that asked for these quotes Smoldyn 2.76 at 4.7e5 and ReaDDy 2 at
6.8e5 particle-steps/s for A + B <-> C (5e4 + 5e4 molecules) on this machine type; those are
reported numbers, not measured here, and ``x_reported_smoldyn`` divides by them.
"""
from __future__ import annotations

import statistics
import time

import numpy as np

DT_MS = 1e-6
SMOLDYN_REPORTED = 4.7e5
READDY_REPORTED = 6.8e5


def _species(name, D):
    from ..species import Species

    return Species(name, 0, D, D)


def _pair_sim(n, seed=1, reactions=True):
    import microsyn as ms

    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=DT_MS, seed=seed)
    for s in "ABC":
        sim.add_species(_species(s, 0.5))
    rng = np.random.default_rng(seed)
    sim.add_particles("A", rng.uniform(0, 1, (n, 3)))
    sim.add_particles("B", rng.uniform(0, 1, (n, 3)))
    if reactions:
        sim.add_reaction(ms.Reaction("A + B <-> C", rate=1000.0, reverse_rate=10.0))
    return sim


def _field_sim(n, seed=1, reactions=True):
    import microsyn as ms

    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=DT_MS, seed=seed)
    sim.add_species(_species("A", 0.5))
    rng = np.random.default_rng(seed)
    sim.add_particles("A", rng.uniform(0, 1, (n, 3)))
    if reactions:
        sim.use_field_lattice(voxel_size=0.02)
        sim.add_species(_species("F", 0.2), kind="field")
        sim.add_species(_species("AF", 0.2), kind="field")
        sim.fill("F", 1.0)
        sim.add_reaction(ms.Reaction("A + F <-> AF", rate=100.0, reverse_rate=1.0))
    return sim


def _timed(sim, steps, repeats):
    """Median particle-steps/s of ``repeats`` runs of ``steps`` steps (after one warm-up run),
    and the profile of the timed runs."""
    sim.run(steps * DT_MS)  # warm-up: compilation, first cell lists
    if sim.fields is not None and sim.fields.names:  # and a field step (its kernels compile once)
        sim.run(sim.reactions._steps_to_field_step() * DT_MS)
    base_t = dict(sim.timings)
    base_r = dict(sim.reactions.timings)
    rates, wall = [], 0.0
    for _ in range(repeats):
        n0 = sim.particles.n
        t0 = time.perf_counter()
        sim.run(steps * DT_MS)
        dtw = time.perf_counter() - t0
        wall += dtw
        rates.append(0.5 * (n0 + sim.particles.n) * steps / dtw)
    prof = {k: sim.timings[k] - base_t.get(k, 0.0) for k in sim.timings}
    rx = {k: sim.reactions.timings[k] - base_r.get(k, 0.0) for k in sim.reactions.timings}
    return statistics.median(rates), wall, prof, rx


def _case(name, make, n, steps, repeats):
    from ..config import PARALLEL_MIN_PARTICLES, num_threads

    sim = make(n)
    rate, wall, prof, rx = _timed(sim, steps, repeats)
    ref = make(n, reactions=False)
    # the same particles (their number at the end of the reacting run) diffusing without reactions
    diff_rate, _, _, _ = _timed(ref, steps, repeats)
    profile = {
        "brownian_steps": prof.get("kernel", 0.0),
        "pair_search": rx.get("pairs", 0.0),
        "first_order": rx.get("first_order", 0.0),
        "products": rx.get("products", 0.0),
        "fields": rx.get("fields", 0.0),
        "compaction": prof.get("fates", 0.0),
    }
    profile["rest"] = max(0.0, wall - sum(profile.values()))
    return {
        "case": name,
        "n": sim.particles.n,
        "steps": steps,
        "dt_ms": DT_MS,
        "threads": num_threads() if sim.particles.n >= PARALLEL_MIN_PARTICLES else 1,
        "particle_steps_per_s": rate,
        "diffusion_particle_steps_per_s": diff_rate,
        "ratio_vs_diffusion": rate / diff_rate,
        "reaction_counts": {k: float(v) for k, v in sim.reaction_counts.items()},
        "profile_s": profile,
        "profile_fraction": {k: v / wall for k, v in profile.items()},
        "x_reported_smoldyn": rate / SMOLDYN_REPORTED,
        "x_reported_readdy": rate / READDY_REPORTED,
    }


def run_benchmarks(quick: bool = False) -> list[dict]:
    n = 100_000
    steps = 20 if quick else 100
    repeats = 3 if quick else 5
    return [_case("reaction_pair", _pair_sim, n, steps, repeats),
            _case("reaction_field", _field_sim, n, steps, repeats)]


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run_benchmarks(), indent=1))
