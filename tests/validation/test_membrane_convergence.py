"""Refinement validations: convergence of the HH velocity with refinement, the
infinite-cable Green's function at finer resolution, and large stochastic populations
approaching the deterministic Hodgkin-Huxley action potential.

References
----------
Hodgkin A.L. & Huxley A.F. (1952) J. Physiol. 117:500, doi:10.1113/jphysiol.1952.sp004764.
Jack J.J.B., Noble D. & Tsien R.W. (1975) Electric Current Flow in Excitable Cells, Oxford.
Chow C.C. & White J.A. (1996) Biophys. J. 71:3013, doi:10.1016/S0006-3495(96)79494-8.
"""
import math

import numpy as np
import pytest

from microsyn.membrane import HH1952, CompartmentGraph, MembraneSolver, cable
from microsyn.membrane.protocols import conduction_velocity_m_per_s
from microsyn.membrane.stochastic import StochasticHHChannels


def test_hh1952_velocity_converges_to_18p8_m_per_s_under_refinement():
    """Velocity with dx = 50, 25, 12.5 um and dt = 0.01, 0.005, 0.0025 ms: the values change by
    < 0.5 % between the two finest levels and are within 1 % of HH's 18.8 m/s."""
    vs = []
    for n, dt in ((800, 0.01), (1600, 0.005), (3200, 0.0025)):
        g = cable(40000.0, 476.0, n, ra_ohm_cm=35.4)
        s = MembraneSolver(g, dt)
        s.insert_hh(params=HH1952.at(18.5))
        s.init(-65.0)
        s.add_current_clamp(0, 3e7, 0.1, 0.2)
        vs.append(conduction_velocity_m_per_s(s, int(0.3 * n), int(0.7 * n), 4.0))
    assert abs(vs[2] - vs[1]) / vs[2] < 0.005
    assert vs[2] == pytest.approx(18.8, rel=0.01)


def test_green_function_fine_grid_within_half_percent():
    """Brief charge in an infinite cable (dx = lambda/100, dt = 0.001 tau) at (X, T) = (0.5, 0.5),
    (1, 1): within 0.5 % of Q/(c_m lambda sqrt(4 pi T)) exp(-X^2/4T - T)."""
    gm, cm, rho = 5e-4, 0.01, 1e-3
    lam = math.sqrt(1.0 / (4 * rho * gm))
    dx = lam / 100
    n = 2 * 800 + 1
    g = cable(n * dx, 1.0, n, g_leak_nS_per_um2=gm, e_leak_mV=0.0)
    tau = cm / gm
    dt = 0.001 * tau
    s = MembraneSolver(g, dt, V0_mV=0.0)
    Q = 100.0
    s.add_current_clamp(n // 2, Q / dt, 0.0, dt)
    pr = {X: s.add_probe(n // 2 + int(round(X * 100))) for X in (0.5, 1.0)}
    s.run(1.01 * tau)
    for X, T in ((0.5, 0.5), (1.0, 1.0)):
        v = np.interp(T * tau + dt / 2, pr[X].time_ms, pr[X].V_mV)
        ref = Q / (cm * math.pi * lam * math.sqrt(4 * math.pi * T)) * math.exp(-X * X / (4 * T) - T)
        assert v == pytest.approx(ref, rel=0.005)


def test_large_stochastic_population_fires_like_deterministic_hh():
    """A 1000 um^2 patch with 60,000 Na+ and 18,000 K+ stochastic channels (seed 11) given the same
    10 mV depolarization fires with a peak within 3 mV and a peak time within 0.3 ms of the
    deterministic HH membrane."""
    peaks = []
    for stochastic in (False, True):
        g = CompartmentGraph([1000.0], np.zeros((0, 2), int), [])
        s = MembraneSolver(g, 0.01)
        if stochastic:
            StochasticHHChannels.for_solver(s, params=HH1952, seed=11)
        else:
            s.insert_hh(params=HH1952)
        s.init(-65.0)
        s.set_potential(-55.0)
        p = s.add_probe(0)
        s.run(10.0)
        k = int(np.argmax(p.V_mV))
        peaks.append((p.V_mV[k], p.time_ms[k]))
    assert peaks[1][0] == pytest.approx(peaks[0][0], abs=3.0)
    assert peaks[1][1] == pytest.approx(peaks[0][1], abs=0.3)
