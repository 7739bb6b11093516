"""Triggers and recorders: what is measured, and when.

A *trigger* says at which steps something runs (:class:`Every`, :class:`At`). A *recorder*
(a writer) is any object with a ``trigger`` and a ``record(sim)`` method;
it runs after the events of its step, so it sees the state after them. A recorder may also
have an ``end_run(sim)`` method: :meth:`Simulation.run <microsyn.Simulation.run>` (and
``run_until``, ``run_until_step``) calls it once at the end of every run, also when the run
raised, so that a writer that keeps a file open during a run
(:class:`~microsyn.results.ResultsWriter`) leaves it complete on disk. The recorders here
keep their results in memory as numpy arrays with units in their names and need no
``end_run``.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import ParameterError, check_positive, check_vector3
from .events import grid_step
from .units import PARTICLES_PER_UM3_PER_MM


class Every:
    """Due every ``interval`` [ms] from ``start`` [ms] (inclusive).

    Both must be whole numbers of the simulation's time step (see :mod:`microsyn.events`, "Times
    on the step grid"); otherwise :class:`~microsyn.events.OffGridTimeError` is raised when the
    trigger meets the simulation (``Simulation.add_recorder``).
    """

    def __init__(self, interval: float, start: float = 0.0):
        self.interval = check_positive("interval [ms]", interval)
        self.start = check_positive("start [ms]", start, allow_zero=True)
        self._grid = None  # (dt, steps per interval, first step)

    def steps(self, dt: float) -> tuple[int, int]:
        """(steps per interval, first step) on the grid of step ``dt`` [ms]; raises if off it."""
        if self._grid is None or self._grid[0] != dt:
            k = grid_step(self.interval, dt, what="trigger interval")
            s0 = grid_step(self.start, dt, what="trigger start")
            self._grid = (dt, k, s0)
        return self._grid[1], self._grid[2]

    check = steps

    def next_step(self, step: int, dt: float) -> int:
        """The first due step >= ``step``."""
        k_int, s0 = self.steps(dt)
        if step <= s0:
            return s0
        return s0 + int(math.ceil((step - s0) / k_int)) * k_int


class At:
    """Due at the given times [ms], each a whole number of the simulation's time step (see
    :mod:`microsyn.events`; checked when the trigger meets the simulation)."""

    def __init__(self, times):
        self.times = np.sort(np.asarray(times, dtype=float).ravel())
        if self.times.size and (not np.all(np.isfinite(self.times)) or self.times[0] < 0):
            raise ParameterError("trigger times must be finite and >= 0 ms")
        self._grid = None  # (dt, steps)

    def steps(self, dt: float) -> np.ndarray:
        """The due steps on the grid of step ``dt`` [ms]; raises if a time is off it."""
        if self._grid is None or self._grid[0] != dt:
            st = np.array([grid_step(t, dt, what="trigger time") for t in self.times], dtype=np.int64)
            self._grid = (dt, st)
        return self._grid[1]

    check = steps

    def next_step(self, step: int, dt: float) -> float:
        steps = self.steps(dt)
        later = steps[steps >= step]
        return int(later[0]) if later.size else math.inf


def _as_trigger(trigger):
    if trigger is None:
        return None
    if hasattr(trigger, "next_step"):
        return trigger
    if isinstance(trigger, (int, float)):
        return Every(float(trigger))
    return At(trigger)


class Recorder:
    """Base class: keeps ``times_ms`` and a list of records."""

    def __init__(self, trigger=None):
        self.trigger = _as_trigger(trigger)
        self.times_ms: list[float] = []
        self._rows: list = []

    def record(self, sim):
        self.times_ms.append(sim.time)
        self._rows.append(self.measure(sim))

    def measure(self, sim):
        raise NotImplementedError

    @property
    def data(self) -> np.ndarray:
        return np.array(self._rows)


class Count(Recorder):
    """Number of live particles of a species (in ``region`` if given, any Shape)."""

    def __init__(self, species: str, region=None, trigger=None):
        super().__init__(trigger)
        self.species = species
        self.region = region

    def measure(self, sim):
        pos = sim.positions(self.species)
        if self.region is None:
            return pos.shape[0]
        return int(np.count_nonzero(self.region.contains(pos))) if pos.shape[0] else 0


class ReactionCount(Recorder):
    """Events of a reaction so far (cumulative), in ``region`` (any Shape) if given.

    ``reaction`` is a reaction's name (a reversible one's reverse is ``"<name> (reverse)"``) or
    a :class:`~microsyn.reactions.spec.Reaction` (its forward direction). An event is placed
    where it happened: at the reactant's position for one particle, at the diffusion-weighted
    point of the two partners of a pair reaction, at the voxel of a lattice field. Counting in a
    region starts when the recorder is added; the reactions of fields alone (mass action) have
    no events to place and are counted without a region only.
    """

    def __init__(self, reaction, region=None, trigger=None):
        super().__init__(trigger)
        self.reaction = reaction if isinstance(reaction, str) else reaction.name
        self.region = region
        self._key = None

    def measure(self, sim):
        if self.region is None:
            counts = sim.reaction_counts
            if self.reaction not in counts:
                raise ParameterError(f"no reaction named {self.reaction!r} in this simulation; known: "
                                     f"{sorted(counts)}")
            return counts[self.reaction]
        if self._key is None:
            self._key = sim.reactions.watch(self.reaction, self.region)
        return sim.reactions.region_counts[self._key]


class RadialProfile(Recorder):
    """Counts and concentrations of a species in spherical shells around ``center``.

    With ``hemisphere_normal`` given, only the half-space that the normal points to is counted
    and shell volumes are halved (the hemispheres above a membrane pore).
    """

    def __init__(self, species: str, center, r_max: float, n_bins: int = 20,
                 hemisphere_normal=None, trigger=None):
        super().__init__(trigger)
        self.species = species
        self.center = check_vector3("center", center)
        self.r_max = check_positive("r_max [um]", r_max)
        if int(n_bins) < 1:
            raise ParameterError("n_bins must be >= 1")
        self.edges_um = np.linspace(0.0, self.r_max, int(n_bins) + 1)
        self.normal = None if hemisphere_normal is None else check_vector3("hemisphere_normal", hemisphere_normal)
        vol = 4.0 / 3.0 * math.pi * (self.edges_um[1:] ** 3 - self.edges_um[:-1] ** 3)
        self.shell_volume_um3 = vol / 2.0 if self.normal is not None else vol

    @property
    def r_um(self) -> np.ndarray:
        """Shell mid radii [um]."""
        return 0.5 * (self.edges_um[1:] + self.edges_um[:-1])

    def measure(self, sim):
        d = sim.positions(self.species) - self.center
        if self.normal is not None:
            d = d[d @ self.normal >= 0.0]
        r = np.sqrt(np.einsum("ij,ij->i", d, d))
        counts, _ = np.histogram(r, bins=self.edges_um)
        return counts

    @property
    def counts(self) -> np.ndarray:
        """(n_times, n_bins) particle counts."""
        return self.data

    @property
    def conc_mM(self) -> np.ndarray:
        """(n_times, n_bins) concentrations [mM]."""
        return self.data / (self.shell_volume_um3 * PARTICLES_PER_UM3_PER_MM)


class HeightProfile(Recorder):
    """Histogram of a coordinate (``axis`` 0, 1, 2 = x, y, z) of a species."""

    def __init__(self, species: str, edges, axis: int = 2, trigger=None):
        super().__init__(trigger)
        self.species = species
        self.edges_um = np.asarray(edges, dtype=float)
        if self.edges_um.ndim != 1 or self.edges_um.size < 2 or np.any(np.diff(self.edges_um) <= 0):
            raise ParameterError("edges must be an increasing 1D sequence of at least 2 heights [um]")
        if axis not in (0, 1, 2):
            raise ParameterError("axis must be 0, 1 or 2")
        self.axis = axis

    def measure(self, sim):
        p = sim.positions(self.species)
        counts, _ = np.histogram(p[:, self.axis], bins=self.edges_um)
        mean = float(p[:, self.axis].mean()) if p.shape[0] else math.nan
        return counts, mean

    @property
    def counts(self) -> np.ndarray:
        return np.array([r[0] for r in self._rows])

    @property
    def mean_um(self) -> np.ndarray:
        return np.array([r[1] for r in self._rows])


class MeanSquaredDisplacement(Recorder):
    """Mean squared displacement [um^2] of the particles of a species present at the first record.

    Particles that end (absorbed) are left out from then on.
    """

    def __init__(self, species: str, trigger=None):
        super().__init__(trigger)
        self.species = species
        self._ref_ids = None
        self._ref_pos = None

    def measure(self, sim):
        ids, pos = sim.ids_and_positions(self.species)
        if self._ref_ids is None:
            order = np.argsort(ids)
            self._ref_ids = ids[order]
            self._ref_pos = pos[order]
            return 0.0
        idx = np.searchsorted(self._ref_ids, ids)
        idx = np.clip(idx, 0, len(self._ref_ids) - 1)
        known = self._ref_ids[idx] == ids
        d = pos[known] - self._ref_pos[idx[known]]
        return float(np.mean(np.einsum("ij,ij->i", d, d))) if d.shape[0] else math.nan

    @property
    def msd_um2(self) -> np.ndarray:
        return self.data


class Snapshot(Recorder):
    """Positions [um] of a species (at most ``max_particles``, the lowest ids)."""

    def __init__(self, species: str | None = None, max_particles: int | None = None, trigger=None):
        super().__init__(trigger)
        self.species = species
        self.max_particles = max_particles

    def measure(self, sim):
        if self.species is None:
            ids, pos = sim.ids_and_positions(None)
        else:
            ids, pos = sim.ids_and_positions(self.species)
        if self.max_particles is not None and pos.shape[0] > self.max_particles:
            keep = np.argsort(ids)[: self.max_particles]
            pos = pos[np.sort(keep)]
        return pos

    @property
    def positions_um(self) -> list:
        return list(self._rows)
