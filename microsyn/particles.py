"""Structure-of-arrays particle storage.

One particle costs 48 bytes: x, y, z (float64, um), a unique id (uint64, the random-number key)
a species index (int16), a state (int16: 0 alive, +(k+1) absorbed at surface k, -(k+1)
transmitted out through surface k), a *reaction clock* (float64: the integrated first-order
reaction rate still to go before the particle reacts, an exponential of mean 1 drawn from its id
by the stepping kernel; NaN until drawn; see :mod:`microsyn._kernels.clocks`) and a *free radius*
(float32, um): a lower bound, left by the
last kernel call, on the distance from the particle to every surface of its domain (less the
Brownian-bridge margins), or -1 when unknown. The next call starts from it instead of looking
the geometry up again (for a mesh, eight lattice reads per particle). Anything that moves
particles outside the stepping kernels must set it to -1 (:meth:`ParticleStore.forget_free_radii`);
:meth:`append` does so for new particles. Arrays grow by doubling; ended particles are removed
by :meth:`ParticleStore.compact`, which keeps the order of the others.
"""
from __future__ import annotations

import numpy as np

from .config import ID_DTYPE, POSITION_DTYPE, SPECIES_DTYPE, STATE_DTYPE
from .errors import ParameterError

FREE_RADIUS_DTYPE = np.float32
BYTES_PER_PARTICLE = 3 * np.dtype(POSITION_DTYPE).itemsize + np.dtype(ID_DTYPE).itemsize + \
    np.dtype(SPECIES_DTYPE).itemsize + np.dtype(STATE_DTYPE).itemsize + np.dtype(FREE_RADIUS_DTYPE).itemsize + \
    np.dtype(np.float64).itemsize
_ARRAYS = ("_x", "_y", "_z", "_pid", "_species", "_state", "_free_r", "_clock")


class ParticleStore:
    """Positions [um], ids, species indices and states of all tracked particles."""

    def __init__(self, capacity: int = 1024):
        capacity = max(int(capacity), 16)
        self._x = np.empty(capacity, POSITION_DTYPE)
        self._y = np.empty(capacity, POSITION_DTYPE)
        self._z = np.empty(capacity, POSITION_DTYPE)
        self._pid = np.empty(capacity, ID_DTYPE)
        self._species = np.empty(capacity, SPECIES_DTYPE)
        self._state = np.empty(capacity, STATE_DTYPE)
        self._free_r = np.empty(capacity, FREE_RADIUS_DTYPE)
        self._clock = np.empty(capacity, np.float64)
        self.free_key = None  # what the free radii were computed for (geometry, steps, margins)
        self.n = 0
        self.next_id = 0

    # views of the live part --------------------------------------------------------
    @property
    def x(self):
        return self._x[: self.n]

    @property
    def y(self):
        return self._y[: self.n]

    @property
    def z(self):
        return self._z[: self.n]

    @property
    def pid(self):
        return self._pid[: self.n]

    @property
    def species(self):
        return self._species[: self.n]

    @property
    def state(self):
        return self._state[: self.n]

    @property
    def free_r(self):
        return self._free_r[: self.n]

    @property
    def clock(self):
        return self._clock[: self.n]

    def forget_free_radii(self) -> None:
        """Mark every free radius unknown (after moving particles outside the kernels, or when
        the geometry, the time step or a boundary condition changes)."""
        self.free_r[:] = -1.0

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "_clock" not in state:  # a store pickled before particles had reaction clocks
            self._clock = np.full(self._x.shape[0], np.nan)

    @property
    def capacity(self) -> int:
        return self._x.shape[0]

    def positions(self, mask=None) -> np.ndarray:
        """(n, 3) copy of the positions [um] (of the particles selected by ``mask``)."""
        p = np.stack([self.x, self.y, self.z], axis=1)
        return p if mask is None else p[mask]

    def _reserve(self, total: int):
        if total <= self.capacity:
            return
        cap = max(total, 2 * self.capacity)
        for name in _ARRAYS:
            old = getattr(self, name)
            new = np.empty(cap, old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)

    def append(self, species_index: np.ndarray | int, positions: np.ndarray) -> slice:
        """Add particles at ``positions`` (m, 3) [um]; returns the slice of their indices."""
        pos = np.asarray(positions, dtype=POSITION_DTYPE).reshape(-1, 3)
        m = pos.shape[0]
        if not np.all(np.isfinite(pos)):
            raise ParameterError("particle positions must be finite numbers [um]")
        self._reserve(self.n + m)
        s = slice(self.n, self.n + m)
        self._x[s] = pos[:, 0]
        self._y[s] = pos[:, 1]
        self._z[s] = pos[:, 2]
        self._pid[s] = np.arange(self.next_id, self.next_id + m, dtype=ID_DTYPE)
        self._species[s] = species_index
        self._state[s] = 0
        self._free_r[s] = -1.0
        self._clock[s] = np.nan
        self.n += m
        self.next_id += m
        return s

    def compact(self) -> np.ndarray:
        """Remove ended particles; return the states of the removed ones."""
        st = self.state
        ended = st != 0
        if not ended.any():
            return np.zeros(0, STATE_DTYPE)
        removed_states = st[ended].copy()
        removed_species = self.species[ended].copy()
        keep = ~ended
        k = int(keep.sum())
        for name in _ARRAYS:
            arr = getattr(self, name)
            arr[:k] = arr[: self.n][keep]
        self.n = k
        self.last_removed_species = removed_species
        return removed_states

    def permute(self, order: np.ndarray) -> None:
        """Reorder the particles (all arrays, free radii included): particle ``order[k]`` becomes
        particle k. Ids, and so every random number, stay with their particles."""
        order = np.asarray(order, np.int64)
        if order.shape != (self.n,):
            raise ParameterError(f"order must be a permutation of {self.n} indices")
        for name in _ARRAYS:
            arr = getattr(self, name)
            arr[: self.n] = arr[: self.n][order]

    def count(self, species_index: int | None = None) -> int:
        if species_index is None:
            return self.n
        return int(np.count_nonzero(self.species == species_index))

    @property
    def nbytes(self) -> int:
        return self.n * BYTES_PER_PARTICLE
