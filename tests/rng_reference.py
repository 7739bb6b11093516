"""Slow, obvious references for the counter-based random numbers (shared by the tests)."""
import numpy as np

from microsyn import rng


def table_normals_reference(seed, pids, step):
    """Slow, obvious numpy/Python version of the kernel's three table normals."""
    table = rng.gaussian_table()
    key = int(rng.seed_key(seed))
    out = np.empty((len(pids), 3))
    for i, pid in enumerate(pids):
        kp = rng.mix64_py(key ^ ((int(pid) * 0x9E3779B97F4A7C15) & (2**64 - 1)))
        c = (step * 8 + 0) & (2**64 - 1)
        h = rng.mix64_py((kp + c * 0xD1B54A32D192ED03) & (2**64 - 1))
        out[i] = [table[h & 0xFFFF], table[(h >> 16) & 0xFFFF], table[(h >> 32) & 0xFFFF]]
    return out
