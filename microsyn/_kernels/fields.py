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


@nb.njit(**JIT_PARALLEL)
def diffuse_implicit_axis(conc, live, coef, axis):
    """One backward-Euler diffusion step along one axis for every field, in place: along each
    lattice line, every run of consecutive live voxels solves (I - r L) c_new = c_old, with
    ``r = coef[f, axis]`` (D dt / h^2) and L the 1-D Laplacian with zero flux at the run's ends
    (walls, dead voxels, the lattice edge), by the Thomas algorithm (the matrix is a diagonally
    dominant M-matrix: the solve is stable, keeps c >= 0 and conserves the run's total). Dead
    voxels are unchanged. Each line is solved by one thread, so results do not depend on the
    thread count."""
    nf, nx, ny, nz = conc.shape
    if axis == 0:
        n, m1, m2 = nx, ny, nz
    elif axis == 1:
        n, m1, m2 = ny, nx, nz
    else:
        n, m1, m2 = nz, nx, ny
    for q in prange(nf * m1 * m2):
        f = q // (m1 * m2)
        rem = q - f * m1 * m2
        u = rem // m2
        v = rem - u * m2
        r = coef[f, axis]
        cp = np.empty(n)
        dp = np.empty(n)
        t = 0
        while t < n:
            # the next run [s, e) of live voxels along the line
            if axis == 0:
                lv = live[f, t, u, v]
            elif axis == 1:
                lv = live[f, u, t, v]
            else:
                lv = live[f, u, v, t]
            if lv == 0:
                t += 1
                continue
            s = t
            e = t
            while e < n:
                if axis == 0:
                    lv = live[f, e, u, v]
                elif axis == 1:
                    lv = live[f, u, e, v]
                else:
                    lv = live[f, u, v, e]
                if lv == 0:
                    break
                e += 1
            t = e
            if e - s == 1:
                continue
            # forward sweep: row i has -r (left, i > s), 1 + r (neighbours in the run), -r (right)
            for i in range(s, e):
                if axis == 0:
                    d = conc[f, i, u, v]
                elif axis == 1:
                    d = conc[f, u, i, v]
                else:
                    d = conc[f, u, v, i]
                b = 1.0 + r * ((1.0 if i > s else 0.0) + (1.0 if i < e - 1 else 0.0))
                if i > s:
                    den = b + r * cp[i - 1]
                    dp[i] = (d + r * dp[i - 1]) / den
                else:
                    den = b
                    dp[i] = d / den
                cp[i] = -r / den if i < e - 1 else 0.0
            x = dp[e - 1]
            for i in range(e - 1, s - 1, -1):
                if i < e - 1:
                    x = dp[i] - cp[i] * x
                if axis == 0:
                    conc[f, i, u, v] = x
                elif axis == 1:
                    conc[f, u, i, v] = x
                else:
                    conc[f, u, v, i] = x
