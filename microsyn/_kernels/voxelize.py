"""Mesh voxelisation kernels: inside labels by scanline parity, exact distances in a narrow band.

A closed triangle mesh becomes a lattice of signed distances once, at construction; particle
steps then cost the same whatever the triangle count.

- :func:`inside_labels` casts one ray along +z per (x, y) lattice column, collects the heights
  at which it crosses triangles, sorts them and fills between pairs (even-odd rule). Column
  positions are offset by an irrational fraction of a voxel so that rays never pass exactly
  through vertices or edges of meshes built on round coordinates.
- :func:`band_distance` computes the exact point-triangle distance (Ericson, *Real-Time Collision
  Detection*, 2005, section 5.1.5) from every lattice node within ``band`` of each triangle.
- :func:`cell_triangles` lists, per lattice cell, the triangles that may intersect it (a
  superset: the triangle's bounding box overlaps the cell and its plane passes through the
  cell), as a CSR pair (cell start, triangle indices). The exact crossing, inside and distance
  tests of :mod:`microsyn._kernels.geometry` search these lists.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..config import JIT

@nb.njit(**JIT)
def _crossing_z(ax, ay, az, bx, by, bz, cx, cy, cz, px, py):
    """Height at which the vertical line through (px, py) crosses triangle abc, or NaN."""
    # barycentric coordinates in the xy projection
    d = (by - cy) * (ax - cx) + (cx - bx) * (ay - cy)
    if d == 0.0:
        return np.nan
    l1 = ((by - cy) * (px - cx) + (cx - bx) * (py - cy)) / d
    l2 = ((cy - ay) * (px - cx) + (ax - cx) * (py - cy)) / d
    l3 = 1.0 - l1 - l2
    if l1 < 0.0 or l2 < 0.0 or l3 < 0.0:
        return np.nan
    return l1 * az + l2 * bz + l3 * cz


@nb.njit(**JIT)
def _scan_columns(tri, origin, h, nx, ny, counts, zs, fill, store):
    """Visit every (triangle, lattice column) crossing: count them per column, or (``store``)
    write their heights into ``zs`` at the column's running ``fill`` position."""
    ox = origin[0]
    oy = origin[1]
    for t in range(tri.shape[0]):
        x0 = min(tri[t, 0, 0], min(tri[t, 1, 0], tri[t, 2, 0]))
        x1 = max(tri[t, 0, 0], max(tri[t, 1, 0], tri[t, 2, 0]))
        y0 = min(tri[t, 0, 1], min(tri[t, 1, 1], tri[t, 2, 1]))
        y1 = max(tri[t, 0, 1], max(tri[t, 1, 1], tri[t, 2, 1]))
        i0 = max(0, int(math.floor((x0 - ox) / h)))
        i1 = min(nx - 1, int(math.ceil((x1 - ox) / h)))
        j0 = max(0, int(math.floor((y0 - oy) / h)))
        j1 = min(ny - 1, int(math.ceil((y1 - oy) / h)))
        for i in range(i0, i1 + 1):
            px = ox + i * h
            for j in range(j0, j1 + 1):
                py = oy + j * h
                zc = _crossing_z(tri[t, 0, 0], tri[t, 0, 1], tri[t, 0, 2], tri[t, 1, 0], tri[t, 1, 1],
                                 tri[t, 1, 2], tri[t, 2, 0], tri[t, 2, 1], tri[t, 2, 2], px, py)
                if np.isnan(zc):
                    continue
                c = i * ny + j
                if store:
                    zs[fill[c]] = zc
                    fill[c] += 1
                else:
                    counts[c] += 1


@nb.njit(**JIT)
def inside_labels(tri, origin, h, nx, ny, nz):
    """uint8 lattice (nx, ny, nz): 1 where the node is inside the closed mesh ``tri`` (m, 3, 3),
    and the number of columns with an odd number of crossings (a broken mesh)."""
    lab = np.zeros((nx, ny, nz), dtype=np.uint8)
    oz = origin[2]
    counts = np.zeros(nx * ny, dtype=np.int64)
    dummy = np.zeros(0)
    _scan_columns(tri, origin, h, nx, ny, counts, dummy, counts, False)
    start = np.zeros(nx * ny + 1, dtype=np.int64)
    for c in range(nx * ny):
        start[c + 1] = start[c] + counts[c]
    zs = np.empty(start[nx * ny])
    fill = start[:-1].copy()
    _scan_columns(tri, origin, h, nx, ny, counts, zs, fill, True)
    odd_columns = 0
    for c in range(nx * ny):
        a = start[c]
        b = start[c + 1]
        if b == a:
            continue
        if (b - a) % 2 == 1:
            odd_columns += 1
            continue
        col = np.sort(zs[a:b])
        i = c // ny
        j = c % ny
        for q in range(0, b - a, 2):
            k0 = max(0, int(math.ceil((col[q] - oz) / h)))
            k1 = min(nz - 1, int(math.floor((col[q + 1] - oz) / h)))
            for k in range(k0, k1 + 1):
                lab[i, j, k] = 1
    return lab, odd_columns


@nb.njit(**JIT)
def _point_triangle_dist2(px, py, pz, ax, ay, az, bx, by, bz, cx, cy, cz):
    """Squared distance from p to triangle abc (Ericson 2005, closest point on triangle)."""
    abx = bx - ax
    aby = by - ay
    abz = bz - az
    acx = cx - ax
    acy = cy - ay
    acz = cz - az
    apx = px - ax
    apy = py - ay
    apz = pz - az
    d1 = abx * apx + aby * apy + abz * apz
    d2 = acx * apx + acy * apy + acz * apz
    if d1 <= 0.0 and d2 <= 0.0:
        return apx * apx + apy * apy + apz * apz
    bpx = px - bx
    bpy = py - by
    bpz = pz - bz
    d3 = abx * bpx + aby * bpy + abz * bpz
    d4 = acx * bpx + acy * bpy + acz * bpz
    if d3 >= 0.0 and d4 <= d3:
        return bpx * bpx + bpy * bpy + bpz * bpz
    vc = d1 * d4 - d3 * d2
    if vc <= 0.0 and d1 >= 0.0 and d3 <= 0.0:
        v = d1 / (d1 - d3)
        qx = apx - v * abx
        qy = apy - v * aby
        qz = apz - v * abz
        return qx * qx + qy * qy + qz * qz
    cpx = px - cx
    cpy = py - cy
    cpz = pz - cz
    d5 = abx * cpx + aby * cpy + abz * cpz
    d6 = acx * cpx + acy * cpy + acz * cpz
    if d6 >= 0.0 and d5 <= d6:
        return cpx * cpx + cpy * cpy + cpz * cpz
    vb = d5 * d2 - d1 * d6
    if vb <= 0.0 and d2 >= 0.0 and d6 <= 0.0:
        w = d2 / (d2 - d6)
        qx = apx - w * acx
        qy = apy - w * acy
        qz = apz - w * acz
        return qx * qx + qy * qy + qz * qz
    va = d3 * d6 - d5 * d4
    if va <= 0.0 and (d4 - d3) >= 0.0 and (d5 - d6) >= 0.0:
        w = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        qx = px - (bx + w * (cx - bx))
        qy = py - (by + w * (cy - by))
        qz = pz - (bz + w * (cz - bz))
        return qx * qx + qy * qy + qz * qz
    den = 1.0 / (va + vb + vc)
    v = vb * den
    w = vc * den
    qx = px - (ax + abx * v + acx * w)
    qy = py - (ay + aby * v + acy * w)
    qz = pz - (az + abz * v + acz * w)
    return qx * qx + qy * qy + qz * qz


@nb.njit(**JIT)
def band_distance(tri, origin, h, nx, ny, nz, band):
    """Unsigned distance [um] to the mesh at lattice nodes within ``band`` of a triangle
    (exact there); +inf elsewhere."""
    dist2 = np.full((nx, ny, nz), np.inf)
    m = tri.shape[0]
    for t in range(m):
        lo = np.empty(3)
        hi = np.empty(3)
        for a in range(3):
            lo[a] = min(tri[t, 0, a], min(tri[t, 1, a], tri[t, 2, a])) - band
            hi[a] = max(tri[t, 0, a], max(tri[t, 1, a], tri[t, 2, a])) + band
        i0 = max(0, int(math.ceil((lo[0] - origin[0]) / h)))
        i1 = min(nx - 1, int(math.floor((hi[0] - origin[0]) / h)))
        j0 = max(0, int(math.ceil((lo[1] - origin[1]) / h)))
        j1 = min(ny - 1, int(math.floor((hi[1] - origin[1]) / h)))
        k0 = max(0, int(math.ceil((lo[2] - origin[2]) / h)))
        k1 = min(nz - 1, int(math.floor((hi[2] - origin[2]) / h)))
        for i in range(i0, i1 + 1):
            px = origin[0] + i * h
            for j in range(j0, j1 + 1):
                py = origin[1] + j * h
                for k in range(k0, k1 + 1):
                    pz = origin[2] + k * h
                    d2 = _point_triangle_dist2(px, py, pz, tri[t, 0, 0], tri[t, 0, 1], tri[t, 0, 2],
                                               tri[t, 1, 0], tri[t, 1, 1], tri[t, 1, 2],
                                               tri[t, 2, 0], tri[t, 2, 1], tri[t, 2, 2])
                    if d2 < dist2[i, j, k]:
                        dist2[i, j, k] = d2
    return np.sqrt(dist2)


@nb.njit(**JIT)
def _cell_pass(tri, origin, h, nx, ny, nz, counts, start, fill, idx, store):
    """Visit every (triangle, cell) pair that may intersect: count per cell, or (``store``) write
    the triangle index at the cell's running ``fill`` position."""
    ncy = ny - 1
    ncz = nz - 1
    slack = 1e-9 * h
    for t in range(tri.shape[0]):
        ax = tri[t, 0, 0]
        ay = tri[t, 0, 1]
        az = tri[t, 0, 2]
        ux = tri[t, 1, 0] - ax
        uy = tri[t, 1, 1] - ay
        uz = tri[t, 1, 2] - az
        vx = tri[t, 2, 0] - ax
        vy = tri[t, 2, 1] - ay
        vz = tri[t, 2, 2] - az
        nrx = uy * vz - uz * vy
        nry = uz * vx - ux * vz
        nrz = ux * vy - uy * vx
        lo0 = min(tri[t, 0, 0], min(tri[t, 1, 0], tri[t, 2, 0])) - slack
        hi0 = max(tri[t, 0, 0], max(tri[t, 1, 0], tri[t, 2, 0])) + slack
        lo1 = min(tri[t, 0, 1], min(tri[t, 1, 1], tri[t, 2, 1])) - slack
        hi1 = max(tri[t, 0, 1], max(tri[t, 1, 1], tri[t, 2, 1])) + slack
        lo2 = min(tri[t, 0, 2], min(tri[t, 1, 2], tri[t, 2, 2])) - slack
        hi2 = max(tri[t, 0, 2], max(tri[t, 1, 2], tri[t, 2, 2])) + slack
        i0 = max(0, int(math.floor((lo0 - origin[0]) / h)))
        i1 = min(nx - 2, int(math.floor((hi0 - origin[0]) / h)))
        j0 = max(0, int(math.floor((lo1 - origin[1]) / h)))
        j1 = min(ny - 2, int(math.floor((hi1 - origin[1]) / h)))
        k0 = max(0, int(math.floor((lo2 - origin[2]) / h)))
        k1 = min(nz - 2, int(math.floor((hi2 - origin[2]) / h)))
        # half extent of a cell along the normal, slightly enlarged
        rad = 0.5 * h * (abs(nrx) + abs(nry) + abs(nrz)) * (1.0 + 1e-9) + slack * (
            abs(nrx) + abs(nry) + abs(nrz))
        for i in range(i0, i1 + 1):
            cx = origin[0] + (i + 0.5) * h
            for j in range(j0, j1 + 1):
                cy = origin[1] + (j + 0.5) * h
                for k in range(k0, k1 + 1):
                    cz = origin[2] + (k + 0.5) * h
                    sd = nrx * (cx - ax) + nry * (cy - ay) + nrz * (cz - az)
                    if abs(sd) > rad:
                        continue  # the plane misses the cell
                    c = (i * ncy + j) * ncz + k
                    if store:
                        idx[fill[c]] = t
                        fill[c] += 1
                    else:
                        counts[c] += 1


@nb.njit(**JIT)
def cell_triangles(tri, origin, h, nx, ny, nz):
    """CSR lists of the triangles that may intersect each lattice cell.

    Cell (i, j, k) spans nodes i..i+1, j..j+1, k..k+1 and has number
    ``(i * (ny - 1) + j) * (nz - 1) + k``; its triangles are ``idx[start[c]:start[c + 1]]``.
    Every triangle that intersects the closed cell is listed (a superset may be).
    """
    ncell = (nx - 1) * (ny - 1) * (nz - 1)
    counts = np.zeros(ncell, dtype=np.int64)
    dummy = np.zeros(0, dtype=np.int64)
    _cell_pass(tri, origin, h, nx, ny, nz, counts, dummy, dummy, dummy, False)
    start = np.zeros(ncell + 1, dtype=np.int64)
    for c in range(ncell):
        start[c + 1] = start[c] + counts[c]
    idx = np.empty(start[ncell], dtype=np.int64)
    fill = start[:-1].copy()
    _cell_pass(tri, origin, h, nx, ny, nz, counts, start, fill, idx, True)
    return start, idx
