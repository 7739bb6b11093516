"""Lattice fields: explicit diffusion with walls, mass action per voxel, particle-to-voxel lookup.

Every kernel writes each output element from inputs only (no floating-point reductions across
threads), so results do not depend on the number of threads.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np
from numba import prange

from .clocks import lattice_voxel
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
    """Exact solution xi(dt) of d xi/dt = p0 + p1 xi + p2 xi^2 with xi(0) = 0, for the rate
    polynomials of mass action (which have a real root that attracts xi; see
    :mod:`microsyn.reactions.fields`).

    p2 = 0: xi = p0 (exp(p1 dt) - 1) / p1 (p0 dt when p1 = 0). Otherwise, with
    s = sqrt(p1^2 - 4 p0 p2), F = (1 - exp(-s dt)) / s (F = dt when s = 0) and the root xi* where
    the slope is -s: xi(dt) = p0 F / (1 + p2 xi* F) (the Riccati equation solved for
    1 / (xi - xi*)); xi* is computed in the form without cancellation.
    """
    if p2 == 0.0:
        x = p1 * dt
        if x == 0.0:
            return p0 * dt
        return p0 * (math.expm1(x) / p1)
    disc = p1 * p1 - 4.0 * p0 * p2
    s = math.sqrt(disc) if disc > 0.0 else 0.0
    x = s * dt
    if x > 0.0:
        F = -math.expm1(-x) / s
    else:
        F = dt
    if p1 < 0.0:
        root = 2.0 * p0 / (s - p1)
    else:
        root = (-p1 - s) / (2.0 * p2)
    return p0 * F / (1.0 + p2 * root * F)


@nb.njit(**JIT_PARALLEL)
def mass_action_step(conc, live, fac_sp, fac_nu, k_eff, sp, nu, dt, extent):
    """Mass action among fields in every voxel, one reaction after the other (in table order),
    each advanced by the exact solution of its own rate law over ``dt`` [ms].

    Reaction ``r`` has extent xi [mM]: each species ``sp[r, m]`` (distinct, -1 for none)
    changes by ``nu[r, m] * xi`` (net stoichiometry: products minus reactants, 0 for a
    catalyst). Its rate is ``k_eff[r, 0] * prod(c + nu xi)`` over the forward factors
    ``fac_sp[r, 0:2]`` (one per reactant molecule, -1 for none, ``fac_nu`` their species'
    net stoichiometry) minus ``k_eff[r, 1] * prod(...)`` over the reverse factors
    ``fac_sp[r, 2:4]`` (the products). ``k_eff`` holds the rate constants, halved for two
    identical molecules (the rate per pair) [units by order]. Concentrations below zero count as
    zero in the rates. A reaction runs only in voxels live for all its species. The extent is
    kept within the interval where no species (counted from max(c, 0)) goes below zero, so the
    update never makes a concentration negative and changes each species by exactly its
    stoichiometry times the extent.

    ``extent`` (n_reactions, nx) float64 receives, added, the sum over each x-slab of the extents
    [mM] (each slab summed by one thread in a fixed order).
    """
    nf, nx, ny, nz = conc.shape
    nr = sp.shape[0]
    for i in prange(nx):
        for j in range(ny):
            for k in range(nz):
                for r in range(nr):
                    ok = True
                    for m in range(4):
                        s_ = sp[r, m]
                        if s_ >= 0 and live[s_, i, j, k] == 0:
                            ok = False
                    if not ok:
                        continue
                    # forward q(xi) and reverse w(xi) as products of factors (c + nu xi)
                    q0 = 1.0
                    q1 = 0.0
                    q2 = 0.0
                    w0 = 1.0
                    w1 = 0.0
                    w2 = 0.0
                    for m in range(4):
                        s_ = fac_sp[r, m]
                        if s_ < 0:
                            continue
                        c = max(conc[s_, i, j, k], 0.0)
                        v = fac_nu[r, m]
                        if m < 2:
                            q2 = q2 * c + q1 * v
                            q1 = q1 * c + q0 * v
                            q0 = q0 * c
                        else:
                            w2 = w2 * c + w1 * v
                            w1 = w1 * c + w0 * v
                            w0 = w0 * c
                    f = k_eff[r, 0]
                    g = k_eff[r, 1]
                    p0 = f * q0 - g * w0
                    p1 = f * q1 - g * w1
                    p2 = f * q2 - g * w2
                    xi = reaction_extent(p0, p1, p2, dt)
                    for m in range(4):
                        s_ = sp[r, m]
                        if s_ < 0:
                            continue
                        v = nu[r, m]
                        c = max(conc[s_, i, j, k], 0.0)
                        if v < 0.0 and xi > c / (-v):
                            xi = c / (-v)
                        elif v > 0.0 and xi < -c / v:
                            xi = -c / v
                    if xi == 0.0:
                        continue
                    extent[r, i] += xi
                    for m in range(4):
                        s_ = sp[r, m]
                        if s_ >= 0 and nu[r, m] != 0.0:
                            conc[s_, i, j, k] += nu[r, m] * xi


@nb.njit(**JIT_PARALLEL)
def voxel_index(x, y, z, lo, hi, inv_h, shape, out):
    """Flat (C-order) voxel index of each point, -1 outside the lattice [lo, hi] or not finite.

    Voxel (i, j, k) covers lo + h * [i, i+1) x [j, j+1) x [k, k+1) [um] (index floor((x - lo) * (1 / h)));
    a point on the upper face of the lattice (x == hi, even where (hi - lo) / h rounds above n)
    falls into the last voxel. The same function bins particles for their reaction clocks.
    """
    for p in prange(x.shape[0]):
        out[p] = lattice_voxel(x[p], y[p], z[p], lo, hi, inv_h, shape[0], shape[1], shape[2])


@nb.njit(**JIT)
def seen_rates(conc, live_voxel, seen, rate, wf_row, wf_field, wf_rate):
    """The fields as the particles' clocks see them and the clocks' rate per voxel, in one pass:
    seen[q, v] = max(conc[q, live_voxel[q, v]], 0) (0 where no live voxel stands in), and
    rate[wf_row[c], v] += wf_rate[c] * seen[wf_field[c], v] over the field reactions c (``rate``
    zeroed first; its last column stays 0)."""
    nf, nv = seen.shape
    for q in range(nf):
        for v in range(nv):
            lv = live_voxel[q, v]
            if lv >= 0:
                c = conc[q, lv]
                seen[q, v] = c if c > 0.0 else 0.0
            else:
                seen[q, v] = 0.0
    rate[:, :] = 0.0
    for k in range(wf_row.shape[0]):
        r = wf_row[k]
        f = wf_field[k]
        w = wf_rate[k]
        for v in range(nv):
            rate[r, v] += w * seen[f, v]


@nb.njit(**JIT)
def birth_cumulative(conc, a, b, factor, cum):
    """Cumulative expected births of a field-only reaction over the voxels (flat C order):
    cum[v] = sum over u <= v of factor * max(conc[a, u], 0) (* max(conc[b, u], 0) when b >= 0).
    Returns the total (cum[-1], 0 without voxels). One sequential pass, so the sum does not
    depend on threads."""
    nv = cum.shape[0]
    acc = 0.0
    for v in range(nv):
        m = conc[a, v]
        m = m if m > 0.0 else 0.0
        if b >= 0:
            c2 = conc[b, v]
            m *= c2 if c2 > 0.0 else 0.0
        acc += factor * m
        cum[v] = acc
    return acc


@nb.njit(**JIT)
def _thomas_columns(c, lv, r, cp, dp):
    """Backward Euler along the first index of ``c`` (n, m), for all m columns at once (the
    inner loop runs along the contiguous index): row i of column k is -a x[i-1] + b x[i] -
    a' x[i+1] = c[i, k], with a = r towards a live neighbour in the column and 0 towards a
    dead one or the edge, b = 1 + the two; a dead voxel is an identity row. The runs of live
    voxels are thus decoupled blocks of one tridiagonal solve (Thomas algorithm), in place."""
    n, m = c.shape
    for i in range(n):
        for k in range(m):
            if lv[i, k] == 0:
                cp[i, k] = 0.0
                dp[i, k] = c[i, k]
                continue
            left = i > 0 and lv[i - 1, k] != 0
            right = i < n - 1 and lv[i + 1, k] != 0
            b = 1.0 + (r if left else 0.0) + (r if right else 0.0)
            if left:
                den = b + r * cp[i - 1, k]
                dp[i, k] = (c[i, k] + r * dp[i - 1, k]) / den
            else:
                den = b
                dp[i, k] = c[i, k] / den
            cp[i, k] = -r / den if right else 0.0
    for k in range(m):
        c[n - 1, k] = dp[n - 1, k]
    for i in range(n - 2, -1, -1):
        for k in range(m):
            c[i, k] = dp[i, k] - cp[i, k] * c[i + 1, k]


@nb.njit(**JIT_PARALLEL)
def diffuse_implicit_axis(conc, live, coef, axis):
    """One backward-Euler diffusion step along one axis for every field, in place: along each
    lattice line, every run of consecutive live voxels solves (I - r L) c_new = c_old, with
    ``r = coef[f, axis]`` (D dt / h^2) and L the 1-D Laplacian with zero flux at the run's ends
    (walls, dead voxels, the lattice edge), by the Thomas algorithm (the matrix is a diagonally
    dominant M-matrix: the solve is stable, keeps c >= 0 and conserves the run's total). Dead
    voxels are unchanged. Each plane of lines is solved by one thread (:func:`_thomas_columns`,
    vectorised along the contiguous axis), so results do not depend on the thread count."""
    nf, nx, ny, nz = conc.shape
    if axis == 0:
        m1 = ny
        n = nx
    elif axis == 1:
        m1 = nx
        n = ny
    else:
        m1 = nx
        n = nz
    for q in prange(nf * m1):
        f = q // m1
        u = q - f * m1
        r = coef[f, axis]
        if axis == 0:
            cp = np.empty((nx, nz))
            dp = np.empty((nx, nz))
            _thomas_columns(conc[f, :, u, :], live[f, :, u, :], r, cp, dp)
        elif axis == 1:
            cp = np.empty((ny, nz))
            dp = np.empty((ny, nz))
            _thomas_columns(conc[f, u, :, :], live[f, u, :, :], r, cp, dp)
        else:
            # lines along z: the plane's transpose (a view; the plane fits in cache)
            cp = np.empty((nz, ny))
            dp = np.empty((nz, ny))
            _thomas_columns(conc[f, u, :, :].T, live[f, u, :, :].T, r, cp, dp)
