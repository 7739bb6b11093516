"""The membrane solver refuses a time step too large for its voltage-gated kinetics (issue 8 item 1).

Reference: the fastest gate time constant 1 / (phi (alpha + beta)) of the inserted channels over
-100..+60 mV (Hodgkin & Huxley 1952, doi:10.1113/jphysiol.1952.sp004764), and a dt = 1 us run as
the converged spike train.
"""
import numpy as np
import pytest

from microsyn.errors import TimeStepError
from microsyn.membrane import HH1952, MAMMALIAN, CompartmentGraph, MembraneSolver, cable, hh_steady_state, spike_times
from microsyn.membrane.solver import DT_PER_FASTEST_TAU
from microsyn.membrane.stochastic import StochasticHHChannels


def _tau_min_numpy(P):
    """Fastest of tau_m, tau_h, tau_n on a 0.01 mV grid over -100..+60 mV."""
    ss = hh_steady_state(np.linspace(-100.0, 60.0, 16001), P)
    return min(ss["tau_m"].min(), ss["tau_h"].min(), ss["tau_n"].min())


@pytest.mark.parametrize("dt", [0.5, 10.0])
def test_issue_cases_with_mammalian_hh_are_refused_naming_the_bound(dt):
    """cable(100, 1, 10) + MAMMALIAN at dt = 0.5 and 10 ms (8 spikes dipping to -171 mV, and
    +325 / -487 mV before the fix) raise TimeStepError naming dt_max = 2 tau_min = 0.0558 ms
    (tau_min = tau_m(+60 mV) at 36 C, from a 0.01 mV scan, within 1e-3 relative)."""
    s = MembraneSolver(cable(100.0, 1.0, 10), dt)
    with pytest.raises(TimeStepError, match=r"dt <= 0\.0558 ms") as e:
        s.insert_hh(params=MAMMALIAN)
    assert "allow_large_dt=True" in str(e.value)
    assert s.mechanisms == []  # nothing was added
    assert s.graph.g_leak_nS_per_um2[0] != MAMMALIAN.gl_nS_per_um2  # nor was the leak changed
    assert s.max_dt_ms() == np.inf
    ok = MembraneSolver(cable(100.0, 1.0, 10), 0.01)
    ok.insert_hh(params=MAMMALIAN)
    assert ok.max_dt_ms() == pytest.approx(DT_PER_FASTEST_TAU * _tau_min_numpy(MAMMALIAN), rel=1e-3)


@pytest.mark.parametrize("P,amp,init", [(HH1952, 50.0, -65.0), (MAMMALIAN, 30.0, -70.0),
                                        (HH1952.at(18.5), 80.0, -65.0)], ids=["HH6.3C", "mammalian", "HH18.5C"])
def test_dt_just_inside_the_bound_reproduces_fine_dt_spike_train(P, amp, init):
    """A 50 ms current step on cable(100, 1, 10): at dt = 0.99 dt_max the spike train (4 to 10
    spikes) has the spike count of a dt = 1 us reference, spike times within 0.2 ms, peak within
    1.5 mV and trough within 0.5 mV; a dt above the bound is refused."""
    def run(dt):
        s = MembraneSolver(cable(100.0, 1.0, 10), dt)
        s.insert_hh(params=P)
        s.init(init)
        s.add_current_clamp(0, amp, 0.0, 50.0)
        p = s.add_probe(0)
        s.run(50.0)
        return spike_times(p.time_ms, p.V_mV), p.V_mV

    probe = MembraneSolver(cable(100.0, 1.0, 10), 1e-3)
    probe.insert_hh(params=P)
    dt_max = probe.max_dt_ms()
    ref_t, ref_v = run(1e-3)
    t, v = run(0.99 * dt_max)
    assert len(ref_t) >= 4
    assert len(t) == len(ref_t)
    assert np.max(np.abs(t - ref_t)) < 0.2
    assert v.max() == pytest.approx(ref_v.max(), abs=1.5)
    assert v[1:].min() == pytest.approx(ref_v[1:].min(), abs=0.5)
    with pytest.raises(TimeStepError):
        run(1.01 * dt_max)


def test_allow_large_dt_warns_instead_and_setting_dt_later_is_checked():
    """allow_large_dt=True turns the refusal into a UserWarning naming the bound; assigning a too
    large ``dt_ms`` to a solver with HH channels raises TimeStepError and keeps the old dt."""
    s = MembraneSolver(cable(100.0, 1.0, 10), 0.5, allow_large_dt=True)
    with pytest.warns(UserWarning, match=r"dt <= 0\.0558 ms.*allowed by allow_large_dt"):
        s.insert_hh(params=MAMMALIAN)
    assert len(s.mechanisms) == 1
    s2 = MembraneSolver(cable(100.0, 1.0, 10), 0.025)
    s2.insert_hh(params=MAMMALIAN)
    with pytest.raises(TimeStepError, match="0.0558"):
        s2.dt_ms = 0.1
    assert s2.dt_ms == 0.025
    s2.dt_ms = 0.05
    assert s2.dt_ms == 0.05


def test_bound_follows_temperature_and_covers_stochastic_channels():
    """HH1952 at 6.3 C: dt_max = 2 tau_m(-100 mV) = 0.0714 ms (dt 0.025 accepted); at 37 C the
    rates are 3^3.07 = 29x faster and dt 0.025 is refused. Stochastic HH channels (the same
    rates, Gillespie at fixed V within a step) are bounded the same way."""
    s = MembraneSolver(cable(100.0, 1.0, 10), 0.025)
    s.insert_hh(params=HH1952)
    assert s.max_dt_ms() == pytest.approx(2 * _tau_min_numpy(HH1952), rel=1e-3)
    assert s.max_dt_ms() == pytest.approx(0.0714, abs=2e-4)
    with pytest.raises(TimeStepError, match="fastest gate time constant"):
        MembraneSolver(cable(100.0, 1.0, 10), 0.025).insert_hh(params=HH1952.at(37.0))
    g = CompartmentGraph([1000.0], np.zeros((0, 2), int), [])
    with pytest.raises(TimeStepError):
        StochasticHHChannels.for_solver(MembraneSolver(g, 0.1), params=HH1952, seed=1)
    s3 = MembraneSolver(g, 0.05)
    StochasticHHChannels.for_solver(s3, params=HH1952, seed=1)
    assert s3.max_dt_ms() == pytest.approx(2 * _tau_min_numpy(HH1952), rel=1e-3)
