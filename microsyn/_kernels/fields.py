"""Lattice fields: explicit diffusion with walls, mass action per voxel, particle-to-voxel lookup.

Every kernel writes each output element from inputs only (no floating-point reductions across
threads), so results do not depend on the number of threads.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np
from numba import prange

from ..config import JIT, JIT_PARALLEL


@nb.njit(**JIT_PARALLEL)
def diffuse_step(conc, live, coef, out):
    """One explicit (FTCS) diffusion step in flux form for every field.

    ``out[f, i, j, k] = c + sum over the 6 face neighbours q of coef[f, axis] * (c_q - c)``,
    where only neighbours inside the lattice and live (``live[f, q] != 0``) count: no flux
    through walls (dead voxels) or the lattice edge. The neighbours are added in the order
    x-, x+, y-, y+, z-, z+. Dead voxels are copied unchanged.

    Parameters
    ----------
    conc : (n_fields, nx, ny, nz) float64
        Concentrations [mM].
    live : (n_fields, nx, ny, nz) uint8
        1 where the voxel is live for the field.
    coef : (n_fields, 3) float64
        ``D dt / h_axis^2`` per field and axis [1].
    out : (n_fields, nx, ny, nz) float64
        The new concentrations [mM] (must not alias ``conc``).
    """
    nf, nx, ny, nz = conc.shape
    for q in prange(nf * nx):
        f = q // nx
        i = q - f * nx
        cx = coef[f, 0]
        cy = coef[f, 1]
        cz = coef[f, 2]
        for j in range(ny):
            for k in range(nz):
                c = conc[f, i, j, k]
                if live[f, i, j, k] == 0:
                    out[f, i, j, k] = c
                    continue
                acc = 0.0
                if i > 0 and live[f, i - 1, j, k] != 0:
                    acc += cx * (conc[f, i - 1, j, k] - c)
                if i < nx - 1 and live[f, i + 1, j, k] != 0:
                    acc += cx * (conc[f, i + 1, j, k] - c)
                if j > 0 and live[f, i, j - 1, k] != 0:
                    acc += cy * (conc[f, i, j - 1, k] - c)
                if j < ny - 1 and live[f, i, j + 1, k] != 0:
                    acc += cy * (conc[f, i, j + 1, k] - c)
                if k > 0 and live[f, i, j, k - 1] != 0:
                    acc += cz * (conc[f, i, j, k - 1] - c)
                if k < nz - 1 and live[f, i, j, k + 1] != 0:
                    acc += cz * (conc[f, i, j, k + 1] - c)
                out[f, i, j, k] = c + acc


@nb.njit(**JIT)
def reaction_extent(p0, p1, p2, dt):
    """Exact solution xi(dt) of d xi/dt = p0 + p1 xi + p2 xi^2 with xi(0) = 0, for the
    polynomials of mass action (p1 <= 0 and a real stable root; see
    :mod:`microsyn.reactions.fields`).

    With s = sqrt(p1^2 - 4 p0 p2), F = (1 - exp(-s dt)) / s (F = dt when s = 0) and the stable
    root xi* (where the slope is -s): xi(dt) = p0 F / (1 + p2 xi* F); for p2 = 0 this is
    p0 F. xi* is computed in the form without cancellation.
    """
    disc = p1 * p1 - 4.0 * p0 * p2
    s = math.sqrt(disc) if disc > 0.0 else 0.0
    x = s * dt
    if x > 0.0:
        F = -math.expm1(-x) / s
    else:
        F = dt
    if p2 == 0.0:
        return p0 * F
    if p1 < 0.0:
        root = 2.0 * p0 / (s - p1)
    else:
        root = (-p1 - s) / (2.0 * p2)
    return p0 * F / (1.0 + p2 * root * F)


@nb.njit(**JIT_PARALLEL)
def mass_action_step(conc, live, r_in, r_out, kf, kb, dt, extent):
    """Mass action among fields in every voxel, one reaction after the other (in table order),
    each advanced by the exact solution of its own rate law over ``dt`` [ms].

    Reaction ``r`` turns ``r_in[r]`` into ``r_out[r]`` (field indices, -1 for none; a species
    twice means two molecules) with forward rate ``kf[r]`` and reverse rate ``kb[r]`` (0 if
    irreversible) [1/ms or 1/(mM ms)]. The event rate is kf * prod(c) over the reactants, halved
    when the two reactants are the same species (the rate per pair of molecules), minus the same
    for the reverse. Concentrations below zero count as zero in the rates. A reaction runs only
    in voxels live for all its species. The extent is kept within the interval where no
    concentration (counted from max(c, 0)) becomes negative, so the update never makes a
    concentration negative and changes each species by exactly its stoichiometry times the extent.

    ``extent`` (n_reactions, nx) float64 receives, added, the sum over each x-slab of the extents
    [mM] (each slab summed by one thread in a fixed order).
    """
    nf, nx, ny, nz = conc.shape
    nr = r_in.shape[0]
    for i in prange(nx):
        for j in range(ny):
            for k in range(nz):
                for r in range(nr):
                    a0 = r_in[r, 0]
                    a1 = r_in[r, 1]
                    b0 = r_out[r, 0]
                    b1 = r_out[r, 1]
                    ok = True
                    if a0 >= 0 and live[a0, i, j, k] == 0:
                        ok = False
                    if a1 >= 0 and live[a1, i, j, k] == 0:
                        ok = False
                    if b0 >= 0 and live[b0, i, j, k] == 0:
                        ok = False
                    if b1 >= 0 and live[b1, i, j, k] == 0:
                        ok = False
                    if not ok:
                        continue
                    # forward: factors (alpha + beta xi); dimer a0 == a1: one factor squared
                    q0 = 1.0
                    q1 = 0.0
                    q2 = 0.0
                    xmax = np.inf
                    if a0 >= 0 and a1 >= 0 and a0 == a1:
                        c = max(conc[a0, i, j, k], 0.0)
                        # 0.5 kf (c - 2 xi)^2
                        q0 = 0.5 * c * c
                        q1 = -2.0 * c
                        q2 = 2.0
                        xmax = 0.5 * c
                    else:
                        if a0 >= 0:
                            c = max(conc[a0, i, j, k], 0.0)
                            q0 = c
                            q1 = -1.0
                            xmax = c
                        if a1 >= 0:
                            c = max(conc[a1, i, j, k], 0.0)
                            # (q0 + q1 xi) * (c - xi)
                            q2 = -q1
                            q1 = q1 * c - q0
                            q0 = q0 * c
                            if c < xmax:
                                xmax = c
                    # reverse: factors (alpha - beta xi) of the products
                    w0 = 1.0
                    w1 = 0.0
                    w2 = 0.0
                    xmin = -np.inf
                    if b0 >= 0 and b1 >= 0 and b0 == b1:
                        c = max(conc[b0, i, j, k], 0.0)
                        w0 = 0.5 * c * c
                        w1 = 2.0 * c
                        w2 = 2.0
                        xmin = -0.5 * c
                    else:
                        if b0 >= 0:
                            c = max(conc[b0, i, j, k], 0.0)
                            w0 = c
                            w1 = 1.0
                            xmin = -c
                        if b1 >= 0:
                            c = max(conc[b1, i, j, k], 0.0)
                            w2 = w1
                            w1 = w1 * c + w0
                            w0 = w0 * c
                            if -c > xmin:
                                xmin = -c
                    f = kf[r]
                    g = kb[r]
                    p0 = f * q0 - g * w0
                    p1 = f * q1 - g * w1
                    p2 = f * q2 - g * w2
                    xi = reaction_extent(p0, p1, p2, dt)
                    if xi > xmax:
                        xi = xmax
                    if xi < xmin:
                        xi = xmin
                    if xi == 0.0:
                        continue
                    extent[r, i] += xi
                    if a0 >= 0 and a1 >= 0 and a0 == a1:
                        conc[a0, i, j, k] -= 2.0 * xi
                    else:
                        if a0 >= 0:
                            conc[a0, i, j, k] -= xi
                        if a1 >= 0:
                            conc[a1, i, j, k] -= xi
                    if b0 >= 0 and b1 >= 0 and b0 == b1:
                        conc[b0, i, j, k] += 2.0 * xi
                    else:
                        if b0 >= 0:
                            conc[b0, i, j, k] += xi
                        if b1 >= 0:
                            conc[b1, i, j, k] += xi


@nb.njit(**JIT_PARALLEL)
def voxel_index(x, y, z, lo, hi, h, shape, out):
    """Flat (C-order) voxel index of each point, -1 outside the lattice [lo, hi] or not finite.

    Voxel (i, j, k) covers lo + h * [i, i+1) x [j, j+1) x [k, k+1) [um] (index floor((x - lo) / h));
    a point on the upper face of the lattice (x == hi, even where (hi - lo) / h rounds above n)
    falls into the last voxel.
    """
    nx = shape[0]
    ny = shape[1]
    nz = shape[2]
    for p in prange(x.shape[0]):
        fi = (x[p] - lo[0]) / h[0]
        fj = (y[p] - lo[1]) / h[1]
        fk = (z[p] - lo[2]) / h[2]
        if not (math.isfinite(fi) and math.isfinite(fj) and math.isfinite(fk)):
            out[p] = -1
            continue
        i = np.int64(math.floor(fi))
        j = np.int64(math.floor(fj))
        k = np.int64(math.floor(fk))
        if i >= nx and x[p] <= hi[0]:
            i = nx - 1
        if j >= ny and y[p] <= hi[1]:
            j = ny - 1
        if k >= nz and z[p] <= hi[2]:
            k = nz - 1
        if i < 0 or j < 0 or k < 0 or i >= nx or j >= ny or k >= nz:
            out[p] = -1
        else:
            out[p] = (i * ny + j) * nz + k
