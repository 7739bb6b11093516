"""Gathers of particle data for recorders (one pass, converted on the way)."""
from __future__ import annotations

import numba as nb
import numpy as np

from ..config import JIT


@nb.njit(**JIT)
def gather_positions_ids(x, y, z, pid, pick, pos, ids):
    """``pos[q] = float32(x, y, z)[pick[q]]`` [um] and ``ids[q] = int64(pid[pick[q]])``: the
    numbers of ``np.stack([x, y, z], 1)[pick].astype(np.float32)`` and
    ``pid[pick].astype(np.int64)``, in one pass. ``ids`` may have length 0 (then only the
    positions are gathered)."""
    with_ids = ids.shape[0] == pick.shape[0]
    for q in range(pick.shape[0]):
        p = pick[q]
        pos[q, 0] = np.float32(x[p])
        pos[q, 1] = np.float32(y[p])
        pos[q, 2] = np.float32(z[p])
        if with_ids:
            ids[q] = np.int64(pid[p])
