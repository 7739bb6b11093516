"""Passive membrane validations against analytic cable theory.

References
----------
Rall W. (1969) Biophys. J. 9:1483, doi:10.1016/S0006-3495(69)86467-2.
Jack J.J.B., Noble D. & Tsien R.W. (1975) Electric Current Flow in Excitable Cells, Oxford
(infinite-cable step response eq. 3.24 and Green's function eq. 3.14).
Bessel K0 profile of a 2D sheet: e.g. Eisenberg R.S. & Johnson E.A. (1970) Prog. Biophys. Mol.
Biol. 20:1, doi:10.1016/0079-6107(70)90013-5.
"""
import math

import numpy as np
import pytest
from scipy.special import erfc, k0

from microsyn.membrane import CompartmentGraph, MembraneSolver, cable, sheet

GM = 5e-4  # nS/um^2 (R_m = 20 kohm cm^2)
CM = 0.01  # pF/um^2
RHO = 100.0 * 1e-5  # GOhm um (100 ohm cm)


@pytest.mark.parametrize("method", ["be", "cn"])
def test_isopotential_compartment_dV_equals_Q_over_C_and_tau_equals_RmCm(method):
    """A single compartment: a brief charge Q raises V by Q/C (0.5 %), and V then decays with
    tau = R_m C_m = c_m / g_m = 20 ms (0.5 %)."""
    area = 1000.0
    g = CompartmentGraph([area], np.zeros((0, 2), int), [], g_leak_nS_per_um2=GM, e_leak_mV=-70.0)
    s = MembraneSolver(g, dt_ms=0.01, method=method)
    p = s.add_probe(0)
    amp, dur = 100.0, 0.1  # pA, ms -> Q = 10 fC
    s.add_current_clamp(0, amp, 1.0, dur)
    s.run(61.1)
    C = area * CM
    t, v = p.time_ms, p.V_mV + 70.0
    k_end = np.argmin(np.abs(t - (1.0 + dur)))
    assert v[k_end] == pytest.approx(amp * dur / C, rel=5e-3)
    # exact RC charging at the end of the pulse: I R (1 - exp(-dur/tau))
    tau = CM / GM
    R = 1.0 / (GM * area)
    assert v[k_end] == pytest.approx(amp * R * (1 - math.exp(-dur / tau)), rel=1e-3 if method == "cn" else 3e-3)
    sel = (t > 5.0) & (t < 60.0)
    slope = np.polyfit(t[sel], np.log(v[sel]), 1)[0]
    assert -1.0 / slope == pytest.approx(tau, rel=5e-3)


def _inf_cable(dx_frac=1 / 40, half_len_lambda=10.0, diameter=1.0):
    lam = math.sqrt(diameter / (4 * RHO * GM))  # 707 um
    dx = lam * dx_frac
    n = 2 * int(round(half_len_lambda / dx_frac)) + 1
    g = cable(n * dx, diameter, n, g_leak_nS_per_um2=GM, e_leak_mV=0.0)
    return g, lam, n // 2, dx


def test_infinite_cable_step_response_jack_noble_tsien():
    """Current step I0 into the middle of a long (20 lambda) cable against
    V(X,T) = (r_a lambda I0 / 4)[e^-X erfc(X/2sqrt(T) - sqrt(T)) - e^X erfc(X/2sqrt(T) + sqrt(T))]
    (Jack, Noble & Tsien 1975) at X = 0, 0.5, 1, 2 and T = 0.25, 0.5, 1, 2: within 1.5 % of the
    steady value at X (or 1.5 % of the local value where larger)."""
    g, lam, mid, dx = _inf_cable()
    tau = CM / GM
    dt = 0.01
    s = MembraneSolver(g, dt_ms=dt, method="cn", V0_mV=0.0)
    I0 = 10.0
    s.add_current_clamp(mid, I0, 0.0, 1e6)
    Xs = [0.0, 0.5, 1.0, 2.0]
    probes = {X: s.add_probe(mid + int(round(X * lam / dx))) for X in Xs}
    Ts = [0.25, 0.5, 1.0, 2.0]
    s.run(2.0 * tau + dt)
    ra = RHO / (math.pi * 0.25)
    for X in Xs:
        p = probes[X]
        for T in Ts:
            v = np.interp(T * tau, p.time_ms, p.V_mV)
            sq = math.sqrt(T)
            ref = ra * lam * I0 / 4 * (math.exp(-X) * erfc(X / (2 * sq) - sq) - math.exp(X) * erfc(X / (2 * sq) + sq))
            steady = ra * lam * I0 / 2 * math.exp(-X)
            assert abs(v - ref) < 0.015 * max(steady, abs(ref)), (X, T, v, ref)


def test_infinite_cable_brief_charge_green_function_rall():
    """A brief charge Q at X = 0 of a long cable against the Green's function
    V(X,T) = Q / (c_m lambda sqrt(4 pi T)) exp(-X^2/4T - T) (Rall 1969; Jack, Noble & Tsien 1975),
    at (X, T) = (0, 0.1), (0, 0.5), (0.5, 0.25), (1, 0.5), (1, 1), (2, 1): within 2 %."""
    g, lam, mid, dx = _inf_cable()
    tau = CM / GM
    dt = 0.005
    s = MembraneSolver(g, dt_ms=dt, method="cn", V0_mV=0.0)
    Q = 100.0  # fC
    s.add_current_clamp(mid, Q / dt, 0.0, dt)
    pts = [(0.0, 0.1), (0.0, 0.5), (0.5, 0.25), (1.0, 0.5), (1.0, 1.0), (2.0, 1.0)]
    probes = {X: s.add_probe(mid + int(round(X * lam / dx))) for X in {p[0] for p in pts}}
    s.run(1.0 * tau + dt)
    cm_line = CM * math.pi * 1.0  # pF/um
    for X, T in pts:
        p = probes[X]
        # the charge arrives centred at t = dt/2
        v = np.interp(T * tau + dt / 2, p.time_ms, p.V_mV)
        ref = Q / (cm_line * lam * math.sqrt(4 * math.pi * T)) * math.exp(-X * X / (4 * T) - T)
        assert v == pytest.approx(ref, rel=0.02), (X, T)


def test_sheet_point_source_steady_profile_matches_bessel_k0():
    """Steady potential of a membrane sheet (cytoplasm layer t = 0.5 um) around a point current
    against V(r) = I rho / (2 pi t) K0(r / lambda), lambda = sqrt(t / (rho g_m)) = 100 um, at
    r = 0.5, 1, 2, 3 lambda: within 2 %."""
    t, gm, h = 0.5, 0.05, 10.0
    lam = math.sqrt(t / (RHO * gm))
    g = sheet(1400.0, 1400.0, h, thickness_um=t, g_leak_nS_per_um2=gm, e_leak_mV=0.0)
    s = MembraneSolver(g, dt_ms=0.1, method="be", V0_mV=0.0)
    centre = g.nearest_node((0.0, 0.0, 0.0))
    I = 100.0
    s.set_external_current(centre, I)
    V = s.steady_state()
    for r in [0.5, 1.0, 2.0, 3.0]:
        for direction in [(1, 0, 0), (0, 1, 0)]:
            k = g.nearest_node(np.array(direction, float) * r * lam)
            ref = I * RHO / (2 * math.pi * t) * k0(r * lam / lam)
            assert V[k] == pytest.approx(ref, rel=0.02), r
    # the time-stepped (backward Euler) solver reaches the same steady state after 20 tau_m
    s.run(20 * CM / gm)
    assert np.max(np.abs(s.V - V)) < 0.01 * V.max()
