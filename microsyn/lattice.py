"""Voxel lattices: particle counts as concentration [mM] and charge density, for readouts and
isosurfaces.

Example
-------
>>> import microsyn as ms
>>> lat = ms.Lattice(lo=(-1, -1, 0), hi=(1, 1, 1), voxel_size=0.1)
>>> lat.shape
(20, 20, 10)
"""
from __future__ import annotations

import numpy as np

from .errors import ParameterError, check_positive
from .units import ELEMENTARY_CHARGE_C, PARTICLES_PER_UM3_PER_MM


class Lattice:
    """A regular voxel grid from ``lo`` to ``hi`` [um] with cubic voxels of ``voxel_size`` [um]
    (the upper bounds are rounded up to whole voxels) or with a given ``shape``."""

    def __init__(self, lo, hi, voxel_size: float | None = None, shape=None):
        lo = np.asarray(lo, dtype=float)
        hi = np.asarray(hi, dtype=float)
        if lo.shape != (3,) or hi.shape != (3,) or not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ParameterError("lattice bounds lo, hi must be three finite numbers each [um]")
        if np.any(hi <= lo):
            raise ParameterError(f"lattice needs hi > lo on every axis, got lo={lo.tolist()}, hi={hi.tolist()}")
        if (voxel_size is None) == (shape is None):
            raise ParameterError("give exactly one of voxel_size [um] or shape (nx, ny, nz)")
        if voxel_size is not None:
            h = check_positive("voxel_size [um]", voxel_size)
            n = np.maximum(1, np.ceil((hi - lo) / h - 1e-9)).astype(int)
            self.spacing = np.full(3, h)
            hi = lo + n * h
        else:
            n = np.asarray(shape, dtype=int)
            if n.shape != (3,) or np.any(n < 1):
                raise ParameterError(f"shape must be three whole numbers >= 1, got {shape!r}")
            self.spacing = (hi - lo) / n
        if np.prod(n) > 2e8:
            raise ParameterError(f"lattice of {np.prod(n):.3g} voxels is too large; use larger voxels")
        self.lo = lo
        self.hi = hi
        self.shape = tuple(int(v) for v in n)

    @property
    def voxel_volume_um3(self) -> float:
        return float(np.prod(self.spacing))

    def centers(self, axis: int) -> np.ndarray:
        """Voxel centre coordinates [um] along one axis."""
        return self.lo[axis] + (np.arange(self.shape[axis]) + 0.5) * self.spacing[axis]

    def _bin(self, sim, weights) -> tuple[np.ndarray, int]:
        from ._kernels.binning import bin_counts

        out = np.zeros(self.shape)
        ps = sim.particles
        outside = bin_counts(ps.x, ps.y, ps.z, ps.species, np.asarray(weights, float), self.lo,
                             self.spacing, out)
        return out, int(outside)

    def counts(self, sim, species) -> np.ndarray:
        """Particles of a species per voxel. Particles outside the lattice are counted in
        :attr:`last_outside`, not dropped silently."""
        w = np.zeros(max(len(sim.species), 1))
        w[sim.species.index(species)] = 1.0
        out, self.last_outside = self._bin(sim, w)
        return out

    def concentration_mM(self, sim, species) -> np.ndarray:
        """Concentration [mM] of a species per voxel (counts / (voxel volume [um^3] * 602,214))."""
        return self.counts(sim, species) / (self.voxel_volume_um3 * PARTICLES_PER_UM3_PER_MM)

    def charge_density(self, sim) -> np.ndarray:
        """Charge of the tracked particles per voxel volume [e/um^3] (sum of valences)."""
        w = np.array([s.valence for s in sim.species] or [0.0], float)
        out, self.last_outside = self._bin(sim, w)
        return out / self.voxel_volume_um3

    def counts_by_species(self, sim) -> np.ndarray:
        """Particles per voxel of every species in one pass: (n_species, nx, ny, nz), species in
        the simulation's order. :attr:`last_outside` then holds the particles (of any species)
        outside the lattice."""
        from ._kernels.binning import bin_counts_by_species

        out = np.zeros((max(len(sim.species), 1),) + self.shape)
        ps = sim.particles
        outside = bin_counts_by_species(ps.x, ps.y, ps.z, ps.species, self.lo, self.spacing, out)
        self.last_outside = int(outside.sum())
        return out

    def concentrations_and_charge(self, sim, species) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`concentration_mM` of each of ``species`` and :meth:`charge_density`, rounded to
        float32 (the numbers of ``concentration_mM(sim, s).astype(np.float32)`` and
        ``charge_density(sim).astype(np.float32)``), from one binning pass
        (:meth:`counts_by_species`).

        Returns
        -------
        conc : (len(species), nx, ny, nz) float32
            Concentration [mM] of each of ``species``, in that order.
        charge : (nx, ny, nz) float32
            Charge density [e/um^3].
        """
        from ._kernels.binning import fields_from_counts

        counts = self.counts_by_species(sim)
        pick = np.array([sim.species.index(s) for s in species], np.int64)
        valence = np.array([float(sp.valence) for sp in sim.species] or [0.0])
        conc = np.empty((pick.size,) + self.shape, np.float32)
        charge = np.empty(self.shape, np.float32)
        fields_from_counts(counts, pick, self.voxel_volume_um3 * PARTICLES_PER_UM3_PER_MM, valence,
                           self.voxel_volume_um3, conc, charge)
        return conc, charge

    def charge_density_C_per_m3(self, sim) -> np.ndarray:
        """Charge density [C/m^3] (1 e/um^3 = 0.1602 C/m^3)."""
        return self.charge_density(sim) * ELEMENTARY_CHARGE_C * 1e18

    def to_pyvista(self, **fields):
        """A pyvista.ImageData with cell data ``fields`` (arrays of this lattice's shape)."""
        import pyvista as pv

        grid = pv.ImageData(dimensions=np.array(self.shape) + 1, spacing=self.spacing, origin=self.lo)
        for name, arr in fields.items():
            a = np.asarray(arr)
            if a.shape != self.shape:
                raise ParameterError(f"field {name!r} has shape {a.shape}, lattice is {self.shape}")
            grid.cell_data[name] = a.ravel(order="F")
        return grid
