"""Binning of particles onto a voxel lattice (counts per voxel)."""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..config import JIT


@nb.njit(**JIT)
def bin_counts(x, y, z, species, weights_by_species, origin, h, out):
    """Add each particle's species weight to its voxel of ``out`` (nx, ny, nz).

    Voxel (i, j, k) covers origin + h * [i, i+1) x [j, j+1) x [k, k+1); a particle exactly on
    the upper face of the lattice falls into the last voxel. Returns the number of particles
    (with non-zero weight) that lie outside the lattice and were not binned.
    """
    nx, ny, nz = out.shape
    outside = 0
    for p in range(x.shape[0]):
        w = weights_by_species[species[p]]
        if w == 0.0:
            continue
        fi = (x[p] - origin[0]) / h[0]
        fj = (y[p] - origin[1]) / h[1]
        fk = (z[p] - origin[2]) / h[2]
        i = np.int64(math.floor(fi))
        j = np.int64(math.floor(fj))
        k = np.int64(math.floor(fk))
        if i == nx and fi == nx:
            i = nx - 1
        if j == ny and fj == ny:
            j = ny - 1
        if k == nz and fk == nz:
            k = nz - 1
        if i < 0 or j < 0 or k < 0 or i >= nx or j >= ny or k >= nz:
            outside += 1
            continue
        out[i, j, k] += w
    return outside
