"""Release sensors against closed forms and against each other (fixed seeds; tolerances stated).

References: the binding equilibrium of a sequential n-site chain with cooperativity b (detailed
balance: p_i proportional to C(n, i) (k_on [Ca] / k_off)^i / b^(i (i - 1) / 2)); the
low-[Ca] limit of such a sensor, whose fusion from the fully bound state then goes as [Ca]^n
(log-log slope n = 5; the measured slope of release against [Ca] is near 4, Dodge & Rahamimoff
1967, because real [Ca] is not in that limit); the stochastic ensemble against its master
equation (4 binomial standard errors).
"""
import math

import numpy as np
import pytest

from microsyn.errors import ParameterError
from microsyn.presynaptic import SensorScheme, ca_step, ca_train, lou_2005, schneggenburger_neher_2000


def _equilibrium_closed_form(s, ca):
    x = s.k_on * ca / s.k_off
    w = np.array([math.comb(s.n_sites, i) * x ** i / s.b ** (i * (i - 1) / 2) for i in range(s.n_sites + 1)])
    return w / w.sum()


@pytest.mark.parametrize("make", [schneggenburger_neher_2000, lou_2005])
@pytest.mark.parametrize("ca", [0.05, 1.0, 20.0])
def test_binding_equilibrium_is_the_detailed_balance_closed_form(make, ca):
    s = make()
    np.testing.assert_allclose(s.binding_equilibrium(ca), _equilibrium_closed_form(s, ca), rtol=1e-12)


def test_the_allosteric_sensor_fuses_at_its_basal_rate_without_calcium():
    """Lou et al. 2005: l+ = 2e-4 /s with no Ca2+ bound; f^5 l+ = 6.0 /ms fully bound."""
    s = lou_2005()
    assert s.steady_release_rate(0.0) == pytest.approx(2e-7, rel=1e-12)  # [1/ms]
    assert s.fusion[5] == pytest.approx(2e-7 * 31.3 ** 5, rel=1e-12)
    # at the resting 50 nM the release rate is the equilibrium mean of l+ f^i
    p = _equilibrium_closed_form(s, 0.05)
    assert s.steady_release_rate(0.05) == pytest.approx(float(p @ (2e-7 * 31.3 ** np.arange(6))), rel=1e-12)


def test_release_goes_as_the_fifth_power_of_calcium_in_the_low_calcium_limit():
    """Schneggenburger & Neher 2000 scheme: the peak release rate of a 3 ms step has a log-log
    slope within 2 % of n = 5 between 0.02 and 0.04 uM (the chain's limit), and a smaller one,
    between 3 and 5, at a few uM (1 -> 3 uM), where the measured slope near 4 lies."""
    s = schneggenburger_neher_2000()

    def peak(ca):
        _, _, rate, _ = s.occupancy(ca_step(ca, 0.0, 0.0), 3.0, dt_ms=2e-3, p0=np.eye(6)[0])
        return rate.max()

    low = math.log(peak(0.04) / peak(0.02)) / math.log(2.0)
    mid = math.log(peak(3.0) / peak(1.0)) / math.log(3.0)
    assert abs(low - 5.0) < 0.1, low
    assert 3.0 < mid < 5.0 and mid < low, mid


@pytest.mark.parametrize("make, ca, t_end", [(schneggenburger_neher_2000, 20.0, 1.0), (lou_2005, 10.0, 1.0)])
def test_the_stochastic_ensemble_fuses_as_its_master_equation_says(make, ca, t_end):
    """20000 vesicles under a Ca2+ step: the fraction fused by t_end within 4 binomial SE of
    the master equation's, and the ensemble's fusion-time histogram against its rate."""
    s = make()
    drive = ca_step(ca, 0.1)
    t, _, rate, fused = s.occupancy(drive, t_end, dt_ms=1e-3)
    times = s.fusion_times(drive, t_end, 20000, seed=12, dt_ms=1e-3)
    frac = np.mean(np.isfinite(times))
    p = fused[-1]
    assert abs(frac - p) < 4 * math.sqrt(p * (1 - p) / 20000), (frac, p)
    # the first half of the fusions against the master equation's half time
    half = np.interp(0.5 * p, fused, t)
    assert abs(np.mean(times[np.isfinite(times)] < half) - 0.5) < 4 * math.sqrt(0.25 / max(frac * 20000, 1))


def test_occupancies_stay_probabilities_and_release_is_their_fusion_flux():
    s = schneggenburger_neher_2000()
    t, P, rate, fused = s.occupancy(ca_step(30.0, 0.05), 0.5, dt_ms=5e-4)
    assert np.all(P >= -1e-15) and np.all(np.diff(fused) >= -1e-15)
    # d fused / dt = release rate (trapezoid, second order in dt)
    np.testing.assert_allclose(np.diff(fused), 0.5 * (rate[1:] + rate[:-1]) * np.diff(t), rtol=2e-3, atol=1e-9)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kw, match", [
    (dict(n_sites=0), "n_sites"),
    (dict(k_on=-1.0), "k_on"),
    (dict(k_on=float("nan")), "k_on"),
    (dict(b=1.5), "cooperativity"),
    (dict(fusion=(0.0, 1.0)), "one fusion rate per state"),
    (dict(fusion=(0.0, 0.0, 0.0)), "no state fuses"),
    (dict(fusion=(0.0, -1.0, 1.0)), "fusion rate of state 1"),
])
def test_invalid_schemes_are_refused_with_what_to_change(kw, match):
    base = dict(name="x", n_sites=2, k_on=0.1, k_off=1.0, b=0.5, fusion=(0.0, 0.0, 1.0))
    base.update(kw)
    with pytest.raises(ParameterError, match=match):
        SensorScheme(**base)


def test_a_drive_that_is_not_a_function_or_a_negative_calcium_is_refused():
    s = lou_2005()
    with pytest.raises(ParameterError, match="function of time"):
        s.occupancy(10.0, 1.0)
    with pytest.raises(ParameterError, match=r"\[Ca2\+\]"):
        s.generator(-1.0)
    with pytest.raises(ParameterError, match="n_vesicles"):
        s.fusion_times(ca_step(1.0), 1.0, -5, seed=1)


def test_a_pool_depletes_and_recovers_in_a_train_as_its_closed_form():
    """A docking site (Schneggenburger & Neher 2000 sensor, refilled at k = 0.05 /ms) under 20
    Ca2+ pulses (50 uM, 0.5 ms) at 100 Hz. Reference: the pool recursion with the release
    probability p of one pulse from a full pool, n_(k+1) = 1 - (1 - n_k (1 - p)) exp(-k T), and
    its steady state n_ss = (1 - e^-kT) / (1 - (1 - p) e^-kT): release per pulse within 3 %
    (the recursion lets sites refill from the pulse's start; the fusions come within about
    1 ms of it, so it overstates each refill by up to k x 1 ms = 5 % of the emptied part)."""
    s = schneggenburger_neher_2000()
    k_rec, T, n_pulses = 0.05, 10.0, 20
    times = np.arange(n_pulses) * T + 0.1
    t, docked, rate, released = s.pool_occupancy(ca_train(50.0, times, 0.5), n_pulses * T, k_rec, dt_ms=2e-3)
    edges = np.append(times, n_pulses * T)
    per_pulse = np.diff(np.interp(edges, t, released))
    p = per_pulse[0]
    assert 0.2 < p < 0.9
    n, want = 1.0, []
    for _ in range(n_pulses):
        want.append(n * p)
        n = 1.0 - (1.0 - n * (1.0 - p)) * math.exp(-k_rec * T)
    np.testing.assert_allclose(per_pulse, want, rtol=0.03)
    e = math.exp(-k_rec * T)
    n_ss = (1 - e) / (1 - (1 - p) * e)
    assert per_pulse[-1] == pytest.approx(p * n_ss, rel=0.03)
    assert per_pulse[-1] < 0.65 * per_pulse[0]  # depression from depletion (0.59 of the first here)


def test_pulse_trains_refuse_times_out_of_order():
    with pytest.raises(ParameterError, match="increase"):
        ca_train(10.0, [1.0, 0.5], 0.1)
    with pytest.raises(ParameterError, match="width"):
        ca_train(10.0, [0.0, 1.0], -0.1)


def test_egta_spares_and_bapta_blocks_release_in_a_nanodomain_but_both_block_far_away():
    """The signature of nanodomain coupling (Adler et al. 1991, J. Neurosci. 11:1496; Bucurenciu
    et al. 2008, Neuron 57:536), in the linearised buffered nanodomain of one 0.2 pA channel open
    for 0.5 ms (Neher 1986; the profile is checked against particles in
    test_buffered_nanodomain.py), for both sensors: 10 nm from the channel, 10 mM EGTA leaves
    at least 75 % of the release while 10 mM BAPTA leaves at most 20 %; 100 nm away, both leave
    at most 5 %. (At 20 nm this model already loses 50-60 % of the release to 10 mM EGTA: the
    fifth-power sensor multiplies the 35 % drop of [Ca2+] that EGTA's 46 nm length constant
    gives there.)"""
    from microsyn.presynaptic.coupling import release_probability
    from microsyn.reactions import ca_buffer

    egta, bapta = ca_buffer("EGTA"), ca_buffer("BAPTA")
    for scheme in (schneggenburger_neher_2000(), lou_2005()):
        near = release_probability(scheme, 0.01)
        assert near > 0.5
        assert release_probability(scheme, 0.01, buffer=egta, buffer_mM=10.0) > 0.75 * near
        assert release_probability(scheme, 0.01, buffer=bapta, buffer_mM=10.0) < 0.2 * near
        far = release_probability(scheme, 0.1)
        assert release_probability(scheme, 0.1, buffer=egta, buffer_mM=10.0) < 0.05 * far
        assert release_probability(scheme, 0.1, buffer=bapta, buffer_mM=1.0) < 0.05 * far


def test_coupling_refuses_a_buffer_concentration_without_a_buffer():
    from microsyn.presynaptic.coupling import release_probability

    with pytest.raises(ParameterError, match="give the buffer"):
        release_probability(lou_2005(), 0.02, buffer_mM=1.0)
    with pytest.raises(ParameterError, match="distance"):
        release_probability(lou_2005(), -0.02)
