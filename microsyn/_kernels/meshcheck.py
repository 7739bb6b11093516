"""Mesh validation kernels: triangle pairs of a surface that cross each other.

Triangles are bucketed in a uniform grid (each into every cell its bounding box overlaps); each
pair sharing a cell is tested once (in the cell at the low corner of the overlap of their cell
ranges). Two triangles cross when an edge of one passes through the interior of the other
(six segment-triangle tests, Moller & Trumbore 1997, doi:10.1080/10867651.1997.10487468).
Pairs that share a vertex (neighbours on the surface) and coplanar contacts are not counted; a
tolerance keeps touching configurations (an edge grazing a face) from counting as crossings.
"""
from __future__ import annotations

import numba as nb
import numpy as np

from ..config import JIT

#: barycentric and segment-parameter margin below which a contact counts as touching
TOUCH_TOL = 1e-9


@nb.njit(**JIT)
def segment_crosses_triangle(px, py, pz, qx, qy, qz, tri, k):
    """True where the segment p -> q passes through the interior of triangle ``tri[k]``
    (strictly: barycentric coordinates and segment parameter at least ``TOUCH_TOL`` inside)."""
    ax = tri[k, 0, 0]
    ay = tri[k, 0, 1]
    az = tri[k, 0, 2]
    e1x = tri[k, 1, 0] - ax
    e1y = tri[k, 1, 1] - ay
    e1z = tri[k, 1, 2] - az
    e2x = tri[k, 2, 0] - ax
    e2y = tri[k, 2, 1] - ay
    e2z = tri[k, 2, 2] - az
    dx = qx - px
    dy = qy - py
    dz = qz - pz
    hx = dy * e2z - dz * e2y
    hy = dz * e2x - dx * e2z
    hz = dx * e2y - dy * e2x
    det = e1x * hx + e1y * hy + e1z * hz
    scale = (np.sqrt(dx * dx + dy * dy + dz * dz) * np.sqrt(e1x * e1x + e1y * e1y + e1z * e1z)
             * np.sqrt(e2x * e2x + e2y * e2y + e2z * e2z))
    if abs(det) <= 1e-12 * scale:
        return False  # parallel or coplanar: not counted
    inv = 1.0 / det
    sx = px - ax
    sy = py - ay
    sz = pz - az
    u = (sx * hx + sy * hy + sz * hz) * inv
    if u <= TOUCH_TOL or u >= 1.0 - TOUCH_TOL:
        return False
    cx = sy * e1z - sz * e1y
    cy = sz * e1x - sx * e1z
    cz = sx * e1y - sy * e1x
    v = (dx * cx + dy * cy + dz * cz) * inv
    if v <= TOUCH_TOL or u + v >= 1.0 - TOUCH_TOL:
        return False
    t = (e2x * cx + e2y * cy + e2z * cz) * inv
    return TOUCH_TOL < t < 1.0 - TOUCH_TOL


@nb.njit(**JIT)
def triangles_cross(tri, a, b):
    """True where triangles ``a`` and ``b`` cross (an edge of one through the other)."""
    for e in range(3):
        i = e
        j = (e + 1) % 3
        if segment_crosses_triangle(tri[a, i, 0], tri[a, i, 1], tri[a, i, 2], tri[a, j, 0],
                                    tri[a, j, 1], tri[a, j, 2], tri, b):
            return True
        if segment_crosses_triangle(tri[b, i, 0], tri[b, i, 1], tri[b, i, 2], tri[b, j, 0],
                                    tri[b, j, 1], tri[b, j, 2], tri, a):
            return True
    return False


@nb.njit(**JIT)
def self_intersections(tri, faces, origin, h, nx, ny, nz, out_pairs):
    """Number of crossing triangle pairs of the surface ``tri`` (m, 3, 3) [um] with vertex
    indices ``faces`` (m, 3); the first ones fill ``out_pairs`` (k, 2). Grid: origin [um],
    cell size h [um], nx x ny x nz cells covering every triangle."""
    m = tri.shape[0]
    lo = np.empty((m, 3), np.int64)
    hi = np.empty((m, 3), np.int64)
    dims = (nx, ny, nz)
    for t in range(m):
        for a in range(3):
            mn = min(tri[t, 0, a], min(tri[t, 1, a], tri[t, 2, a]))
            mx = max(tri[t, 0, a], max(tri[t, 1, a], tri[t, 2, a]))
            lo[t, a] = min(max(np.int64((mn - origin[a]) / h), 0), dims[a] - 1)
            hi[t, a] = min(max(np.int64((mx - origin[a]) / h), 0), dims[a] - 1)
    ncell = nx * ny * nz
    start = np.zeros(ncell + 1, np.int64)
    for t in range(m):
        for i in range(lo[t, 0], hi[t, 0] + 1):
            for j in range(lo[t, 1], hi[t, 1] + 1):
                for k in range(lo[t, 2], hi[t, 2] + 1):
                    start[(i * ny + j) * nz + k + 1] += 1
    for c in range(ncell):
        start[c + 1] += start[c]
    fill = start[:-1].copy()
    idx = np.empty(start[ncell], np.int64)
    for t in range(m):
        for i in range(lo[t, 0], hi[t, 0] + 1):
            for j in range(lo[t, 1], hi[t, 1] + 1):
                for k in range(lo[t, 2], hi[t, 2] + 1):
                    c = (i * ny + j) * nz + k
                    idx[fill[c]] = t
                    fill[c] += 1
    found = 0
    for i in range(nx):
        for j in range(ny):
            for k in range(nz):
                c = (i * ny + j) * nz + k
                for u in range(start[c], start[c + 1]):
                    a = idx[u]
                    for w in range(u + 1, start[c + 1]):
                        b = idx[w]
                        # test each pair once: in the low corner of their common cells
                        if (max(lo[a, 0], lo[b, 0]) != i or max(lo[a, 1], lo[b, 1]) != j
                                or max(lo[a, 2], lo[b, 2]) != k):
                            continue
                        share = False
                        for p in range(3):
                            for q in range(3):
                                if faces[a, p] == faces[b, q]:
                                    share = True
                        if share:
                            continue
                        if triangles_cross(tri, a, b):
                            if found < out_pairs.shape[0]:
                                out_pairs[found, 0] = min(a, b)
                                out_pairs[found, 1] = max(a, b)
                            found += 1
    return found
