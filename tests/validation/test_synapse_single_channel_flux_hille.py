"""Validation: ions carried by one open 10 pS channel at -70 mV with E_rev = 0 mV.

Reference (Hille 2001, Ion Channels of Excitable Membranes, ch. 1/14): i = g (V - E_rev)
= 10 pS x (-70 mV) = -0.70 pA, i.e. 0.70 pA x 6241.5 e/(ms pA) = 4,369 monovalent ions per ms.
We count emitted particles; tolerance: 4 Poisson standard deviations (sqrt(N)).
"""
import math

import numpy as np

import microsyn as ms
from microsyn.channels import AMPA, ChannelType
from microsyn.membrane import MembraneSolver, cable
from microsyn.synapse import Synapse, SynapticCoupling

EXPECTED_PER_MS = 0.70 * 6241.509  # 4369.1


def _clamped_solver(V=-70.0, dt=0.01):
    solver = MembraneSolver(cable(10.0, 10.0, 1), dt_ms=dt, method="be")
    solver.add_voltage_clamp(0, [0.0], [V], g_series_nS=1e5)
    solver.init(V)
    return solver


def _open_na():
    return ChannelType("open10", ["C", "O"], [("C", "O", 0.0), ("O", "C", 0.0)], ["O"], 10.0, {"Na+": 1.0},
                       E_rev_mV=0.0, q10=None)


def test_one_open_10pS_channel_emits_4370_na_per_ms_as_particles():
    dom = ms.Domain(ms.Sphere((0, 0, 0), 1.0, name="far"), holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    dom.set_boundary("far", "absorb")
    sim = ms.Simulation(dom, dt=1e-4, species=["Na+"], seed=11)
    cpl = SynapticCoupling(_clamped_solver(), sim)
    syn = cpl.add_synapse(Synapse(_open_na(), 1, at=(0, 0, 0), node=0, initial_state="O", membrane="membrane"))
    cpl.run(1.0)
    n = syn.ions_in["Na+"]
    # particles in the simulation: every emitted ion is a tracked particle (alive or absorbed far away)
    assert n == sim.count("Na+") + sim.absorbed_count(species="Na+")
    assert abs(n - EXPECTED_PER_MS) < 4 * math.sqrt(EXPECTED_PER_MS), n
    tr = syn.trace()
    assert np.allclose(tr["I_per_open_channel_pA"], -0.70, atol=1e-4)


def test_one_open_channel_current_and_counts_over_10_ms():
    cpl = SynapticCoupling(_clamped_solver(), seed=5)
    syn = cpl.add_synapse(Synapse(_open_na(), 1, node=0, initial_state="O"))
    cpl.run(10.0)
    n = syn.ions_in["Na+"]
    exp = 10 * EXPECTED_PER_MS
    assert abs(n - exp) < 4 * math.sqrt(exp), (n, exp)
    # the mean injected current is -0.70 pA within Poisson error
    I = syn.trace()["I_pA"].mean()
    assert abs(I + 0.70) < 4 * 0.70 / math.sqrt(exp)


def test_ampa_open_channel_net_charge_is_4370_e_per_ms():
    """AMPA (Na+ in, K+ out, chord reversal 0 mV): the net charge is the same 4,369 e/ms."""
    cpl = SynapticCoupling(_clamped_solver(), seed=6)
    syn = cpl.add_synapse(Synapse(AMPA(transitions=[("C0", "O", 0.0), ("O", "C0", 0.0)],
                                       states=["C0", "O"]), 1, node=0, initial_state="O"))
    cpl.run(10.0)
    q = syn.charge_in_e
    n = syn.ions_in["Na+"] + syn.ions_out["K+"]
    assert abs(q - 10 * EXPECTED_PER_MS) < 4 * math.sqrt(n)
    assert syn.ions_in["Na+"] > 9 * syn.ions_out["K+"] > 0
