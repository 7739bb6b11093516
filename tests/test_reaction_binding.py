"""Calibration of particle + particle reactions (microsyn.reactions.binding).

References: Smoluchowski's rate 4 pi D rho; Andrews & Bray 2004 (doi:10.1088/1478-3967/1/3/001)
for p = 1; Erban & Chapman 2009 (doi:10.1088/1478-3975/6/4/046001) for the lambda-rho model; the
well-mixed rate p (4/3) pi rho^3 / dt for large steps; an independent brute-force solution of the
steady-state equation on a uniform grid with a 1 - a/r far field; the refined Nystrom rule.
The Monte Carlo of the scheme is in tests/validation/test_binding_rate_andrews_bray.py.
"""
import doctest
import math

import numpy as np
import pytest
from scipy.special import erfc, zeta

from microsyn.errors import ReactionError
from microsyn.reactions import binding
from microsyn.reactions.binding import (OVERSHOOT_BETA, BindingParameters, binding_parameters,
                                        simulated_pair_rate, unbinding_probability)

D = 0.42      # um^2/ms, e.g. Ca2+ + BAPTA
RHO = 0.01    # um


def _dt_for(s_over_rho, rho=RHO, d=D):
    return (s_over_rho * rho) ** 2 / (2.0 * d)


def test_docstring_examples_and_radius_table():
    """The module's doctests (including the rho versus rms step table) reproduce."""
    result = doctest.testmod(binding, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5
    assert result.failed == 0


def test_green_function_S_matches_series_and_asymptote():
    """Reference: Taylor series (2 pi)^-1/2 sum zeta(k+1/2) (-x^2/2)^k / k! (x <= 3) and the
    asymptote -x - zeta(1/2)/sqrt(2 pi) (x >= 12); tolerance 1e-10 absolute."""
    x = np.linspace(0.05, 3.0, 40)
    k = np.arange(1, 80)
    series = np.array([np.sum(zeta(k + 0.5) * (-xx * xx / 2) ** k / np.array([math.factorial(int(i)) for i in k], dtype=float))
                       for xx in x]) / math.sqrt(2 * math.pi)
    assert np.max(np.abs(binding._s_function(x) - series)) < 1e-10
    xl = np.linspace(12.0, 15.9, 20)
    assert np.max(np.abs(binding._s_function(xl) - (OVERSHOOT_BETA - xl))) < 1e-10
    assert OVERSHOOT_BETA == pytest.approx(-zeta(0.5) / math.sqrt(2 * math.pi), rel=1e-15)


def test_green_function_S_matches_direct_sum_of_gaussians():
    """Reference: S(x) = sum_{n>=1} (exp(-x^2/2n) - 1)/sqrt(2 pi n), summed to n = 4e6 with the
    tail integral; tolerance 1e-6."""
    n = np.arange(1, 4_000_001, dtype=float)
    for x in (0.7, 2.0, 5.0):
        head = np.sum(np.expm1(-x * x / (2 * n)) / np.sqrt(n))
        big = n[-1] + 0.5
        tail = -(x * x / 2) * 2 / math.sqrt(big) + (x ** 4 / 8) * (2 / 3) * big ** -1.5
        assert binding._s_function(np.array([x]))[0] == pytest.approx((head + tail) / math.sqrt(2 * math.pi), abs=1e-6)


def _brute_force_scaled_rate(R, p, h, extra=10.0):
    """The brief's formulation directly: midpoint grid on [0, R + extra] (units of s, D = 1/2,
    dt = 1), one Gaussian step as the radial kernel K, and g_before = 1 - a/r beyond the grid
    with a = k/(4 pi D) tied to the absorbed flux; solved as one linear system."""
    def phi(x):
        return np.exp(-x * x / 2) / math.sqrt(2 * math.pi)

    def tail(x):
        return 0.5 * erfc(x / math.sqrt(2))

    assert abs(R / h - round(R / h)) < 1e-9, "R must sit on a cell boundary"
    n = int(round((R + extra) / h))
    rm = n * h
    r = (np.arange(n) + 0.5) * h
    chi = (r < R).astype(float)
    ri, rj = np.meshgrid(r, r, indexing="ij")
    K = rj / ri * (phi(ri - rj) - phi(ri + rj)) * h
    t1 = (r * tail(rm - r) + phi(rm - r) + r * tail(rm + r) - phi(rm + r)) / r
    t2 = (tail(rm - r) - tail(rm + r)) / r
    A = np.zeros((n + 1, n + 1))
    b = np.zeros(n + 1)
    A[:n, :n] = np.eye(n) - K * (1 - p * chi)[None, :]
    A[:n, n] = t2
    b[:n] = t1
    A[n, :n] = -p / (2 * math.pi) * chi * 4 * math.pi * r * r * h
    A[n, n] = 1.0
    return 2 * math.pi * np.linalg.solve(A, b)[n]


@pytest.mark.parametrize("R, p", [(1.0, 1.0), (0.5, 0.4), (2.0, 0.7)])
def test_rate_matches_brute_force_grid_solution(R, p):
    """Reference: independent brute-force steady state on uniform grids (h = 0.05, 0.025,
    Richardson-extrapolated, O(h^2)); tolerance 2e-5 relative."""
    k1 = _brute_force_scaled_rate(R, p, 0.05)
    k2 = _brute_force_scaled_rate(R, p, 0.025)
    ref = k2 + (k2 - k1) / 3
    assert simulated_pair_rate(R, p, 0.5, 1.0) == pytest.approx(ref, rel=2e-5)


@pytest.mark.parametrize("s_over_rho", [1e-3, 1e-2, 0.1, 0.5, 1.0, 3.0, 30.0, 1e3])
@pytest.mark.parametrize("p", [1.0, 0.3, 1e-3])
def test_rate_converged_against_refined_rule(s_over_rho, p):
    """Reference: the same equation on the refined rule (panels 0.2 s, growth 1.1, 16 nodes);
    tolerance 1e-4 relative (target 1e-3)."""
    R = 1.0 / s_over_rho
    ref = binding._scaled_rate(R, p, binding._REFINED_RESOLUTION)
    assert binding._scaled_rate(R, p) == pytest.approx(ref, rel=1e-4)


def test_rate_continuous_where_the_rule_gains_a_panel():
    """The panel breakpoints sit at fixed depths (0.5, 1.25, 2.375, ... s) below the surface, so
    the rule gains a panel continuously; reference: the rate just below the breakpoint;
    tolerance 1e-9 relative across it."""
    for depth in (1.25, 2.375, 4.0625):
        below = binding._scaled_rate(depth * (1 - 1e-11), 0.5)
        above = binding._scaled_rate(depth * (1 + 1e-11), 0.5)
        assert len(binding._nodes(depth * (1 + 1e-11), binding._DEFAULT_RESOLUTION)[0]) > \
            len(binding._nodes(depth * (1 - 1e-11), binding._DEFAULT_RESOLUTION)[0])
        assert above == pytest.approx(below, rel=1e-9)


def test_small_steps_tend_to_smoluchowski_from_below():
    """Reference: Smoluchowski 4 pi D rho (tolerance 1e-3 at s/rho = 1e-3, always below it) and
    the small-step deficit 4 pi D (rho - beta s), beta = -zeta(1/2)/sqrt(2 pi) (tolerance 2 %
    of the deficit for s/rho <= 0.1)."""
    smol = 4 * math.pi * D * RHO
    k = simulated_pair_rate(RHO, 1.0, D, _dt_for(1e-3))
    assert k < smol
    assert k == pytest.approx(smol, rel=1e-3)
    previous = 0.0
    for sr in (0.3, 0.1, 0.03, 0.01, 0.001):
        k = simulated_pair_rate(RHO, 1.0, D, _dt_for(sr))
        assert previous < k < smol
        previous = k
        if sr <= 0.1:
            assert (1 - k / smol) / sr == pytest.approx(OVERSHOOT_BETA, rel=0.02)


@pytest.mark.parametrize("kappa_rho", [0.3, 1.0, 3.0, 10.0])
def test_small_steps_tend_to_lambda_rho_model(kappa_rho):
    """Reference: Erban & Chapman 2009 continuum lambda-rho rate
    4 pi D rho (1 - tanh(kappa rho)/(kappa rho)), kappa = sqrt(lambda/D), with
    p = 1 - exp(-lambda dt) at s/rho = 1e-3; tolerance 1e-3 relative."""
    lam = kappa_rho ** 2 * D / RHO ** 2
    dt = _dt_for(1e-3)
    p = -math.expm1(-lam * dt)
    ref = 4 * math.pi * D * RHO * (1 - math.tanh(kappa_rho) / kappa_rho)
    assert simulated_pair_rate(RHO, p, D, dt) == pytest.approx(ref, rel=1e-3)


@pytest.mark.parametrize("p", [1.0, 0.2])
def test_large_steps_tend_to_well_mixed_rate(p):
    """Reference: p (4/3) pi rho^3 / dt for s >> rho (s/rho = 1e3: tolerance 1e-3; the deficit
    shrinks as rho/s)."""
    dt = _dt_for(1e3)
    ref = p * 4 / 3 * math.pi * RHO ** 3 / dt
    k = simulated_pair_rate(RHO, p, D, dt)
    assert k <= ref and k == pytest.approx(ref, rel=1e-3)
    k30 = simulated_pair_rate(RHO, p, D, _dt_for(30.0))
    assert 1 - k / ref < 1 - k30 * _dt_for(30.0) / (p * 4 / 3 * math.pi * RHO ** 3)


def test_rate_monotonic_in_radius_and_probability():
    """Reference: more reactive volume or probability cannot lower the rate (strictly increasing
    on a grid of rho/s from 0.01 to 300 and p from 1e-3 to 1)."""
    dt = 1e-6
    s = math.sqrt(2 * D * dt)
    rhos = s * np.geomspace(0.01, 300, 25)
    for p in (1e-3, 0.1, 1.0):
        k = [simulated_pair_rate(r, p, D, dt) for r in rhos]
        assert np.all(np.diff(k) > 0)
    for r in (0.1 * s, s, 30 * s):
        k = [simulated_pair_rate(r, p, D, dt) for p in np.geomspace(1e-3, 1, 15)]
        assert np.all(np.diff(k) > 0)
        assert k[-1] < 4 * math.pi * D * r          # never above Smoluchowski's 4 pi D rho


@pytest.mark.parametrize("k_pair", [1e-6, 6.6e-4, 0.05, 5.0])
@pytest.mark.parametrize("dt", [1e-8, 1e-6, 1e-4])
def test_binding_parameters_reproduce_rate(k_pair, dt):
    """Reference: the input rate; binding_parameters then simulated_pair_rate gives k_pair back to
    1e-6 relative (radius solved, p = 1; and radius given, p solved)."""
    bp = binding_parameters(k_pair, D, dt)
    assert bp.p == 1.0 and bp.regime == "andrews-bray (p=1)" and bp.k_pair == k_pair
    assert simulated_pair_rate(bp.rho, bp.p, D, dt) == pytest.approx(k_pair, rel=1e-6)
    bp2 = binding_parameters(k_pair, D, dt, rho=1.7 * bp.rho)
    assert 0 < bp2.p < 1 and bp2.rho == 1.7 * bp.rho and bp2.regime == "doi (fixed rho)"
    assert simulated_pair_rate(bp2.rho, bp2.p, D, dt) == pytest.approx(k_pair, rel=1e-6)
    assert binding_parameters(k_pair, D, dt) is bp          # cached


def test_binding_parameters_limits():
    """Reference: rho -> k/(4 pi D) + beta s for small steps (tolerance 1e-4 relative) and
    rho -> (3 k dt / 4 pi)^(1/3) for large steps (tolerance 1e-3)."""
    k = 0.5
    dt = (1e-4 * k / (4 * math.pi * D)) ** 2 / (2 * D)
    s = math.sqrt(2 * D * dt)
    assert binding_parameters(k, D, dt).rho == pytest.approx(k / (4 * math.pi * D) + OVERSHOOT_BETA * s, rel=1e-4)
    k = 1e-6
    dt = 1e-3
    assert binding_parameters(k, D, dt).rho == pytest.approx((3 * k * dt / (4 * math.pi)) ** (1 / 3), rel=1e-3)


def test_unreachable_rate_names_largest_rate_and_smallest_radius():
    """Reference: simulated_pair_rate at p = 1 (the largest rate at that radius) and the
    Andrews-Bray radius (the smallest that reaches the rate), quoted in the message."""
    k, dt = 0.05, 1e-6
    bp = binding_parameters(k, D, dt)
    rho = 0.8 * bp.rho
    with pytest.raises(ReactionError) as err:
        binding_parameters(k, D, dt, rho=rho)
    msg = str(err.value)
    assert f"{simulated_pair_rate(rho, 1.0, D, dt):.6g}" in msg
    assert f"rho >= {bp.rho:.6g}" in msg
    at_edge = binding_parameters(k, D, dt, rho=bp.rho * (1 + 1e-9))
    assert at_edge.p == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0.0, -1.0, "x", None])
def test_bad_input_raises_reaction_error(bad):
    """Every parameter must be a finite number > 0 (p in (0, 1]); ReactionError saying so."""
    for call in (lambda: simulated_pair_rate(bad, 1.0, D, 1e-6),
                 lambda: simulated_pair_rate(RHO, 1.0, bad, 1e-6),
                 lambda: simulated_pair_rate(RHO, 1.0, D, bad),
                 lambda: simulated_pair_rate(RHO, bad, D, 1e-6),
                 lambda: binding_parameters(bad, D, 1e-6),
                 lambda: binding_parameters(1e-3, bad, 1e-6),
                 lambda: binding_parameters(1e-3, D, bad),
                 lambda: unbinding_probability(bad, 1.0, BindingParameters(RHO, 1.0, 1e-3, "x"), 1e-6),
                 lambda: unbinding_probability(1e-3, bad, BindingParameters(RHO, 1.0, 1e-3, "x"), 1e-6),
                 lambda: unbinding_probability(1e-3, 1.0, BindingParameters(RHO, 1.0, 1e-3, "x"), bad)):
        with pytest.raises(ReactionError, match="must be"):
            call()
    if bad is not None:
        with pytest.raises(ReactionError, match="must be"):
            binding_parameters(1e-3, D, 1e-6, rho=bad)
    with pytest.raises(ReactionError, match=r"\(0, 1\]"):
        simulated_pair_rate(RHO, 1.5, D, 1e-6)


def test_unbinding_probability_formula_and_errors():
    """Reference: p_off = p (4/3 pi rho^3) kb / k_pair (exact equilibrium constant, docstring);
    p_off > 1 raises ReactionError naming the factor to shorten dt; a params for another rate
    raises."""
    k, dt = 6.6e-4, 1e-6
    bp = binding_parameters(k, D, dt, rho=0.005)
    kb = 0.088
    p_off = unbinding_probability(k, kb, bp, dt)
    assert p_off == pytest.approx(bp.p * 4 / 3 * math.pi * 0.005 ** 3 * kb / k, rel=1e-14)
    assert p_off >= kb * dt * (1 - 1e-12)             # Q >= 1: never below kb dt
    bp_ab = binding_parameters(k, D, dt)
    kb_big = 2.0 * k / (4 / 3 * math.pi * bp_ab.rho ** 3)
    with pytest.raises(ReactionError, match="shorten dt by a factor of at least 2"):
        unbinding_probability(k, kb_big, bp_ab, dt)
    with pytest.raises(ReactionError, match="no radius helps"):
        unbinding_probability(k, 2.0 / dt, BindingParameters(bp_ab.rho, 1.0, k, "x"), dt)
    with pytest.raises(ReactionError, match="calibrated for"):
        unbinding_probability(2 * k, kb, bp, dt)
    with pytest.raises(ReactionError, match="BindingParameters"):
        unbinding_probability(k, kb, (0.005, 1.0), dt)


def test_binding_parameters_is_frozen():
    bp = binding_parameters(1e-3, D, 1e-6)
    with pytest.raises(AttributeError):
        bp.rho = 1.0
