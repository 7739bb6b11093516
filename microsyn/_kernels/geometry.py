"""Geometry kernels: signed distances, segment intervals and normals of compiled primitives.

A domain is (union of solid primitives) minus (union of hole primitives). Each primitive is a
row of ``par`` with a ``kind`` code. Meshes: their lattices of node distances sit in one flat
float32 array (``sdf``); ``mesh_meta`` (float64, 8 values a row) starts with one header row per
mesh (origin x, y, z, spacing, nx, ny, nz, offset into ``sdf``), followed by the meshes' data
rows: two rows per triangle (vertices a, b, c; outward unit normal) and, read as a flat array,
the CSR lists of the triangles that may cross each lattice cell. A mesh's ``par`` row holds its
header index, its first triangle row, the flat positions of its cell starts and cell lists,
and its triangle count. Signed distances are negative inside.

``segment_interval`` returns the parameter interval [t_in, t_out] in which the segment
p0 + t d lies inside a primitive (an empty interval is (inf, -inf)) together with the face
numbers at its ends. For a mesh it comes from the exact crossings of the segment with the
triangles (:func:`mesh_crossings`); the boundary a particle sees is the triangles themselves.
Node values are exact distances within ``BAND_VOXELS`` voxels of the surface and lower bounds
beyond, so :func:`_mesh_corners` gives rigorous lower (and upper) bounds on the distance from
any point to the triangles and, where the lower bound is positive, its side.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..config import JIT, JIT_HOT, JIT_NOALLOC
from .voxelize import _point_triangle_dist2

K_HALFSPACE = 0
K_BOX = 1
K_SPHERE = 2
K_CYLINDER = 3
K_MESH = 4

N_PAR = 12
INF = np.inf
SQRT3 = math.sqrt(3.0)


@nb.njit(inline="always", **JIT)
def _mesh_index(mesh_meta, m, x, y, z):
    ox = mesh_meta[m, 0]
    oy = mesh_meta[m, 1]
    oz = mesh_meta[m, 2]
    h = mesh_meta[m, 3]
    return (x - ox) / h, (y - oy) / h, (z - oz) / h


@nb.njit(inline="always", **JIT)
def _clamp_to_lattice(fx, fy, fz, nx, ny, nz, h):
    """Lattice coordinates clamped into the lattice, and the distance [um] from the point to the
    lattice's box (0 inside it)."""
    if fx >= 0.0 and fy >= 0.0 and fz >= 0.0 and fx <= nx - 1 and fy <= ny - 1 and fz <= nz - 1:
        return fx, fy, fz, 0.0
    cx = min(max(fx, 0.0), nx - 1.0)
    cy = min(max(fy, 0.0), ny - 1.0)
    cz = min(max(fz, 0.0), nz - 1.0)
    return cx, cy, cz, h * math.sqrt((fx - cx) ** 2 + (fy - cy) ** 2 + (fz - cz) ** 2)


@nb.njit(**JIT_HOT)
def mesh_sdf(sdf, mesh_meta, m, x, y, z):
    """Trilinear signed distance [um] of mesh ``m`` at (x, y, z); far outside the grid it is
    the distance to the grid's box plus the grid's border value (positive: outside)."""
    nx = np.int64(mesh_meta[m, 4])
    ny = np.int64(mesh_meta[m, 5])
    nz = np.int64(mesh_meta[m, 6])
    off = np.int64(mesh_meta[m, 7])
    h = mesh_meta[m, 3]
    fx, fy, fz = _mesh_index(mesh_meta, m, x, y, z)
    # outside the lattice (whose border lies outside the shape): distance to the lattice's box
    # plus the border value, a continuous positive extension
    fx, fy, fz, dd = _clamp_to_lattice(fx, fy, fz, nx, ny, nz, h)
    i = min(np.int64(fx), nx - 2)
    j = min(np.int64(fy), ny - 2)
    k = min(np.int64(fz), nz - 2)
    tx = fx - i
    ty = fy - j
    tz = fz - k
    syz = nz
    sxy = ny * nz
    b = off + i * sxy + j * syz + k
    c000 = sdf[b]
    c001 = sdf[b + 1]
    c010 = sdf[b + syz]
    c011 = sdf[b + syz + 1]
    c100 = sdf[b + sxy]
    c101 = sdf[b + sxy + 1]
    c110 = sdf[b + sxy + syz]
    c111 = sdf[b + sxy + syz + 1]
    c00 = c000 + (c001 - c000) * tz
    c01 = c010 + (c011 - c010) * tz
    c10 = c100 + (c101 - c100) * tz
    c11 = c110 + (c111 - c110) * tz
    c0 = c00 + (c01 - c00) * ty
    c1 = c10 + (c11 - c10) * ty
    return dd + c0 + (c1 - c0) * tx


#: lattice nodes closer than this many voxels to a triangle hold its exact distance
BAND_VOXELS = 3.0
#: barycentric slack of the segment-triangle crossing test: a crossing this close to an edge
#: is found on both triangles of the edge (and counted once), so none slips through a crack
BARY_EPS = 1e-9
#: two crossings closer than this [um] along a segment, in the same direction, are one
MERGE_EPS = 1e-12


@nb.njit(inline="always", **JIT)
def _mm(mesh_meta, q):
    """Element ``q`` of ``mesh_meta`` read as a flat array (8 values a row)."""
    return mesh_meta[q >> 3, q & 7]


@nb.njit(**JIT_HOT)
def _mesh_corners(sdf, mesh_meta, m, x, y, z):
    """Lattice bounds of mesh ``m`` at (x, y, z) from the 8 corners of the cell holding it.

    Returns (lb, neg, ub, i, j, k). The node values are the exact distance to the triangles
    within the band (rounded towards zero) and a lower bound beyond, with the node's side as
    sign, and the true distance d is 1-Lipschitz; so ``lb`` = max over corners c of
    |phi_c| - |x - n_c| is a lower bound on d, and where lb > 0 the point lies on the side of
    that corner (``neg``: inside). ``ub`` = min over exact corners of |phi_c| + |x - n_c| is an
    upper bound on d (inf when no corner is exact). (i, j, k) is the cell; i = -1 outside the
    lattice (which lies outside the mesh).
    """
    ox = mesh_meta[m, 0]
    oy = mesh_meta[m, 1]
    oz = mesh_meta[m, 2]
    h = mesh_meta[m, 3]
    nx = np.int64(mesh_meta[m, 4])
    ny = np.int64(mesh_meta[m, 5])
    nz = np.int64(mesh_meta[m, 6])
    off = np.int64(mesh_meta[m, 7])
    fx = (x - ox) / h
    fy = (y - oy) / h
    fz = (z - oz) / h
    fx, fy, fz, dd = _clamp_to_lattice(fx, fy, fz, nx, ny, nz, h)
    outside = dd > 0.0
    i = min(np.int64(fx), nx - 2)
    j = min(np.int64(fy), ny - 2)
    k = min(np.int64(fz), nz - 2)
    band = BAND_VOXELS * h * (1.0 - 1e-6)
    lb = -INF
    neg = False
    ub = INF
    for c in range(8):
        di = c >> 2
        dj = (c >> 1) & 1
        dk = c & 1
        phi = np.float64(sdf[off + ((i + di) * ny + (j + dj)) * nz + k + dk])
        ex = fx - (i + di)
        ey = fy - (j + dj)
        ez = fz - (k + dk)
        dist = h * math.sqrt(ex * ex + ey * ey + ez * ez)
        a = abs(phi)
        v = a - dist
        if v > lb:
            lb = v
            neg = phi < 0.0
        if a < band and a + dist < ub:
            ub = a + dist
    if outside:
        # the lattice's box holds the mesh: |x - s|^2 >= |x - c|^2 + |c - s|^2 for its
        # projection c onto the box and any surface point s
        lc = max(lb, 0.0)
        lb = math.sqrt(dd * dd + lc * lc)
        neg = False
        ub = ub + dd
        i = -1
    return lb, neg, ub, i, j, k


@nb.njit(**JIT_HOT)
def mesh_safe_distance(sdf, mesh_meta, m, x, y, z):
    """A signed lower bound on the distance [um] from (x, y, z) to the triangles of mesh ``m``
    (negative inside, 0 where the lattice cannot tell): the corner bound of
    :func:`_mesh_corners`, which holds for the true triangles, not an interpolated surface."""
    lb, neg, ub, i, j, k = _mesh_corners(sdf, mesh_meta, m, x, y, z)
    if lb <= 0.0:
        return 0.0
    return -lb if neg else lb


@nb.njit(**JIT_HOT)
def _seg_tri(mesh_meta, r, x0, y0, z0, dx, dy, dz):
    """Moller-Trumbore: (t, u, v, det) of the line p0 + t d and the triangle stored at row r
    (vertices a, b, c; the point a + u (b - a) + v (c - a)); det = 0 when parallel."""
    ax = mesh_meta[r, 0]
    ay = mesh_meta[r, 1]
    az = mesh_meta[r, 2]
    e1x = mesh_meta[r, 3] - ax
    e1y = mesh_meta[r, 4] - ay
    e1z = mesh_meta[r, 5] - az
    e2x = mesh_meta[r, 6] - ax
    e2y = mesh_meta[r, 7] - ay
    e2z = mesh_meta[r + 1, 0] - az
    px = dy * e2z - dz * e2y
    py = dz * e2x - dx * e2z
    pz = dx * e2y - dy * e2x
    det = e1x * px + e1y * py + e1z * pz
    if det == 0.0:
        return 0.0, 0.0, 0.0, 0.0
    inv = 1.0 / det
    sx = x0 - ax
    sy = y0 - ay
    sz = z0 - az
    u = (sx * px + sy * py + sz * pz) * inv
    qx = sy * e1z - sz * e1y
    qy = sz * e1x - sx * e1z
    qz = sx * e1y - sy * e1x
    v = (dx * qx + dy * qy + dz * qz) * inv
    t = (e2x * qx + e2y * qy + e2z * qz) * inv
    return t, u, v, det


@nb.njit(**JIT_NOALLOC)
def mesh_inside(par, sdf, mesh_meta, p, x, y, z):
    """Exact side of (x, y, z) relative to the triangles of mesh primitive ``p``: 1 inside,
    0 outside, -1 undecidable (within rounding of a triangle).

    Where the lattice corner bound is positive it decides. Otherwise the segment from the
    point to a corner of its cell (a node of known side) is tested against the cell's
    triangles; an odd number of crossings flips the node's side. A crossing within
    ``BARY_EPS`` of a triangle's edge or of the segment's ends makes that corner ambiguous, and
    the next corner is tried.
    """
    m = np.int64(par[p, 0])
    lb, neg, ub, i, j, k = _mesh_corners(sdf, mesh_meta, m, x, y, z)
    if lb > 0.0:
        return 1 if neg else 0
    if i < 0:
        return 0
    ox = mesh_meta[m, 0]
    oy = mesh_meta[m, 1]
    oz = mesh_meta[m, 2]
    h = mesh_meta[m, 3]
    ny = np.int64(mesh_meta[m, 5])
    nz = np.int64(mesh_meta[m, 6])
    off = np.int64(mesh_meta[m, 7])
    tri_row = np.int64(par[p, 1])
    cs = np.int64(par[p, 2])
    ci = np.int64(par[p, 3])
    cell = (i * (ny - 1) + j) * (nz - 1) + k
    s0 = np.int64(_mm(mesh_meta, cs + cell))
    s1 = np.int64(_mm(mesh_meta, cs + cell + 1))
    for c in range(8):
        di = c >> 2
        dj = (c >> 1) & 1
        dk = c & 1
        dx = ox + (i + di) * h - x
        dy = oy + (j + dj) * h - y
        dz = oz + (k + dk) * h - z
        odd = 0
        amb = False
        for q in range(s0, s1):
            r = tri_row + 2 * np.int64(_mm(mesh_meta, ci + q))
            t, u, v, det = _seg_tri(mesh_meta, r, x, y, z, dx, dy, dz)
            if det == 0.0:
                amb = True
                break
            w = 1.0 - u - v
            if u < -BARY_EPS or v < -BARY_EPS or w < -BARY_EPS or t < -BARY_EPS or t > 1.0 + BARY_EPS:
                continue
            if u <= BARY_EPS or v <= BARY_EPS or w <= BARY_EPS or t <= BARY_EPS or t >= 1.0 - BARY_EPS:
                amb = True
                break
            odd ^= 1
        if amb:
            continue
        node_in = sdf[off + ((i + di) * ny + (j + dj)) * nz + k + dk] < 0.0
        return 1 if node_in != (odd == 1) else 0
    return -1


@nb.njit(**JIT_NOALLOC)
def mesh_crossings(par, sdf, mesh_meta, p, x0, y0, z0, dx, dy, dz):
    """The first two crossings of the segment p0 + t d, t in [0, 1], with the triangles of mesh
    primitive ``p``: (t1, o1, t2, o2), o = +1 leaving (along the outward normal), -1 entering,
    0 none. Crossings found on two triangles of an edge count once."""
    m = np.int64(par[p, 0])
    ox = mesh_meta[m, 0]
    oy = mesh_meta[m, 1]
    oz = mesh_meta[m, 2]
    h = mesh_meta[m, 3]
    nx = np.int64(mesh_meta[m, 4])
    ny = np.int64(mesh_meta[m, 5])
    nz = np.int64(mesh_meta[m, 6])
    tri_row = np.int64(par[p, 1])
    cs = np.int64(par[p, 2])
    ci = np.int64(par[p, 3])
    t1 = INF
    o1 = 0
    t2 = INF
    o2 = 0
    seg = math.sqrt(dx * dx + dy * dy + dz * dz)
    tmerge = MERGE_EPS / seg if seg > 0.0 else INF
    # the segment in pieces no longer than a voxel, each searched in the (at most 2 x 2 x 2)
    # cells of its bounding box; a triangle met twice gives the same t and counts once
    npiece = max(np.int64(1), np.int64(math.ceil(seg / h)))
    for piece in range(npiece):
        ta = piece / npiece
        tb = (piece + 1) / npiece
        xa = x0 + ta * dx
        xb = x0 + tb * dx
        ya = y0 + ta * dy
        yb = y0 + tb * dy
        za = z0 + ta * dz
        zb = z0 + tb * dz
        fx0 = (min(xa, xb) - ox) / h
        fx1 = (max(xa, xb) - ox) / h
        fy0 = (min(ya, yb) - oy) / h
        fy1 = (max(ya, yb) - oy) / h
        fz0 = (min(za, zb) - oz) / h
        fz1 = (max(za, zb) - oz) / h
        if fx1 < 0.0 or fy1 < 0.0 or fz1 < 0.0 or fx0 > nx - 1 or fy0 > ny - 1 or fz0 > nz - 1:
            continue
        i0 = max(np.int64(0), np.int64(math.floor(fx0)))
        i1 = min(nx - 2, np.int64(math.floor(fx1)))
        j0 = max(np.int64(0), np.int64(math.floor(fy0)))
        j1 = min(ny - 2, np.int64(math.floor(fy1)))
        k0 = max(np.int64(0), np.int64(math.floor(fz0)))
        k1 = min(nz - 2, np.int64(math.floor(fz1)))
        for i in range(i0, i1 + 1):
            for j in range(j0, j1 + 1):
                for k in range(k0, k1 + 1):
                    cell = (i * (ny - 1) + j) * (nz - 1) + k
                    s0 = np.int64(_mm(mesh_meta, cs + cell))
                    s1 = np.int64(_mm(mesh_meta, cs + cell + 1))
                    for q in range(s0, s1):
                        r = tri_row + 2 * np.int64(_mm(mesh_meta, ci + q))
                        t, u, v, det = _seg_tri(mesh_meta, r, x0, y0, z0, dx, dy, dz)
                        if det == 0.0 or t < 0.0 or t > 1.0:
                            continue
                        if u < -BARY_EPS or v < -BARY_EPS or u + v > 1.0 + BARY_EPS:
                            continue
                        dn = (dx * mesh_meta[r + 1, 1] + dy * mesh_meta[r + 1, 2]
                              + dz * mesh_meta[r + 1, 3])
                        o = 1 if dn > 0.0 else -1
                        if (o == o1 and abs(t - t1) <= tmerge) or (o == o2 and abs(t - t2) <= tmerge):
                            continue  # the same crossing, met again or on a neighbouring triangle
                        if t < t1:
                            t2 = t1
                            o2 = o1
                            t1 = t
                            o1 = o
                        elif t < t2:
                            t2 = t
                            o2 = o
    return t1, o1, t2, o2


@nb.njit(**JIT_NOALLOC)
def mesh_nearest(par, sdf, mesh_meta, p, x, y, z, first_hit):
    """(d, triangle): the distance [um] from (x, y, z) to the nearest triangle of mesh
    primitive ``p`` and its index, exact where a corner of the point's cell lies in the band;
    elsewhere (d, -1) with d the lattice's lower bound. With ``first_hit``, a triangle of the
    point's own cell closer than 1e-9 um is returned at once (a point on the surface)."""
    m = np.int64(par[p, 0])
    lb, neg, ub, i, j, k = _mesh_corners(sdf, mesh_meta, m, x, y, z)
    if ub == INF:
        return max(lb, 0.0), np.int64(-1)
    ox = mesh_meta[m, 0]
    oy = mesh_meta[m, 1]
    oz = mesh_meta[m, 2]
    h = mesh_meta[m, 3]
    nx = np.int64(mesh_meta[m, 4])
    ny = np.int64(mesh_meta[m, 5])
    nz = np.int64(mesh_meta[m, 6])
    tri_row = np.int64(par[p, 1])
    cs = np.int64(par[p, 2])
    ci = np.int64(par[p, 3])
    best = INF
    who = np.int64(-1)
    if first_hit and i >= 0:
        cell = (i * (ny - 1) + j) * (nz - 1) + k
        for q in range(np.int64(_mm(mesh_meta, cs + cell)), np.int64(_mm(mesh_meta, cs + cell + 1))):
            t = np.int64(_mm(mesh_meta, ci + q))
            d2 = _tri_dist2(mesh_meta, tri_row + 2 * t, x, y, z)
            if d2 < best:
                best = d2
                who = t
        if best < 1e-18:
            return math.sqrt(best), who
    # float32 rounding of the node values: widen the search radius a little
    rad = ub * (1.0 + 1e-6) + 1e-12
    i0 = max(np.int64(0), np.int64(math.floor((x - rad - ox) / h)))
    i1 = min(nx - 2, np.int64(math.floor((x + rad - ox) / h)))
    j0 = max(np.int64(0), np.int64(math.floor((y - rad - oy) / h)))
    j1 = min(ny - 2, np.int64(math.floor((y + rad - oy) / h)))
    k0 = max(np.int64(0), np.int64(math.floor((z - rad - oz) / h)))
    k1 = min(nz - 2, np.int64(math.floor((z + rad - oz) / h)))
    for ii in range(i0, i1 + 1):
        for jj in range(j0, j1 + 1):
            for kk in range(k0, k1 + 1):
                cell = (ii * (ny - 1) + jj) * (nz - 1) + kk
                for q in range(np.int64(_mm(mesh_meta, cs + cell)), np.int64(_mm(mesh_meta, cs + cell + 1))):
                    t = np.int64(_mm(mesh_meta, ci + q))
                    d2 = _tri_dist2(mesh_meta, tri_row + 2 * t, x, y, z)
                    if d2 < best:
                        best = d2
                        who = t
    if who < 0:
        return max(lb, 0.0), who
    return math.sqrt(best), who


@nb.njit(**JIT_HOT)
def _tri_dist2(mesh_meta, r, x, y, z):
    return _point_triangle_dist2(x, y, z, mesh_meta[r, 0], mesh_meta[r, 1], mesh_meta[r, 2],
                                 mesh_meta[r, 3], mesh_meta[r, 4], mesh_meta[r, 5],
                                 mesh_meta[r, 6], mesh_meta[r, 7], mesh_meta[r + 1, 0])


@nb.njit(**JIT_NOALLOC)
def mesh_signed_distance(par, sdf, mesh_meta, p, x, y, z):
    """Signed distance [um] from (x, y, z) to the triangles of mesh primitive ``p`` (negative
    inside): exact within the lattice band, the lattice's lower bound (exact sign) beyond."""
    m = np.int64(par[p, 0])
    lb, neg, ub, i, j, k = _mesh_corners(sdf, mesh_meta, m, x, y, z)
    d, t = mesh_nearest(par, sdf, mesh_meta, p, x, y, z, False)
    if lb > 0.0:
        inside = neg
    else:
        c = mesh_inside(par, sdf, mesh_meta, p, x, y, z)
        if c >= 0:
            inside = c == 1
        else:
            inside = mesh_sdf(sdf, mesh_meta, m, x, y, z) <= 0.0
    return -d if inside else d


@nb.njit(**JIT_NOALLOC)
def mesh_normal(par, sdf, mesh_meta, p, x, y, z):
    """Unit outward normal of the triangle of mesh primitive ``p`` nearest to (x, y, z) (a
    surface point: the triangle it lies on)."""
    d, t = mesh_nearest(par, sdf, mesh_meta, p, x, y, z, True)
    if t < 0:
        return mesh_gradient(sdf, mesh_meta, np.int64(par[p, 0]), x, y, z)
    r = np.int64(par[p, 1]) + 2 * t
    return mesh_meta[r + 1, 1], mesh_meta[r + 1, 2], mesh_meta[r + 1, 3]


@nb.njit(**JIT_NOALLOC)
def mesh_segment_interval(par, sdf, mesh_meta, p, x0, y0, z0, dx, dy, dz):
    """(t_in, t_out) of the segment p0 + t d inside mesh primitive ``p``, from its exact
    crossings with the triangles: the direction of the first crossing tells the side of p0;
    without crossings the side of the end point (or midpoint) decides. (nan, nan) when
    undecidable: the caller then rejects the step."""
    t1, o1, t2, o2 = mesh_crossings(par, sdf, mesh_meta, p, x0, y0, z0, dx, dy, dz)
    if o1 == 0:
        c = mesh_inside(par, sdf, mesh_meta, p, x0 + dx, y0 + dy, z0 + dz)
        if c < 0:
            c = mesh_inside(par, sdf, mesh_meta, p, x0 + 0.5 * dx, y0 + 0.5 * dy, z0 + 0.5 * dz)
        if c < 0:
            return np.nan, np.nan
        if c == 1:
            return -INF, INF
        return INF, -INF
    if o1 > 0:
        return -INF, t1
    if o2 > 0:
        return t1, t2
    return t1, INF


@nb.njit(inline="always", **JIT)
def _cylinder_local(par, p, x, y, z):
    """Axial coordinate and radial vector of (x, y, z) relative to cylinder ``p``'s base."""
    dx = x - par[p, 0]
    dy = y - par[p, 1]
    dz = z - par[p, 2]
    ax = dx * par[p, 3] + dy * par[p, 4] + dz * par[p, 5]
    return ax, dx - ax * par[p, 3], dy - ax * par[p, 4], dz - ax * par[p, 5]


@nb.njit(**JIT_NOALLOC)
def mesh_gradient(sdf, mesh_meta, m, x, y, z):
    """Unit outward normal of mesh ``m`` near (x, y, z): the normalised gradient of the
    trilinear signed distance (central differences of a tenth of a voxel)."""
    e = 0.1 * mesh_meta[m, 3]
    gx = mesh_sdf(sdf, mesh_meta, m, x + e, y, z) - mesh_sdf(sdf, mesh_meta, m, x - e, y, z)
    gy = mesh_sdf(sdf, mesh_meta, m, x, y + e, z) - mesh_sdf(sdf, mesh_meta, m, x, y - e, z)
    gz = mesh_sdf(sdf, mesh_meta, m, x, y, z + e) - mesh_sdf(sdf, mesh_meta, m, x, y, z - e)
    n = math.sqrt(gx * gx + gy * gy + gz * gz)
    if n == 0.0:
        return 0.0, 0.0, 1.0
    return gx / n, gy / n, gz / n


@nb.njit(**JIT_HOT)
def prim_sdf(kind, par, sdf, mesh_meta, p, x, y, z):
    """Signed distance [um] from (x, y, z) to primitive ``p`` (negative inside).

    Exact for half-spaces, boxes, spheres and capped cylinders; for meshes the exact distance
    to the triangles within the lattice band and a lower bound beyond (exact sign), see
    :func:`mesh_signed_distance`.
    """
    k = kind[p]
    if k == K_HALFSPACE:
        return (x - par[p, 0]) * par[p, 3] + (y - par[p, 1]) * par[p, 4] + (z - par[p, 2]) * par[p, 5]
    if k == K_BOX:
        qx = max(par[p, 0] - x, x - par[p, 3])
        qy = max(par[p, 1] - y, y - par[p, 4])
        qz = max(par[p, 2] - z, z - par[p, 5])
        inside = min(max(qx, max(qy, qz)), 0.0)
        ox = max(qx, 0.0)
        oy = max(qy, 0.0)
        oz = max(qz, 0.0)
        return inside + math.sqrt(ox * ox + oy * oy + oz * oz)
    if k == K_SPHERE:
        dx = x - par[p, 0]
        dy = y - par[p, 1]
        dz = z - par[p, 2]
        return math.sqrt(dx * dx + dy * dy + dz * dz) - par[p, 3]
    if k == K_CYLINDER:
        ax, rx, ry, rz = _cylinder_local(par, p, x, y, z)
        dr = math.sqrt(rx * rx + ry * ry + rz * rz) - par[p, 6]
        da = max(-ax, ax - par[p, 7])
        inside = min(max(dr, da), 0.0)
        odr = max(dr, 0.0)
        oda = max(da, 0.0)
        return inside + math.sqrt(odr * odr + oda * oda)
    # mesh
    return mesh_signed_distance(par, sdf, mesh_meta, p, x, y, z)


@nb.njit(**JIT_HOT)
def face_distance(kind, par, sdf, mesh_meta, p, f, x, y, z):
    """Distance [um] from (x, y, z) to face ``f`` of primitive ``p``, positive on the inner side
    of the primitive (used for the Brownian-bridge absorption test)."""
    k = kind[p]
    if k == K_BOX:
        a = f // 2
        if f % 2 == 0:
            return (x, y, z)[a] - par[p, a]
        return par[p, 3 + a] - (x, y, z)[a]
    if k == K_CYLINDER:
        dx = x - par[p, 0]
        dy = y - par[p, 1]
        dz = z - par[p, 2]
        ax = dx * par[p, 3] + dy * par[p, 4] + dz * par[p, 5]
        if f == 1:
            return ax
        if f == 2:
            return par[p, 7] - ax
        rx = dx - ax * par[p, 3]
        ry = dy - ax * par[p, 4]
        rz = dz - ax * par[p, 5]
        return par[p, 6] - math.sqrt(rx * rx + ry * ry + rz * rz)
    return -prim_sdf(kind, par, sdf, mesh_meta, p, x, y, z)


@nb.njit(inline="always", **JIT)
def _within(v, lo, hi, sig):
    """Probability that v + sig g (g standard normal) lies in [lo, hi]; the indicator at sig = 0."""
    if sig <= 0.0:
        return 1.0 if lo <= v <= hi else 0.0
    r2 = math.sqrt(2.0) * sig
    return 0.5 * (math.erfc((lo - v) / r2) - math.erfc((hi - v) / r2))


@nb.njit(**JIT_HOT)
def face_point(kind, par, p, f, x, y, z, sig):
    """Where, and how likely, a Brownian bridge near face ``f`` of a box or cylinder ``p``
    touches the face itself rather than the rest of its plane.

    (x, y, z) [um] is the bridge's expected position when it reaches the face's plane (the
    infinite cylinder for a side); its position along the plane is Gaussian with standard
    deviation ``sig`` [um] per axis around the projection of that point. Returns the projection
    clamped onto the face (qx, qy, qz) [um] and the probability that the touching point lies
    on the face: within the rectangle (box face), the disc (cap; across the rim only, valid for
    ``sig`` much smaller than the radius) or the axial range (side). ``sig = 0`` gives the
    indicator. Other kinds: the point itself and 1.
    """
    k = kind[p]
    if k == K_BOX:
        a = f // 2
        q0 = x
        q1 = y
        q2 = z
        v = par[p, a] if f % 2 == 0 else par[p, 3 + a]
        w = 1.0
        if a == 0:
            q0 = v
        else:
            w *= _within(x, par[p, 0], par[p, 3], sig)
            q0 = min(max(x, par[p, 0]), par[p, 3])
        if a == 1:
            q1 = v
        else:
            w *= _within(y, par[p, 1], par[p, 4], sig)
            q1 = min(max(y, par[p, 1]), par[p, 4])
        if a == 2:
            q2 = v
        else:
            w *= _within(z, par[p, 2], par[p, 5], sig)
            q2 = min(max(z, par[p, 2]), par[p, 5])
        return q0, q1, q2, w
    if k == K_CYLINDER:
        ax, rx, ry, rz = _cylinder_local(par, p, x, y, z)
        R = par[p, 6]
        L = par[p, 7]
        r = math.sqrt(rx * rx + ry * ry + rz * rz)
        if f == 1 or f == 2:
            h = 0.0 if f == 1 else L
            sc = R / r if r > R else 1.0
            return (par[p, 0] + h * par[p, 3] + sc * rx, par[p, 1] + h * par[p, 4] + sc * ry,
                    par[p, 2] + h * par[p, 5] + sc * rz, _within(r, -INF, R, sig))
        sc = R / r if r > 0.0 else 0.0
        axc = min(max(ax, 0.0), L)
        return (par[p, 0] + axc * par[p, 3] + sc * rx, par[p, 1] + axc * par[p, 4] + sc * ry,
                par[p, 2] + axc * par[p, 5] + sc * rz, _within(ax, 0.0, L, sig))
    return x, y, z, 1.0


@nb.njit(**JIT_HOT)
def face_normal(kind, par, sdf, mesh_meta, p, f, x, y, z):
    """Unit outward normal of face ``f`` of primitive ``p`` at the surface point (x, y, z)."""
    k = kind[p]
    if k == K_HALFSPACE:
        return par[p, 3], par[p, 4], par[p, 5]
    if k == K_BOX:
        a = f // 2
        s = -1.0 if f % 2 == 0 else 1.0
        if a == 0:
            return s, 0.0, 0.0
        if a == 1:
            return 0.0, s, 0.0
        return 0.0, 0.0, s
    if k == K_SPHERE:
        dx = x - par[p, 0]
        dy = y - par[p, 1]
        dz = z - par[p, 2]
        n = math.sqrt(dx * dx + dy * dy + dz * dz)
        if n == 0.0:
            return 0.0, 0.0, 1.0
        return dx / n, dy / n, dz / n
    if k == K_CYLINDER:
        if f == 1:
            return -par[p, 3], -par[p, 4], -par[p, 5]
        if f == 2:
            return par[p, 3], par[p, 4], par[p, 5]
        ax, rx, ry, rz = _cylinder_local(par, p, x, y, z)
        n = math.sqrt(rx * rx + ry * ry + rz * rz)
        if n == 0.0:
            return 1.0, 0.0, 0.0
        return rx / n, ry / n, rz / n
    return mesh_normal(par, sdf, mesh_meta, p, x, y, z)


@nb.njit(inline="always", **JIT)
def _slab(p0, d, lo, hi, face_lo, face_hi, tin, tout, fin, fout):
    """Intersect the running interval with lo <= p0 + t d <= hi along one axis."""
    if d == 0.0:
        if p0 < lo or p0 > hi:
            return INF, -INF, fin, fout
        return tin, tout, fin, fout
    t1 = (lo - p0) / d
    t2 = (hi - p0) / d
    if d > 0.0:
        # enter through lo, leave through hi
        if t1 > tin:
            tin = t1
            fin = face_lo
        if t2 < tout:
            tout = t2
            fout = face_hi
    else:
        if t2 > tin:
            tin = t2
            fin = face_hi
        if t1 < tout:
            tout = t1
            fout = face_lo
    return tin, tout, fin, fout


@nb.njit(**JIT_HOT)
def segment_interval(kind, par, sdf, mesh_meta, p, x0, y0, z0, dx, dy, dz):
    """Interval (t_in, t_out, face_in, face_out) of t in which p0 + t d is inside primitive p."""
    k = kind[p]
    if k == K_HALFSPACE:
        s0 = (x0 - par[p, 0]) * par[p, 3] + (y0 - par[p, 1]) * par[p, 4] + (z0 - par[p, 2]) * par[p, 5]
        sd = dx * par[p, 3] + dy * par[p, 4] + dz * par[p, 5]
        if sd == 0.0:
            if s0 <= 0.0:
                return -INF, INF, 0, 0
            return INF, -INF, 0, 0
        ts = -s0 / sd
        if sd > 0.0:
            return -INF, ts, 0, 0
        return ts, INF, 0, 0
    if k == K_BOX:
        tin = -INF
        tout = INF
        fin = -1
        fout = -1
        tin, tout, fin, fout = _slab(x0, dx, par[p, 0], par[p, 3], 0, 1, tin, tout, fin, fout)
        tin, tout, fin, fout = _slab(y0, dy, par[p, 1], par[p, 4], 2, 3, tin, tout, fin, fout)
        tin, tout, fin, fout = _slab(z0, dz, par[p, 2], par[p, 5], 4, 5, tin, tout, fin, fout)
        if tin > tout:
            return INF, -INF, fin, fout
        return tin, tout, fin, fout
    if k == K_SPHERE:
        ox = x0 - par[p, 0]
        oy = y0 - par[p, 1]
        oz = z0 - par[p, 2]
        a = dx * dx + dy * dy + dz * dz
        b = ox * dx + oy * dy + oz * dz
        c = ox * ox + oy * oy + oz * oz - par[p, 3] * par[p, 3]
        if a == 0.0:
            if c <= 0.0:
                return -INF, INF, 0, 0
            return INF, -INF, 0, 0
        disc = b * b - a * c
        if disc < 0.0:
            return INF, -INF, 0, 0
        sq = math.sqrt(disc)
        # numerically stable roots of a t^2 + 2 b t + c = 0
        q = -(b + sq) if b >= 0.0 else -(b - sq)
        if q == 0.0:
            return 0.0, 0.0, 0, 0
        r1 = q / a
        r2 = c / q
        return min(r1, r2), max(r1, r2), 0, 0
    if k == K_CYLINDER:
        bx = x0 - par[p, 0]
        by = y0 - par[p, 1]
        bz = z0 - par[p, 2]
        axx = par[p, 3]
        axy = par[p, 4]
        axz = par[p, 5]
        a0 = bx * axx + by * axy + bz * axz
        ad = dx * axx + dy * axy + dz * axz
        tin = -INF
        tout = INF
        fin = -1
        fout = -1
        tin, tout, fin, fout = _slab(a0, ad, 0.0, par[p, 7], 1, 2, tin, tout, fin, fout)
        if tin > tout:
            return INF, -INF, fin, fout
        # radial part: |r0 + t rd|^2 <= R^2
        rx = bx - a0 * axx
        ry = by - a0 * axy
        rz = bz - a0 * axz
        ux = dx - ad * axx
        uy = dy - ad * axy
        uz = dz - ad * axz
        a = ux * ux + uy * uy + uz * uz
        b = rx * ux + ry * uy + rz * uz
        c = rx * rx + ry * ry + rz * rz - par[p, 6] * par[p, 6]
        if a == 0.0:
            if c > 0.0:
                return INF, -INF, fin, fout
            return tin, tout, fin, fout
        disc = b * b - a * c
        if disc < 0.0:
            return INF, -INF, fin, fout
        sq = math.sqrt(disc)
        q = -(b + sq) if b >= 0.0 else -(b - sq)
        if q == 0.0:
            r1 = 0.0
            r2 = 0.0
        else:
            r1 = q / a
            r2 = c / q
        rlo = min(r1, r2)
        rhi = max(r1, r2)
        if rlo > tin:
            tin = rlo
            fin = 0
        if rhi < tout:
            tout = rhi
            fout = 0
        if tin > tout:
            return INF, -INF, fin, fout
        return tin, tout, fin, fout
    # mesh: exact crossings with the triangles
    a, b = mesh_segment_interval(par, sdf, mesh_meta, p, x0, y0, z0, dx, dy, dz)
    return a, b, 0, 0


@nb.njit(**JIT_HOT)
def face_plane(kind, par, p, f, hole):
    """The plane of a flat face as the half-space n . x - off >= 0 on the domain side.

    Returns (flat, nx, ny, nz, off): ``flat`` is False for curved faces (sphere, cylinder side,
    mesh). ``hole`` says the primitive is a hole (the domain is outside it). Half-spaces, box
    faces and cylinder caps are flat. Every reflection in a flat face is computed with this plane
    and :func:`fold_into`, whichever code path takes the step, so a step gives the same result
    bit for bit however a run is cut into kernel calls.
    """
    k = kind[p]
    sg = 1.0 if hole else -1.0  # outward normal of the primitive -> normal towards the domain
    if k == K_HALFSPACE:
        nx = sg * par[p, 3]
        ny = sg * par[p, 4]
        nz = sg * par[p, 5]
        return True, nx, ny, nz, nx * par[p, 0] + ny * par[p, 1] + nz * par[p, 2]
    if k == K_BOX:
        a = f // 2
        if f % 2 == 0:  # the low face: outward normal -e_a
            c = par[p, a]
            s = -sg
        else:
            c = par[p, 3 + a]
            s = sg
        if a == 0:
            return True, s, 0.0, 0.0, s * c
        if a == 1:
            return True, 0.0, s, 0.0, s * c
        return True, 0.0, 0.0, s, s * c
    if k == K_CYLINDER and (f == 1 or f == 2):
        s = -sg if f == 1 else sg  # base cap: outward -axis; top cap: +axis
        nx = s * par[p, 3]
        ny = s * par[p, 4]
        nz = s * par[p, 5]
        off = nx * par[p, 0] + ny * par[p, 1] + nz * par[p, 2]
        if f == 2:
            off += s * par[p, 7]
        return True, nx, ny, nz, off
    return False, 0.0, 0.0, 1.0, 0.0


@nb.njit(inline="always", **JIT)
def fold_into(x, y, z, nx, ny, nz, off):
    """Mirror (x, y, z) into the half-space n . x - off >= 0 if it lies beyond the plane: the
    specular reflection of a straight step in a flat face, as one fold of its end point."""
    s1 = nx * x + ny * y + nz * z - off
    f = 2.0 * min(s1, 0.0)
    return x - f * nx, y - f * ny, z - f * nz
