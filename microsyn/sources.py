"""Particle sources: instantaneous point release, constant-flux pore, uniform fill.

Sinks are surfaces: any absorbing surface removes particles with the exact Brownian-bridge
crossing probability, e.g. an absorbing far boundary (open space), or an absorbing sphere,
cylinder or mesh given as a hole (a buffer-free uptake site, a pump patch); the simulation books
each absorbed particle per surface and species (``Simulation.absorbed``).

A source is duck-typed: ``attach(sim)`` is called when it is added. Instantaneous sources
schedule an event; continuous sources register with the simulation and are asked, for each
stretch of steps, for their births (``births(sim, step0, nsteps)`` returning the number of
particles born at each step). Born particles start at the source position at their step and
then diffuse. Random numbers come from :func:`microsyn.rng.stream` named after the source, so
the result does not depend on how a run is split into stretches.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import GeometryError, ParameterError, check_count, check_finite, check_positive, check_vector3
from .events import grid_step
from .units import PARTICLES_PER_UM3_PER_MM, current_to_ion_rate


class PointRelease:
    """Release ``n`` particles of a species at point ``at`` [um] at ``time`` [ms] (a whole number
    of the simulation's step, else :class:`~microsyn.events.OffGridTimeError` when added).

    Example
    -------
    >>> src = PointRelease("Na+", n=1000, at=(0, 0, 0.001), time=0.0)
    """

    phase = "release"

    def __init__(self, species: str, n: int, at, time: float = 0.0, name: str | None = None):
        self.species = species
        self.n = check_count("n (number of particles)", n)
        self.at = check_vector3("at", at)
        self.time = check_finite("time [ms]", time)
        if self.time < 0:
            raise ParameterError(f"release time must be >= 0 ms, got {self.time}")
        self.name = name or f"release:{species}@{self.at.tolist()}"

    def attach(self, sim):
        sim.check_inside(self.species, self.at[None, :], what=f"point release {self.name!r}")
        sim.schedule(self)

    def apply(self, sim):
        sim.add_particles(self.species, np.repeat(self.at[None, :], self.n, axis=0))


class FluxSource:
    """A constant-flux point source (an open pore): Poisson numbers of particles per step.

    Parameters
    ----------
    species : str
    rate : float
        Mean particles per ms [1/ms] (use :meth:`from_current` for a current in pA).
    at : 3 floats
        Position [um], inside the domain (e.g. just above a membrane pore).
    start, stop : float
        Emission window [ms]: particles are born at the steps in [start, stop). Both must be whole
        numbers of the simulation's step (checked when the source is added; see
        :mod:`microsyn.events`).
    """

    def __init__(self, species: str, rate: float, at, start: float = 0.0, stop: float = math.inf,
                 name: str | None = None):
        self.species = species
        self.rate = check_positive("rate [particles/ms]", rate, allow_zero=True)
        self.at = check_vector3("at", at)
        self.start = check_finite("start [ms]", start)
        if not (stop == math.inf or math.isfinite(stop)) or stop < start:
            raise ParameterError(f"stop must be >= start, got start={start}, stop={stop}")
        self.stop = float(stop)
        self.name = name or f"flux:{species}@{self.at.tolist()}"
        self._rng = None

    @classmethod
    def from_current(cls, species: str, current_pA: float, valence: int, at, **kw) -> "FluxSource":
        """A source carrying ``|current_pA|`` [pA] of ions of the given valence."""
        rate = abs(current_to_ion_rate(current_pA, valence))
        return cls(species, rate, at, **kw)

    def attach(self, sim):
        from .rng import stream

        sim.check_inside(self.species, self.at[None, :], what=f"flux source {self.name!r}")
        grid_step(self.start, sim.dt, what=f"start of flux source {self.name!r}")
        if math.isfinite(self.stop):
            grid_step(self.stop, sim.dt, what=f"stop of flux source {self.name!r}")
        self._rng = stream(sim.seed, self.name)
        sim.add_continuous_source(self)

    def births(self, sim, step0: int, nsteps: int) -> np.ndarray:
        """Particles born at each of the steps step0 .. step0 + nsteps - 1."""
        dt = sim.dt
        t = (step0 + np.arange(nsteps)) * dt
        on = (t >= self.start - 1e-12) & (t < self.stop - 1e-12)
        lam = self.rate * dt
        counts = self._rng.poisson(lam, size=nsteps)  # drawn for every step: chunk-independent
        counts[~on] = 0
        return counts

    def positions(self, m: int) -> np.ndarray:
        return np.repeat(self.at[None, :], m, axis=0)


class UniformFill:
    """Fill a region (default: the whole domain) with particles at ``conc_mM`` [mM] at ``time``.

    The number placed is the expected count c V 602,214 (c in mM, V in um^3) rounded to the nearest whole particle,
    positions uniform in the region by rejection sampling. The domain (or ``region``) must be
    bounded.
    """

    phase = "release"

    def __init__(self, species: str, conc_mM: float, region=None, time: float = 0.0, name: str | None = None):
        self.species = species
        self.conc_mM = check_positive("conc_mM", conc_mM, allow_zero=True)
        self.region = region
        self.time = check_finite("time [ms]", time)
        self.name = name or f"fill:{species}"

    def attach(self, sim):
        sim.schedule(self)

    def sample(self, sim) -> np.ndarray:
        from .rng import stream

        rng = stream(sim.seed, self.name)
        dom = sim.domain
        if self.region is not None:
            lo, hi = self.region.bounds()
        else:
            lo, hi = dom.bounds()
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise GeometryError(
                f"{self.name}: cannot fill an unbounded region; give a bounded region= shape"
            )
        box_vol = float(np.prod(hi - lo))
        # estimate the fillable volume by Monte Carlo, then place the expected number
        pts = rng.uniform(lo, hi, size=(200_000, 3))
        ok = self._accept(sim, pts)
        frac = ok.mean()
        if frac == 0:
            raise GeometryError(f"{self.name}: the region does not overlap the domain")
        vol = frac * box_vol
        n = int(round(self.conc_mM * vol * PARTICLES_PER_UM3_PER_MM))
        out = np.empty((0, 3))
        while out.shape[0] < n:
            m = int((n - out.shape[0]) / max(frac, 1e-3) * 1.1) + 16
            cand = rng.uniform(lo, hi, size=(m, 3))
            out = np.concatenate([out, cand[self._accept(sim, cand)]])
        return out[:n]

    def _accept(self, sim, pts):
        ok = sim.domain.contains(pts, species=self.species)
        if self.region is not None:
            ok &= self.region.contains(pts)
        return ok

    def apply(self, sim):
        sim.add_particles(self.species, self.sample(sim))
