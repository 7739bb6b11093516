"""Reaction zones of fixed sites: where a moving particle could bind a site in a step.

When every pair reaction of a simulation joins a moving particle and an immobile site (a Ca2+
ion and a release sensor, a transmitter molecule and a receptor, an ion and a pump), a pair can
react only at a step that ends with the particle within the binding radius of a site. The
stepping kernel then takes many steps per call and stops a particle of a species with
``zone_on[s]`` at the first step that ends within ``sqrt(r2)`` of any zone site (state
:data:`ZONED`, the step in ``zstep``); the reaction pass tries that step's pairs exactly as the
per-step pass would, and the particles that did not react go on from the next step. The sites
lie in a cell list: ``start`` (CSR over ``dims`` cells of side 1 / ``inv_h`` from ``lo``, a
point outside in the nearest cell, as :mod:`microsyn._kernels.reactions`) and their positions in
cell order ``sx, sy, sz``.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..config import JIT
from .reactions import cell_span

#: state of a particle stopped at the step it entered a reaction zone (see the module docstring)
ZONED = np.int16(32765)


@nb.njit(inline="always", **JIT)
def near_site(x, y, z, lo, inv_h, dims, start, sx, sy, sz, r2):
    """True if (x, y, z) is within sqrt(r2) of a site of the cell list."""
    if start.shape[0] < 2:
        return False
    _, _, _, x0, x1, y0, y1, z0, z1 = cell_span(x, y, z, lo, inv_h, dims, math.sqrt(r2))
    for cx in range(x0, x1 + 1):
        for cy in range(y0, y1 + 1):
            for cz in range(z0, z1 + 1):
                bk = (cx * dims[1] + cy) * dims[2] + cz
                for t in range(start[bk], start[bk + 1]):
                    dx = sx[t] - x
                    dy = sy[t] - y
                    dz = sz[t] - z
                    if dx * dx + dy * dy + dz * dz < r2:
                        return True
    return False


def no_zones(n_species: int) -> tuple:
    """The zone arguments of :func:`~microsyn._kernels.brownian.step_table` when nothing stops at
    sites (before ``zstep``)."""
    ns = max(int(n_species), 1)
    return (np.zeros(ns, np.uint8), np.zeros(3), 1.0, np.ones(3, np.int64), np.zeros(1, np.int64), np.zeros(0),
            np.zeros(0), np.zeros(0), 0.0)


def site_grid(px, py, pz, r):
    """A cell list of the sites at (px, py, pz) [um] with cells of side at least ``r`` [um] (about
    one site per cell over their bounding box): (lo, inv_h, dims, start, sx, sy, sz)."""
    m = px.shape[0]
    if m == 0:
        return np.zeros(3), 1.0, np.ones(3, np.int64), np.zeros(1, np.int64), np.zeros(0), np.zeros(0), np.zeros(0)
    lo = np.array([px.min(), py.min(), pz.min()])
    hi = np.array([px.max(), py.max(), pz.max()])
    ext = np.maximum(hi - lo, r)
    h = max(r, (float(np.prod(ext)) / m) ** (1.0 / 3.0))
    dims = np.maximum(1, np.floor(ext / h).astype(np.int64) + 1)
    while int(np.prod(dims)) > 8 * m + 64:
        h *= 1.5
        dims = np.maximum(1, np.floor(ext / h).astype(np.int64) + 1)
    inv_h = 1.0 / h
    ix = np.clip(np.floor((px - lo[0]) * inv_h).astype(np.int64), 0, dims[0] - 1)
    iy = np.clip(np.floor((py - lo[1]) * inv_h).astype(np.int64), 0, dims[1] - 1)
    iz = np.clip(np.floor((pz - lo[2]) * inv_h).astype(np.int64), 0, dims[2] - 1)
    key = (ix * dims[1] + iy) * dims[2] + iz
    order = np.argsort(key, kind="stable")
    start = np.zeros(int(np.prod(dims)) + 1, np.int64)
    np.add.at(start, key + 1, 1)
    start = np.cumsum(start)
    return (lo, inv_h, dims, start, np.ascontiguousarray(px[order]), np.ascontiguousarray(py[order]),
            np.ascontiguousarray(pz[order]))
