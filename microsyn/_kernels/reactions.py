"""Kernels of the reaction pass: a cell list, pair proposals, the channel of a fired clock.

Every random number is a pure function of (seed, particle ids, step, reaction), so the reactions
of a step do not depend on the thread count or on the order particles are stored in:

- a pair (i, j) within the binding radius of reaction r draws u from
  :func:`pair_uniform` (keyed by the two ids, smaller first); it is *proposed* when u < p_r and
  u is its priority;
- a particle whose reaction clock ran out (:mod:`microsyn._kernels.clocks`) picks its channel
  with a uniform from its counter stream ``STREAM_USER`` at that step.

Cell list: for each pair reaction A + B one species is binned (B) and the other searches (A);
for A + A both. Binned particles go into cubic cells of side ``h`` >= the largest binding
radius on a grid over the bounding box of the reacting particles (about one binned particle
per cell, so memory follows the particles, not the domain; a particle that has since left the
box is binned in the nearest cell, which keeps the search exact), with their positions copied
in cell order so that a cell is read contiguously. The engine keeps the particles stored in the
order of the same grid (re-sorted every few dozen steps), so the binning writes nearly in
order and consecutive searchers, taken in storage order, read neighbouring cells. A searching
particle looks only at the cells within one binding radius of it (one cell, unless it is near
a cell face) and checks the true distance. Each unordered pair is examined once.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..config import JIT, JIT_PARALLEL
from .random import GAMMA, STREAM_USER, counter_hash, mix64, next_hash, particle_key, u01

_PAIR_C = np.uint64(0xA24BAED4963EE407)
_RX_C = np.uint64(0x9FB21C651E98DF25)


@nb.njit(inline="always", **JIT)
def pair_uniform(seed_key, pid_a, pid_b, step, r):
    """Uniform in [0, 1) for the pair of ids (a, b) (order-free), at ``step``, for reaction ``r``."""
    lo = pid_a if pid_a < pid_b else pid_b
    hi = pid_b if pid_a < pid_b else pid_a
    k = mix64(particle_key(seed_key, lo) ^ (hi * _PAIR_C))
    return u01(mix64(k + np.uint64(step) * GAMMA + (np.uint64(r) + np.uint64(1)) * _RX_C))


@nb.njit(**JIT)
def member_bounds(x, y, z, species, state, n, member, lo, hi):
    """lo, hi = the bounding box [um] of the live particles whose species is a ``member``;
    returns how many there are."""
    m = 0
    for a in range(3):
        lo[a] = np.inf
        hi[a] = -np.inf
    for i in range(n):
        if state[i] != 0 or member[species[i]] == 0:
            continue
        m += 1
        lo[0] = min(lo[0], x[i])
        hi[0] = max(hi[0], x[i])
        lo[1] = min(lo[1], y[i])
        hi[1] = max(hi[1], y[i])
        lo[2] = min(lo[2], z[i])
        hi[2] = max(hi[2], z[i])
    return m


@nb.njit(inline="always", **JIT)
def _cell_of(x, y, z, lo, inv_h, dims):
    ix = min(max(np.int64(math.floor((x - lo[0]) * inv_h)), 0), dims[0] - 1)
    iy = min(max(np.int64(math.floor((y - lo[1]) * inv_h)), 0), dims[1] - 1)
    iz = min(max(np.int64(math.floor((z - lo[2]) * inv_h)), 0), dims[2] - 1)
    return ix, iy, iz


@nb.njit(inline="always", **JIT)
def cell_span(x, y, z, lo, inv_h, dims, r):
    """The cell (ix, iy, iz) of a point (:func:`_cell_of`) and the cells to search for partners
    within ``r`` of it: (ix, iy, iz, x0, x1, y0, y1, z0, z1), a neighbour only where the point
    is within r of that face of its cell (r at most a cell's side)."""
    ix, iy, iz = _cell_of(x, y, z, lo, inv_h, dims)
    h = 1.0 / inv_h
    fx = lo[0] + ix * h
    fy = lo[1] + iy * h
    fz = lo[2] + iz * h
    x0 = ix - 1 if (x - fx < r and ix > 0) else ix
    x1 = ix + 1 if (fx + h - x < r and ix < dims[0] - 1) else ix
    y0 = iy - 1 if (y - fy < r and iy > 0) else iy
    y1 = iy + 1 if (fy + h - y < r and iy < dims[1] - 1) else iy
    z0 = iz - 1 if (z - fz < r and iz > 0) else iz
    z1 = iz + 1 if (fz + h - z < r and iz < dims[2] - 1) else iz
    return ix, iy, iz, x0, x1, y0, y1, z0, z1


@nb.njit(**JIT_PARALLEL)
def cell_keys(x, y, z, species, state, n, member, lo, inv_h, dims, keys):
    """keys[i] = the cell (linear index over the grid of ``dims`` cells of side 1/inv_h from
    ``lo``; a point outside it in the nearest cell) of particle i if it is live and its species
    a ``member``, else -1."""
    for i in nb.prange(n):
        ix, iy, iz = _cell_of(x[i], y[i], z[i], lo, inv_h, dims)
        c = (ix * dims[1] + iy) * dims[2] + iz
        keys[i] = c if ((state[i] == 0) & (member[species[i]] != 0)) else -1


@nb.njit(**JIT_PARALLEL)
def bin_members(x, y, z, species, state, n, binned, searcher, lo, inv_h, dims, keys, search, n_chunks):
    """As :func:`cell_keys` for the ``binned`` species, and ``search[:m]`` = the live particles of
    ``searcher`` species in storage order (``search`` has n + 1 entries); returns m. In ``n_chunks`` parallel runs of indices
    (count, then write at the prefix offsets), without branches on the species (they lie mixed
    in storage order, so a branch would be mispredicted half the time)."""
    counts = np.zeros(n_chunks + 1, np.int64)
    for c in nb.prange(n_chunks):
        m = 0
        for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            ix, iy, iz = _cell_of(x[i], y[i], z[i], lo, inv_h, dims)
            live = state[i] == 0
            s = species[i]
            keys[i] = (ix * dims[1] + iy) * dims[2] + iz if (live & (binned[s] != 0)) else -1
            m += np.int64(live & (searcher[s] != 0))
        counts[c + 1] = m
    for c in range(n_chunks):
        counts[c + 1] += counts[c]
    scratch = search.shape[0] - 1  # (search has n + 1 entries)
    for c in nb.prange(n_chunks):
        m = counts[c]
        end = counts[c + 1]
        for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            # write every index and advance past the searchers only; a chunk's writes past its
            # last searcher go to the scratch entry, never into the next chunk's
            search[m if m < end else scratch] = i
            m += np.int64((state[i] == 0) & (searcher[species[i]] != 0))
    return counts[n_chunks]


@nb.njit(**JIT)
def counting_sort(keys, x, y, z, species, n, n_cells, start, items, sx, sy, sz, ssp):
    """CSR of particles by cell (those with keys[i] >= 0): items[start[c]:start[c+1]] are the
    particles in cell c, in increasing index order, and sx, sy, sz, ssp their positions and
    species in the same order (so a cell is read contiguously, and neighbouring cells lie near
    each other in memory). ``start`` has n_cells + 2 entries: the others (keys -1) go to a last
    bucket, so the loops have no branch on the key (the binned and the other species lie mixed
    in storage order; a branch on which it is was mispredicted half the time). Returns the
    number of particles in the cells."""
    start[:] = 0
    for i in range(n):
        k = keys[i]
        start[(k if k >= 0 else n_cells) + 1] += 1
    for b in range(n_cells + 1):
        start[b + 1] += start[b]
    fill = start[:n_cells + 1].copy()
    for i in range(n):
        k = keys[i]
        k = k if k >= 0 else n_cells
        t = fill[k]
        items[t] = i
        sx[t] = x[i]
        sy[t] = y[i]
        sz[t] = z[i]
        ssp[t] = species[i]
        fill[k] = t + 1
    return start[n_cells]


@nb.njit(**JIT_PARALLEL)
def find_pairs(x, y, z, pid, species, search, n, searcher, binned, start, items, sx, sy, sz, ssp, lo, inv_h, dims,
               ns, pair_first, rx_next, rho2, p, rho_max, seed_key, step, block, out_i, out_j, out_r, out_u,
               out_count):
    """Proposed pair reactions of one step.

    The live particles of searching species, ``search[:n]`` (in storage order, which the engine
    keeps spatial, so that consecutive searches read neighbouring cells), look for partners among the
    binned ones (``start``, ``items`` and their positions and species ``sx, sy, sz, ssp`` in
    cell order: :func:`counting_sort`). A pair (i, j) is examined once: by i, when i's species
    searches and j's is binned, unless j's species also searches and i's is binned and j < i
    (then by j). For each reaction r of the species pair (``pair_first[s_i * ns + s_j]``, then
    ``rx_next[r]``) with |x_i - x_j| < rho_r, the pair is proposed when its
    :func:`pair_uniform` u < p[r]. Block b of ``block`` searchers writes its proposals at
    [b * cap, ...) of the out arrays (cap = len(out_i) // number of blocks) and their number to
    out_count[b]; a count above cap means the buffer was too small (the caller retries with a
    larger one).
    """
    nblocks = (n + block - 1) // block
    cap = out_i.shape[0] // max(nblocks, 1)
    rm2 = rho_max * rho_max
    for b in nb.prange(nblocks):
        c = 0
        base = b * cap
        for q in range(b * block, min(n, (b + 1) * block)):
            i = search[q]
            si = species[i]
            both = binned[si] != 0
            xi = x[i]
            yi = y[i]
            zi = z[i]
            # neighbour cells only where the particle is within rho_max of a cell face
            ix, iy, iz, x0, x1, y0, y1, z0, z1 = cell_span(xi, yi, zi, lo, inv_h, dims, rho_max)
            for cx in range(x0, x1 + 1):
                for cy in range(y0, y1 + 1):
                    for cz in range(z0, z1 + 1):
                        bk = (cx * dims[1] + cy) * dims[2] + cz
                        for t in range(start[bk], start[bk + 1]):
                            sj = ssp[t]
                            r = pair_first[si * ns + sj]
                            if r < 0:
                                continue
                            dx = sx[t] - xi
                            dy = sy[t] - yi
                            dz = sz[t] - zi
                            d2 = dx * dx + dy * dy + dz * dz
                            if d2 >= rm2:
                                continue
                            j = items[t]
                            if j == i or (both and searcher[sj] != 0 and j < i):
                                continue
                            while r >= 0:
                                if d2 < rho2[r]:
                                    u = pair_uniform(seed_key, pid[i], pid[j], step, r)
                                    if u < p[r]:
                                        if c < cap:
                                            out_i[base + c] = i
                                            out_j[base + c] = j
                                            out_r[base + c] = r
                                            out_u[base + c] = u
                                        c += 1
                                r = rx_next[r]
        out_count[b] = c


@nb.njit(**JIT)
def accept_proposals(order, pi, pj, taken, accepted):
    """Greedy matching in priority order: proposal ``order[k]`` is accepted when neither of its
    particles is taken yet. Marks ``taken``; accepted[k] = 1 for accepted proposals (indexed as
    ``order``). Returns the number accepted."""
    m = 0
    for k in range(order.shape[0]):
        q = order[k]
        i = pi[q]
        j = pj[q]
        if taken[i] == 0 and taken[j] == 0:
            taken[i] = 1
            taken[j] = 1
            accepted[q] = 1
            m += 1
    return m


@nb.njit(**JIT)
def channel_uniforms(seed_key, pids, step, out):
    """A uniform per particle whose reaction clock ran out at ``step``: which of its first-order
    channels it takes (from its stream ``STREAM_USER`` at that step)."""
    for q in range(pids.shape[0]):
        hsh = counter_hash(particle_key(seed_key, pids[q]), step, STREAM_USER)
        out[q] = u01(next_hash(next_hash(hsh)))
