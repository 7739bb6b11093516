"""The Brownian-dynamics stepping kernels.

Each call advances every live particle by ``nsteps`` steps of dt: step k of particle i adds
sigma_s * (g1, g2, g3), with sigma_s = sqrt(2 D_s dt) and g standard normals drawn from the
counter hash of (seed, pid, global step). The loop keeps particles in blocks of ``block``
particles; each parallel task takes one block through all steps (milliseconds of work per
task).

Fast path: at a checkpoint c a particle gets a *safe radius* r, a lower bound on the distance
from c to any boundary (minus a Brownian-bridge margin for the faces that absorb its species;
:func:`~microsyn._kernels.boundaries.checkpoint_ball`). While the particle stays within the ball
|p - c| < r, every step's segment lies in that ball (both ends do, and the ball is convex), so no
step can touch a boundary and the particle moves freely. When the nearest surface is a flat
reflecting half-space (a membrane plane), the ball leaves that plane out and the
particle keeps a *fold plane*: a step that stays in the larger ball is reflected by one fold of
its end point, which is exact there (one flat surface, specular reflection). When the domain's
only solid is a sphere, the ball may leave that sphere out too and the particle keeps it as a
*container*: a step whose ends lie in the sphere (less the bridge margin) stays in it, since a
sphere is convex. A step that would
end outside the ball goes through :func:`_slow` (a cheap test whether the balls around both
ends cover the step, else the exact :func:`microsyn._kernels.boundaries.resolve_step`, which
reflects in flat faces with the same fold arithmetic), and the particle gets a new checkpoint.
The result of a step therefore does not depend on where the checkpoints were: a run cut into
several kernel calls gives the same positions bit for bit.

Reaction clocks (:mod:`microsyn._kernels.clocks`): after each step, a particle of a species with
first-order reactions subtracts its rate at its new place times dt from its clock; where the
clock runs out the particle stops (state ``FIRED``) and the reaction pass makes its products.

``step_table`` uses the 65,536-entry normal table (vectorised across the particles of a block);
``step_exact`` uses the exact ziggurat normal (scalar, particle by particle).
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..config import JIT, JIT_HOT, JIT_PARALLEL
from .geometry import K_MESH
from .boundaries import checkpoint_ball, face_margins, resolve_single, resolve_step, single_surface
from .clocks import FIRED, clock_cell, clock_rate, clock_threshold
from .zones import ZONED, near_site
from .random import (
    MASK16,
    S16,
    S32,
    STREAM_TABLE,
    STREAM_ZIG_X,
    STREAM_ZIG_Y,
    STREAM_ZIG_Z,
    counter_hash,
    particle_key,
    zig_normal,
)

# counters per block
C_SLOW = 0
C_REFLECT = 1
C_REJECT = 2
C_ENDED = 3
C_RESOLVE = 4
C_FOLD = 5
C_SINGLE = 6
N_COUNTERS = 7

#: a particle keeps a fold plane when the flat face is within this many rms steps
FOLD_REACH_SIGMAS = 4.0

#: blocks are taken in runs, this many runs per thread, each run with one set of block arrays
#: (allocating them per block cost more than a one-step call's work)
CHUNKS_PER_THREAD = 4

#: start a call from the free radii the last one left (see :mod:`microsyn.particles`)
USE_FREE_RADII = True


@nb.njit(**JIT_HOT)
def _slow(i, x0, y0, z0, dx, dy, dz, rp, kp, stp, species, state, sigma_s, Ddt_s, margin, kind, role,
          active, par, face_base, sdf, mesh_meta, bc, patches, fmargin, has_absorb, has_mesh, tin, tout, fin, fout,
          counters, b):
    """One step of particle ``i`` that left its free ball.

    Returns the new position and its free region (x, y, z, r, r_ball, nx, ny, nz, off, cx, cy, cz,
    rc2; see :func:`checkpoint_ball`; r = -inf when the particle ended). ``rp`` is a lower bound on the
    distance from p0 to the boundary (minus the margins; 0 when unknown). If the end point q has
    a bound rq > 0 and |q - p0| < rp + rq, the balls around p0 and q cover the whole segment,
    so the step cannot touch a boundary and is taken as it is (the cheap, common case).
    Otherwise the step is followed exactly: by :func:`resolve_single` when one surface alone is
    within reach (the step's length, plus the bridge margin for an absorbable species), else by
    the general :func:`resolve_step`.
    """
    s = np.int64(species[i])
    qx = x0 + dx
    qy = y0 + dy
    qz = z0 + dz
    reach = FOLD_REACH_SIGMAS * sigma_s
    rq, rf, nx, ny, nz, off, cx, cy, cz, rc2 = checkpoint_ball(
        s, qx, qy, qz, kind, role, active, par, sdf, mesh_meta, face_base, bc, patches, fmargin, reach)
    counters[b, C_SLOW] += 1
    L = math.sqrt(dx * dx + dy * dy + dz * dz)
    if rq > 0.0 and L < max(rp, 0.0) + rq:
        return qx, qy, qz, rq, rf, nx, ny, nz, off, cx, cy, cz, rc2
    one = -2
    if not has_mesh:  # (a mesh within reach always takes the general path)
        one = single_surface(s, x0, y0, z0, L + (margin[s] if has_absorb[s] != 0 else 0.0), kind, role,
                             active, par, sdf, mesh_meta, face_base, bc)
    if one >= 0:
        counters[b, C_SINGLE] += 1
        x, y, z, st, nref, rej = resolve_single(s, one, x0, y0, z0, dx, dy, dz, kp, stp, Ddt_s[s],
                                                margin[s], kind, role, par, face_base, sdf, mesh_meta, bc, patches)
    else:
        counters[b, C_RESOLVE] += 1
        x, y, z, st, nref, rej = resolve_step(s, x0, y0, z0, dx, dy, dz, kp, stp, Ddt_s[s], margin[s],
                                              kind, role, active, par, face_base, sdf, mesh_meta, bc,
                                              patches, has_absorb[s] != 0, tin, tout, fin, fout)
    counters[b, C_REFLECT] += nref
    counters[b, C_REJECT] += rej
    if st != 0:
        state[i] = st
        counters[b, C_ENDED] += 1
        return x, y, z, -np.inf, -np.inf, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, np.inf
    if x == qx and y == qy and z == qz:  # the step touched nothing after all: q's region
        return qx, qy, qz, rq, rf, nx, ny, nz, off, cx, cy, cz, rc2
    r, rf, nx, ny, nz, off, cx, cy, cz, rc2 = checkpoint_ball(
        s, x, y, z, kind, role, active, par, sdf, mesh_meta, face_base, bc, patches, fmargin, reach)
    return x, y, z, r, rf, nx, ny, nz, off, cx, cy, cz, rc2


@nb.njit(**JIT_HOT)
def _left_radius(r, ex, ey, ez, ended):
    """The free radius a particle leaves for the next call: its bound ``r`` at the checkpoint
    less its distance (ex, ey, ez) from there, made a little smaller so that rounding to float32
    keeps it a lower bound; -1 when none is left or the particle ended."""
    if ended:
        return -1.0
    rem = r - math.sqrt(ex * ex + ey * ey + ez * ez)
    return rem * (1.0 - 1e-6) if rem > 0.0 else -1.0


@nb.njit(**JIT_HOT)
def _plain_ball(r):
    """The free region a free radius ``r`` gives, as :func:`checkpoint_ball` returns one: a ball
    of radius r, no fold plane, no container sphere."""
    return r, r, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, np.inf


@nb.njit(**JIT_HOT)
def _set_ball(lsafe, lsafe_f, lhf, j, rf, fx, fy, fz, rc2):
    """Store particle j's free ball: a plain one in ``lsafe`` (tested for every particle in the
    main loop); one with a fold plane or a container sphere in ``lsafe_f``, with ``lsafe`` = -1
    so that the main loop hands its every step to :func:`_special_step` (the main loop stays as
    cheap as in open space for all other particles)."""
    r2 = rf * rf if rf > 0.0 else -1.0
    special = fx != 0.0 or fy != 0.0 or fz != 0.0 or rc2 < np.inf
    lhf[j] = 1 if special else 0
    lsafe[j] = -1.0 if special else r2
    lsafe_f[j] = r2


@nb.njit(**JIT_HOT)
def _special_step(px, py, pz, dx, dy, dz, cx, cy, cz, r2, fx, fy, fz, fo, sx, sy, sz, rc2):
    """A step from p by d for a particle with a fold plane and/or a container sphere (see
    :func:`~microsyn._kernels.boundaries.checkpoint_ball`): (ok, x, y, z, folded). It is free
    when the end point q lies in the ball (radius^2 ``r2`` around c) and q and its fold lie in the
    container; the new position is then the fold of q (q itself without a fold plane)."""
    qx = px + dx
    qy = py + dy
    qz = pz + dz
    ex = qx - cx
    ey = qy - cy
    ez = qz - cz
    s1 = fx * qx + fy * qy + fz * qz - fo
    f = 2.0 * min(s1, 0.0)
    ux = qx - f * fx
    uy = qy - f * fy
    uz = qz - f * fz
    ok = (ex * ex + ey * ey + ez * ez < r2 and (qx - sx) ** 2 + (qy - sy) ** 2 + (qz - sz) ** 2 < rc2
          and (ux - sx) ** 2 + (uy - sy) ** 2 + (uz - sz) ** 2 < rc2)
    return ok, ux, uy, uz, 1 if (ok and s1 < 0.0) else 0


@nb.njit(inline="always", **JIT)
def _zone_stops(n, i0, lx, ly, lz, lsg, lsafe, lhf, lrun, species, state, zone_on, zlo, zinv_h, zdims, zstart, zx,
                zy, zz, zr2, zstep, stp):
    """Stop the moving live particles of a block (``lsg`` > 0) of zone species that ended step
    ``stp`` in a reaction zone (:mod:`microsyn._kernels.zones`)."""
    for j in range(n):
        i = i0 + j
        if lsg[j] == 0.0 or state[i] != 0 or zone_on[species[i]] == 0:
            continue
        if near_site(lx[j], ly[j], lz[j], zlo, zinv_h, zdims, zstart, zx, zy, zz, zr2):
            state[i] = ZONED
            zstep[i] = stp
            lrun[j] = 0
            lsg[j] = 0.0
            lsafe[j] = np.inf
            lhf[j] = 0


@nb.njit(**JIT_PARALLEL)
def step_table(x, y, z, pid, species, state, free_r, n_old, start_new, step0, nsteps, seed_key, sigma,
               Ddt_s, margin, has_absorb, table, kind, role, active, par, face_base, sdf, mesh_meta,
               bc, patches, clock, dt, c_on, k_own, rate_row, rate_field, lat_lo, lat_hi, inv_h, lat_shape,
               zone_on, zlo, zinv_h, zdims, zstart, zx, zy, zz, zr2, zstep, block, counters, threads):
    """Advance all live particles by ``nsteps`` table-normal steps (see module docstring) on
    ``threads`` threads.

    A live particle of a species with ``zone_on[s]`` stops at the first step that ends within
    sqrt(zr2) of a site of the zone cell list (``zlo`` .. ``zz``; :mod:`microsyn._kernels.zones`):
    state ``ZONED``, that global step in ``zstep`` (a particle whose clock ran out in the same
    step is FIRED instead).

    Particles with index >= ``n_old`` are born during the call: particle ``n_old + m`` starts
    stepping at local step ``start_new[m]``. ``free_r`` holds each particle's free radius from
    the last call (-1: unknown; see :mod:`microsyn.particles`): where it is at least a few rms
    steps it is the first ball, else the geometry is looked up; the call leaves the new ones.
    The particles of species with ``c_on[s]`` run their reaction clocks (``clock`` and the
    arguments after it; :mod:`microsyn._kernels.clocks`) and stop where one runs out.
    """
    n_all = x.shape[0]
    n_blocks = (n_all + block - 1) // block
    n_prim = kind.shape[0]
    fmargin = face_margins(margin, bc)
    has_mesh = False
    for p in range(n_prim):
        if kind[p] == K_MESH:
            has_mesh = True
    clocked = False
    for q in range(c_on.shape[0]):
        if c_on[q] != 0:
            clocked = True
    zoned = False
    for q in range(zone_on.shape[0]):
        if zone_on[q] != 0:
            zoned = True
    n_chunks = min(n_blocks, CHUNKS_PER_THREAD * max(threads, 1))
    for c in nb.prange(n_chunks):  # each chunk takes a run of blocks, with one set of block arrays
        lx = np.empty(block)
        ly = np.empty(block)
        lz = np.empty(block)
        lkp = np.empty(block, dtype=np.uint64)
        lsg = np.empty(block)
        lsafe = np.empty(block)  # squared radius of the plain free ball (-1: none, or a special one)
        lsafe_f = np.empty(block)  # squared radius of the ball of a particle with a fold or a sphere
        lcx = np.empty(block)  # checkpoint: the ball's centre
        lcy = np.empty(block)
        lcz = np.empty(block)
        lrp = np.empty(block)  # bound on the distance to every surface at the checkpoint
        lfx = np.empty(block)  # fold plane n . x - off >= 0 (n = 0, off = -1: none)
        lfy = np.empty(block)
        lfz = np.empty(block)
        lfo = np.empty(block)
        lsx = np.empty(block)  # container sphere |x - c|^2 < rc2 (rc2 = inf: none)
        lsy = np.empty(block)
        lsz = np.empty(block)
        lsr2 = np.empty(block)
        lhf = np.empty(block, dtype=np.uint8)  # 1 where the particle has a fold plane or a sphere
        lflag = np.empty(block, dtype=np.uint8)  # 1 where this step needs the slow path
        lstart = np.empty(block, dtype=np.int64)
        lclk = np.empty(block)  # reaction clock
        lrun = np.empty(block, dtype=np.uint8)  # 1 where the clock runs (live, born, a reacting species)
        lk0 = np.empty(block)  # its own first-order rate [1/ms]
        lrow = np.empty(block, dtype=np.int64)  # its row of the rate field (last: 0)
        lcell = np.empty(block, dtype=np.int64)  # its column of the rate field
        tin = np.empty(n_prim)
        tout = np.empty(n_prim)
        fin = np.empty(n_prim, dtype=np.int64)
        fout = np.empty(n_prim, dtype=np.int64)
        for b in range(c * n_blocks // n_chunks, (c + 1) * n_blocks // n_chunks):
            i0 = b * block
            n = min(n_all, i0 + block) - i0
            nfolds = 0
            for j in range(n):
                lrp[j] = 0
                lfx[j] = 0
                lfy[j] = 0
                lfz[j] = 0
                lfo[j] = -1.0
                lsx[j] = 0
                lsy[j] = 0
                lsz[j] = 0
                lsr2[j] = np.inf
                lhf[j] = 0
                lflag[j] = 0
                lstart[j] = 0
                lrun[j] = 0
                lk0[j] = 0
                lrow[j] = rate_field.shape[0] - 1
                i = i0 + j
                lx[j] = x[i]
                ly[j] = y[i]
                lz[j] = z[i]
                lcx[j] = x[i]
                lcy[j] = y[i]
                lcz[j] = z[i]
                lkp[j] = particle_key(seed_key, pid[i])
                lclk[j] = clock[i]
                if i >= n_old:
                    lstart[j] = start_new[i - n_old]
                if clocked and state[i] == 0 and lstart[j] == 0 and c_on[species[i]] != 0:
                    lrun[j] = 1
                    lk0[j] = k_own[species[i]]
                    lrow[j] = rate_row[species[i]]
                    if math.isnan(lclk[j]):
                        lclk[j] = clock_threshold(lkp[j])
                if state[i] != 0 or lstart[j] > 0:
                    lsg[j] = 0.0  # ended, or not born yet: switched on at its start step below
                    lsafe[j] = np.inf
                elif USE_FREE_RADII and free_r[i] >= FOLD_REACH_SIGMAS * sigma[species[i]]:
                    lsg[j] = sigma[species[i]]
                    lrp[j] = free_r[i]
                    lsafe[j] = lrp[j] * lrp[j]
                else:
                    s = np.int64(species[i])
                    lsg[j] = sigma[s]
                    (r, rf, lfx[j], lfy[j], lfz[j], lfo[j], lsx[j], lsy[j], lsz[j],
                     lsr2[j]) = checkpoint_ball(
                        s, x[i], y[i], z[i], kind, role, active, par, sdf, mesh_meta, face_base, bc, patches, fmargin,
                        FOLD_REACH_SIGMAS * sigma[s])
                    lrp[j] = r
                    _set_ball(lsafe, lsafe_f, lhf, j, rf, lfx[j], lfy[j], lfz[j], lsr2[j])
            # particles born during the call sit at the end, sorted by start step
            j_born = 0
            while j_born < n and lstart[j_born] == 0:
                j_born += 1
            for k in range(nsteps):
                stp = step0 + k
                while j_born < n and lstart[j_born] <= k:
                    i = i0 + j_born
                    if state[i] == 0:
                        s = np.int64(species[i])
                        lsg[j_born] = sigma[s]
                        (r, rf, lfx[j_born], lfy[j_born], lfz[j_born], lfo[j_born], lsx[j_born], lsy[j_born],
                         lsz[j_born], lsr2[j_born]) = checkpoint_ball(
                            s, lx[j_born], ly[j_born], lz[j_born], kind, role, active, par, sdf, mesh_meta,
                            face_base, bc, patches, fmargin, FOLD_REACH_SIGMAS * sigma[s])
                        lrp[j_born] = r
                        _set_ball(lsafe, lsafe_f, lhf, j_born, rf, lfx[j_born], lfy[j_born], lfz[j_born], lsr2[j_born])
                        if clocked and c_on[s] != 0:
                            lrun[j_born] = 1
                            lk0[j_born] = k_own[s]
                            lrow[j_born] = rate_row[s]
                            if math.isnan(lclk[j_born]):
                                lclk[j_born] = clock_threshold(lkp[j_born])
                    j_born += 1
                nflag = 0
                for j in range(n):
                    h = counter_hash(lkp[j], stp, STREAM_TABLE)
                    g = lsg[j]
                    dx = g * table[h & MASK16]
                    dy = g * table[(h >> S16) & MASK16]
                    dz = g * table[(h >> S32) & MASK16]
                    qx = lx[j] + dx
                    qy = ly[j] + dy
                    qz = lz[j] + dz
                    ex = qx - lcx[j]
                    ey = qy - lcy[j]
                    ez = qz - lcz[j]
                    ok = ex * ex + ey * ey + ez * ez < lsafe[j]
                    lx[j] = qx if ok else lx[j]
                    ly[j] = qy if ok else ly[j]
                    lz[j] = qz if ok else lz[j]
                    lflag[j] = 0 if ok else 1
                    nflag += 0 if ok else 1
                if nflag != 0:
                    for j in range(n):
                        if lflag[j] == 0 or lsg[j] == 0.0:
                            continue
                        h = counter_hash(lkp[j], stp, STREAM_TABLE)
                        g = lsg[j]
                        dx = g * table[h & MASK16]
                        dy = g * table[(h >> S16) & MASK16]
                        dz = g * table[(h >> S32) & MASK16]
                        if lhf[j] != 0:  # a fold plane or a container sphere: the step may still be free
                            ok, qx, qy, qz, folded = _special_step(lx[j], ly[j], lz[j], dx, dy, dz, lcx[j], lcy[j], lcz[j],
                                                                   lsafe_f[j], lfx[j], lfy[j], lfz[j], lfo[j], lsx[j],
                                                                   lsy[j], lsz[j], lsr2[j])
                            if ok:
                                lx[j] = qx
                                ly[j] = qy
                                lz[j] = qz
                                nfolds += folded
                                continue
                        i = i0 + j
                        ex = lx[j] - lcx[j]
                        ey = ly[j] - lcy[j]
                        ez = lz[j] - lcz[j]
                        rp = lrp[j] - math.sqrt(ex * ex + ey * ey + ez * ez)
                        (nx_, ny_, nz_, r, rf, lfx[j], lfy[j], lfz[j], lfo[j], lsx[j], lsy[j], lsz[j],
                         lsr2[j]) = _slow(
                            i, lx[j], ly[j], lz[j], dx, dy, dz, rp, lkp[j], stp, species, state, g, Ddt_s, margin,
                            kind, role, active, par, face_base, sdf, mesh_meta, bc, patches, fmargin, has_absorb, has_mesh,
                            tin, tout, fin, fout, counters, b)
                        lx[j] = nx_
                        ly[j] = ny_
                        lz[j] = nz_
                        lcx[j] = nx_
                        lcy[j] = ny_
                        lcz[j] = nz_
                        lrp[j] = r
                        _set_ball(lsafe, lsafe_f, lhf, j, rf, lfx[j], lfy[j], lfz[j], lsr2[j])
                        if state[i] != 0:
                            lsg[j] = 0.0
                            lsafe[j] = np.inf
                            lhf[j] = 0
                            lrun[j] = 0
                if not (clocked or zoned):
                    continue
                if not clocked:
                    _zone_stops(n, i0, lx, ly, lz, lsg, lsafe, lhf, lrun, species, state, zone_on, zlo, zinv_h,
                                zdims, zstart, zx, zy, zz, zr2, zstep, stp)
                    continue
                for j in range(n):  # (vectorised)
                    lcell[j] = clock_cell(lx[j], ly[j], lz[j], lat_lo, lat_hi, inv_h, lat_shape[0], lat_shape[1],
                                          lat_shape[2])
                for j in range(n):
                    c = lclk[j] - dt * (lk0[j] + rate_field[lrow[j], lcell[j]])
                    if lrun[j] == 0:
                        continue
                    lclk[j] = c
                    if c <= 0.0:  # the particle reacts here: it stops, and the pass makes its products
                        state[i0 + j] = FIRED
                        lclk[j] = -1.0 - stp
                        lrun[j] = 0
                        lsg[j] = 0.0
                        lsafe[j] = np.inf
                        lhf[j] = 0
                if zoned:
                    _zone_stops(n, i0, lx, ly, lz, lsg, lsafe, lhf, lrun, species, state, zone_on, zlo, zinv_h,
                                zdims, zstart, zx, zy, zz, zr2, zstep, stp)

            for j in range(n):
                i = i0 + j
                x[i] = lx[j]
                y[i] = ly[j]
                z[i] = lz[j]
                clock[i] = lclk[j]
                free_r[i] = _left_radius(lrp[j], lx[j] - lcx[j], ly[j] - lcy[j], lz[j] - lcz[j], lsg[j] == 0.0)
            counters[b, C_FOLD] += nfolds
            counters[b, C_REFLECT] += nfolds


@nb.njit(**JIT_PARALLEL)
def step_once(x, y, z, pid, species, state, free_r, stp, seed_key, sigma, margin, table, kind, role, active, par,
              face_base, sdf, mesh_meta, bc, patches, clock, dt, c_on, k_own, rate_row, rate_field, lat_lo, lat_hi,
              inv_h, lat_shape, general):
    """Step ``stp`` (one table-normal step) of the live particles whose step stays inside their
    free ball (the one their free radius gives, or, where that is under FOLD_REACH_SIGMAS rms
    steps, the one :func:`checkpoint_ball` gives now, fold plane and container sphere included),
    or that do not move (D = 0), with a reaction clock already drawn. Each such particle ends
    bit for bit where :func:`step_table` would put it, with the same free radius and clock, at
    a third of the cost of a one-step :func:`step_table` call (no block arrays to fill and
    empty). general[i] = 1 marks the others, left as they were for :func:`step_table` (the
    caller gathers them); general[i] = 2 a step that was folded at a fold plane."""
    n = x.shape[0]
    fmargin = face_margins(margin, bc)
    for i in nb.prange(n):
        general[i] = 0
        if state[i] != 0:
            continue
        s = np.int64(species[i])
        run = c_on[s] != 0
        if run and math.isnan(clock[i]):
            general[i] = 1
            continue
        g = sigma[s]
        px = x[i]
        py = y[i]
        pz = z[i]
        if g == 0.0:  # immobile: stays; step_table leaves no free radius for it
            free_r[i] = -1.0
        else:
            r, rf, fx, fy, fz, fo, sx, sy, sz, sr2 = _plain_ball(np.float64(free_r[i]))
            if not (USE_FREE_RADII and r >= FOLD_REACH_SIGMAS * g):
                r, rf, fx, fy, fz, fo, sx, sy, sz, sr2 = checkpoint_ball(
                    s, px, py, pz, kind, role, active, par, sdf, mesh_meta, face_base, bc, patches, fmargin,
                    FOLD_REACH_SIGMAS * g)
            if not rf > 0.0:
                general[i] = 1
                continue
            h = counter_hash(particle_key(seed_key, pid[i]), stp, STREAM_TABLE)
            dx = g * table[h & MASK16]
            dy = g * table[(h >> S16) & MASK16]
            dz = g * table[(h >> S32) & MASK16]
            if fx != 0.0 or fy != 0.0 or fz != 0.0 or sr2 < np.inf:
                ok, qx, qy, qz, folded = _special_step(px, py, pz, dx, dy, dz, px, py, pz, rf * rf, fx, fy, fz, fo,
                                                       sx, sy, sz, sr2)
                if not ok:
                    general[i] = 1
                    continue
                general[i] = 2 if folded else 0
            else:
                qx = px + dx
                qy = py + dy
                qz = pz + dz
                ex = qx - px
                ey = qy - py
                ez = qz - pz
                if not (ex * ex + ey * ey + ez * ez < rf * rf):
                    general[i] = 1
                    continue
            x[i] = qx
            y[i] = qy
            z[i] = qz
            free_r[i] = _left_radius(r, qx - px, qy - py, qz - pz, False)
            px = qx
            py = qy
            pz = qz
        if run:
            cell = clock_cell(px, py, pz, lat_lo, lat_hi, inv_h, lat_shape[0], lat_shape[1], lat_shape[2])
            c = clock[i] - dt * (k_own[s] + rate_field[rate_row[s], cell])
            if c <= 0.0:
                state[i] = FIRED
                c = -1.0 - stp
                free_r[i] = -1.0
            clock[i] = c


@nb.njit(**JIT_PARALLEL)
def step_exact(x, y, z, pid, species, state, free_r, n_old, start_new, step0, nsteps, seed_key, sigma,
               Ddt_s, margin, has_absorb, zx, zr, kind, role, active, par, face_base, sdf, mesh_meta,
               bc, patches, clock, dt, c_on, k_own, rate_row, rate_field, lat_lo, lat_hi, inv_h, lat_shape,
               block, counters):
    """Advance all live particles by ``nsteps`` exact-Gaussian (ziggurat) steps (reaction clocks
    as in :func:`step_table`)."""
    n_all = x.shape[0]
    n_blocks = (n_all + block - 1) // block
    n_prim = kind.shape[0]
    fmargin = face_margins(margin, bc)
    has_mesh = False
    for p in range(n_prim):
        if kind[p] == K_MESH:
            has_mesh = True
    for b in nb.prange(n_blocks):
        i0 = b * block
        i1 = min(n_all, i0 + block)
        tin = np.empty(n_prim)
        tout = np.empty(n_prim)
        fin = np.empty(n_prim, dtype=np.int64)
        fout = np.empty(n_prim, dtype=np.int64)
        nfolds = 0
        for i in range(i0, i1):
            if state[i] != 0:
                continue
            s = np.int64(species[i])
            g = sigma[s]
            kp = particle_key(seed_key, pid[i])
            k0 = 0
            if i >= n_old:
                k0 = start_new[i - n_old]
            px = x[i]
            py = y[i]
            pz = z[i]
            if free_r[i] >= FOLD_REACH_SIGMAS * g and k0 == 0:
                r, rf, fx, fy, fz, fo, sx, sy, sz, sr2 = _plain_ball(np.float64(free_r[i]))
            else:
                r, rf, fx, fy, fz, fo, sx, sy, sz, sr2 = checkpoint_ball(
                    s, px, py, pz, kind, role, active, par, sdf, mesh_meta, face_base, bc, patches, fmargin,
                    FOLD_REACH_SIGMAS * g)
            safe2 = rf * rf if rf > 0.0 else -1.0
            special = fx != 0.0 or fy != 0.0 or fz != 0.0 or sr2 < np.inf
            cx = px
            cy = py
            cz = pz
            run = c_on[s] != 0
            clk = clock[i]
            if run and math.isnan(clk):
                clk = clock_threshold(kp)
            for k in range(k0, nsteps):
                stp = step0 + k
                dx = g * zig_normal(counter_hash(kp, stp, STREAM_ZIG_X), zx, zr)
                dy = g * zig_normal(counter_hash(kp, stp, STREAM_ZIG_Y), zx, zr)
                dz = g * zig_normal(counter_hash(kp, stp, STREAM_ZIG_Z), zx, zr)
                qx = px + dx
                qy = py + dy
                qz = pz + dz
                ex = qx - cx
                ey = qy - cy
                ez = qz - cz
                free = False
                if ex * ex + ey * ey + ez * ez < safe2:
                    if not special:
                        px = qx
                        py = qy
                        pz = qz
                        free = True
                    else:
                        s1 = fx * qx + fy * qy + fz * qz - fo
                        f = 2.0 * min(s1, 0.0)
                        ux = qx - f * fx
                        uy = qy - f * fy
                        uz = qz - f * fz
                        if ((qx - sx) ** 2 + (qy - sy) ** 2 + (qz - sz) ** 2 < sr2
                                and (ux - sx) ** 2 + (uy - sy) ** 2 + (uz - sz) ** 2 < sr2):
                            if s1 < 0.0:
                                nfolds += 1
                            px = ux
                            py = uy
                            pz = uz
                            free = True
                if not free:
                    rp = r - math.sqrt((px - cx) ** 2 + (py - cy) ** 2 + (pz - cz) ** 2)
                    px, py, pz, r, rf, fx, fy, fz, fo, sx, sy, sz, sr2 = _slow(
                        i, px, py, pz, dx, dy, dz, rp, kp, stp, species, state, g, Ddt_s, margin, kind, role,
                        active, par, face_base, sdf, mesh_meta, bc, patches, fmargin, has_absorb, has_mesh, tin,
                        tout, fin, fout, counters, b)
                    safe2 = rf * rf if rf > 0.0 else -1.0
                    special = fx != 0.0 or fy != 0.0 or fz != 0.0 or sr2 < np.inf
                    cx = px
                    cy = py
                    cz = pz
                    if state[i] != 0:
                        break
                if run:
                    clk -= dt * clock_rate(s, px, py, pz, k_own, rate_row, rate_field, lat_lo, lat_hi, inv_h,
                                           lat_shape)
                    if clk <= 0.0:  # the particle reacts here (see step_table)
                        state[i] = FIRED
                        clk = -1.0 - stp
                        break
            clock[i] = clk
            x[i] = px
            y[i] = py
            z[i] = pz
            free_r[i] = _left_radius(r, px - cx, py - cy, pz - cz, state[i] != 0)
        counters[b, C_FOLD] += nfolds
        counters[b, C_REFLECT] += nfolds
