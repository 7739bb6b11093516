"""Depletion and recovery of the readily releasable pool at a bouton, against the pool model's
closed form.

Each docking site is emptied by its vesicle's fusion and refilled by a new vesicle at rate k
(``add_vesicles(refill_per_ms=k)``), so the time from a fusion to the site's next refill is
exponential: P(refilled within t) = 1 - exp(-k t), whatever the Ca2+ does. A bouton (5 Li et
al. 2007 P/Q channels, 12 vesicles 15-60 nm from them, 0.5 mM EGTA as fields) is driven by an
AP clamp at 200 Hz (4 APs), k = 0.2 /ms, so a site refills before the next AP with probability
1 - e^-1 = 0.63 and the pool runs down. A delay is censored when the run ends first (its
censoring time c = end - fusion time is at least 20 ms: a probability under e^-4). Checks
(fixed seeds 1 and 2): the censored-data maximum-likelihood rate, (number refilled) / (sum of
the delays + sum of the censoring times of those not refilled), is k within 4 standard errors
(k / sqrt(number refilled)); each refilled delay's conditional probability
F(d) / F(c) with F(t) = 1 - exp(-k t) is uniform on (0, 1) (Kolmogorov-Smirnov, p > 0.001);
fusions and refills alternate at every site (a site cannot fuse while empty); and the release
at the 4th AP is below the 1st (depletion: fewer docked vesicles).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

from microsyn.presynaptic import Terminal, li_2007, schneggenburger_neher_2000

K_REFILL = 0.2  # 1/ms
SPIKES = (0.1, 5.1, 10.1, 15.1)
END_MS = 36.0


def _bouton(seed):
    T = Terminal(radius_um=0.3, active_zone_radius_um=0.11, spike_times_ms=SPIKES, drive="clamp", seed=seed)
    ang = np.linspace(0.0, 2.0 * np.pi, 9)[:-1]
    T.add_channels(li_2007("P/Q"), [(0.0, 0.0)] + [(0.03 * np.cos(a), 0.03 * np.sin(a)) for a in ang[::2]])
    xy = [(0.06 * np.cos(a), 0.06 * np.sin(a)) for a in ang] + \
         [(0.015 * np.cos(a + 0.4), 0.015 * np.sin(a + 0.4)) for a in ang[::2]]
    v = T.add_vesicles(xy, schneggenburger_neher_2000(), refill_per_ms=K_REFILL)
    T.add_buffer("EGTA", 0.5)
    refills = T.sim.reactions.log(v.reactions[-1].name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        T.run(END_MS, progress=False)
    return T, v, refills


def test_refill_delays_follow_the_pool_models_exponential_and_the_pool_runs_down():
    delays, limits, censored, first, fourth = [], [], [], 0, 0
    for seed in (1, 2):
        T, v, refills = _bouton(seed)
        tf, xf = v.fusion_events()
        tr = np.array([e[0] for e in refills])
        xr = np.array([e[1] for e in refills]).reshape(-1, 3)
        for site in v.positions:
            f = np.sort(tf[np.all(xf == site, axis=1)])
            r = np.sort(tr[np.all(xr == site, axis=1)])
            assert r.size in (f.size, f.size - 1)
            kinds = np.r_[np.zeros(f.size), np.ones(r.size)][np.argsort(np.r_[f, r], kind="stable")]
            assert np.all(kinds[0::2] == 0) and np.all(kinds[1::2] == 1), kinds
            delays += list(r - f[:r.size])
            limits += list(END_MS - f[:r.size])
            censored += list(END_MS - f[r.size:])
        rps = T.release_per_spike()
        first += rps[0]
        fourth += rps[3]
    d, c = np.array(delays), np.array(limits)
    assert d.size >= 40, d.size
    assert c.min() >= END_MS - SPIKES[-1] - 2.0
    k_hat = d.size / (d.sum() + sum(censored))
    assert abs(k_hat - K_REFILL) < 4.0 * K_REFILL / math.sqrt(d.size), (k_hat, d.size)
    u = -np.expm1(-K_REFILL * d) / -np.expm1(-K_REFILL * c)
    p = stats.kstest(u, "uniform").pvalue
    assert p > 1e-3, p
    assert fourth < first, (first, fourth)
