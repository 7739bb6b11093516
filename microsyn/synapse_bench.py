"""Benchmark of one synaptic event: transmitter pulse, channel openings, ions and voltage.

``run_benchmarks(quick=False)`` returns a list of dicts; the case ``"synaptic_event"`` simulates
one AMPA synapse (10 receptors, Jonas et al. 1993 scheme, stochastic gating) hit by a 1 mM, 1 ms
glutamate pulse, for 10 ms: every Na+ ion that enters is a particle diffusing in the cytoplasm
above the membrane (hemisphere of radius 2 um with an absorbing far boundary, particle step 2 us,
rms step 90 nm),
K+ leaving is counted, and the membrane voltage of a 400 um dendrite (200 compartments) is
stepped every 10 us with the ions' current. Target: under 10 s on the 2-core development
machine, with 1e4 to 1e5 ions.

The particle throughput is compared with a plain numpy Brownian loop for the same geometry
(``ratio_vs_numpy``; the whole event, gating and voltage included, against stepping alone).
Run ``python -m microsyn.synapse_bench`` to print the JSON.
"""
from __future__ import annotations

import json
import time

__all__ = ["run_benchmarks", "synaptic_event"]


def synaptic_event(t_end_ms: float = 10.0, n_channels: int = 10, seed: int = 1, dt_particle_ms: float = 2e-3) -> dict:
    """Run one synaptic event; returns timings and counts."""
    import numpy as np

    from . import Domain, HalfSpace, Simulation, Sphere
    from .channels import AMPA
    from .gating import PulseLigand
    from .membrane import MembraneSolver, cable
    from .synapse import Synapse, SynapticCoupling

    t0 = time.perf_counter()
    solver = MembraneSolver(cable(400.0, 1.0, 200), dt_ms=0.01)
    solver.init(-70.0)
    dom = Domain(Sphere((0, 0, 0), 2.0, name="far"), holes=[HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    dom.set_boundary("far", "absorb")
    sim = Simulation(dom, dt=dt_particle_ms, species=["Na+"], seed=seed)
    cpl = SynapticCoupling(solver, sim)
    syn = cpl.add_synapse(Synapse(AMPA(), n_channels, at=(0, 0, 0), node=0, membrane="membrane",
                                  ligand=PulseLigand(1.0, 0.2, 1.0)))
    n_alive = []
    steps = int(round(t_end_ms / 0.5))
    for _ in range(steps):
        cpl.run(0.5)
        n_alive.append(sim.count("Na+"))
    seconds = time.perf_counter() - t0
    tr = syn.trace()
    n_steps = t_end_ms / dt_particle_ms
    return dict(case="synaptic_event", seconds=seconds, simulated_ms=t_end_ms, n_channels=n_channels,
                na_ions=int(syn.ions_in["Na+"]), k_ions_out=int(syn.ions_out["K+"]),
                max_ions_alive=int(max(n_alive)), peak_open=int(tr["n_open"].max()),
                epsp_peak_mV=float(tr["V_mV"].max() + 70.0),
                particle_steps=float(np.mean(n_alive) * n_steps),
                particle_steps_per_s=float(np.mean(n_alive) * n_steps / seconds),
                electrical_steps=len(tr["time_ms"]), target_seconds=10.0)


def numpy_reference_steps_per_s(n_particles: int, n_steps: int = 200, D: float = 0.667, dt: float = 2e-3,
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


def run_benchmarks(quick: bool = False) -> list:
    """Benchmarks of the synapse coupling; ``quick`` simulates 2 ms instead of 10 ms."""
    # warm-up (compile / load the Numba cache) outside the timing
    synaptic_event(t_end_ms=0.5, n_channels=2)
    res = synaptic_event(t_end_ms=2.0 if quick else 10.0)
    ref = numpy_reference_steps_per_s(max(res["max_ions_alive"] // 2, 1000))
    res["numpy_particle_steps_per_s"] = ref
    res["ratio_vs_numpy"] = res["particle_steps_per_s"] / ref
    return [res]


if __name__ == "__main__":
    print(json.dumps(run_benchmarks(), indent=1))
