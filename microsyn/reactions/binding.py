"""Finite-time-step calibration of particle + particle reactions.

The engine simulates a bimolecular reaction ``A + B -> ...`` between tracked particles with the
following scheme, every time step ``dt`` [ms], in this order:

1. every particle takes its Gaussian Brownian step (variance ``2 D_i dt`` per axis);
2. every A-B pair closer than the binding radius ``rho`` [um] reacts with probability ``p``
   (each particle at most once per step).

The relative coordinate of a pair then diffuses with ``D = D_A + D_B`` [um^2/ms], and its rms
step per axis is ``s = sqrt(2 D dt)`` [um]. This module finds the macroscopic rate constant per
pair that the scheme produces, :func:`simulated_pair_rate`, and inverts it,
:func:`binding_parameters`: with ``p = 1`` the binding radius of Andrews & Bray (2004); with a
given radius the reaction probability ``p`` of the discrete-time lambda-rho (Doi) model, Erban &
Chapman (2009). :func:`unbinding_probability` gives the per-step probability of the reverse,
unimolecular reaction that makes the equilibrium constant exact at any ``dt``.

Steady state of the scheme
--------------------------
Let ``g(r)`` be the radial distribution function of B around one A (``g -> 1`` far away) just
after the Brownian step. For an irreversible reaction in steady state (lengths in units of ``s``)

    g = G[(1 - p chi) g],

where ``chi`` is the indicator of the ball ``r < rho`` and ``G`` the Gaussian step (for a radial
function, ``(G f)(r) = int_0^inf K(r, r') f(r') dr'`` with
``K(r, r') = r'/(r sqrt(2 pi)) [exp(-(r - r')^2/2) - exp(-(r + r')^2/2)]``). Writing
``g = 1 - u`` gives ``u = G u + G (p chi g)``, whose solution vanishing at infinity is
``u = sum_{n>=1} G^n (p chi g)``. So ``g`` inside the ball obeys a Fredholm equation of the
second kind on the finite interval ``[0, rho]`` only,

    g(r) = 1 - p int_0^rho M(r, r') g(r') dr',     M = sum_{n>=1} K_n,

and the far field needs no truncation: outside the ball ``u`` is exactly ``a/r`` with
``a = k / (4 pi D)`` up to terms that decay like ``exp(-2.5 (r - rho)/s)``. The kernel of the
discrete-time Green's function is ``M(r, r') = (r'/r) [S(|r - r'|) - S(r + r')]`` with the 1D
function

    S(x) = sum_{n>=1} [phi_n(x) - phi_n(0)] = (1/pi) int_0^inf (cos(q x) - 1) / (exp(q^2/2) - 1) dq

(``phi_n`` the 1D Gaussian density of variance ``n``). ``S`` is entire (its Taylor series is
``(2 pi)^(-1/2) sum_k zeta(k + 1/2) (-x^2/2)^k / k!``) and equals ``-|x| + beta`` up to
``~exp(-sqrt(2 pi) x)`` for large ``x``, where ``beta = -zeta(1/2)/sqrt(2 pi) = 0.5826`` (the
overshoot constant of Gaussian random walks). ``S`` is tabulated once (cubic spline on
``[0, 16]``, series for small arguments, the exact asymptote beyond). The equation is solved by
Nystrom's method on Gauss-Legendre panels graded from ``0.5 s`` at the surface of the ball,
growing 1.5-fold inward (at most ~220 nodes for ``rho/s`` up to ``1e3``), and the rate per pair
is

    k = p int_0^rho g(r) 4 pi r^2 dr / dt     [um^3/ms].

Limits (verified in ``tests/test_reaction_binding.py``): for ``s << rho`` and ``p = 1`` the rate
tends to Smoluchowski's ``4 pi D rho`` from below as ``4 pi D (rho - beta s)``; for
``p = 1 - exp(-lambda dt)`` at fixed ``lambda`` it tends to the lambda-rho (Doi) rate
``4 pi D rho (1 - tanh(kappa rho)/(kappa rho))``, ``kappa = sqrt(lambda/D)``; for ``s >> rho``
it tends to the well-mixed ``p (4/3) pi rho^3 / dt``.

Binding radius versus time step (Ca2+ + BAPTA-like, ``k = 400 /(mM ms)`` = ``6.6e-4 um^3/ms``,
``D = 0.42 um^2/ms``; ``rho_s = k/(4 pi D)`` is Smoluchowski's radius; compare the binding radius
versus rms step curve of Andrews & Bray 2004):

>>> from microsyn.units import pair_rate_um3_per_ms
>>> k, D = pair_rate_um3_per_ms(400.0), 0.42
>>> rho_s = k / (4 * math.pi * D)
>>> for dt in (1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4):
...     bp = binding_parameters(k, D, dt)
...     s = math.sqrt(2 * D * dt)
...     print(f"dt {dt:.0e} ms  s {s * 1e3:7.3f} nm  rho {bp.rho * 1e3:6.3f} nm  "
...           f"s/rho_s {s / rho_s:7.3f}  rho/rho_s {bp.rho / rho_s:6.3f}")
dt 1e-10 ms  s   0.009 nm  rho  0.131 nm  s/rho_s   0.073  rho/rho_s  1.042
dt 1e-09 ms  s   0.029 nm  rho  0.143 nm  s/rho_s   0.230  rho/rho_s  1.134
dt 1e-08 ms  s   0.092 nm  rho  0.179 nm  s/rho_s   0.728  rho/rho_s  1.424
dt 1e-07 ms  s   0.290 nm  rho  0.290 nm  s/rho_s   2.303  rho/rho_s  2.305
dt 1e-06 ms  s   0.917 nm  rho  0.567 nm  s/rho_s   7.283  rho/rho_s  4.502
dt 1e-05 ms  s   2.898 nm  rho  1.183 nm  s/rho_s  23.030  rho/rho_s  9.403
dt 1e-04 ms  s   9.165 nm  rho  2.524 nm  s/rho_s  72.827  rho/rho_s 20.057

References
----------
S. S. Andrews and D. Bray (2004), Stochastic simulation of chemical reactions with spatial
resolution and single molecule detail, Phys. Biol. 1:137-151, doi:10.1088/1478-3967/1/3/001.

R. Erban and S. J. Chapman (2009), Stochastic modelling of reaction-diffusion processes:
algorithms for bimolecular reactions, Phys. Biol. 6:046001, doi:10.1088/1478-3975/6/4/046001.

A. J. E. M. Janssen and J. S. H. van Leeuwaarden (2007), On Lerch's transcendent and the Gaussian
random walk, Ann. Appl. Probab. 17:421-439, doi:10.1214/105051606000000781 (the constant
``-zeta(1/2)/sqrt(2 pi)`` of Gaussian random walks; also Chang & Peres 1997, Ann. Probab.
25:787-802).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.optimize import brentq
from scipy.special import zeta

from ..errors import ReactionError

__all__ = ["BindingParameters", "simulated_pair_rate", "binding_parameters",
           "unbinding_probability", "OVERSHOOT_BETA"]

#: ``-zeta(1/2)/sqrt(2 pi)``: the far-field offset of the discrete-time Green's function and the
#: small-step deficit of the binding radius, ``k ~ 4 pi D (rho - beta s)`` for ``p = 1``.
OVERSHOOT_BETA = float(-zeta(0.5) / math.sqrt(2.0 * math.pi))

_S_TABLE_END = 16.0          # beyond: S(x) = -x + beta to ~1e-17
_S_TABLE_STEP = 1.0 / 256.0
_SERIES_MAX = 1.0            # r + r' below this: Taylor series of S (no cancellation)
_SERIES_COEF = np.array([zeta(k + 0.5) * (-0.5) ** k / math.factorial(k) for k in range(1, 31)]
                        ) / math.sqrt(2.0 * math.pi)

# Nystrom grid (lengths in units of s): first panel width at the surface, inward growth, nodes.
_DEFAULT_RESOLUTION = (0.5, 1.5, 12)
_REFINED_RESOLUTION = (0.2, 1.1, 16)     # the converged reference used by the tests


@dataclass(frozen=True)
class BindingParameters:
    """Calibrated parameters of one bimolecular particle + particle reaction.

    Attributes
    ----------
    rho : float
        Binding radius [um]; also the radius of the ball in which a reversible unbinding places
        its products.
    p : float
        Probability per step that a pair closer than ``rho`` reacts, in (0, 1].
    k_pair : float
        The target rate constant per pair [um^3/ms] that (rho, p) reproduce.
    regime : str
        ``"andrews-bray (p=1)"`` (rho solved) or ``"doi (fixed rho)"`` (p solved).
    """

    rho: float
    p: float
    k_pair: float
    regime: str


def _positive(name: str, value, unit: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ReactionError(f"{name} must be a finite number > 0 [{unit}], got {value!r}") from None
    if not math.isfinite(v) or v <= 0.0:
        raise ReactionError(f"{name} must be a finite number > 0 [{unit}], got {value!r}")
    return v


def _probability(value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ReactionError(f"reaction probability p must be a number in (0, 1], got {value!r}") from None
    if not (0.0 < v <= 1.0):
        raise ReactionError(f"reaction probability p must be a number in (0, 1], got {value!r}")
    return v


# ---------------------------------------------------------------------------------------------
# The 1D function S(x) of the discrete-time Green's function
# ---------------------------------------------------------------------------------------------

def _s_by_quadrature(x: np.ndarray) -> np.ndarray:
    """S(x) = -(2/pi) int_0^inf sin^2(q x / 2) / expm1(q^2 / 2) dq by composite Gauss-Legendre
    (40 panels of 16 nodes on q in [0, 10]; the integrand is below 1e-21 beyond)."""
    g, w = np.polynomial.legendre.leggauss(16)
    edges = np.linspace(0.0, 10.0, 41)
    half = 0.5 * (edges[1:] - edges[:-1])
    q = (0.5 * (edges[1:] + edges[:-1])[:, None] + half[:, None] * g).ravel()
    wq = (half[:, None] * w).ravel()
    x = np.asarray(x, dtype=float)
    return -(2.0 / math.pi) * (np.sin(0.5 * np.multiply.outer(x, q)) ** 2 / np.expm1(0.5 * q * q)) @ wq


@functools.lru_cache(maxsize=1)
def _s_spline() -> CubicSpline:
    xs = np.linspace(0.0, _S_TABLE_END, int(round(_S_TABLE_END / _S_TABLE_STEP)) + 1)
    return CubicSpline(xs, _s_by_quadrature(xs), bc_type=((1, 0.0), (1, -1.0)))


def _s_function(x: np.ndarray) -> np.ndarray:
    """S(x) for x >= 0 (array): spline on [0, 16], exact asymptote ``-x + beta`` beyond."""
    x = np.asarray(x, dtype=float)
    out = OVERSHOOT_BETA - x
    near = x < _S_TABLE_END
    if np.any(near):
        out[near] = _s_spline()(x[near])
    return out


def _kernel_difference(r: np.ndarray, rp: np.ndarray) -> np.ndarray:
    """``S(|r - r'|) - S(r + r')`` (flat arrays, r, r' > 0), without cancellation for small
    arguments (series ``sum_k c_k (a^2k - b^2k)`` by a two-term recurrence)."""
    a = np.abs(r - rp)
    b = r + rp
    out = np.empty_like(a)
    far = a >= _S_TABLE_END
    out[far] = 2.0 * np.minimum(r[far], rp[far])         # (-a + beta) - (-b + beta)
    small = b < _SERIES_MAX
    mid = ~(far | small)
    if np.any(mid):
        out[mid] = _s_function(a[mid]) - _s_function(b[mid])
    if np.any(small):
        a2, b2 = a[small] ** 2, b[small] ** 2
        d_prev = np.zeros_like(a2)
        d = -4.0 * r[small] * rp[small]                  # a^2 - b^2
        total = _SERIES_COEF[0] * d
        s2, p2 = a2 + b2, a2 * b2
        for c in _SERIES_COEF[1:]:
            d, d_prev = s2 * d - p2 * d_prev, d
            total += c * d
        out[small] = total
    return out


def _nodes(R: float, resolution) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, R] (units of s): panels of width ``w0`` at the
    surface, each next panel inward ``growth`` times wider; the innermost panel takes the rest.
    The breakpoints sit at fixed depths below the surface, so the rule (and the rate) changes
    continuously with R."""
    w0, growth, n = resolution
    g, w = np.polynomial.legendre.leggauss(n)
    breaks = [R]
    depth, width = 0.0, w0
    while depth + width < R:
        depth += width
        breaks.append(R - depth)
        width *= growth
    breaks.append(0.0)
    br = np.array(breaks[::-1])
    if len(br) > 2 and br[1] - br[0] < 1e-12 * R:      # a vanishing innermost panel
        br = np.delete(br, 1)
    lo, hi = br[:-1, None], br[1:, None]
    return (0.5 * (lo + hi) + 0.5 * (hi - lo) * g).ravel(), (0.5 * (hi - lo) * w).ravel()


def _steady_profile(R: float, p: float, resolution=_DEFAULT_RESOLUTION):
    """Nodes r, weights w [units of s] and the steady g(r) after the Brownian step inside the
    ball of radius R [units of s], for reaction probability p."""
    r, w = _nodes(R, resolution)
    ri, rj = np.meshgrid(r, r, indexing="ij")
    kernel = (rj / ri) * _kernel_difference(ri.ravel(), rj.ravel()).reshape(ri.shape)
    a = p * kernel * w[None, :]
    a[np.diag_indices_from(a)] += 1.0
    g = np.linalg.solve(a, np.ones_like(r))
    return r, w, g


@functools.lru_cache(maxsize=4096)
def _scaled_rate(R: float, p: float, resolution=_DEFAULT_RESOLUTION) -> float:
    """Dimensionless rate ``k / (2 D s) = p int_0^R g 4 pi r^2 dr`` (R = rho/s)."""
    r, w, g = _steady_profile(R, p, resolution)
    return float(p * np.sum(w * 4.0 * math.pi * r * r * g))


def simulated_pair_rate(rho: float, p: float, D: float, dt: float) -> float:
    """Steady-state rate constant per pair that the particle scheme produces [um^3/ms].

    Parameters
    ----------
    rho : float
        Binding radius [um].
    p : float
        Probability in (0, 1] that a pair closer than ``rho`` after the Brownian step reacts.
    D : float
        Relative diffusion coefficient ``D_A + D_B`` [um^2/ms].
    dt : float
        Time step [ms].

    Returns
    -------
    float
        ``k = p int_{r<rho} g(r) 4 pi r^2 dr / dt`` [um^3/ms] with ``g`` the exact steady radial
        distribution function of the discrete scheme (see the module docstring); relative error
        about 1e-5 (tested < 1e-4) against the refined rule for ``sqrt(2 D dt)/rho`` from 1e-3 to 1e3.

    Raises
    ------
    ReactionError
        A parameter that is NaN, infinite, <= 0 (or p > 1).

    References
    ----------
    Andrews & Bray (2004), doi:10.1088/1478-3967/1/3/001 (p = 1); Erban & Chapman (2009),
    doi:10.1088/1478-3975/6/4/046001 (p < 1, the lambda-rho model).
    """
    rho = _positive("binding radius rho", rho, "um")
    p = _probability(p)
    D = _positive("relative diffusion coefficient D", D, "um^2/ms")
    dt = _positive("time step dt", dt, "ms")
    s = math.sqrt(2.0 * D * dt)
    return 2.0 * D * s * _scaled_rate(rho / s, p)


def _solve_radius(target: float) -> float:
    """R = rho/s with ``_scaled_rate(R, 1) = target`` (bracketed root; F(R) <= min(4 pi R^3/3,
    2 pi R) gives the lower end)."""
    lo = max((3.0 * target / (4.0 * math.pi)) ** (1.0 / 3.0), target / (2.0 * math.pi))
    f_lo = _scaled_rate(lo, 1.0) - target
    if f_lo >= 0.0:
        return lo
    hi = 2.0 * lo + OVERSHOOT_BETA
    while _scaled_rate(hi, 1.0) < target:
        lo, hi = hi, 2.0 * hi
    return brentq(lambda R: _scaled_rate(R, 1.0) - target, lo, hi, xtol=1e-15 * hi, rtol=1e-15,
                  maxiter=200)


@functools.lru_cache(maxsize=1024)
def _binding_parameters(k_pair: float, D: float, dt: float, rho: float | None) -> BindingParameters:
    s = math.sqrt(2.0 * D * dt)
    target = k_pair / (2.0 * D * s)
    if rho is None:
        R = _solve_radius(target)
        return BindingParameters(rho=R * s, p=1.0, k_pair=k_pair, regime="andrews-bray (p=1)")
    R = rho / s
    f_max = _scaled_rate(R, 1.0)
    if target > f_max * (1.0 + 1e-12):
        rho_min = _solve_radius(target) * s
        raise ReactionError(
            f"rate k_pair = {k_pair:.6g} um^3/ms cannot be reached with binding radius "
            f"rho = {rho:.6g} um at dt = {dt:.6g} ms, D = {D:.6g} um^2/ms: the largest rate at this "
            f"radius (p = 1) is {f_max * 2.0 * D * s:.6g} um^3/ms; give rho >= {rho_min:.6g} um "
            f"(or radius=None to let it be chosen)")
    if target >= f_max:                      # the Andrews-Bray radius itself (to round-off)
        p = 1.0
    else:
        p = brentq(lambda q: _scaled_rate(R, q) - target, 0.0, 1.0, xtol=1e-16, rtol=1e-15,
                   maxiter=200)
    return BindingParameters(rho=rho, p=float(p), k_pair=k_pair, regime="doi (fixed rho)")


def binding_parameters(k_pair: float, D: float, dt: float, rho: float | None = None) -> BindingParameters:
    """Binding radius and reaction probability that reproduce a rate constant at a time step.

    Parameters
    ----------
    k_pair : float
        Target rate constant per pair [um^3/ms] (``units.pair_rate_um3_per_ms`` of [1/(mM ms)]).
    D : float
        Relative diffusion coefficient ``D_A + D_B`` [um^2/ms].
    dt : float
        Time step [ms].
    rho : float or None
        Binding radius [um]. None: ``p = 1`` and the radius is solved (Andrews & Bray 2004).
        Given: the radius is kept and ``p`` in (0, 1] is solved (lambda-rho model, Erban &
        Chapman 2009).

    Returns
    -------
    BindingParameters
        ``simulated_pair_rate(rho, p, D, dt)`` equals ``k_pair`` to ~1e-12 (results cached).

    Raises
    ------
    ReactionError
        A parameter NaN, infinite or <= 0; or, with ``rho`` given, a rate above the largest
        reachable at that radius (the message gives that rate and the smallest radius that
        reaches ``k_pair``).

    Examples
    --------
    >>> bp = binding_parameters(0.01, D=1.0, dt=1e-6)
    >>> bp.p, bp.regime
    (1.0, 'andrews-bray (p=1)')
    >>> round(simulated_pair_rate(bp.rho, bp.p, 1.0, 1e-6) / 0.01, 9)
    1.0
    """
    k_pair = _positive("pair rate constant k_pair", k_pair, "um^3/ms")
    D = _positive("relative diffusion coefficient D", D, "um^2/ms")
    dt = _positive("time step dt", dt, "ms")
    if rho is not None:
        rho = _positive("binding radius rho", rho, "um")
    return _binding_parameters(k_pair, D, dt, rho)


def unbinding_probability(k_pair: float, kb: float, params: BindingParameters, dt: float) -> float:
    """Per-step probability of the unbinding ``C -> A + B`` that makes the equilibrium exact.

    The products are placed at ``x_C -/+`` (weights) ``* r`` with ``r`` uniform in the ball of
    radius ``params.rho``. Then ``p_off = p (4/3 pi rho^3) kb / k_pair`` gives the equilibrium
    constant ``[C]/([A][B]) = k_pair / kb`` exactly, at any ``dt``.

    See Notes for the derivation and for what to change when ``p_off > 1``.

    Parameters
    ----------
    k_pair : float
        Forward rate constant per pair [um^3/ms]; must be ``params.k_pair``.
    kb : float
        Unbinding rate constant [1/ms].
    params : BindingParameters
        From :func:`binding_parameters` with the same ``k_pair`` and ``dt``.
    dt : float
        Time step [ms].

    Returns
    -------
    float
        ``p_off`` in (0, 1].

    Raises
    ------
    ReactionError
        Bad input, a ``params`` for another rate, or ``p_off > 1`` (the message says how much to
        shorten ``dt`` or that a larger radius helps).

    Notes
    -----
    Take one A/C and one B in a volume ``V`` (periodic or reflecting). The Brownian
    step leaves the uniform distribution of the unbound pair's separation invariant (and does
    not touch C). The reaction step moves an unbound pair at separation ``r`` to C with
    probability ``p chi(r)`` and C to an unbound pair at separation ``r`` with density
    ``p_off chi(r) / V_rho``, ``V_rho = 4/3 pi rho^3``. Detailed balance with the target measure
    ``pi(unbound, r) = pi_U / V``, ``pi(C) = pi_C`` reads ``(pi_U/V) p = pi_C p_off / V_rho`` for
    every ``r < rho``, i.e. ``pi_C / pi_U = p V_rho / (p_off V)``; requiring
    ``pi_C / pi_U = (k_pair/kb) / V`` (mass action) gives ``p_off``. Each step preserves the
    measure, so their composition does too: the equilibrium is exact for any ``dt`` and both
    regimes (the dynamics, e.g. geminate rebinding, is what ``rho`` and ``p`` calibrate). With
    many particles the rule "each particle reacts at most once per step" makes it exact only to
    first order in the density times ``V_rho``.

    Since ``k_pair <= p V_rho / dt`` (no scheme beats the well-mixed rate),
    ``p_off = kb dt Q`` with ``Q = p V_rho / (k_pair dt) >= 1``; ``Q`` is large when binding is
    diffusion-limited (``p = 1``, ``rho >> sqrt(2 D dt)``) and near 1 when it is
    reaction-limited (a large given radius, small ``p``).

    Examples
    --------
    >>> bp = BindingParameters(rho=0.01, p=0.5, k_pair=1e-3, regime="doi (fixed rho)")
    >>> round(unbinding_probability(1e-3, 10.0, bp, 1e-5), 6)
    0.020944
    """
    k_pair = _positive("pair rate constant k_pair", k_pair, "um^3/ms")
    kb = _positive("unbinding rate constant kb", kb, "1/ms")
    dt = _positive("time step dt", dt, "ms")
    if not isinstance(params, BindingParameters):
        raise ReactionError(f"params must be a BindingParameters from binding_parameters(), got {params!r}")
    if abs(params.k_pair - k_pair) > 1e-9 * k_pair:
        raise ReactionError(f"params were calibrated for k_pair = {params.k_pair!r} um^3/ms, not {k_pair!r}: "
                            f"call binding_parameters() with this rate")
    v_rho = 4.0 / 3.0 * math.pi * params.rho ** 3
    p_off = params.p * v_rho * kb / k_pair
    if p_off > 1.0:
        q = p_off / (kb * dt)
        hint = (f"shorten dt by a factor of at least {p_off:.3g} (p_off = kb dt Q, Q = p V_rho/(k_pair dt) "
                f"= {q:.3g}; Q itself changes with dt, so recalibrate and check)")
        if kb * dt < 1.0:
            hint += (" or give a larger binding radius (reaction-limited binding, small p, brings Q "
                     f"towards 1 and p_off towards kb dt = {kb * dt:.3g})")
        else:
            hint += f"; no radius helps while kb dt = {kb * dt:.3g} >= 1 (need dt < 1/kb = {1.0 / kb:.3g} ms)"
        raise ReactionError(f"unbinding probability per step p_off = {p_off:.4g} > 1 for kb = {kb:.6g} 1/ms, "
                            f"rho = {params.rho:.6g} um, p = {params.p:.6g}, dt = {dt:.6g} ms: {hint}")
    return p_off
