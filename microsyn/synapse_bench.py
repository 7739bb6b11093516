"""Benchmarks of a synaptic event: transmitter pulse, channel openings, ions and voltage.

``run_benchmarks(quick=False)`` returns a list of dicts. The case ``"synaptic_event"`` simulates
one AMPA synapse (10 receptors, Jonas et al. 1993 scheme, stochastic gating) hit by a 1 mM, 1 ms
glutamate pulse, for 10 ms: every Na+ ion that enters is a particle diffusing in the cytoplasm
above the membrane (hemisphere of radius 2 um with an absorbing far boundary, particle step 2 us,
rms step 90 nm), K+ leaving is counted, and the membrane voltage of a 400 um dendrite (200
compartments) is stepped every 10 us with the ions' current; the run is advanced in 0.5 ms
pieces, reading the ion count after each. ``"synaptic_event_1e5"`` is the same with 60
receptors and a far boundary at 4 um, so that about 1e5 ions are alive on average.

Each case reports its particle throughput (mean ions alive x particle steps / wall time) against
two baselines measured in the same run:

- ``ratio_vs_box``: the stepping kernel alone, the same number of particles (the run's mean) in
  a large reflecting box where no particle meets a wall, advanced in one call, on the thread
  count the coupled run uses;
- ``ratio_vs_numpy``: a plain numpy Brownian loop for the same geometry (reflection at the
  membrane by folding, absorption beyond the far radius without the Brownian-bridge correction,
  births every step), for the whole event (gating and voltage included) against stepping alone.

``profile`` splits the wall time into the stepping kernel, births, fates of absorbed ions,
escape checks, gating, emission (rates, Poisson counts, injected current), the membrane solver,
readouts and the rest (Python between them); ``boundary`` gives the fractions of particle-steps
that left their free region (``slow``), were resolved by the single-surface path
(``single_surface``) or by the general one (``resolved``), and were folded in a flat face in
the fast path (``folds``). Run ``python -m microsyn.synapse_bench`` to print the JSON.
"""
from __future__ import annotations

import json
import statistics
import time

__all__ = ["run_benchmarks", "synaptic_event", "box_reference_steps_per_s", "numpy_reference_steps_per_s"]

DT_PARTICLE_MS = 2e-3
D_NA = 0.667  # um^2/ms, Na+ in cytoplasm (the Simulation's default for the species)


def synaptic_event(t_end_ms: float = 10.0, n_channels: int = 10, seed: int = 1,
                   dt_particle_ms: float = DT_PARTICLE_MS, far_um: float = 2.0, piece_ms: float = 0.5,
                   case: str = "synaptic_event") -> dict:
    """Run one synaptic event; returns timings, counts and the profile."""
    import numpy as np

    from . import Domain, HalfSpace, Simulation, Sphere
    from .channels import AMPA
    from .gating import PulseLigand
    from .membrane import MembraneSolver, cable
    from .synapse import Synapse, SynapticCoupling

    t0 = time.perf_counter()
    solver = MembraneSolver(cable(400.0, 1.0, 200), dt_ms=0.01)
    solver.init(-70.0)
    dom = Domain(Sphere((0, 0, 0), far_um, name="far"), holes=[HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    dom.set_boundary("far", "absorb")
    sim = Simulation(dom, dt=dt_particle_ms, species=["Na+"], seed=seed)
    cpl = SynapticCoupling(solver, sim)
    syn = cpl.add_synapse(Synapse(AMPA(), n_channels, at=(0, 0, 0), node=0, membrane="membrane",
                                  ligand=PulseLigand(1.0, 0.2, 1.0)))
    n_alive = []
    steps = int(round(t_end_ms / piece_ms))
    t_setup = time.perf_counter() - t0
    for _ in range(steps):
        cpl.run(piece_ms)
        n_alive.append(sim.count("Na+"))
    seconds = time.perf_counter() - t0
    tr = syn.trace()
    n_steps = t_end_ms / dt_particle_ms
    ps = float(np.mean(n_alive) * n_steps)
    # the coupling's work happens inside the Simulation's events: its parts replace "events"
    parts = dict(sim.timings)
    del parts["events"]
    parts.update(cpl.timings)
    parts["setup"] = t_setup
    parts["other_python"] = max(seconds - sum(parts.values()), 0.0)
    st = sim.stats
    boundary = {k: st[k] / ps for k in ("slow_steps", "single_surface", "resolved", "folds")}
    return dict(case=case, seconds=seconds, simulated_ms=t_end_ms, n_channels=n_channels, far_um=far_um,
                na_ions=int(syn.ions_in["Na+"]), k_ions_out=int(syn.ions_out["K+"]),
                mean_ions_alive=float(np.mean(n_alive)), max_ions_alive=int(max(n_alive)),
                peak_open=int(tr["n_open"].max()), epsp_peak_mV=float(tr["V_mV"].max() + 70.0),
                particle_steps=ps, particle_steps_per_s=ps / seconds,
                electrical_steps=len(tr["time_ms"]),
                profile_s={k: round(v, 4) for k, v in parts.items()},
                profile_fraction={k: round(v / seconds, 3) for k, v in parts.items()},
                boundary={k: round(v, 4) for k, v in boundary.items()})


def box_reference_steps_per_s(n_particles: int, n_steps: int = 500, dt: float = DT_PARTICLE_MS, seed: int = 0,
                              repeats: int = 3) -> dict:
    """Particle-steps per second of the stepping kernel alone: ``n_particles`` Na+ in a reflecting
    box 1 mm wide (no particle reaches a wall), ``n_steps`` steps of ``dt`` [ms] in one call; the
    median of ``repeats``. The thread count is the one a coupled run of that many ions uses."""
    import numpy as np

    from . import Box, Simulation
    from .config import PARALLEL_MIN_PARTICLES, num_threads

    def once():
        sim = Simulation(Box((-500.0,) * 3, (500.0,) * 3), dt=dt, species=["Na+"], seed=seed)
        sim.add_particles("Na+", np.random.default_rng(seed).uniform(-1, 1, (n_particles, 3)))
        t0 = time.perf_counter()
        sim.run(n_steps * dt)
        return time.perf_counter() - t0

    once()
    secs = statistics.median(once() for _ in range(repeats))
    return dict(box_particle_steps_per_s=n_particles * n_steps / secs,
                box_threads=num_threads() if n_particles >= PARALLEL_MIN_PARTICLES else 1)


def numpy_reference_steps_per_s(n_particles: int, n_steps: int = 200, D: float = D_NA, dt: float = DT_PARTICLE_MS,
                                b: float = 2.0, seed: int = 0) -> float:
    """Particle-steps per second of a plain numpy Brownian loop for the same geometry (reflection at
    the membrane z = 0 by folding, absorption beyond r = b, no Brownian-bridge correction)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n_particles, 3)) * 0.5 * b
    x[:, 2] = np.abs(x[:, 2])
    sigma = (2 * D * dt) ** 0.5
    t0 = time.perf_counter()
    done = 0
    for _ in range(n_steps):
        done += x.shape[0]
        x += sigma * rng.standard_normal(x.shape)
        np.abs(x[:, 2], out=x[:, 2])
        keep = np.einsum("ij,ij->i", x, x) < b * b
        if not keep.all():
            x = x[keep]
        births = rng.poisson(50.0)
        if births:
            x = np.concatenate([x, np.tile([0.0, 0.0, 0.001], (births, 1))])
    return done / (time.perf_counter() - t0)


CASES = {
    "synaptic_event": dict(n_channels=10, far_um=2.0),
    "synaptic_event_1e5": dict(n_channels=60, far_um=4.0),
}


def run_benchmarks(quick: bool = False) -> list:
    """Benchmarks of the synapse coupling; ``quick`` simulates 2 ms instead of 10 ms."""
    # warm-up (compile / load the Numba cache) outside the timing
    synaptic_event(t_end_ms=0.5, n_channels=2)
    out = []
    for case, kw in CASES.items():
        res = synaptic_event(t_end_ms=2.0 if quick else 10.0, case=case, **kw)
        n = max(int(res["mean_ions_alive"]), 1000)
        res.update(box_reference_steps_per_s(n))
        res["ratio_vs_box"] = res["particle_steps_per_s"] / res["box_particle_steps_per_s"]
        ref = numpy_reference_steps_per_s(n, b=kw["far_um"])
        res["numpy_particle_steps_per_s"] = ref
        res["ratio_vs_numpy"] = res["particle_steps_per_s"] / ref
        out.append(res)
    return out


if __name__ == "__main__":
    print(json.dumps(run_benchmarks(), indent=1))
