"""Boundary kernels: where a step leaves the domain, and what happens there.

The domain of species ``s`` is (union of solids) minus (union of the holes active for ``s``).
A step p0 -> p0 + d that leaves it is resolved exactly at the first exit point:

- reflect: the rest of the step is mirrored in the tangent plane (specular reflection) and the
  search repeats, so several reflections within one step are resolved (up to ``MAX_REFLECTIONS``);
- absorb: the particle is removed at the surface (state = +(surface + 1));
- partially absorb (a reactive surface with rate constant kappa [um/ms]): at each hit the
  particle is absorbed with probability P, else reflected; ``bc`` then holds
  ``BC_PARTIAL + P`` (the Simulation sets P = kappa sqrt(pi dt / D), which makes the
  macroscopic adsorption match the Robin condition D dc/dn = kappa c: Erban & Chapman 2007,
  Phys. Biol. 4:16, doi:10.1088/1478-3975/4/1/003). Every hit draws its own uniform from the
  stream ``STREAM_PARTIAL``, keyed by the hit's number within the step;
- transmit: the surface is no barrier; a particle that crosses a domain boundary this way leaves
  the simulated volume (state = -(surface + 1)).

A *membrane* primitive is an internal surface of zero thickness: the domain continues on both
sides, and a particle stays on the side it starts on (its side is the sign of the membrane's
signed distance at the start of a step, tracked through the step's reflections). Each face of a
membrane has two surfaces, its inner side (faces ``face_base[p]`` ..) and its outer side
(``face_base[p] + nf`` ..), each with its own condition per species; ``transmit`` there means
the membrane lets the particle through (it changes side). A step whose end the arithmetic puts
on the wrong side is rejected, so nothing crosses a reflecting membrane.

A face may carry patches (:mod:`microsyn._kernels.patches`) with conditions of their own; its
code is then negative, which every fast path treats as "not plain", and the exact resolvers
look up the patch at the hit point (the particle's state then names the patch's surface).

A step that ends inside without crossing an absorbing surface may still have touched it in
continuous time. The Brownian-bridge probability of that, for a locally flat surface at distances
d0 and d1 from the two end points, is exp(-d0 d1 / (D dt)) (Andrews & Bray 2004,
doi:10.1088/1478-3967/1/3/001); the particle is absorbed with that probability, which makes
absorption independent of dt. It applies only where the bridge would touch the face itself, not
the face's infinite plane (see :func:`bridge_absorption` for the faces of boxes and cylinders,
their edges and corners).

A step that cannot be resolved (a numerically degenerate corner, or more than
``MAX_REFLECTIONS`` reflections) is rejected: the particle stays where the step began, which is
inside by construction, and a counter records it. Nothing can leak.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..config import JIT, JIT_HOT, JIT_PARALLEL
from .geometry import (
    INF,
    K_BOX,
    K_CYLINDER,
    K_HALFSPACE,
    K_MESH,
    K_SPHERE,
    face_distance,
    face_normal,
    face_plane,
    face_point,
    fold_into,
    mesh_inside,
    mesh_safe_distance,
    prim_sdf,
    segment_interval,
)
from .patches import disc_rim_weight, hit_code, patch_clearance
from .random import GOLDEN, STREAM_BRIDGE, STREAM_PARTIAL, counter_hash, mix64, u01

BC_REFLECT = 0
BC_ABSORB = 1
BC_TRANSMIT = 2
BC_PARTIAL = 3  # bc = BC_PARTIAL + P, P the absorption probability per hit

ROLE_SOLID = 0
ROLE_HOLE = 1
ROLE_MEMBRANE = 2  # an internal surface: the domain is on both sides of it
#: at most this many membranes (their sides are bits of one integer)
MAX_MEMBRANES = 62

MAX_REFLECTIONS = 32
EPS_T = 1e-12
#: distance [um] within which a point counts as on the surface in inside tests
INSIDE_TOL = 1e-9
#: negligible bridge probability: exp(-40)
BRIDGE_NEGLIGIBLE = 4.248354255291589e-18


@nb.njit(**JIT_HOT)
def inside_domain(s, x, y, z, kind, role, active, par, sdf, mesh_meta, tol):
    """True where (x, y, z) is in the domain of species ``s`` (within ``tol`` [um] of analytic
    shapes; exactly on the inner side of a mesh's triangles)."""
    n = kind.shape[0]
    in_solid = False
    for p in range(n):
        if role[p] != ROLE_SOLID:
            continue
        if kind[p] == K_MESH:  # the exact side of the triangles (undecidable: not inside)
            ins = mesh_inside(par, sdf, mesh_meta, p, x, y, z) == 1
        else:
            ins = prim_sdf(kind, par, sdf, mesh_meta, p, x, y, z) <= tol
        if ins:
            in_solid = True
            break
    if not in_solid:
        return False
    for p in range(n):
        if role[p] == ROLE_HOLE and active[s, p] != 0:
            if kind[p] == K_MESH:  # the exact side (undecidable: in the hole)
                if mesh_inside(par, sdf, mesh_meta, p, x, y, z) != 0:
                    return False
            elif prim_sdf(kind, par, sdf, mesh_meta, p, x, y, z) < -tol:
                return False
    return True


@nb.njit(**JIT_HOT)
def safe_radius(s, x, y, z, kind, role, active, par, sdf, mesh_meta):
    """A lower bound [um] on the distance from (x, y, z) to the boundary of the domain of ``s``.

    max over solids of (-sdf) bounds the distance to the union's boundary from inside; min over
    holes of sdf bounds the distance to the holes. For a mesh, see :func:`mesh_safe_distance`.
    """
    n = kind.shape[0]
    best_solid = -INF
    nearest_hole = INF
    for p in range(n):
        if kind[p] == K_MESH:
            d = mesh_safe_distance(sdf, mesh_meta, np.int64(par[p, 0]), x, y, z)
        else:
            d = prim_sdf(kind, par, sdf, mesh_meta, p, x, y, z)
        if role[p] == ROLE_SOLID:
            if -d > best_solid:
                best_solid = -d
        elif active[s, p] != 0:
            if role[p] == ROLE_MEMBRANE:
                d = abs(d)
            if d < nearest_hole:
                nearest_hole = d
    return min(best_solid, nearest_hole)


@nb.njit(**JIT)
def face_margins(margin, bc):
    """(species, surface) Brownian-bridge margins [um]: ``margin[s]`` at the faces that absorb
    species s or carry patches, 0 elsewhere (a reflecting or transmitting face needs none)."""
    out = np.zeros(bc.shape)
    for s in range(bc.shape[0]):
        for f in range(bc.shape[1]):
            if bc[s, f] == BC_ABSORB or bc[s, f] < 0.0:
                out[s, f] = margin[s]
    return out


@nb.njit(inline="always", **JIT)
def _plain_code(c):
    """A face's own boundary code (decoded where the face carries patches)."""
    return c if c >= 0.0 else -1.0 - c


@nb.njit(**JIT_HOT)
def checkpoint_ball(s, x, y, z, kind, role, active, par, sdf, mesh_meta, face_base, bc, patches, fmargin,
                    reach):
    """The free region of a particle of species ``s`` at (x, y, z), for the stepping kernels.

    Returns (r, r_ball, nx, ny, nz, off, cx, cy, cz, rc2). ``r`` [um] is a lower bound on the
    distance to the domain's boundary, less the Brownian-bridge margin (``fmargin``) of the
    absorbing faces: a ball of radius r around the point holds no surface. The free region is
    the ball of radius ``r_ball`` >= r around the point, cut by up to two surfaces that a step
    can be checked against exactly and cheaply:

    - a *fold plane* (n, off): the nearest surface is a flat reflecting half-space (a hole, a
      membrane on the point's side, or the domain's only solid). Within the ball it is
      the only flat surface, so a step that stays in the ball is reflected exactly by one fold of
      its end point (the mirror image of a point beyond the plane is closer to the ball's centre,
      which is on the domain side, so the reflected path stays in the ball);
    - a *container sphere* (centre c, squared radius rc2): the domain's only solid is a sphere;
      rc2 is its radius less the bridge margin, squared. A step whose ends (before and after the
      fold) lie in that smaller sphere stays in it (a sphere is convex), so it neither crosses
      the surface nor comes within the margin of it.

    A surface is used this way only when it is within ``reach`` [um] (a few rms steps; farther
    away the plain ball lasts long enough) and it makes the ball larger. A reflecting plane with
    patches is a fold plane too, with the ball kept clear of the patches (and their margin). Without a fold plane
    n = 0 and off = -1; without a sphere rc2 = inf (both tests then always pass).
    """
    n = kind.shape[0]
    nsol = 0
    for p in range(n):
        if role[p] == ROLE_SOLID:
            nsol += 1
    r1 = INF  # smallest bound (leaving out a container sphere)
    r2 = INF  # second smallest
    f1p = -1  # the flat reflecting face giving r1, if it is one
    f1f = -1
    f1out = False  # the domain is on the outer side of that face's primitive
    f1col = -1  # that face's surface (its column of bc)
    best_solid = -INF
    solid_m = 0.0
    ts = INF  # bound from the container sphere, if the only solid is a sphere
    sp = -1
    spm = 0.0
    for p in range(n):
        k = kind[p]
        nf = face_base[p + 1] - face_base[p]
        pm = 0.0
        for f in range(nf):
            pm = max(pm, fmargin[s, face_base[p] + f])
        if role[p] == ROLE_SOLID:
            if nsol == 1 and k == K_HALFSPACE:
                for f in range(nf):  # the only solid, a half-space: its plane may be a fold plane
                    surf = face_base[p] + f
                    d = -prim_sdf(kind, par, sdf, mesh_meta, p, x, y, z)
                    t = d - fmargin[s, surf]
                    if t < r1:
                        r2 = r1
                        r1 = t
                        f1p = p if _plain_code(bc[s, surf]) == BC_REFLECT else -1
                        f1f = f
                        f1out = False
                        f1col = surf
                    elif t < r2:
                        r2 = t
                continue
            if nsol == 1 and k == K_SPHERE:
                ts = -prim_sdf(kind, par, sdf, mesh_meta, p, x, y, z) - pm
                sp = p
                spm = pm
                continue
            if k == K_MESH:
                d = mesh_safe_distance(sdf, mesh_meta, np.int64(par[p, 0]), x, y, z)
            else:
                d = prim_sdf(kind, par, sdf, mesh_meta, p, x, y, z)
            if -d > best_solid:
                best_solid = -d
            solid_m = max(solid_m, pm)
        elif active[s, p] != 0:
            if k == K_MESH:
                d = mesh_safe_distance(sdf, mesh_meta, np.int64(par[p, 0]), x, y, z)
            else:
                d = prim_sdf(kind, par, sdf, mesh_meta, p, x, y, z)
            membrane = role[p] == ROLE_MEMBRANE
            outside = True  # a hole's domain is outside it
            col = face_base[p]
            if membrane:  # the side the point is on, and that side's surface
                outside = d > 0.0
                if outside:
                    col += (face_base[p + 1] - face_base[p]) // 2
                d = abs(d)
            t = d - pm
            if t < r1:
                r2 = r1
                r1 = t
                f1p = p if (k == K_HALFSPACE and _plain_code(bc[s, col]) == BC_REFLECT) else -1
                f1f = 0
                f1out = outside
                f1col = col
            elif t < r2:
                r2 = t
    if best_solid > -INF:
        t = best_solid - solid_m
        if t < r1:
            r2 = r1
            r1 = t
            f1p = -1
        elif t < r2:
            r2 = t
    if f1p >= 0 and bc[s, f1col] < 0.0:  # a patched plane: keep the fold ball off its patches
        r2 = min(r2, patch_clearance(f1col, x, y, z, patches) - fmargin[s, f1col])
    r = min(r1, ts)
    # the options: plain ball, fold, sphere, fold and sphere; the largest ball wins
    use_fold = f1p >= 0 and r1 < reach and r2 > r1
    use_sph = sp >= 0 and ts > 0.0 and ts < reach
    best = r
    fold = False
    sph = False
    if use_fold and min(r2, ts) > best:
        best = min(r2, ts)
        fold = True
    if use_sph and r1 > best:
        best = r1
        fold = False
        sph = True
    if use_fold and use_sph and r2 > best:
        best = r2
        fold = True
        sph = True
    nx = 0.0
    ny = 0.0
    nz = 0.0
    off = -1.0
    cx = 0.0
    cy = 0.0
    cz = 0.0
    rc2 = INF
    if fold:
        flat, nx, ny, nz, off = face_plane(kind, par, f1p, f1f, f1out)
    if sph:
        rc = par[sp, 3] - spm  # radius less the bridge margin
        cx = par[sp, 0]
        cy = par[sp, 1]
        cz = par[sp, 2]
        rc2 = rc * rc
    return r, best, nx, ny, nz, off, cx, cy, cz, rc2


@nb.njit(**JIT_HOT)
def first_exit(s, x0, y0, z0, dx, dy, dz, kind, role, active, par, sdf, mesh_meta, tin, tout, fin, fout,
               sides):
    """First parameter t in (0, 1] at which p0 + t d leaves the domain of ``s`` or meets a
    membrane.

    Returns (t, primitive, face); t = inf when the whole segment stays inside and primitive = -2
    when p0 itself is not resolvably inside (the caller rejects the step). ``tin`` .. ``fout``
    are scratch arrays with one slot per primitive. Bit p of ``sides`` is set when p0 is on the
    inner side of membrane p (see :func:`membrane_sides`); the face returned for a membrane is
    its geometric face.
    """
    n = kind.shape[0]
    for p in range(n):
        a, b, c, d = segment_interval(kind, par, sdf, mesh_meta, p, x0, y0, z0, dx, dy, dz)
        tin[p] = a
        tout[p] = b
        fin[p] = c
        fout[p] = d
    # a solid that holds p0 (a point on its surface counts, even when stepping outwards: it
    # then exits at t = 0 and reflects there) ...
    cur = -INF
    who = -1
    for p in range(n):
        if role[p] == ROLE_SOLID and tin[p] <= EPS_T and tout[p] >= -EPS_T and tout[p] > cur:
            cur = tout[p]
            who = p
    cur = max(cur, 0.0)
    # ... then follow the chain of overlapping solid intervals
    changed = who != -1
    it = 0
    while changed and it <= n:
        changed = False
        it += 1
        for p in range(n):
            if role[p] == ROLE_SOLID and tin[p] <= cur + EPS_T and tout[p] > cur:
                cur = tout[p]
                who = p
                changed = True
    if who == -1:
        return INF, -2, -1
    t_exit = INF
    p_exit = -1
    f_exit = -1
    if cur <= 1.0:
        t_exit = cur
        p_exit = who
        f_exit = fout[who]
    for p in range(n):
        if role[p] != ROLE_HOLE or active[s, p] == 0:
            continue
        if tin[p] < -EPS_T and tout[p] > EPS_T:
            return INF, -2, -1  # p0 inside a hole
        if tin[p] >= -EPS_T and tin[p] <= 1.0 and tout[p] > tin[p] + EPS_T and tin[p] < t_exit:
            t_exit = max(tin[p], 0.0)
            p_exit = p
            f_exit = fin[p]
    if sides < 0:
        return t_exit, p_exit, f_exit
    for p in range(n):
        if role[p] != ROLE_MEMBRANE or active[s, p] == 0:
            continue
        if (sides >> p) & 1:  # inside the membrane's shape: meets it where the segment leaves
            if not (tin[p] <= EPS_T and tout[p] >= -EPS_T):
                return INF, -2, -1
            if tout[p] <= 1.0 and tout[p] < t_exit:
                t_exit = max(tout[p], 0.0)
                p_exit = p
                f_exit = fout[p]
        else:  # outside it: meets it where the segment enters
            if tin[p] < -EPS_T and tout[p] > EPS_T:
                return INF, -2, -1
            if tin[p] >= -EPS_T and tin[p] <= 1.0 and tout[p] > tin[p] + EPS_T and tin[p] < t_exit:
                t_exit = max(tin[p], 0.0)
                p_exit = p
                f_exit = fin[p]
    return t_exit, p_exit, f_exit


@nb.njit(**JIT_HOT)
def _membrane_inside(kind, par, sdf, mesh_meta, p, x, y, z):
    """True where (x, y, z) is on the inner side of membrane p (on it counts as inside)."""
    if kind[p] == K_MESH:
        return mesh_inside(par, sdf, mesh_meta, p, x, y, z) != 0
    return prim_sdf(kind, par, sdf, mesh_meta, p, x, y, z) <= 0.0


@nb.njit(**JIT_HOT)
def membrane_sides(s, x, y, z, kind, role, active, par, sdf, mesh_meta):
    """Bit p set where (x, y, z) is on the inner side of active membrane p; -1 when the domain
    of ``s`` has no active membrane."""
    out = np.int64(-1)
    for p in range(kind.shape[0]):
        if role[p] == ROLE_MEMBRANE and active[s, p] != 0:
            if out < 0:
                out = np.int64(0)
            if _membrane_inside(kind, par, sdf, mesh_meta, p, x, y, z):
                out |= np.int64(1) << np.int64(p)
    return out


@nb.njit(**JIT_HOT)
def _sides_agree(s, x, y, z, sides, kind, role, active, par, sdf, mesh_meta):
    """True where (x, y, z) is on the side of every active membrane that ``sides`` says."""
    if sides < 0:
        return True
    for p in range(kind.shape[0]):
        if role[p] == ROLE_MEMBRANE and active[s, p] != 0:
            if _membrane_inside(kind, par, sdf, mesh_meta, p, x, y, z) != (((sides >> p) & 1) == 1):
                return False
    return True


@nb.njit(**JIT_HOT)
def _on_boundary(s, p_own, x, y, z, nx, ny, nz, kind, role, active, par, sdf, mesh_meta):
    """True where a point on the surface of primitive ``p_own`` (outward normal n there) is on
    the domain boundary.

    The other primitives are tested a few tolerances off the surface, on the side where they
    would matter: beyond a solid's face (another solid there makes the face internal, also when
    the two faces coincide), on the domain side of it (a hole there cuts it away), and on the
    domain side of a hole's face (another hole there covers it; a solid must hold it).
    """
    n = kind.shape[0]
    e = 4.0 * INSIDE_TOL
    ox = x + e * nx  # beyond p_own's surface (outside p_own)
    oy = y + e * ny
    oz = z + e * nz
    ix = x - e * nx  # inside p_own
    iy = y - e * ny
    iz = z - e * nz
    own_solid = role[p_own] == ROLE_SOLID
    for p in range(n):
        if p == p_own:
            continue
        if role[p] == ROLE_SOLID:
            if own_solid and prim_sdf(kind, par, sdf, mesh_meta, p, ox, oy, oz) < -INSIDE_TOL:
                return False  # covered by another solid: interior of the union
        elif role[p] == ROLE_HOLE and active[s, p] != 0:
            if own_solid:
                d = prim_sdf(kind, par, sdf, mesh_meta, p, ix, iy, iz)
            else:
                d = prim_sdf(kind, par, sdf, mesh_meta, p, ox, oy, oz)
            if d < -INSIDE_TOL:
                return False  # inside another hole
    if not own_solid:
        for p in range(n):
            if role[p] == ROLE_SOLID and prim_sdf(kind, par, sdf, mesh_meta, p, ox, oy, oz) <= INSIDE_TOL:
                return True
        return False
    return True


@nb.njit(**JIT_HOT)
def _bridge_touch(kind, par, sdf, mesh_meta, p, f, x0, y0, z0, x1, y1, z1, Ddt, margin, outside):
    """(probability, d0, d1) that the bridge of a step p0 -> p1 touches face ``f`` of primitive
    ``p``, from the end points' distances d0, d1 to it on the domain side (``outside``: the
    domain is outside the primitive); 0 where an end is beyond the face or the margin."""
    d0 = face_distance(kind, par, sdf, mesh_meta, p, f, x0, y0, z0)
    d1 = face_distance(kind, par, sdf, mesh_meta, p, f, x1, y1, z1)
    if outside:
        d0 = -d0
        d1 = -d1
    if d0 < 0.0 or d1 < 0.0 or d0 > margin or d1 > margin:
        return 0.0, d0, d1
    return math.exp(-d0 * d1 / Ddt), d0, d1


@nb.njit(**JIT_HOT)
def bridge_absorption(s, x0, y0, z0, x1, y1, z1, Ddt, u, kind, role, active, par, face_base, sdf,
                      mesh_meta, bc, patches, margin, sides):
    """Surface id + 1 at which a step that stayed inside is absorbed by the Brownian bridge,
    or 0. ``u`` is a uniform in [0, 1); one uniform serves all faces by conditioning.

    The bridge of a step p0 -> p1 touches a flat surface at distances d0, d1 with probability
    exp(-d0 d1 / (D dt)); where it first does so is, to leading order, near the point
    c = p0 + t (p1 - p0), t = d0 / (d0 + d1) (where the straight line from p0 to the mirror
    image of p1 crosses the plane), spread along the plane with the bridge's own standard
    deviation sqrt(2 D dt t (1 - t)) per axis. For a face of finite extent (box faces, cylinder
    caps and sides) the probability is applied only to the part that touches the face itself:

    - a solid box or cylinder seen from inside: distances to the face's plane (the infinite
      cylinder for the side), and c's projection must lie on the face (rectangle, disc, axial
      range). Next to a box corner the faces then act independently, which is exact for
      perpendicular planes (independent coordinates); in a union, a face's plane continued
      into a neighbouring solid no longer absorbs;
    - a hole box or cylinder seen from outside: distances to the face's plane, times the
      probability that the Gaussian touching point lies on the face (:func:`face_point`).
      Far from edges this is the flat-surface result; within a few rms steps of an edge or rim
      it is an approximation (the faces act independently, and the touching point is taken at
      the most likely time), which is continuous across the edge and also holds for a face
      flush with a reflecting plane (an absorbing disc in a membrane);
    - spheres, half-spaces and meshes: one face, with the distances to the shape.

    In every case the touching point must also be on the domain boundary (not inside another
    hole, and for holes inside a solid; for solids not covered by another solid). On a face with
    patches the touching point's patch decides (an absorbing disc in a reflecting plane). A
    membrane absorbs on the side the particle is on (``sides``, see :func:`membrane_sides`),
    treated like a solid's face from inside and a hole's from outside.
    """
    n = kind.shape[0]
    for p in range(n):
        if role[p] != ROLE_SOLID and active[s, p] == 0:
            continue
        if role[p] == ROLE_MEMBRANE:
            st, u = _membrane_bridge(s, p, x0, y0, z0, x1, y1, z1, Ddt, u, kind, role, active, par,
                                     face_base, sdf, mesh_meta, bc, margin, sides)
            if st != 0:
                return st
            continue
        k = kind[p]
        finite = k == K_BOX or k == K_CYLINDER
        nf = face_base[p + 1] - face_base[p]
        for f in range(nf):
            surf = face_base[p] + f
            patched = bc[s, surf] < 0.0
            if bc[s, surf] != BC_ABSORB and not patched:
                continue
            prob, d0, d1 = _bridge_touch(kind, par, sdf, mesh_meta, p, f, x0, y0, z0, x1, y1, z1, Ddt, margin,
                                         role[p] == ROLE_HOLE)
            if prob < BRIDGE_NEGLIGIBLE:
                continue
            if finite:
                t = d0 / (d0 + d1) if d0 + d1 > 0.0 else 0.5
                sig = 0.0
                if role[p] == ROLE_HOLE:
                    sig = math.sqrt(2.0 * Ddt * t * (1.0 - t))
                qx, qy, qz, w = face_point(kind, par, p, f, x0 + t * (x1 - x0),
                                           y0 + t * (y1 - y0), z0 + t * (z1 - z0), sig)
                prob *= w
                if prob < BRIDGE_NEGLIGIBLE:
                    continue
                nx, ny, nz = face_normal(kind, par, sdf, mesh_meta, p, f, qx, qy, qz)
            elif patched and (k == K_HALFSPACE or k == K_SPHERE):
                # the bridge's likeliest touching point: where the line from p0 to the mirror
                # image of p1 meets the surface, projected onto it
                t = d0 / (d0 + d1) if d0 + d1 > 0.0 else 0.5
                cx = x0 + t * (x1 - x0)
                cy = y0 + t * (y1 - y0)
                cz = z0 + t * (z1 - z0)
                dc = face_distance(kind, par, sdf, mesh_meta, p, f, cx, cy, cz)
                nx, ny, nz = face_normal(kind, par, sdf, mesh_meta, p, f, cx, cy, cz)
                sg = 1.0 if role[p] == ROLE_SOLID else -1.0
                qx = cx + sg * dc * nx
                qy = cy + sg * dc * ny
                qz = cz + sg * dc * nz
                if k == K_HALFSPACE:  # a disc patch: the Gaussian touching point across its rim
                    pj, w = disc_rim_weight(surf, qx, qy, qz, math.sqrt(2.0 * Ddt * t * (1.0 - t)), patches)
                    if pj >= 0:
                        pa = prob * w if bc[s, pj] == BC_ABSORB else 0.0
                        pb = prob * (1.0 - w) if -1.0 - bc[s, surf] == BC_ABSORB else 0.0
                        if pa + pb < BRIDGE_NEGLIGIBLE:
                            continue
                        if u < pa:
                            return pj + 1
                        if u < pa + pb:
                            return surf + 1
                        u = (u - pa - pb) / (1.0 - pa - pb)
                        continue
            else:
                # one-face shapes: the nearest surface point of the end point
                nx, ny, nz = face_normal(kind, par, sdf, mesh_meta, p, f, x1, y1, z1)
                sg = 1.0 if role[p] == ROLE_SOLID else -1.0
                qx = x1 + sg * d1 * nx
                qy = y1 + sg * d1 * ny
                qz = z1 + sg * d1 * nz
            own = surf
            if patched:
                if k == K_MESH:  # the likeliest touching point, and its distance to the mesh
                    t = d0 / (d0 + d1) if d0 + d1 > 0.0 else 0.5
                    cx = x0 + t * (x1 - x0)
                    cy = y0 + t * (y1 - y0)
                    cz = z0 + t * (z1 - z0)
                    dc = abs(face_distance(kind, par, sdf, mesh_meta, p, f, cx, cy, cz))
                    code, own = hit_code(s, surf, cx, cy, cz, dc, bc, patches)
                else:
                    code, own = hit_code(s, surf, qx, qy, qz, 0.0, bc, patches)
                if code != BC_ABSORB:
                    continue
            if not _on_boundary(s, p, qx, qy, qz, nx, ny, nz, kind, role, active, par, sdf,
                                mesh_meta):
                continue
            if u < prob:
                return own + 1
            u = (u - prob) / (1.0 - prob)
    return 0


@nb.njit(**JIT_HOT)
def _membrane_bridge(s, p, x0, y0, z0, x1, y1, z1, Ddt, u, kind, role, active, par, face_base, sdf,
                     mesh_meta, bc, margin, sides):
    """:func:`bridge_absorption` for membrane ``p`` on the particle's side: (surface + 1 or 0,
    the uniform left for the other faces)."""
    inner = ((sides >> p) & 1) == 1
    nfg = (face_base[p + 1] - face_base[p]) // 2
    k = kind[p]
    finite = k == K_BOX or k == K_CYLINDER
    for f in range(nfg):
        surf = face_base[p] + f + (0 if inner else nfg)
        if bc[s, surf] != BC_ABSORB:
            continue
        prob, d0, d1 = _bridge_touch(kind, par, sdf, mesh_meta, p, f, x0, y0, z0, x1, y1, z1, Ddt, margin,
                                     not inner)
        if prob < BRIDGE_NEGLIGIBLE:
            continue
        if finite:
            t = d0 / (d0 + d1) if d0 + d1 > 0.0 else 0.5
            sig = 0.0 if inner else math.sqrt(2.0 * Ddt * t * (1.0 - t))
            qx, qy, qz, w = face_point(kind, par, p, f, x0 + t * (x1 - x0), y0 + t * (y1 - y0),
                                       z0 + t * (z1 - z0), sig)
            prob *= w
            if prob < BRIDGE_NEGLIGIBLE:
                continue
        else:
            nx, ny, nz = face_normal(kind, par, sdf, mesh_meta, p, f, x1, y1, z1)
            sg = 1.0 if inner else -1.0
            qx = x1 + sg * d1 * nx
            qy = y1 + sg * d1 * ny
            qz = z1 + sg * d1 * nz
        if not inside_domain(s, qx, qy, qz, kind, role, active, par, sdf, mesh_meta, 4.0 * INSIDE_TOL):
            continue
        if u < prob:
            return surf + 1, u
        u = (u - prob) / (1.0 - prob)
    return 0, u


@nb.njit(**JIT_HOT)
def _reflect(kind, par, sdf, mesh_meta, p, f, t, cx, cy, cz, dx, dy, dz, ex, ey, ez, outside):
    """Specular reflection at the point c = p0 + t d of face ``f`` of primitive ``p``; ``outside``
    says the particle is outside the primitive (a hole, or the outer side of a membrane).

    Returns the new piece (p0, d) starting a hair on the domain side of c, and its end e. In a
    flat face the reflected end is the fold of the piece's end e (the arithmetic of the stepping
    kernels' fast path); in a curved one the rest of the step is mirrored in the tangent plane.
    """
    scale = 1.0 + max(abs(cx), max(abs(cy), abs(cz)))
    nudge = 8.0 * 2.220446049250313e-16 * scale
    flat, nx, ny, nz, off = face_plane(kind, par, p, f, outside)
    if flat:
        ex, ey, ez = fold_into(ex, ey, ez, nx, ny, nz, off)
        x0 = cx + nudge * nx
        y0 = cy + nudge * ny
        z0 = cz + nudge * nz
        return x0, y0, z0, ex - x0, ey - y0, ez - z0, ex, ey, ez
    nx, ny, nz = face_normal(kind, par, sdf, mesh_meta, p, f, cx, cy, cz)
    rem = 1.0 - t
    rx = rem * dx
    ry = rem * dy
    rz = rem * dz
    dot = rx * nx + ry * ny + rz * nz
    rx -= 2.0 * dot * nx
    ry -= 2.0 * dot * ny
    rz -= 2.0 * dot * nz
    inward = 1.0 if outside else -1.0
    x0 = cx + inward * nudge * nx
    y0 = cy + inward * nudge * ny
    z0 = cz + inward * nudge * nz
    return x0, y0, z0, rx, ry, rz, x0 + rx, y0 + ry, z0 + rz


@nb.njit(**JIT_HOT)
def single_surface(s, x, y, z, reach, kind, role, active, par, sdf, mesh_meta, face_base, bc):
    """The one primitive whose surface may lie within ``reach`` [um] of (x, y, z), for species s.

    Returns p >= 0 when primitive p is the only one within reach and :func:`resolve_single` can
    take a step there exactly (a half-space, box, sphere or cylinder whose faces all reflect s
    (or partially absorb it),
    or a half-space or sphere that absorbs s on its one face; a solid must hold the point, and
    be the only solid that does); -1 when no surface is within reach; -2 otherwise (several
    surfaces, a mesh, mixed or transmitting faces: the general :func:`resolve_step`).
    """
    n = kind.shape[0]
    cand = -1
    n_hold = 0
    for p in range(n):
        if role[p] != ROLE_SOLID and active[s, p] == 0:
            continue
        k = kind[p]
        if k == K_MESH:
            d = mesh_safe_distance(sdf, mesh_meta, np.int64(par[p, 0]), x, y, z)
        else:
            d = prim_sdf(kind, par, sdf, mesh_meta, p, x, y, z)
        if role[p] == ROLE_SOLID and d <= 0.0:
            n_hold += 1
        if abs(d) >= reach:
            continue
        if role[p] == ROLE_MEMBRANE:
            return -2
        if cand != -1 or k == K_MESH:
            return -2
        if role[p] == ROLE_SOLID and d > 0.0:
            return -2
        cand = p
    if cand < 0:
        return -1
    if role[cand] == ROLE_SOLID and n_hold != 1:
        return -2
    k = kind[cand]
    f0 = face_base[cand]
    nf = face_base[cand + 1] - f0
    n_ref = 0
    n_abs = 0
    for f in range(nf):
        c = bc[s, f0 + f]
        if c == BC_REFLECT or c >= BC_PARTIAL:
            n_ref += 1
        elif c == BC_ABSORB:
            n_abs += 1
    if n_ref == nf:
        return cand
    if n_abs == nf and nf == 1 and (k == K_SPHERE or k == K_HALFSPACE):
        return cand
    return -2


@nb.njit(**JIT_HOT)
def resolve_single(s, p, x0, y0, z0, dx, dy, dz, kp, step, Ddt, margin, kind, role, par, face_base,
                   sdf, mesh_meta, bc, patches):
    """:func:`resolve_step` where primitive ``p`` is the only surface within reach of the step
    (:func:`single_surface`): the same exits, reflections, absorption and Brownian-bridge test,
    without looking at the other primitives. Same returns as :func:`resolve_step`."""
    hole = role[p] == ROLE_HOLE
    sx = x0
    sy = y0
    sz = z0
    nref = 0
    ex = x0 + dx
    ey = y0 + dy
    ez = z0 + dz
    surf0 = face_base[p]
    for _ in range(MAX_REFLECTIONS):
        a, b, fa, fb = segment_interval(kind, par, sdf, mesh_meta, p, x0, y0, z0, dx, dy, dz)
        t = INF
        f = -1
        if hole:
            if a < -EPS_T and b > EPS_T:
                return sx, sy, sz, 0, nref, 1
            if a >= -EPS_T and a <= 1.0 and b > a + EPS_T:
                t = max(a, 0.0)
                f = fa
        else:
            if not (a <= EPS_T and b >= -EPS_T):
                return sx, sy, sz, 0, nref, 1
            cur = max(b, 0.0)
            if cur <= 1.0:
                t = cur
                f = fb
        if f < 0:
            if bc[s, surf0] == BC_ABSORB:  # one absorbing face: the Brownian bridge
                d0 = face_distance(kind, par, sdf, mesh_meta, p, 0, x0, y0, z0)
                d1 = face_distance(kind, par, sdf, mesh_meta, p, 0, ex, ey, ez)
                if hole:
                    d0 = -d0
                    d1 = -d1
                if not (d0 < 0.0 or d1 < 0.0 or d0 > margin or d1 > margin):
                    prob = math.exp(-d0 * d1 / Ddt)
                    if prob >= BRIDGE_NEGLIGIBLE and u01(counter_hash(kp, step, STREAM_BRIDGE)) < prob:
                        return ex, ey, ez, surf0 + 1, nref, 0
            d = prim_sdf(kind, par, sdf, mesh_meta, p, ex, ey, ez)
            if (hole and d < -INSIDE_TOL) or (not hole and d > INSIDE_TOL):
                return sx, sy, sz, 0, nref, 1
            return ex, ey, ez, 0, nref, 0
        cx = x0 + t * dx
        cy = y0 + t * dy
        cz = z0 + t * dz
        code, surf = hit_code(s, surf0 + f, cx, cy, cz, 0.0, bc, patches)
        if code == BC_ABSORB or (code >= BC_PARTIAL and _partial_absorbs(kp, step, nref, code)):
            return cx, cy, cz, surf + 1, nref, 0
        x0, y0, z0, dx, dy, dz, ex, ey, ez = _reflect(kind, par, sdf, mesh_meta, p, f, t, cx, cy, cz, dx,
                                                      dy, dz, ex, ey, ez, hole)
        nref += 1
    return sx, sy, sz, 0, nref, 1


@nb.njit(**JIT_HOT)
def _partial_absorbs(kp, step, nref, code):
    """Whether hit number ``nref`` of this step on a partially absorbing face (``code`` =
    BC_PARTIAL + P) absorbs."""
    h = mix64(counter_hash(kp, step, STREAM_PARTIAL) + np.uint64(nref + 1) * GOLDEN)
    return u01(h) < code - BC_PARTIAL


@nb.njit(**JIT_HOT)
def resolve_step(s, x0, y0, z0, dx, dy, dz, kp, step, Ddt, margin, kind, role, active, par,
                 face_base, sdf, mesh_meta, bc, patches, has_absorb, tin, tout, fin, fout):
    """Move a particle of species ``s`` by (dx, dy, dz) from p0, resolving every boundary.

    Returns (x, y, z, state, n_reflections, rejected): state 0 alive, +(surface + 1) absorbed,
    -(surface + 1) transmitted out of the domain.
    """
    sx = x0
    sy = y0
    sz = z0
    nref = 0
    # the end of the current straight piece when a flat face fixed it (a fold), else p0 + d
    ex = x0 + dx
    ey = y0 + dy
    ez = z0 + dz
    sides = membrane_sides(s, x0, y0, z0, kind, role, active, par, sdf, mesh_meta)
    for _ in range(MAX_REFLECTIONS):
        t, p, f = first_exit(s, x0, y0, z0, dx, dy, dz, kind, role, active, par, sdf, mesh_meta,
                             tin, tout, fin, fout, sides)
        if p == -2:
            return sx, sy, sz, 0, nref, 1
        if p == -1:
            x1 = ex
            y1 = ey
            z1 = ez
            if has_absorb:
                u = u01(counter_hash(kp, step, STREAM_BRIDGE))
                st = bridge_absorption(s, x0, y0, z0, x1, y1, z1, Ddt, u, kind, role, active, par,
                                       face_base, sdf, mesh_meta, bc, patches, margin, sides)
                if st != 0:
                    return x1, y1, z1, st, nref, 0
            if not inside_domain(s, x1, y1, z1, kind, role, active, par, sdf, mesh_meta, INSIDE_TOL):
                return sx, sy, sz, 0, nref, 1
            if not _sides_agree(s, x1, y1, z1, sides, kind, role, active, par, sdf, mesh_meta):
                return sx, sy, sz, 0, nref, 1
            return x1, y1, z1, 0, nref, 0
        cx = x0 + t * dx
        cy = y0 + t * dy
        cz = z0 + t * dz
        outside = role[p] == ROLE_HOLE
        face = face_base[p] + f
        membrane = role[p] == ROLE_MEMBRANE
        if membrane:
            outside = ((sides >> p) & 1) == 0
            if outside:  # the outer side's surfaces follow the inner side's
                face += (face_base[p + 1] - face_base[p]) // 2
        code, surf = hit_code(s, face, cx, cy, cz, 0.0, bc, patches)
        if code == BC_ABSORB or (code >= BC_PARTIAL and _partial_absorbs(kp, step, nref, code)):
            return cx, cy, cz, surf + 1, nref, 0
        if code == BC_TRANSMIT:
            if membrane:  # through the membrane: the rest of the piece goes on from c
                sides ^= np.int64(1) << np.int64(p)
                x0 = cx
                y0 = cy
                z0 = cz
                dx = ex - cx
                dy = ey - cy
                dz = ez - cz
                nref += 1
                continue
            return cx, cy, cz, -(surf + 1), nref, 0
        x0, y0, z0, dx, dy, dz, ex, ey, ez = _reflect(kind, par, sdf, mesh_meta, p, f, t, cx, cy, cz, dx,
                                                      dy, dz, ex, ey, ez, outside)
        nref += 1
    return sx, sy, sz, 0, nref, 1


@nb.njit(**JIT_PARALLEL)
def _outside_flags(x, y, z, species, state, kind, role, active, par, sdf, mesh_meta, tol, flags):
    n = 0
    for i in nb.prange(x.shape[0]):
        out = state[i] == 0 and not inside_domain(np.int64(species[i]), x[i], y[i], z[i], kind, role, active,
                                                   par, sdf, mesh_meta, tol)
        flags[i] = 1 if out else 0
        n += 1 if out else 0
    return n


def count_outside(x, y, z, species, state, kind, role, active, par, sdf, mesh_meta, tol, out_idx):
    """Number of live particles outside their domain (in parallel); the first of their indices
    fill ``out_idx``."""
    flags = np.empty(x.shape[0], np.uint8)
    n = int(_outside_flags(x, y, z, species, state, kind, role, active, par, sdf, mesh_meta, tol, flags))
    if n:
        idx = np.flatnonzero(flags)[: out_idx.shape[0]]
        out_idx[: idx.size] = idx
    return n
