"""Geometry kernels: signed distances, segment intervals and normals of compiled primitives.

A domain is (union of solid primitives) minus (union of hole primitives). Each primitive is a
row of ``par`` with a ``kind`` code; meshes are voxelised signed-distance lattices stored in one
flat float32 array (``sdf``) described by ``mesh_meta`` rows
(origin x, y, z, spacing, nx, ny, nz, offset). Signed distances are negative inside.

``segment_interval`` returns the parameter interval [t_in, t_out] in which the segment
p0 + t d lies inside a primitive (an empty interval is (inf, -inf)) together with the face
numbers at its ends. For a mesh the interval assumes at most one crossing per step (the time
step check guarantees steps far smaller than the features); the crossing is found by bisection
on the trilinear signed distance, so the surface a particle sees is the zero level set of the
trilinear interpolant of the lattice.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..config import JIT, JIT_HOT, JIT_NOALLOC

K_HALFSPACE = 0
K_BOX = 1
K_SPHERE = 2
K_CYLINDER = 3
K_MESH = 4

N_PAR = 12
INF = np.inf
SQRT3 = math.sqrt(3.0)
BISECT_ITERS = 60


@nb.njit(inline="always", **JIT)
def _mesh_index(mesh_meta, m, x, y, z):
    ox = mesh_meta[m, 0]
    oy = mesh_meta[m, 1]
    oz = mesh_meta[m, 2]
    h = mesh_meta[m, 3]
    return (x - ox) / h, (y - oy) / h, (z - oz) / h


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
    dd = 0.0
    if not (fx >= 0.0 and fy >= 0.0 and fz >= 0.0 and fx <= nx - 1 and fy <= ny - 1 and fz <= nz - 1):
        # outside the lattice (whose border lies outside the shape): distance to the lattice's
        # box plus the border value, a continuous positive extension
        cx = min(max(fx, 0.0), nx - 1.0)
        cy = min(max(fy, 0.0), ny - 1.0)
        cz = min(max(fz, 0.0), nz - 1.0)
        dd = h * math.sqrt((fx - cx) ** 2 + (fy - cy) ** 2 + (fz - cz) ** 2)
        fx = cx
        fy = cy
        fz = cz
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


@nb.njit(**JIT_HOT)
def mesh_safe_distance(sdf, mesh_meta, m, x, y, z):
    """The trilinear distance of mesh ``m`` at (x, y, z), shrunk so that its magnitude is a lower
    bound on the distance to the zero level set the particles see [um].

    Two rigorous bounds, the larger is used: |phi| / sqrt(3) (a trilinear interpolant of
    1-Lipschitz samples has slope <= sqrt(3)), and min(|phi| / G, h), where G is the largest
    exact gradient bound of the interpolant over the 3x3x3 cells around the point (stored after
    the distances, see :class:`microsyn.geometry.Mesh`); every point within h lies in those cells.
    """
    phi = mesh_sdf(sdf, mesh_meta, m, x, y, z)
    h = mesh_meta[m, 3]
    nx = np.int64(mesh_meta[m, 4])
    ny = np.int64(mesh_meta[m, 5])
    nz = np.int64(mesh_meta[m, 6])
    i = np.int64(math.floor((x - mesh_meta[m, 0]) / h))
    j = np.int64(math.floor((y - mesh_meta[m, 1]) / h))
    k = np.int64(math.floor((z - mesh_meta[m, 2]) / h))
    a = abs(phi) / SQRT3
    if 0 <= i < nx and 0 <= j < ny and 0 <= k < nz:
        g = sdf[np.int64(mesh_meta[m, 7]) + nx * ny * nz + (i * ny + j) * nz + k]
        b = min(abs(phi) / g, h)
        if b > a:
            a = b
    return a if phi >= 0.0 else -a


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

    Exact for half-spaces, boxes, spheres and capped cylinders; for meshes the trilinear
    lattice value (within a voxel's interpolation error of the true distance).
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
    return mesh_sdf(sdf, mesh_meta, np.int64(par[p, 0]), x, y, z)


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
    return mesh_gradient(sdf, mesh_meta, np.int64(par[p, 0]), x, y, z)


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
    # mesh: at most one crossing per step; bisection on the trilinear signed distance,
    # keeping the bracket end that lies inside
    m = np.int64(par[p, 0])
    phi0 = mesh_sdf(sdf, mesh_meta, m, x0, y0, z0)
    phi1 = mesh_sdf(sdf, mesh_meta, m, x0 + dx, y0 + dy, z0 + dz)
    in0 = phi0 <= 0.0
    in1 = phi1 <= 0.0
    if in0 and in1:
        return -INF, INF, 0, 0
    if not in0 and not in1:
        return INF, -INF, 0, 0
    # Illinois regula falsi on the bracket [inside end ti, outside end to]: the trilinear
    # distance is nearly linear along a step, so a few iterations reach 1e-12 um
    if in0:
        ti, fi, to, fo = 0.0, phi0, 1.0, phi1
    else:
        ti, fi, to, fo = 1.0, phi1, 0.0, phi0
    seg = math.sqrt(dx * dx + dy * dy + dz * dz)
    side = 0
    fi_true = fi
    for _ in range(BISECT_ITERS):
        if fi_true > -1e-12 or abs(to - ti) * seg < 1e-12:
            break
        t = ti - fi * (to - ti) / (fo - fi)
        if not (min(ti, to) < t < max(ti, to)):
            t = 0.5 * (ti + to)
        ft = mesh_sdf(sdf, mesh_meta, m, x0 + t * dx, y0 + t * dy, z0 + t * dz)
        if ft <= 0.0:
            ti, fi = t, ft
            fi_true = ft
            if side == -1:
                fo *= 0.5
            side = -1
        else:
            to, fo = t, ft
            if side == 1:
                fi *= 0.5
            side = 1
    if in0:
        return -INF, ti, 0, 0
    return ti, INF, 0, 0
