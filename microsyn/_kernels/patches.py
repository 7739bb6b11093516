"""Patch kernels: which surface, and so which boundary condition, a hit point belongs to.

The patch table (built by :func:`microsyn.patches.patch_table`) has row 0 = (number of
patches, ...), then one header row per patch (parent surface, kind, own surface, first data
row, number of data rows, bounding centre x, y, z, bounding radius) and the data rows:

- disc (kind 0): no data; the patch is the bounding ball itself;
- polygon (kind 1): row 0 = origin (3), u axis (3), v axis (3); then one row (u, v) per vertex;
- triangles (kind 2): one row per triangle, its three vertices (9 values).

A face that carries patches has its boundary code stored as ``-1 - code`` (so every fast path,
which tests for the plain codes, leaves it to the exact resolvers); :func:`hit_code` decodes
it at the hit point.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..config import JIT, JIT_HOT
from .voxelize import _point_triangle_dist2

P_DISC = 0
P_POLYGON = 1
P_TRIANGLES = 2
#: a point within this distance [um] of a patch triangle is on it
ON_TRIANGLE_TOL = 1e-6


@nb.njit(inline="always", **JIT)
def _centre_distance(patches, j, x, y, z):
    """Distance [um] from (x, y, z) to the centre of patch j's bounding ball."""
    dx = x - patches[j, 5]
    dy = y - patches[j, 6]
    dz = z - patches[j, 7]
    return math.sqrt(dx * dx + dy * dy + dz * dz)


@nb.njit(**JIT_HOT)
def _in_polygon(patches, r0, nv, x, y, z):
    ox = x - patches[r0, 0]
    oy = y - patches[r0, 1]
    oz = z - patches[r0, 2]
    pu = ox * patches[r0, 3] + oy * patches[r0, 4] + oz * patches[r0, 5]
    pv = ox * patches[r0, 6] + oy * patches[r0, 7] + oz * patches[r0, 8]
    inside = False
    for i in range(nv):
        u1 = patches[r0 + 1 + i, 0]
        v1 = patches[r0 + 1 + i, 1]
        j = r0 + 1 + (i + 1) % nv
        u2 = patches[j, 0]
        v2 = patches[j, 1]
        if (v1 > pv) != (v2 > pv):
            if pu < u1 + (pv - v1) * (u2 - u1) / (v2 - v1):
                inside = not inside
    return inside


@nb.njit(**JIT_HOT)
def _on_triangles(patches, r0, nt, x, y, z, dist):
    lim = (dist + ON_TRIANGLE_TOL) ** 2
    for r in range(r0, r0 + nt):
        d2 = _point_triangle_dist2(x, y, z, patches[r, 0], patches[r, 1], patches[r, 2], patches[r, 3],
                                   patches[r, 4], patches[r, 5], patches[r, 6], patches[r, 7], patches[r, 8])
        if d2 <= lim:
            return True
    return False


@nb.njit(**JIT_HOT)
def patch_at(surf, x, y, z, dist, patches):
    """The surface index of the patch of surface ``surf`` that holds the point (x, y, z) [um]
    (the first added, where patches overlap), or ``surf`` itself. ``dist`` [um] is the point's
    distance to the surface (0 for a point on it): a triangle patch holds a point off the surface
    when its nearest surface point is on one of the patch's triangles."""
    n = np.int64(patches[0, 0])
    for j in range(1, n + 1):
        if np.int64(patches[j, 0]) != surf:
            continue
        if _centre_distance(patches, j, x, y, z) > patches[j, 8] + dist:
            continue
        k = np.int64(patches[j, 1])
        r0 = np.int64(patches[j, 3])
        m = np.int64(patches[j, 4])
        if k == P_DISC:
            hit = True
        elif k == P_POLYGON:
            hit = _in_polygon(patches, r0, m - 1, x, y, z)
        else:
            hit = _on_triangles(patches, r0, m, x, y, z, dist)
        if hit:
            return np.int64(patches[j, 2])
    return surf


@nb.njit(**JIT_HOT)
def patch_clearance(surf, x, y, z, patches):
    """A lower bound [um] on the distance from (x, y, z) to every patch of surface ``surf`` (its
    patches' bounding balls); inf without patches."""
    n = np.int64(patches[0, 0])
    best = np.inf
    for j in range(1, n + 1):
        if np.int64(patches[j, 0]) != surf:
            continue
        best = min(best, _centre_distance(patches, j, x, y, z) - patches[j, 8])
    return best


@nb.njit(**JIT_HOT)
def hit_code(s, surf, x, y, z, dist, bc, patches):
    """(boundary code, surface index) for species ``s`` hitting surface ``surf`` at (x, y, z),
    ``dist`` [um] from it (0 at a hit): the patch's where a patch holds the point, else the
    face's own (decoded)."""
    c = bc[s, surf]
    if c >= 0.0:
        return c, surf
    own = patch_at(surf, x, y, z, dist, patches)
    if own != surf:
        return bc[s, own], own
    return -1.0 - c, surf


@nb.njit(**JIT_HOT)
def disc_rim_weight(surf, x, y, z, sig, patches):
    """(patch surface, w) for a Brownian bridge that touches flat surface ``surf`` near (x, y, z)
    [um] with a Gaussian spread ``sig`` [um] per axis along it: the first disc patch of ``surf``
    within 6 ``sig`` of the point and the probability w that the touching point lies in it
    (across its rim only, valid for ``sig`` much smaller than the radius); (-1, 0) when no disc
    patch is that close (the caller then uses the point itself)."""
    n = np.int64(patches[0, 0])
    for j in range(1, n + 1):
        if np.int64(patches[j, 0]) != surf or np.int64(patches[j, 1]) != P_DISC:
            continue
        rho = _centre_distance(patches, j, x, y, z)
        a = patches[j, 8]
        if rho > a + 6.0 * sig:
            continue
        if sig <= 0.0:
            return np.int64(patches[j, 2]), 1.0 if rho <= a else 0.0
        return np.int64(patches[j, 2]), 0.5 * math.erfc((rho - a) / (math.sqrt(2.0) * sig))
    return np.int64(-1), 0.0


@nb.njit(**JIT)
def triangles_distance2(rows, pts, out):
    """Squared distance of each point (n, 3) to the nearest of the triangles ``rows`` (m, >= 9)."""
    for i in range(pts.shape[0]):
        best = np.inf
        for r in range(rows.shape[0]):
            d2 = _point_triangle_dist2(pts[i, 0], pts[i, 1], pts[i, 2], rows[r, 0], rows[r, 1], rows[r, 2],
                                       rows[r, 3], rows[r, 4], rows[r, 5], rows[r, 6], rows[r, 7], rows[r, 8])
            best = min(best, d2)
        out[i] = best
