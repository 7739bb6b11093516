"""The Brownian-dynamics stepping kernels.

Each call advances every live particle by ``nsteps`` steps of dt: step k of particle i adds
sigma_s * (g1, g2, g3), with sigma_s = sqrt(2 D_s dt) and g standard normals drawn from the
counter hash of (seed, pid, global step). The loop keeps particles in blocks of ``block``
particles; each parallel task takes one block through all steps (milliseconds of work per
task).

Fast path: at a checkpoint c a particle gets a *safe radius* r, a lower bound on the distance
from c to any boundary (minus a Brownian-bridge margin when the species can be absorbed). While
the particle stays within the ball |p - c| < r, every step's segment lies in that ball (both ends
do, and the ball is convex), so no step can touch a boundary and the particle moves freely.
A step that would end outside the ball goes through
:func:`microsyn._kernels.boundaries.resolve_step`, and the particle gets a new checkpoint.

``step_table`` uses the 65,536-entry normal table (vectorised across the particles of a block);
``step_exact`` uses the exact ziggurat normal (scalar, particle by particle).
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..config import JIT_HOT, JIT_PARALLEL
from .boundaries import resolve_step, safe_radius
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
N_COUNTERS = 5


@nb.njit(**JIT_HOT)
def _slow(i, x0, y0, z0, dx, dy, dz, rp, kp, stp, species, state, Ddt_s, margin, kind, role, active,
          par, face_base, sdf, mesh_meta, bc, has_absorb, tin, tout, fin, fout, counters, b):
    """One step of particle ``i`` that left its safe ball; returns (x, y, z, safe radius).

    ``rp`` is a lower bound on the distance from p0 to the boundary (minus the margin). If the end
    point q has a bound rq > 0 and |q - p0| < rp + rq, the balls around p0 and q cover the whole
    segment, so the step cannot touch a boundary and is taken as it is (the cheap, common case).
    Otherwise :func:`resolve_step` follows the step exactly.
    """
    s = np.int64(species[i])
    qx = x0 + dx
    qy = y0 + dy
    qz = z0 + dz
    rq = safe_radius(s, qx, qy, qz, kind, role, active, par, sdf, mesh_meta) - margin[s]
    counters[b, C_SLOW] += 1
    if rq > 0.0 and math.sqrt(dx * dx + dy * dy + dz * dz) < max(rp, 0.0) + rq:
        return qx, qy, qz, rq
    counters[b, C_RESOLVE] += 1
    x, y, z, st, nref, rej = resolve_step(s, x0, y0, z0, dx, dy, dz, kp, stp, Ddt_s[s], margin[s],
                                          kind, role, active, par, face_base, sdf, mesh_meta, bc,
                                          has_absorb[s] != 0, tin, tout, fin, fout)
    counters[b, C_REFLECT] += nref
    counters[b, C_REJECT] += rej
    if st != 0:
        state[i] = st
        counters[b, C_ENDED] += 1
        return x, y, z, np.inf
    safe = safe_radius(s, x, y, z, kind, role, active, par, sdf, mesh_meta) - margin[s]
    return x, y, z, safe


@nb.njit(**JIT_PARALLEL)
def step_table(x, y, z, pid, species, state, n_old, start_new, step0, nsteps, seed_key, sigma,
               Ddt_s, margin, has_absorb, table, kind, role, active, par, face_base, sdf, mesh_meta,
               bc, block, counters):
    """Advance all live particles by ``nsteps`` table-normal steps (see module docstring).

    Particles with index >= ``n_old`` are born during the call: particle ``n_old + m`` starts
    stepping at local step ``start_new[m]``.
    """
    n_all = x.shape[0]
    n_blocks = (n_all + block - 1) // block
    n_prim = kind.shape[0]
    for b in nb.prange(n_blocks):
        i0 = b * block
        n = min(n_all, i0 + block) - i0
        lx = np.empty(n)
        ly = np.empty(n)
        lz = np.empty(n)
        lkp = np.empty(n, dtype=np.uint64)
        lsg = np.empty(n)
        lsafe = np.empty(n)  # squared safe radius (-1 when there is none)
        lcx = np.empty(n)  # checkpoint
        lcy = np.empty(n)
        lcz = np.empty(n)
        lflag = np.zeros(n, dtype=np.uint8)  # 1 where this step needs the slow path
        lstart = np.zeros(n, dtype=np.int64)
        tin = np.empty(n_prim)
        tout = np.empty(n_prim)
        fin = np.empty(n_prim, dtype=np.int64)
        fout = np.empty(n_prim, dtype=np.int64)
        for j in range(n):
            i = i0 + j
            lx[j] = x[i]
            ly[j] = y[i]
            lz[j] = z[i]
            lcx[j] = x[i]
            lcy[j] = y[i]
            lcz[j] = z[i]
            lkp[j] = particle_key(seed_key, pid[i])
            if i >= n_old:
                lstart[j] = start_new[i - n_old]
            if state[i] != 0 or lstart[j] > 0:
                lsg[j] = 0.0  # ended, or not born yet: switched on at its start step below
                lsafe[j] = np.inf
            else:
                s = np.int64(species[i])
                lsg[j] = sigma[s]
                r = safe_radius(s, x[i], y[i], z[i], kind, role, active, par, sdf,
                                mesh_meta) - margin[s]
                lsafe[j] = r * r if r > 0.0 else -1.0
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
                    r = safe_radius(s, lx[j_born], ly[j_born], lz[j_born], kind, role, active,
                                    par, sdf, mesh_meta) - margin[s]
                    lsafe[j_born] = r * r if r > 0.0 else -1.0
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
            if nflag == 0:
                continue
            for j in range(n):
                if lflag[j] == 0 or lsg[j] == 0.0:
                    continue
                h = counter_hash(lkp[j], stp, STREAM_TABLE)
                g = lsg[j]
                dx = g * table[h & MASK16]
                dy = g * table[(h >> S16) & MASK16]
                dz = g * table[(h >> S32) & MASK16]
                i = i0 + j
                ex = lx[j] - lcx[j]
                ey = ly[j] - lcy[j]
                ez = lz[j] - lcz[j]
                rp = (math.sqrt(lsafe[j]) if lsafe[j] > 0.0 else 0.0) - math.sqrt(ex * ex + ey * ey + ez * ez)
                nx_, ny_, nz_, safe = _slow(i, lx[j], ly[j], lz[j], dx, dy, dz, rp, lkp[j], stp,
                                            species, state, Ddt_s, margin, kind, role, active, par,
                                            face_base, sdf, mesh_meta, bc, has_absorb, tin, tout,
                                            fin, fout, counters, b)
                lx[j] = nx_
                ly[j] = ny_
                lz[j] = nz_
                lcx[j] = nx_
                lcy[j] = ny_
                lcz[j] = nz_
                lsafe[j] = safe * safe if safe > 0.0 else -1.0
                if state[i] != 0:
                    lsg[j] = 0.0
        for j in range(n):
            i = i0 + j
            x[i] = lx[j]
            y[i] = ly[j]
            z[i] = lz[j]


@nb.njit(**JIT_PARALLEL)
def step_exact(x, y, z, pid, species, state, n_old, start_new, step0, nsteps, seed_key, sigma,
               Ddt_s, margin, has_absorb, zx, zr, kind, role, active, par, face_base, sdf, mesh_meta,
               bc, block, counters):
    """Advance all live particles by ``nsteps`` exact-Gaussian (ziggurat) steps."""
    n_all = x.shape[0]
    n_blocks = (n_all + block - 1) // block
    n_prim = kind.shape[0]
    for b in nb.prange(n_blocks):
        i0 = b * block
        i1 = min(n_all, i0 + block)
        tin = np.empty(n_prim)
        tout = np.empty(n_prim)
        fin = np.empty(n_prim, dtype=np.int64)
        fout = np.empty(n_prim, dtype=np.int64)
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
            r = safe_radius(s, px, py, pz, kind, role, active, par, sdf, mesh_meta) - margin[s]
            safe2 = r * r if r > 0.0 else -1.0
            cx = px
            cy = py
            cz = pz
            for k in range(k0, nsteps):
                stp = step0 + k
                dx = g * zig_normal(counter_hash(kp, stp, STREAM_ZIG_X), zx, zr)
                dy = g * zig_normal(counter_hash(kp, stp, STREAM_ZIG_Y), zx, zr)
                dz = g * zig_normal(counter_hash(kp, stp, STREAM_ZIG_Z), zx, zr)
                ex = px + dx - cx
                ey = py + dy - cy
                ez = pz + dz - cz
                if ex * ex + ey * ey + ez * ez < safe2:
                    px += dx
                    py += dy
                    pz += dz
                    continue
                rp = (math.sqrt(safe2) if safe2 > 0.0 else 0.0) - math.sqrt(
                    (px - cx) ** 2 + (py - cy) ** 2 + (pz - cz) ** 2)
                px, py, pz, r = _slow(i, px, py, pz, dx, dy, dz, rp, kp, stp, species, state, Ddt_s,
                                         margin, kind, role, active, par, face_base, sdf,
                                         mesh_meta, bc, has_absorb, tin, tout, fin, fout,
                                         counters, b)
                safe2 = r * r if r > 0.0 else -1.0
                cx = px
                cy = py
                cz = pz
                if state[i] != 0:
                    break
            x[i] = px
            y[i] = py
            z[i] = pz
