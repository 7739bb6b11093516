"""Reaction clocks: first-order reactions of particles as exact waiting times, inside the steps.

A particle whose species has first-order reactions (its own, A -> ..., rate k [1/ms], or with a
lattice field F at its voxel, A + F -> ..., rate k [F] [1/(mM ms) x mM]) reacts after an
exponential waiting time of its total rate. With a rate that changes as the particle moves
from voxel to voxel, the waiting time is that of an inhomogeneous Poisson process: the particle
reacts when its integrated rate reaches a threshold E ~ Exp(1). The stepping kernels keep
``clock = E - integral of the rate so far`` per particle: after each step of dt they subtract
k_total(x) dt, with x the particle's position after the step, and when the clock reaches 0 the
particle stops there (state :data:`FIRED`, clock = -1 - the global step). The reaction pass then
picks which channel fired, in proportion to their rates at that point, and makes the products.

E is drawn once per particle from its own counter stream (:data:`STREAM_CLOCK`), so it does not
depend on the thread count or on how a run is cut into kernel calls; a step costs one
multiply-add per reacting particle, not a random number.

The table (:meth:`microsyn.reactions.engine.ReactionEngine.clock_args` builds it):

- ``on[s]`` 1 if species s has first-order reactions; ``k_own[s]`` their own total [1/ms];
- ``rate_row[s]`` the row of ``rate_field`` that holds species s's total rate with the fields
  [1/ms] per voxel, sum over its field reactions of k [F], with [F] the fields as particles
  see them (updated at each field step); a voxel outside the domain holds the value of the
  live voxel that stands in for it. The last row, and the last column (a point outside the
  lattice), are 0: a species without field reactions has the last row;
- the lattice: ``lat_lo``, ``lat_hi`` [um], ``inv_h`` (1 / spacing [1/um]), ``lat_shape``.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..config import JIT
from .random import STREAM_CLOCK, counter_hash, u01_open0

#: state of a particle whose clock ran out (the reaction pass turns it into its products)
FIRED = np.int16(32766)


@nb.njit(inline="always", **JIT)
def lattice_voxel(x, y, z, lo, hi, inv_h, nx, ny, nz):
    """Flat voxel of a point as :meth:`microsyn.reactions.fields.FieldSet.voxel_index` finds it
    (floor((x - lo) / h), a point on the upper face in the last voxel), -1 outside."""
    fi = (x - lo[0]) * inv_h[0]
    fj = (y - lo[1]) * inv_h[1]
    fk = (z - lo[2]) * inv_h[2]
    if not (fi >= 0.0 and fj >= 0.0 and fk >= 0.0 and fi < 9.0e18 and fj < 9.0e18 and fk < 9.0e18):
        return -1  # below the lattice, not finite or far beyond it
    i = np.int64(fi)
    j = np.int64(fj)
    k = np.int64(fk)
    if i >= nx and x <= hi[0]:
        i = nx - 1
    if j >= ny and y <= hi[1]:
        j = ny - 1
    if k >= nz and z <= hi[2]:
        k = nz - 1
    if i >= nx or j >= ny or k >= nz:
        return -1
    return (i * ny + j) * nz + k


@nb.njit(inline="always", **JIT)
def clock_threshold(kp):
    """E ~ Exp(1) of the particle with key ``kp``."""
    return -math.log(u01_open0(counter_hash(kp, 0, STREAM_CLOCK)))


@nb.njit(inline="always", **JIT)
def clock_cell(x, y, z, lat_lo, lat_hi, inv_h, nx, ny, nz):
    """The column of ``rate_field`` for a point: its flat voxel as :func:`lattice_voxel` finds
    it, or nx * ny * nz (the zero column) outside the lattice. Branch-free, so that a loop of
    it vectorises."""
    inside = (x >= lat_lo[0]) & (x <= lat_hi[0]) & (y >= lat_lo[1]) & (y <= lat_hi[1]) & \
        (z >= lat_lo[2]) & (z <= lat_hi[2])
    i = min(np.int64((x - lat_lo[0]) * inv_h[0]), nx - 1)
    j = min(np.int64((y - lat_lo[1]) * inv_h[1]), ny - 1)
    k = min(np.int64((z - lat_lo[2]) * inv_h[2]), nz - 1)
    return (i * ny + j) * nz + k if inside else nx * ny * nz


@nb.njit(inline="always", **JIT)
def clock_rate(s, x, y, z, k_own, rate_row, rate_field, lat_lo, lat_hi, inv_h, lat_shape):
    """The total first-order rate [1/ms] of a particle of species ``s`` at (x, y, z)."""
    cell = clock_cell(x, y, z, lat_lo, lat_hi, inv_h, lat_shape[0], lat_shape[1], lat_shape[2])
    return k_own[s] + rate_field[rate_row[s], cell]


def no_clocks(n_species: int, dt: float) -> tuple:
    """The clock arguments of the stepping kernels (after ``clock``) when nothing reacts."""
    ns = max(int(n_species), 1)
    return (float(dt), np.zeros(ns, np.uint8), np.zeros(ns), np.zeros(ns, np.int64), np.zeros((1, 2)),
            np.zeros(3), np.ones(3), np.ones(3), np.ones(3, np.int64))
