"""Spike trains for the presynaptic terminal: regular, Poisson or given times [ms], checked.

>>> regular_train(100.0, 3, start_ms=1.0)
array([ 1., 11., 21.])
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError

__all__ = ["spike_train", "regular_train", "poisson_train", "MIN_INTERVAL_MS"]

#: the shortest interval [ms] between two spikes of a train (5 ms = 200 Hz, the top of the range
#: this module is meant for; an axon's refractory period is 1-2 ms)
MIN_INTERVAL_MS = 2.0


def spike_train(times_ms, min_interval_ms: float = MIN_INTERVAL_MS) -> np.ndarray:
    """The spike times [ms] as a checked array: finite, >= 0, strictly increasing, at least
    ``min_interval_ms`` apart (a ``ParameterError`` says which do not)."""
    try:
        t = np.atleast_1d(np.asarray(times_ms, dtype=float))
    except (TypeError, ValueError):
        raise ParameterError(f"spike times must be numbers [ms], got {times_ms!r}") from None
    if t.ndim != 1 or t.size == 0:
        raise ParameterError("give at least one spike time [ms] (a 1-D list)")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ParameterError(f"spike times must be finite and >= 0 ms, got {t.tolist()}")
    d = np.diff(t)
    if np.any(d <= 0):
        k = int(np.flatnonzero(d <= 0)[0])
        raise ParameterError(f"spike times must increase: spike {k + 1} at {t[k + 1]:g} ms does not come after "
                             f"spike {k} at {t[k]:g} ms; sort them")
    if np.any(d < min_interval_ms):
        k = int(np.flatnonzero(d < min_interval_ms)[0])
        raise ParameterError(f"spikes {k} and {k + 1} are {d[k]:g} ms apart, less than {min_interval_ms:g} ms "
                             f"(an axon's refractory period); space them further")
    return t


def regular_train(frequency_hz: float, n_spikes: int, start_ms: float = 0.0) -> np.ndarray:
    """``n_spikes`` spikes at ``frequency_hz`` [Hz] from ``start_ms`` [ms]."""
    f = float(frequency_hz)
    if not math.isfinite(f) or f <= 0 or f > 1000.0 / MIN_INTERVAL_MS:
        raise ParameterError(f"frequency must be in (0, {1000.0 / MIN_INTERVAL_MS:g}] Hz, got {frequency_hz!r}")
    if isinstance(n_spikes, bool) or not isinstance(n_spikes, (int, np.integer)) or n_spikes < 1:
        raise ParameterError(f"n_spikes must be a whole number >= 1, got {n_spikes!r}")
    return spike_train(float(start_ms) + 1000.0 / f * np.arange(n_spikes))


def poisson_train(rate_hz: float, duration_ms: float, seed: int, start_ms: float = 0.0,
                  dead_time_ms: float = MIN_INTERVAL_MS) -> np.ndarray:
    """A Poisson train at ``rate_hz`` [Hz] over ``duration_ms`` from ``start_ms``, with a dead time
    (intervals are ``dead_time_ms`` + exponential, so the mean rate is 1 / (dead + 1/rate'))
    where rate' is chosen to give ``rate_hz``."""
    r = float(rate_hz)
    if not math.isfinite(r) or r <= 0 or r >= 1000.0 / dead_time_ms:
        raise ParameterError(f"rate must be in (0, {1000.0 / dead_time_ms:g}) Hz, got {rate_hz!r}")
    mean_gap = 1000.0 / r - dead_time_ms
    rng = np.random.default_rng(seed)
    t, out = float(start_ms) + rng.exponential(mean_gap), []
    while t < start_ms + duration_ms:
        out.append(t)
        t += dead_time_ms + rng.exponential(mean_gap)
    if not out:
        raise ParameterError(f"no spike fell in {duration_ms} ms at {rate_hz} Hz with seed {seed}; run longer")
    return spike_train(out, dead_time_ms)
