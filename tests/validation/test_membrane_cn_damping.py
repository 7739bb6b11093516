"""Crank-Nicolson does not ring after a current step (issue 8 item 25).

Reference: the exact solution of the same compartmental cable (the linear system
C dV/dt = -(L + G_leak) V + I solved by eigendecomposition, no time stepping), on the Rallpack 1
cable (Bhalla, Bilitch & Bower 1992, Trends Neurosci. 15:453: 1 mm, 1 um, R_m = 40 kohm cm^2,
R_a = 100 ohm cm, 1 uF/cm^2, 1000 compartments) with 100 pA injected at one end from 0 to 2 ms.
"""
import numpy as np
import pytest
import scipy.linalg as sl

from microsyn.membrane import CompartmentGraph, MembraneSolver, cable

DT = 0.05
ON, OFF, T_END = 0.0, 2.0, 3.0


def _graph():
    return cable(1000.0, 1.0, 1000, g_leak_nS_per_um2=2.5e-4, e_leak_mV=-65.0)


def _exact_node0(g, t):
    """V [mV] of node 0 at times t for a 100 pA pulse ON..OFF into node 0, from rest."""
    C = g.capacitance_pF
    G = g.laplacian().toarray() + np.diag(g.g_leak_nS)
    s = 1.0 / np.sqrt(C)
    lam, Q = sl.eigh(s[:, None] * G * s[None, :])
    b = Q.T @ (s * np.eye(g.n)[0] * 100.0)
    row = s[0] * Q[0]

    def step(tt):  # response to a step switched on at 0
        tt = np.maximum(tt, 0.0)[:, None]
        return (row * b * (1.0 - np.exp(-lam * tt)) / lam).sum(axis=1)

    t = np.asarray(t)
    return step(t - ON) - step(t - OFF) * (t > OFF) - 65.0


def _run(g, dt, **kw):
    s = MembraneSolver(g, dt, **kw)
    s.add_current_clamp(0, 100.0, ON, OFF - ON)
    p = s.add_probe(0)
    s.run(T_END)
    return p.time_ms, p.V_mV


def test_current_step_no_longer_rings_under_crank_nicolson():
    """Default Crank-Nicolson (damped) at dt = 50 us against the exact compartmental solution:
    the error over the first 10 steps after the onset and after the end of the pulse keeps one
    sign, its maximum is < 0.35 mV (undamped: +1.22, -0.76, +0.69 mV ..., max 1.22 mV) and from
    1 ms after the onset on it is < 0.01 mV (undamped 0.22 mV)."""
    g = _graph()
    t, v = _run(g, DT)
    ref = _exact_node0(g, t)
    err = v - ref
    k_on, k_off = int(round(ON / DT)), int(round(OFF / DT))
    for k in (k_on, k_off):
        e = err[k + 1:k + 11]
        assert np.all(np.sign(e) == np.sign(e[0])), e
    assert np.abs(err).max() < 0.35
    late = (t >= ON + 1.0) & (t < OFF)
    assert np.abs(err[late]).max() < 0.01
    # the same run without damping rings (this is what the test guards against)
    _, v0 = _run(g, DT, damp_steps=0)
    e0 = (v0 - ref)[k_on + 1:k_on + 7]
    assert np.all(e0[:-1] * e0[1:] < 0) and np.abs(v0 - ref).max() > 1.0
    assert np.abs((v0 - ref)[late]).max() > 0.1


def test_damped_crank_nicolson_stays_second_order():
    """Halving dt (50 -> 25 us) divides the error at 1..2 ms by > 3.5 (second order; backward
    Euler divides it by about 2), against the exact compartmental solution."""
    g = _graph()
    errs = {}
    for method in ("cn", "be"):
        for dt in (DT, DT / 2):
            t, v = _run(g, dt, method=method)
            sel = (t >= 1.0) & (t <= 2.0)
            errs[method, dt] = np.abs(v[sel] - _exact_node0(g, t[sel])).max()
    assert errs["cn", DT] / errs["cn", DT / 2] > 3.5
    assert errs["be", DT] / errs["be", DT / 2] < 2.5


def test_set_potential_and_mark_discontinuity_damp_the_next_steps():
    """An instantaneous shock by set_potential (and mark_discontinuity) makes the next
    ``damp_steps`` steps backward-Euler half steps: after a 10 mV shock on node 0 of the cable,
    V of node 0 decays monotonically (undamped it alternates above and below the exact decay)."""
    g = _graph()
    for damp, monotone in ((2, True), (0, False)):
        s = MembraneSolver(g, DT, damp_steps=damp)
        s.set_potential(-55.0, nodes=[0])
        v = [s.V[0]]
        for _ in range(6):
            s.step()
            v.append(s.V[0])
        assert bool(np.all(np.diff(v) < 0)) == monotone, v
    s = MembraneSolver(g, DT)
    s.mark_discontinuity()
    assert s._damp_left == 2
    with pytest.raises(ValueError, match="damp_steps"):
        MembraneSolver(g, DT, damp_steps=-1)


def test_stiff_voltage_clamp_current_settles_after_command_steps():
    """A 1000 um^2 patch (10 pF, leak 0.5 nS to -70 mV) clamped through 1e4 nS from -65 to -20 mV
    at 1 ms and to -70 mV at 3 ms, Crank-Nicolson at dt = 25 us: from the third step after each
    command change the clamp current is within 2 pA of the leak current (reference: Ohm's law,
    0.5 nS x (V_cmd + 70 mV)); undamped it alternates by more than 1e4 pA."""
    for damp in (2, 0):
        g = CompartmentGraph([1000.0], np.zeros((0, 2), int), [])
        s = MembraneSolver(g, 0.025, damp_steps=damp)
        c = s.add_voltage_clamp(0, [1.0, 3.0], [-20.0, -70.0], 1e4)
        s.run(4.0)
        t, cur = np.array(c.time_ms), np.array(c.current_pA)
        for t_cmd, v_cmd in ((1.0, -20.0), (3.0, -70.0)):
            k = int(np.searchsorted(t, t_cmd + 1e-9))  # first step ending after the change
            dev = np.abs(cur[k + 2:k + 30] - 0.5 * (v_cmd + 70.0))
            if damp:
                assert dev.max() < 2.0, dev
            else:
                assert dev.max() > 1e4
