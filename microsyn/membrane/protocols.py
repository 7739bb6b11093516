"""Standard electrophysiology protocols on the membrane model: thresholds, paired pulses,
f-I curves and conduction velocities (shared by the validations and the demos).

References
----------
Hodgkin A.L. & Huxley A.F. (1952) J. Physiol. 117:500, doi:10.1113/jphysiol.1952.sp004764.
Rall W. (1969) Biophys. J. 9:1483, doi:10.1016/S0006-3495(69)86467-2.
"""
from __future__ import annotations

import numpy as np

from ..errors import ParameterError, check_positive
from .graph import CompartmentGraph
from .hh import HH1952, HHParams
from .solver import MembraneSolver, spike_times

__all__ = ["point_neuron", "instantaneous_threshold_mV", "pulse_threshold_pA", "paired_pulse_threshold_pA",
           "firing_rate_hz", "fi_curve", "conduction_velocity_m_per_s"]


def point_neuron(params: HHParams = HH1952, area_um2: float = 1000.0, dt_ms: float = 0.01,
                 settle_ms: float = 100.0) -> MembraneSolver:
    """A single isopotential compartment with HH channels, settled at its resting potential.

    Parameters
    ----------
    params : HHParams
        Channels (HH1952 or MAMMALIAN).
    area_um2 : float
        Membrane area [um^2] (1000 um^2 gives C = 10 pF at 1 uF/cm^2).
    dt_ms : float
        Time step [ms].
    settle_ms : float
        Time run before the clock is set back to 0 [ms].
    """
    g = CompartmentGraph([check_positive("area_um2", area_um2)], np.zeros((0, 2), int), [])
    s = MembraneSolver(g, dt_ms)
    s.insert_hh(params=params)
    s.init(params.el_mV if params.kinetics != "hh1952" else -65.0)
    s.settle(settle_ms)
    return s


def _fires(s: MembraneSolver, t_ms: float, threshold_mV: float = 0.0, after_ms: float = 0.0) -> int:
    p = s.add_probe(0)
    s.run(t_ms)
    return int(np.sum(spike_times(p.time_ms, p.V_mV, threshold_mV) > after_ms))


def instantaneous_threshold_mV(params: HHParams = HH1952, lo: float = 0.0, hi: float = 30.0,
                               tol: float = 0.01, dt_ms: float = 0.01) -> float:
    """Smallest instantaneous depolarization [mV] from rest that fires an action potential
    (gates left at their resting values; HH 1952 found 6 to 7 mV). Bisection to ``tol`` [mV]."""
    rest = point_neuron(params, dt_ms=dt_ms)
    state = rest.V.copy(), [(m.m.copy(), m.h.copy(), m.n.copy()) for m in rest.mechanisms]

    def fires(dv):
        s = point_neuron(params, dt_ms=dt_ms, settle_ms=dt_ms)
        s.V[:] = state[0]
        for m, (mm, hh, nn) in zip(s.mechanisms, state[1]):
            m.m[:], m.h[:], m.n[:] = mm, hh, nn
        s.set_potential(state[0] + dv)
        return _fires(s, 20.0) > 0

    if fires(lo) or not fires(hi):
        raise ParameterError("threshold not bracketed; widen lo/hi")
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if fires(mid) else (mid, hi)
    return 0.5 * (lo + hi)


def pulse_threshold_pA(params: HHParams = HH1952, duration_ms: float = 0.5, area_um2: float = 1000.0,
                       lo: float = 0.0, hi: float = 5000.0, rtol: float = 0.005, conditioning=None,
                       dt_ms: float = 0.01, t_after_ms: float = 20.0) -> float:
    """Smallest current pulse amplitude [pA] that fires a spike, optionally after a conditioning
    pulse ``(amp_pA, interval_ms)`` (the test pulse starts ``interval_ms`` after the start of the
    conditioning one, and must add a spike to those the conditioning pulse fires alone).
    Returns inf when even ``hi`` does not fire (absolute refractory period)."""
    t0 = 1.0

    def count(amp):
        s = point_neuron(params, area_um2, dt_ms)
        start = t0
        if conditioning is not None:
            camp, interval = conditioning
            s.add_current_clamp(0, camp, t0, duration_ms)
            start = t0 + interval
        if amp > 0:
            s.add_current_clamp(0, amp, start, duration_ms)
        return _fires(s, start + t_after_ms)

    base = count(0.0)
    if conditioning is not None and base == 0:
        raise ParameterError("the conditioning pulse does not fire; make it stronger")

    def fires(amp):
        return count(amp) > base

    if lo > 0 and fires(lo):
        raise ParameterError("fires at the lower bound; lower lo")
    if not fires(hi):
        return float("inf")
    while (hi - lo) > rtol * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if fires(mid) else (mid, hi)
    return 0.5 * (lo + hi)


def paired_pulse_threshold_pA(interval_ms: float, params: HHParams = HH1952, duration_ms: float = 0.5,
                              hi: float = 5000.0, **kw) -> float:
    """Threshold [pA] of a second pulse ``interval_ms`` [ms] after a suprathreshold first pulse
    (2 x the single-pulse threshold). Infinity means absolutely refractory (up to ``hi``)."""
    a1 = pulse_threshold_pA(params, duration_ms, **kw)
    return pulse_threshold_pA(params, duration_ms, conditioning=(2.0 * a1, interval_ms), hi=hi, **kw)


def firing_rate_hz(amp_pA: float, params: HHParams = HH1952, area_um2: float = 1000.0, duration_ms: float = 500.0,
                   skip_ms: float = 100.0, dt_ms: float = 0.025) -> float:
    """Steady firing rate [Hz] during a long current step [pA] (spikes after ``skip_ms`` [ms])."""
    s = point_neuron(params, area_um2, dt_ms)
    s.add_current_clamp(0, amp_pA, 0.0, duration_ms + 1.0)
    p = s.add_probe(0)
    s.run(duration_ms)
    t = spike_times(p.time_ms, p.V_mV, 0.0)
    t = t[t > skip_ms]
    if t.size < 2:
        return 0.0
    return 1000.0 * (t.size - 1) / (t[-1] - t[0])


def fi_curve(amps_pA, params: HHParams = HH1952, **kw) -> np.ndarray:
    """Firing rate [Hz] for each current step amplitude [pA] (see :func:`firing_rate_hz`)."""
    return np.array([firing_rate_hz(a, params, **kw) for a in amps_pA])


def conduction_velocity_m_per_s(solver: MembraneSolver, node_a: int, node_b: int, t_stop_ms: float,
                                threshold_mV: float = 0.0) -> float:
    """Run ``solver`` to ``t_stop_ms`` [ms] and return the speed [m/s] (= mm/ms) of the first
    spike between two compartments, from their threshold-crossing times and the path distance."""
    pa, pb = solver.add_probe(node_a), solver.add_probe(node_b)
    solver.run(t_stop_ms)
    ta = spike_times(pa.time_ms, pa.V_mV, threshold_mV)
    tb = spike_times(pb.time_ms, pb.V_mV, threshold_mV)
    if ta.size == 0 or tb.size == 0:
        raise ParameterError("no spike reached both recording sites; stimulate harder or run longer")
    dist = solver.graph.path_distance_um(node_a)[node_b]
    return dist / (tb[0] - ta[0]) / 1000.0
