"""Validation: the calibrated rate of the particle reaction scheme against a direct Monte Carlo
of the scheme itself (numpy, fixed seeds).

Ground truth: a Monte Carlo of exactly what the engine does. One A sits at the origin (the pair's
relative coordinate, diffusing with D = D_A + D_B); B particles take Gaussian steps of variance
2 D dt per axis; after the step every B closer than rho reacts with probability p and is removed.
The far field is a bath: at the start of each step every B beyond R_out is deleted and the
shell R_out < r < R_out + 4 s (a B beyond it reaches R_out with probability < 3e-5) is refilled (Poisson numbers) with density c (1 - a/r). That is the
exact far field of the infinite-domain steady state beyond R_out = max(rho + 6 s, 2.5 rho) (the
discrete-time Green's function differs from a/r there by ~exp(-2.5 (r - rho)/s) < 1e-6), so the bath does not bias the
steady state. ``a = k/(4 pi D)`` is taken from the prediction under test; an error dk in the
prediction would show up in the measurement as dk (1 - a/R_out) to first order, so the test keeps
a sensitivity of 1 - a/R_out (> 0.6 in every case here; printed).

Measured: k_MC = (reactions per step) / (c dt) [um^3/ms]; its standard error from 40 batch means
after a burn-in of several diffusion times across R_out. Pass: |k_MC - k| < 3 standard errors,
with k from ``simulated_pair_rate``. Lengths are in units of s = sqrt(2 D dt) (D = 1/2, dt = 1),
in which the rate is ``simulated_pair_rate(R, p, 0.5, 1.0)``.
"""
import math

import numpy as np
import pytest

from microsyn.reactions.binding import simulated_pair_rate


def _monte_carlo_rate(R, p, *, density, steps, burn_in, seed, batches=40):
    """Steady reactions per step per unit density (units of s^3) for binding radius R [s]."""
    rng = np.random.default_rng(seed)
    k_pred = simulated_pair_rate(R, p, 0.5, 1.0)
    a = k_pred / (2.0 * math.pi)                    # k = 4 pi D a with D = 1/2
    r_out = max(R + 6.0, 2.5 * R)
    r_bath = r_out + 4.0

    def sample_shell(lo, hi):
        """A Poisson process of intensity density * max(0, 1 - a/r) in lo < r < hi (thinning of
        a uniform one of intensity density * (1 - a/hi))."""
        top = 1.0 - a / hi
        n = rng.poisson(density * top * 4.0 / 3.0 * math.pi * (hi ** 3 - lo ** 3))
        r = np.cbrt(lo ** 3 + rng.random(n) * (hi ** 3 - lo ** 3))
        r = r[rng.random(n) * top < np.maximum(0.0, 1.0 - a / r)]
        v = rng.normal(size=(r.size, 3))
        return v / np.linalg.norm(v, axis=1)[:, None] * r[:, None]

    # start from the far-field profile everywhere (inside too), then burn in
    x = sample_shell(0.0, r_bath)
    counts = np.empty(steps, dtype=np.int64)
    for it in range(burn_in + steps):
        r2 = np.einsum("ij,ij->i", x, x)
        x = x[r2 <= r_out * r_out]
        x = np.concatenate([x, sample_shell(r_out, r_bath)])
        x += rng.normal(size=x.shape)
        r2 = np.einsum("ij,ij->i", x, x)
        inside = r2 < R * R
        react = inside & (rng.random(x.shape[0]) < p) if p < 1.0 else inside
        if it >= burn_in:
            counts[it - burn_in] = np.count_nonzero(react)
        x = x[~react]
    per_batch = counts[: steps - steps % batches].reshape(batches, -1).mean(axis=1) / density
    mean = per_batch.mean()
    sem = per_batch.std(ddof=1) / math.sqrt(batches)
    return mean, sem, k_pred, 1.0 - a / r_out


def _check(R, p, density, steps, burn_in, seed):
    k_mc, sem, k_pred, sensitivity = _monte_carlo_rate(R, p, density=density, steps=steps,
                                                       burn_in=burn_in, seed=seed)
    print(f"R=rho/s={R} p={p}: MC {k_mc:.5g} +- {sem:.2g}, predicted {k_pred:.5g} "
          f"(rel {k_mc / k_pred - 1:+.4f}, {abs(k_mc - k_pred) / sem:.2f} SE; sensitivity {sensitivity:.2f})")
    assert sensitivity > 0.6
    assert abs(k_mc - k_pred) < 3.0 * sem, (k_mc, sem, k_pred)
    return k_mc, sem, k_pred


@pytest.mark.parametrize("R, p, density, steps, seed", [
    (1.0, 1.0, 1.0, 800, 11),       # s = rho: neither limit applies
    (2.0, 0.3, 0.5, 800, 12),       # s = rho/2, partial reactivity (lambda-rho)
    (0.5, 1.0, 1.5, 800, 13),       # s = 2 rho: towards the well-mixed limit
])
def test_pair_rate_matches_monte_carlo_of_scheme_within_3_standard_errors(R, p, density, steps, seed):
    """Ground truth: direct Monte Carlo of the step-then-react scheme (module docstring);
    tolerance: 3 batch-means standard errors (2-4 % here; the slow test goes to 0.3-1 %)."""
    _check(R, p, density, steps, burn_in=150, seed=seed)


@pytest.mark.slow
@pytest.mark.parametrize("R, p, density, steps, seed", [
    (1.0, 1.0, 2.0, 12000, 21),     # s = rho, ~0.4 % standard error
    (5.0, 1.0, 0.05, 8000, 22),     # s = rho/5: small-step regime, rate below Smoluchowski
    (0.3, 1.0, 2.0, 20000, 23),     # s = 3.3 rho: large-step regime
    (3.0, 0.05, 0.3, 8000, 24),     # lambda-rho with kappa rho ~ 1
    (0.5, 1.0, 3.0, 12000, 25),
])
def test_pair_rate_matches_monte_carlo_of_scheme_long(R, p, density, steps, seed):
    """Ground truth: direct Monte Carlo of the scheme, more events (0.3-1 % standard errors);
    tolerance: 3 standard errors."""
    _check(R, p, density, steps, burn_in=600, seed=seed)


@pytest.mark.slow
@pytest.mark.parametrize("R, p, L, systems, steps, seed", [
    (1.0, 1.0, 4.0, 20000, 2000, 41),
    (0.3, 1.0, 2.0, 20000, 2000, 42),
    (3.0, 0.1, 8.0, 20000, 2000, 43),
])
def test_unbinding_probability_gives_mass_action_equilibrium_long(R, p, L, systems, steps, seed):
    """Ground truth: mass action (bound fraction 1/2 for K = V); tolerance 3 standard errors
    (~0.2 %)."""
    frac, sem, expected, p_off = _equilibrium_bound_fraction(R, p, L, systems=systems, steps=steps,
                                                           burn_in=400, seed=seed)
    print(f"R={R} p={p} p_off={p_off:.4g}: bound fraction {frac:.4f} +- {sem:.4f} (expected {expected})")
    assert abs(frac - expected) < 3.0 * sem, (frac, sem)


def _equilibrium_bound_fraction(R, p, L, *, systems, steps, burn_in, seed):
    """Independent systems, each one A (at the origin of a periodic cube of side L, units of s)
    and one B; per step: B's Brownian step (unbound), binding if closer than R with probability
    p, then unbinding of a bound pair with probability p_off, the B placed uniformly in the ball
    of radius R. Returns the bound fraction (mean over systems of their time averages), its
    standard error, and the mass-action prediction (K/V)/(1 + K/V), K = k_pair/kb."""
    from microsyn.reactions.binding import BindingParameters, unbinding_probability

    rng = np.random.default_rng(seed)
    k_pair = simulated_pair_rate(R, p, 0.5, 1.0)
    volume = L ** 3
    kb = k_pair / volume                      # K = V: half bound at equilibrium
    params = BindingParameters(rho=R, p=p, k_pair=k_pair, regime="test")
    p_off = unbinding_probability(k_pair, kb, params, 1.0)
    x = (rng.random((systems, 3)) - 0.5) * L
    bound = np.zeros(systems, dtype=bool)
    time_bound = np.zeros(systems)
    for it in range(burn_in + steps):
        free = ~bound
        x[free] += rng.normal(size=(np.count_nonzero(free), 3))
        x -= L * np.round(x / L)                                  # periodic, minimum image
        close = free & (np.einsum("ij,ij->i", x, x) < R * R)
        binds = close & (rng.random(systems) < p)
        unbinds = bound & (rng.random(systems) < p_off)
        bound = (bound & ~unbinds) | binds
        if np.any(unbinds):
            n = np.count_nonzero(unbinds)
            v = rng.normal(size=(n, 3))
            x[unbinds] = v / np.linalg.norm(v, axis=1)[:, None] * (R * np.cbrt(rng.random(n)))[:, None]
        if it >= burn_in:
            time_bound += bound
    frac = time_bound / steps
    return frac.mean(), frac.std(ddof=1) / math.sqrt(systems), 0.5, p_off


@pytest.mark.parametrize("R, p, L, systems, steps, seed", [
    (1.0, 1.0, 4.0, 3000, 400, 31),     # Andrews-Bray radius regime, s = rho
    (2.0, 0.2, 6.0, 3000, 400, 32),     # lambda-rho regime
])
def test_unbinding_probability_gives_mass_action_equilibrium(R, p, L, systems, steps, seed):
    """Ground truth: mass action [C]/([A][B]) = k_pair/kb, here a bound fraction of 1/2 (K = V);
    Monte Carlo of binding + unbinding with p_off from unbinding_probability (fixed seed);
    tolerance 3 standard errors over independent systems (~1 % here)."""
    frac, sem, expected, p_off = _equilibrium_bound_fraction(R, p, L, systems=systems, steps=steps,
                                                           burn_in=200, seed=seed)
    print(f"R={R} p={p} p_off={p_off:.4g}: bound fraction {frac:.4f} +- {sem:.4f} (expected {expected})")
    assert abs(frac - expected) < 3.0 * sem, (frac, sem)
    # the naive rule p_off = kb dt would give a bound fraction Q/(1 + Q), Q = p_off/(kb dt): the
    # test tells them apart when that differs from 1/2 by many standard errors
    q = p_off / (simulated_pair_rate(R, p, 0.5, 1.0) / L ** 3)
    assert abs(q / (1 + q) - 0.5) > 10 * sem, q
