"""Validation: steady number of ions near a constant-flux pore (Crank 1975, ch. 6; Berg 1993).

A pore in a reflecting membrane emitting Q ions/ms into a hemisphere whose far boundary at
r = b absorbs: the steady concentration is c(r) = Q / (2 pi D) (1/r - 1/b), so the number within
R of the pore is N(R) = (Q/D) (R^2/2 - R^3/(3b)) (-> (Q/D) R^2/2 for b -> infinity).
Q = 4,369 Na+/ms (one open 10 pS channel at -70 mV), D = 0.667 um^2/ms, R = 0.5 um, b = 1 um:
N = 546. Tolerance 4 % against the realised Q (the time average of 40 snapshots in 2 ms has a
standard error of about 1 %; at this particle step, 0.1 us (rms 20 nm), the count sits 1.2 % low
on average over 4 seeds, and 0.4 % high at 25 ns).
"""
import numpy as np
import pytest

import microsyn as ms
from microsyn.channels import ChannelType
from microsyn.membrane import MembraneSolver, cable
from microsyn.synapse import Synapse, SynapticCoupling


def _open_pore(b, dt_ms, seed):
    """One always-open 10 pS Na+ channel at a clamped (-70 mV) membrane under an absorbing
    hemisphere of radius b [um]; returns (coupling, simulation, synapse)."""
    solver = MembraneSolver(cable(10.0, 10.0, 1), dt_ms=0.01, method="be")
    solver.add_voltage_clamp(0, [0.0], [-70.0], g_series_nS=1e5)
    solver.init(-70.0)
    dom = ms.Domain(ms.Sphere((0, 0, 0), b, name="far"), holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    dom.set_boundary("far", "absorb")
    sim = ms.Simulation(dom, dt=dt_ms, species=["Na+"], seed=seed)
    cpl = SynapticCoupling(solver, sim)
    ch = ChannelType("open10", ["C", "O"], [("C", "O", 0.0), ("O", "C", 0.0)], ["O"], 10.0, {"Na+": 1.0},
                     E_rev_mV=0.0, q10=None)
    syn = cpl.add_synapse(Synapse(ch, 1, at=(0, 0, 0), node=0, initial_state="O", membrane="membrane"))
    return cpl, sim, syn


def test_steady_count_within_R_of_a_pore_matches_point_source_with_absorbing_far_boundary():
    b, R = 1.0, 0.5
    cpl, sim, syn = _open_pore(b, dt_ms=1e-4, seed=3)
    cpl.run(2.0)  # >> the slowest relaxation time b^2 / (pi^2 D) = 0.15 ms: steady
    n0 = syn.ions_in["Na+"]
    counts = []
    for _ in range(40):
        cpl.run(0.05)
        counts.append(syn.shell_counts(sim, "Na+", [0.0, R])[0][0])
    D = sim.D("Na+")
    Q = (syn.ions_in["Na+"] - n0) / 2.0  # the realised flux [1/ms] (expected 4,369)
    assert abs(Q / (0.70 * 6241.509) - 1) < 0.05
    expected = Q / D * (R ** 2 / 2 - R ** 3 / (3 * b))
    measured = float(np.mean(counts))
    print(f"steady count within {R} um: {measured:.1f} vs {expected:.1f} (Q/D (R^2/2 - R^3/3b))")
    assert abs(measured / expected - 1) < 0.04


@pytest.mark.slow
def test_steady_count_converges_at_small_particle_step():
    """Slow: 25 ns particle steps (rms 10 nm), b = 2 um: within 2 % of (Q/D)(R^2/2 - R^3/(3b)),
    and the unbounded form (Q/D) R^2/2 overestimates by the predicted R/(1.5 b) = 17 %."""
    b, R = 2.0, 0.5
    cpl, sim, syn = _open_pore(b, dt_ms=2.5e-5, seed=8)
    cpl.run(3.0)
    n0 = syn.ions_in["Na+"]
    counts = []
    for _ in range(60):
        cpl.run(0.05)
        counts.append(syn.shell_counts(sim, "Na+", [0.0, R])[0][0])
    Q = (syn.ions_in["Na+"] - n0) / 3.0
    D = sim.D("Na+")
    exact = Q / D * (R ** 2 / 2 - R ** 3 / (3 * b))
    measured = float(np.mean(counts))
    print(f"steady count: {measured:.1f} vs exact {exact:.1f}, unbounded {Q / D * R ** 2 / 2:.1f}")
    assert abs(measured / exact - 1) < 0.02
