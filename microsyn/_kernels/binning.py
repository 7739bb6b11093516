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


@nb.njit(**JIT)
def bin_counts_by_species(x, y, z, species, origin, h, out):
    """Count the particles of each species per voxel: ``out[s, i, j, k]`` += 1 (out is
    (n_species, nx, ny, nz) float64), one pass over the particles, voxels as in
    :func:`bin_counts`. Returns the number of particles outside the lattice, per species
    (int64, n_species)."""
    ns, nx, ny, nz = out.shape
    outside = np.zeros(ns, np.int64)
    for p in range(x.shape[0]):
        s = species[p]
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
            outside[s] += 1
            continue
        out[s, i, j, k] += 1.0
    return outside


@nb.njit(**JIT)
def fields_from_counts(counts, pick, to_mM, valence, voxel_volume, conc, charge):
    """Lattice fields as float32 from per-species counts (n_species, nx, ny, nz):
    ``conc[q] = float32(counts[pick[q]] / to_mM)`` [mM] and ``charge = float32(sum_s valence[s] *
    counts[s] / voxel_volume)`` [e/um^3], the same float operations as the numpy expressions
    (counts are whole numbers, so the sum is exact in any order)."""
    ns, nx, ny, nz = counts.shape
    for q in range(pick.shape[0]):
        s = pick[q]
        for i in range(nx):
            for j in range(ny):
                for k in range(nz):
                    conc[q, i, j, k] = np.float32(counts[s, i, j, k] / to_mM)
    acc = np.zeros((nx, ny, nz))
    for s in range(ns):
        v = valence[s]
        if v != 0.0:
            for i in range(nx):
                for j in range(ny):
                    for k in range(nz):
                        acc[i, j, k] += v * counts[s, i, j, k]
    for i in range(nx):
        for j in range(ny):
            for k in range(nz):
                charge[i, j, k] = np.float32(acc[i, j, k] / voxel_volume)
