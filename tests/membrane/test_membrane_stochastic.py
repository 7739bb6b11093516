"""Stochastic HH channel populations (Gillespie, exact event times) against the deterministic
HH steady states and exponential dwell times (Skaugen & Walloe 1979; Chow & White 1996)."""
import numpy as np
import pytest

from microsyn.errors import ParameterError
from microsyn.membrane import HH1952, CompartmentGraph, MembraneSolver, hh_rates, hh_steady_state
from microsyn.membrane.stochastic import StochasticHHChannels

P = HH1952.at(16.3)  # 3x faster rates: more events per simulated ms


def _clamped(area, seed, record=False, dt=0.1, **kw):
    # voltage-clamped: V does not move, so the kinetic dt bound (0.024 ms at 16.3 C) does not
    # apply; Gillespie is exact at fixed V for any dt
    g = CompartmentGraph([area], np.zeros((0, 2), int), [])
    s = MembraneSolver(g, dt, method="be", allow_large_dt=True)
    with pytest.warns(UserWarning, match="allow_large_dt"):
        ch = StochasticHHChannels.for_solver(s, params=P, seed=seed, record_events=record, **kw)
    s.init(-50.0)
    s.add_voltage_clamp(0, [0.0], [-50.0], 1e4)
    return s, ch


def test_mean_open_fractions_match_deterministic_steady_state():
    """Clamped at -50 mV, 1800 K+ and 6000 Na+ channels for 200 ms: the time-averaged open
    fractions equal n_inf^4 (within 5 %) and m_inf^3 h_inf (within 10 %); seed 1."""
    s, ch = _clamped(100.0, seed=1)
    ok, ona = [], []
    for _ in range(2000):
        s.step()
        ok.append(ch.open_k[0])
        ona.append(ch.open_na[0])
    ss = hh_steady_state(-50.0, P)
    assert np.mean(ok) / ch.n_k[0] == pytest.approx(ss["n_inf"][0] ** 4, rel=0.05)
    assert np.mean(ona) / ch.n_na[0] == pytest.approx(ss["m_inf"][0] ** 3 * ss["h_inf"][0], rel=0.10)


def test_single_k_channel_open_dwell_times_are_exponential_with_mean_1_over_4beta_n():
    """One K+ channel at -50 mV: open times (exact event times) have mean 1 / (4 beta_n)
    (within 10 %, seed 7), and events fall between the step boundaries."""
    s, ch = _clamped(1.0 / 18.0, seed=7, record=True, dt=0.5, na_density_per_um2=0.0)
    assert ch.n_k[0] == 1
    s.run(6000.0)
    ev = ch.events
    t, kind = ev["time_ms"], ev["kind"]
    opens, closes = t[kind == 2], t[kind == -2]
    if closes.size and opens.size and closes[0] < opens[0]:
        closes = closes[1:]
    m = min(opens.size, closes.size)
    dwell = closes[:m] - opens[:m]
    assert m > 300 and np.all(dwell > 0)
    bn = hh_rates(-50.0, P)["beta_n"][0]
    assert dwell.mean() == pytest.approx(1.0 / (4 * bn), rel=0.10)
    # exponential: standard deviation equals the mean (within 15 %)
    assert dwell.std() == pytest.approx(dwell.mean(), rel=0.15)
    frac_on_grid = np.mean(np.isclose(np.mod(t, 0.5), 0.0, atol=1e-9))
    assert frac_on_grid < 0.01


def test_same_seed_same_result_different_seed_different_result():
    a, ca = _clamped(20.0, seed=3)
    b, cb = _clamped(20.0, seed=3)
    c, cc = _clamped(20.0, seed=4)
    for s in (a, b, c):
        s.run(20.0)
    assert np.array_equal(ca.k, cb.k) and np.array_equal(ca.na, cb.na)
    assert not (np.array_equal(ca.k, cc.k) and np.array_equal(ca.na, cc.na))
    assert ca.k.sum() == ca.n_k.sum() and ca.na.sum() == ca.n_na.sum()


def test_stochastic_bad_input():
    with pytest.raises(ParameterError, match="density"):
        StochasticHHChannels([0], [10.0], na_density_per_um2=-1.0)
    with pytest.raises(ParameterError, match="no channels"):
        StochasticHHChannels([0], [1e-3])
