"""Rates that change during a run (ReactionEngine.set_rate) and the Ca2+-dependent refill of the
readily releasable pool (presynaptic.recovery)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import microsyn as ms
from microsyn.errors import ParameterError, TimeStepError
from microsyn.presynaptic import CaDependentRefill, Terminal, schneggenburger_neher_2000
from microsyn.units import PARTICLES_PER_UM3_PER_MM


def _sites(n=4000, seed=2):
    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-3, seed=seed)
    sim.add_species(ms.Species("E", 0, 1.0, 1.0), D=0.0)
    sim.add_species(ms.Species("F", 0, 1.0, 1.0), D=0.0)
    sim.add_sites("E", np.random.default_rng(seed).uniform(0.1, 0.9, (n, 3)))
    sim.add_reaction(ms.Reaction("E -> F", rate=0.5))
    return sim


def test_a_rate_changed_between_runs_gives_the_piecewise_exponential():
    """Fixed sites E -> F at 0.5 /ms for 1 ms, then 2 /ms for 0.5 ms, then 0 for 1 ms: the
    survivors are N exp(-(0.5 + 1)) after 1.5 ms (within 4 binomial SE; each site's clock
    integrates the rate, so the change is exact), and none react while the rate is 0."""
    n = 4000
    sim = _sites(n)
    sim.run(1.0)
    sim.reactions.set_rate("E -> F", 2.0)
    sim.run(0.5)
    left = sim.count("E")
    p = math.exp(-(0.5 * 1.0 + 2.0 * 0.5))
    assert abs(left / n - p) < 4 * math.sqrt(p * (1 - p) / n), (left / n, p)
    sim.reactions.set_rate("E -> F", 0.0)
    sim.run(1.0)
    assert sim.count("E") == left


def test_set_rate_refuses_unknown_pair_binding_reverse_negative_and_too_fast_rates():
    sim = _sites(10)
    with pytest.raises(ParameterError, match="no reaction named"):
        sim.reactions.set_rate("E -> G", 1.0)
    with pytest.raises(ParameterError, match="zero or positive"):
        sim.reactions.set_rate("E -> F", -1.0)
    with pytest.raises(TimeStepError, match="k dt"):
        sim.reactions.set_rate("E -> F", 1e3)
    b = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-4, seed=1)
    for name, D in (("A", 0.2), ("S", 0.0), ("AS", 0.0)):
        b.add_species(ms.Species(name, 0, 1.0, 1.0), D=D)
    b.add_sites("S", [[0.5, 0.5, 0.5]])
    b.add_reaction(ms.Reaction("A + S <-> AS", rate=100.0, reverse_rate=1.0))
    with pytest.raises(ParameterError, match="not a first-order"):
        b.reactions.set_rate("A + S <-> AS", 1.0)
    with pytest.raises(ParameterError, match="not a first-order"):
        b.reactions.set_rate("A + S <-> AS (reverse)", 2.0)


def test_ca_dependent_refill_law_and_its_checks():
    """k = k0 + (kmax - k0) c / (c + K_D): k0 at 0, the midpoint at K_D, kmax when saturated."""
    law = CaDependentRefill(0.002, 0.02, 1.0)
    assert law.rate(0.0) == pytest.approx(0.002)
    assert law.rate(1e-3) == pytest.approx(0.011)
    assert law.rate(1.0) == pytest.approx(0.02, rel=1e-3)
    for bad in (dict(k0_per_ms=0.0, kmax_per_ms=0.02, K_d_uM=1.0), dict(k0_per_ms=0.02, kmax_per_ms=0.01, K_d_uM=1.0),
                dict(k0_per_ms=0.002, kmax_per_ms=0.02, K_d_uM=math.nan),
                dict(k0_per_ms=0.002, kmax_per_ms=0.02, K_d_uM=1.0, update_ms=-1.0)):
        with pytest.raises(ParameterError, match="CaDependentRefill"):
            CaDependentRefill(**bad)


def test_terminal_refill_rate_follows_the_free_calcium_it_counts():
    """A bouton with a Ca2+-dependent refill: each update sets the rate to the law at the free
    [Ca2+] counted from the ions (number / (V 602,214)); raising the Ca2+ (a 2 uM fill at 0.3
    ms) raises the rate at the next update; updates every 0.1 ms. A plain number still works,
    and anything else is refused."""
    T = Terminal(radius_um=0.3, active_zone_radius_um=0.1, spike_times_ms=(50.0,), drive="clamp", seed=3)
    law = CaDependentRefill(0.002, 0.02, 1.0)
    v = T.add_vesicles([(0.0, 0.0), (0.03, 0.0)], schneggenburger_neher_2000(), refill_per_ms=law)
    T.sim.fill("Ca2+", 2e-3, time=0.3)
    with pytest.warns(UserWarning):  # no channels: the coupling says so
        T.run(0.6, progress=False)
    tr = np.array(T.refill_trace)
    np.testing.assert_allclose(tr[:, 0], np.arange(0.0, 0.61, 0.1), atol=1e-9)
    vol = 4 / 3 * math.pi * 0.3 ** 3
    assert tr[-1, 1] == pytest.approx(T.sim.count("Ca2+") / (vol * PARTICLES_PER_UM3_PER_MM))
    np.testing.assert_allclose(tr[:, 2], [law.rate(c) for c in tr[:, 1]], rtol=1e-12)
    assert tr[:3, 1].max() < 1e-4 < 1.5e-3 < tr[4:, 1].min()  # ~50 nM, then ~2 uM
    assert tr[-1, 2] > 3 * tr[0, 2]
    name = v.reactions[-1].name
    assert T.sim.reactions._rate_override[name] == tr[-1, 2]
    with pytest.raises(ParameterError, match="CaDependentRefill"):
        T.add_vesicles([(-0.03, 0.0)], schneggenburger_neher_2000(), refill_per_ms="fast")
