"""Reactions against rate equations (fixed seeds; tolerances are 4 standard errors unless stated).

References: first-order decay N(t) = N0 exp(-k t); zeroth-order production at a constant rate
k 602,214 V; well-mixed A + B -> C by the rate equation d[A]/dt = -k [A][B] with k the
given constant (reaction-limited) or, at the diffusion limit, Smoluchowski's
k = 4 pi (D_A + D_B) sigma (Smoluchowski 1917) and the Collins-Kimball form
k = 4 pi D sigma k_a / (4 pi D sigma + k_a) in between (Collins & Kimball 1949, J. Colloid Sci.
4:425, doi:10.1016/0095-8522(49)90023-9); reversible A + B <-> C at equilibrium
[C] / ([A][B]) = kf / kb.
"""
import math

import numpy as np
import pytest

import microsyn as ms
from microsyn.units import PARTICLES_PER_UM3_PER_MM


def _sp(name, D=0.1):
    return ms.Species(name, 0, D, D)


def test_first_order_decay_follows_exp_minus_kt():
    """A -> B at k = 3 /ms, N0 = 20000: N_A(t) at 8 times within 4 binomial SE of N0 exp(-kt)."""
    k, n0, dt = 3.0, 20000, 1e-4
    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=dt, seed=21)
    sim.add_species(_sp("A"))
    sim.add_species(_sp("B"))
    sim.add_particles("A", np.random.default_rng(1).uniform(0, 1, (n0, 3)))
    sim.add_reaction(ms.Reaction("A -> B", rate=k))
    for t in np.arange(1, 9) * 0.1:
        sim.run_until(t)
        p = math.exp(-k * sim.time)
        se = math.sqrt(n0 * p * (1 - p))
        assert abs(sim.count("A") - n0 * p) < 4 * se, (sim.time, sim.count("A"), n0 * p)
    assert sim.count("A") + sim.count("B") == n0


def test_first_order_branching_splits_in_proportion_to_the_rates():
    """A -> B (k1 = 2 /ms) and A -> C (k2 = 6 /ms): the B fraction of the products is
    k1 / (k1 + k2) = 0.25 within 4 binomial SE, and the total decays at k1 + k2."""
    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-4, seed=22)
    for n in "ABC":
        sim.add_species(_sp(n))
    n0 = 20000
    sim.add_particles("A", np.random.default_rng(2).uniform(0, 1, (n0, 3)))
    sim.add_reaction(ms.Reaction("A -> B", rate=2.0))
    sim.add_reaction(ms.Reaction("A -> C", rate=6.0))
    sim.run(0.1)
    nb, nc = sim.count("B"), sim.count("C")
    frac, m = nb / (nb + nc), nb + nc
    assert abs(frac - 0.25) < 4 * math.sqrt(0.25 * 0.75 / m)
    p = math.exp(-8.0 * 0.1)
    assert abs(sim.count("A") - n0 * p) < 4 * math.sqrt(n0 * p * (1 - p))


def test_a_decay_chain_in_one_long_run_follows_bateman():
    """A -> B -> C (k1 = 4, k2 = 10 /ms), 20000 A, one run of 0.3 ms (3000 steps, one kernel
    window: every B is born inside it and must start its own reaction clock at its birth):
    N_B(t) = N0 k1 / (k2 - k1) (exp(-k1 t) - exp(-k2 t)) (Bateman 1910) within 4 binomial SE
    at the end, and N_A within 4 SE of N0 exp(-k1 t)."""
    k1, k2, n0, t = 4.0, 10.0, 20000, 0.3
    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-4, seed=23)
    for n in "ABC":
        sim.add_species(_sp(n))
    sim.add_particles("A", np.random.default_rng(3).uniform(0, 1, (n0, 3)))
    sim.add_reaction(ms.Reaction("A -> B", rate=k1))
    sim.add_reaction(ms.Reaction("B -> C", rate=k2))
    sim.run(t)
    assert sim.stats["kernel_calls"] < 3000  # the run took its steps in windows, not one by one
    pa = math.exp(-k1 * t)
    pb = k1 / (k2 - k1) * (math.exp(-k1 * t) - math.exp(-k2 * t))
    assert abs(sim.count("A") - n0 * pa) < 4 * math.sqrt(n0 * pa * (1 - pa))
    assert abs(sim.count("B") - n0 * pb) < 4 * math.sqrt(n0 * pb * (1 - pb)), (sim.count("B"), n0 * pb)
    assert sim.count("A") + sim.count("B") + sim.count("C") == n0


def test_source_and_decay_reach_the_steady_number_production_over_k():
    """0 -> A at 0.02 mM/ms in a 0.5 um cube, A -> 0 at k = 20 /ms: the steady number is
    k0 602,214 V / k = 75.3; its time average over 4 ms after 1 ms (about 80 decay times)
    within 4 SE of it, the SE from the Poisson variance and the correlation time 1/k."""
    k0, k = 0.02, 20.0
    sim = ms.Simulation(ms.Box((0, 0, 0), (0.5, 0.5, 0.5)), dt=1e-4, seed=24)
    sim.add_species(_sp("A"))
    sim.add_reaction(ms.Reaction("0 -> A", rate=k0))
    sim.add_reaction(ms.Reaction("A -> 0", rate=k))
    sim.run(1.0)
    counts = []
    for _ in range(400):
        sim.run(0.01)
        counts.append(sim.count("A"))
    mean = k0 * PARTICLES_PER_UM3_PER_MM * 0.125 / k
    n_indep = 4.0 / (2.0 / k)  # samples 2/k apart are about independent
    se = math.sqrt(mean / n_indep)
    assert abs(np.mean(counts) - mean) < 4 * se, (np.mean(counts), mean, se)


def test_zeroth_order_production_at_its_constant_rate_in_its_region():
    """0 -> A at 1 mM/ms in a 0.2 um cube inside a 1 um box, for 1 ms: the number made is
    Poisson with mean k 602,214 V t = 4818 (within 4 SE = 5.8 %), all made in the region (they
    move less than 0.01 um by the end)."""
    region = ms.Box((0.4, 0.4, 0.4), (0.6, 0.6, 0.6))
    k, t = 1.0, 1.0
    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-3, seed=23)
    sim.add_species(_sp("A", D=1e-6))
    sim.add_reaction(ms.Reaction("0 -> A", rate=k, region=region))
    sim.run(t)
    mean = k * PARTICLES_PER_UM3_PER_MM * region.volume() * t
    assert abs(sim.count("A") - mean) < 4 * math.sqrt(mean)
    assert sim.reaction_counts["0 -> A"] == sim.count("A")
    assert ms.Box((0.39, 0.39, 0.39), (0.61, 0.61, 0.61)).contains(sim.positions("A")).all()


def _pair_box(n, size, D, dt, seed, rate, radius=None, reverse_rate=None, equation="A + B -> C"):
    sim = ms.Simulation(ms.Box((0, 0, 0), (size, size, size)), dt=dt, seed=seed)
    for name in "ABC":
        sim.add_species(_sp(name, D=D))
    rng = np.random.default_rng(seed)
    sim.add_particles("A", rng.uniform(0, size, (n, 3)))
    sim.add_particles("B", rng.uniform(0, size, (n, 3)))
    sim.add_reaction(ms.Reaction(equation, rate=rate, reverse_rate=reverse_rate, radius=radius))
    return sim


def test_well_mixed_A_plus_B_reaction_limited_follows_the_rate_equation():
    """Reaction-limited (k = 1e9 /M/s = 1000 /(mM ms), D_A = D_B = 0.5 um^2/ms, so k is 2 % of
    4 pi D sigma at the binding radius): [A](t) = c0 / (1 + k c0 t) at 4 times, within 4 SE of
    the number reacted (binomial)."""
    n, size, k = 8000, 0.4, 1000.0
    sim = _pair_box(n, size, 0.5, 1e-5, 31, k)
    c0 = n / (size**3 * PARTICLES_PER_UM3_PER_MM)  # mM
    for t in (0.005, 0.01, 0.02, 0.03):
        sim.run_until(t)
        expect = n / (1.0 + k * c0 * sim.time)
        reacted = n - expect
        se = math.sqrt(reacted * (1 - reacted / n))
        assert abs(sim.count("A") - expect) < 4 * se, (t, sim.count("A"), expect)


def _late_rate(sim, n, size, t1, t2):
    """Measured integral of k(t) over [t1, t2] from 1/n_A (A + B -> C with n_A = n_B):
    d(1/c)/dt = k(t) c... per pair: d(1/rho_A)/dt = k_pair(t) [um^3/ms]."""
    V = size**3
    sim.run_until(t1)
    inv1 = V / sim.count("A")
    r1 = sim.count("C")
    sim.run_until(t2)
    inv2 = V / sim.count("A")
    return inv2 - inv1, sim.count("C") - r1


def _collins_kimball_integral(k_pair, D, sigma, t1, t2):
    """Integral over [t1, t2] of the Collins-Kimball rate coefficient of initially random
    pairs, k(t) = k_CK [1 + (k_a / k_D) exp(a^2 D t) erfc(a sqrt(D t))], k_D = 4 pi D sigma,
    k_CK = k_a k_D / (k_a + k_D), a = (1 + k_a / k_D) / sigma, with k_a chosen so that
    k_CK = k_pair (Collins & Kimball 1949); k_a -> inf is Smoluchowski's
    4 pi D sigma (1 + sigma / sqrt(pi D t))."""
    from scipy import integrate, special

    kD = 4 * math.pi * D * sigma
    if k_pair >= kD * (1 - 1e-9):
        f = lambda t: kD * (1 + sigma / math.sqrt(math.pi * D * t))  # noqa: E731
    else:
        ka = k_pair * kD / (kD - k_pair)
        a = (1 + ka / kD) / sigma
        f = lambda t: k_pair * (1 + ka / kD * special.erfcx(a * math.sqrt(D * t)))  # noqa: E731
    return integrate.quad(f, t1, t2, limit=200)[0]


@pytest.mark.parametrize("regime, radius, fraction", [
    ("diffusion-limited (Andrews-Bray, p = 1)", None, 0.999),
    ("Collins-Kimball (rho = 5 nm, p < 1)", 0.005, 0.5),
])
def test_well_mixed_A_plus_B_at_and_near_the_diffusion_limit(regime, radius, fraction):
    """Near the diffusion limit the rate coefficient of initially random pairs depends on time
    (see :func:`_collins_kimball_integral`). D = D_A + D_B = 1 um^2/ms, sigma = 5 nm, rms step
    0.63 nm per axis, k = fraction * 4 pi D sigma. The measured integral of k(t) over a late
    window (transient term 20 % falling to 9 %) is within 4 SE (SE = 1/sqrt(events)) of the
    formula."""
    D_each, dt, size = 0.5, 2e-7, 0.65
    D = 2 * D_each
    sigma = 0.005
    k_pair = fraction * 4 * math.pi * D * sigma
    n = 4000
    sim = _pair_box(n, size, D_each, dt, 32, k_pair * PARTICLES_PER_UM3_PER_MM, radius=radius)
    t1, t2 = 2e-4, 1e-3
    measured, events = _late_rate(sim, n, size, t1, t2)
    expect = _collins_kimball_integral(k_pair, D, sigma, t1, t2)
    assert abs(measured / expect - 1) < 4 / math.sqrt(events), (regime, measured, expect, events)


def _equilibrium_K(dt, n, size, samples):
    """Time average of <n_C> V / <n_A n_B> for A + B <-> C (k_pair 0.018 um^3/ms, kb 2000 /ms,
    D 1 um^2/ms each) after 1e-3 ms of relaxation, sampled every 1e-5 ms."""
    k_pair, kb = 0.018, 2000.0
    sim = _pair_box(n, size, 1.0, dt, 33, k_pair * PARTICLES_PER_UM3_PER_MM, reverse_rate=kb,
                    equation="A + B <-> C")
    V = size**3
    sim.run_until(1e-3)  # relax (time scale 1 / (kb + 2 k_pair n_A / V) ~ 2.3e-4 ms)
    c_sum, ab_sum = 0.0, 0.0
    for q in range(1, samples + 1):
        sim.run_until(1e-3 + q * 1e-5)
        a, b, c = sim.count("A"), sim.count("B"), sim.count("C")
        c_sum += c
        ab_sum += a * b
    return (c_sum * V / ab_sum) / (k_pair / kb)


@pytest.mark.parametrize("dt", [2e-7, 2e-6])
def test_reversible_A_plus_B_reaches_kf_over_kb_short_run(dt):
    """As the slow test below, shorter: 3000 + 3000 particles for 3e-3 ms, within 6 % (its
    statistical error is about 1.7 %: K fluctuates by 4.4 % per sample, correlated over 2e-4 ms)."""
    ratio = _equilibrium_K(dt, 3000, 0.3, 300)
    assert abs(ratio - 1) < 0.06, (dt, ratio)


@pytest.mark.slow
@pytest.mark.parametrize("dt", [2e-7, 2e-6])
def test_reversible_A_plus_B_reaches_kf_over_kb_at_any_dt(dt):
    """A + B <-> C: at equilibrium kf <n_A n_B> / V = kb <n_C> exactly (stationary flux balance),
    so K = <n_C> V / <n_A n_B> must equal kf / kb (per pair 9e-6 um^3) within 2 %, at two time
    steps a factor of 10 apart (kb dt = 0.0004 and 0.004). 12,000 + 12,000 particles for 1e-2 ms:
    statistical error about 0.5 %. The scheme lets a particle react once per step, which lowers
    the forward rate by about the chance of a second partner within the binding radius (density
    x binding volume, per partner): the rate constant is the dilute limit. Here that is at most
    0.25 % per partner (radius 2 nm at the larger dt); with a 3.4 nm radius it was 1 % per
    partner and K came out 2.5 % low."""
    ratio = _equilibrium_K(dt, 12000, 0.3 * 4 ** (1 / 3), 1000)
    assert abs(ratio - 1) < 0.02, (dt, ratio)
