"""Counter-based random numbers for Numba kernels.

Every random number is a pure function of (seed, particle id, step, stream): a particle key
``kp = mix64(seed_key ^ (pid * GOLDEN))`` and a counter ``c = step * N_STREAMS + stream`` give
``h = mix64(kp + c * GAMMA)``, where ``mix64`` is the SplitMix64 finaliser (Steele, Lea & Flood
2014, doi:10.1145/2714064.2660195). Results therefore do not depend on the thread count, on
how a run is split into blocks, or on the order particles are processed in.

Two Gaussian samplers:

- :func:`table_normals3`: three standard normals from one 64-bit hash, as three 16-bit indices
  into a 65,536-entry table of the normal's conditional bin means, rescaled to unit variance
  (see :func:`microsyn.rng.gaussian_table`). Tails are cut at 4.5 sigma; the variance is 1
  and the kurtosis 2.997 (documented and tested).
- :func:`zig_normal`: an exact standard normal by Marsaglia & Tsang's ziggurat in Doornik's
  ZIGNOR form (Doornik 2005, "An improved ziggurat method to generate normal random samples";
  Marsaglia & Tsang 2000, doi:10.18637/jss.v005.i08), 128 layers, fed by the same hash.

Only arrays and scalars cross the kernel boundary; the tables are built in :mod:`microsyn.rng`.
"""
from __future__ import annotations

import numba as nb
import numpy as np

from ..config import JIT, JIT_HOT

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
GAMMA = np.uint64(0xD1B54A32D192ED03)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
S30 = np.uint64(30)
S27 = np.uint64(27)
S31 = np.uint64(31)
S11 = np.uint64(11)
S16 = np.uint64(16)
S32 = np.uint64(32)
MASK16 = np.uint64(0xFFFF)
MASK7 = np.uint64(0x7F)
ONE = np.uint64(1)
N_STREAMS = np.uint64(8)
INV53 = 1.0 / 9007199254740992.0  # 2**-53

#: stream numbers within one step of one particle
STREAM_TABLE = 0  # three table normals
STREAM_ZIG_X = 1  # exact normals, one stream per axis
STREAM_ZIG_Y = 2
STREAM_ZIG_Z = 3
STREAM_BRIDGE = 4  # uniform for the Brownian-bridge absorption test
STREAM_USER = 5  # reactions and other consumers
STREAM_PARTIAL = 6  # absorption at partially absorbing faces
STREAM_CLOCK = 7  # the reaction clock, drawn once per particle (at step 0 of its counter)


@nb.njit(inline="always", **JIT)
def mix64(z):
    """SplitMix64 finaliser: a bijective avalanche mix of a uint64."""
    z = (z ^ (z >> S30)) * M1
    z = (z ^ (z >> S27)) * M2
    return z ^ (z >> S31)


@nb.njit(inline="always", **JIT)
def particle_key(seed_key, pid):
    """Per-particle key from the run's seed key and the particle's id (both uint64)."""
    return mix64(seed_key ^ (pid * GOLDEN))


@nb.njit(inline="always", **JIT)
def counter_hash(kp, step, stream):
    """64 random bits for (particle key, step, stream)."""
    c = np.uint64(step) * N_STREAMS + np.uint64(stream)
    return mix64(kp + c * GAMMA)


@nb.njit(inline="always", **JIT)
def next_hash(h):
    """Further 64 random bits derived from ``h`` (for rejection samplers)."""
    return mix64(h + GOLDEN)


@nb.njit(inline="always", **JIT)
def u01_open0(h):
    """Uniform in (0, 1] from the top 53 bits of ``h``."""
    return ((h >> S11) + ONE) * INV53


@nb.njit(inline="always", **JIT)
def u01(h):
    """Uniform in [0, 1) from the top 53 bits of ``h``."""
    return (h >> S11) * INV53


@nb.njit(inline="always", **JIT)
def table_normals3(h, table):
    """Three table normals from the low 48 bits of ``h``."""
    a = table[h & MASK16]
    b = table[(h >> S16) & MASK16]
    c = table[(h >> S32) & MASK16]
    return a, b, c


@nb.njit(**JIT_HOT)
def zig_normal(h, zx, zr):
    """An exact standard normal from the hash ``h`` (ziggurat, 128 layers, ZIGNOR form).

    ``zx`` has 129 layer edges (``zx[1]`` = R = 3.4426, ``zx[128]`` = 0) and ``zr[i]`` =
    ``zx[i+1] / zx[i]``. Bits 0-6 pick the layer, bits 11-63 the uniform, so they are disjoint.
    """
    r = zx[1]
    while True:
        i = np.int64(h & MASK7)
        u = 2.0 * u01(h) - 1.0
        if abs(u) < zr[i]:
            return u * zx[i]
        h = next_hash(h)
        if i == 0:
            # tail beyond R (Marsaglia 1964)
            while True:
                xt = np.log(u01_open0(h)) / r
                h = next_hash(h)
                yt = np.log(u01_open0(h))
                h = next_hash(h)
                if -2.0 * yt >= xt * xt:
                    break
            if u < 0.0:
                return xt - r
            return r - xt
        x = u * zx[i]
        f0 = np.exp(-0.5 * (zx[i] * zx[i] - x * x))
        f1 = np.exp(-0.5 * (zx[i + 1] * zx[i + 1] - x * x))
        if f1 + u01(h) * (f0 - f1) < 1.0:
            return x
        h = next_hash(h)


@nb.njit(**JIT)
def fill_table_normals(seed_key, pids, step, out, table):
    """Test helper: out[i, :] = the three table normals of particle pids[i] at ``step``."""
    for i in range(pids.shape[0]):
        kp = particle_key(seed_key, pids[i])
        h = counter_hash(kp, step, STREAM_TABLE)
        a, b, c = table_normals3(h, table)
        out[i, 0] = a
        out[i, 1] = b
        out[i, 2] = c


@nb.njit(**JIT)
def fill_zig_normals(seed_key, pids, step, out, zx, zr):
    """Test helper: out[i, :] = the three exact normals of particle pids[i] at ``step``."""
    for i in range(pids.shape[0]):
        kp = particle_key(seed_key, pids[i])
        out[i, 0] = zig_normal(counter_hash(kp, step, STREAM_ZIG_X), zx, zr)
        out[i, 1] = zig_normal(counter_hash(kp, step, STREAM_ZIG_Y), zx, zr)
        out[i, 2] = zig_normal(counter_hash(kp, step, STREAM_ZIG_Z), zx, zr)
