"""The simulation: particles, geometry, events, sources and recorders on one integer step clock."""
from __future__ import annotations

import math
import os
import warnings
import sys
import time as _time
from typing import Iterable

import numpy as np

from . import rng as _rng
from .config import BLOCK_SIZE, PARALLEL_MIN_PARTICLES

#: a one-step kernel call over at least this many particles takes the light path
#: (``step_once``, the rest gathered for ``step_table``)
ONE_STEP_MIN_PARTICLES = 4096
from .errors import DomainEscapeError, GeometryError, ParameterError, check_positive, refuse_large_dt
from .events import CallbackEvent, EventQueue, grid_step, time_to_step
from .geometry import CompiledGeometry, as_domain
from .particles import ParticleStore
from .reactions.engine import REACTED
from .recorders import _as_trigger
from .species import Species, SpeciesTable

GAUSSIAN_METHODS = ("table", "exact")

#: with reactions, the particles are put in spatial order every this many steps (at global step
#: multiples, so a run gives the same whatever its cuts): the reaction pass then reads memory
#: near what it read last (in random order, each particle cost several cache misses)
SORT_EVERY_STEPS = 64


class Simulation:
    """Brownian dynamics of ions and molecules in a domain, on an integer step clock.

    Parameters
    ----------
    geometry : Shape or Domain
        Where particles live, with boundary conditions per surface and species.
    dt : float
        Time step [ms] (1e-6 ms = 1 ns is typical near channels).
    species : iterable of str or Species
        Species to track (more can be added with :meth:`add_species`).
    seed : int
        Seed of every random number in the run; a seed gives bitwise-identical results
        whatever the thread count.
    gaussian : {"table", "exact"}
        Step distribution: a 65,536-entry table (variance exact, kurtosis 2.9998, tails cut at
        4.39 sigma; fastest) or exact normals by the ziggurat method.
    medium : {"cytoplasm", "water"}
        Which of a species' diffusion coefficients to use unless ``D`` overrides it.
    D : dict, optional
        Diffusion coefficients [um^2/ms] by species name.
    check_escapes : bool
        After every stretch of steps, verify every particle is inside its domain and raise
        :class:`~microsyn.errors.DomainEscapeError` otherwise (on by default; costs one
        geometry query per particle per stretch).
    allow_large_dt : bool
        Warn instead of refusing when the rms step sqrt(6 D dt) exceeds a quarter of the
        geometry's smallest feature.
    threads : int, optional
        Numba threads for the kernels (default: all).

    Notes
    -----
    The loop (:meth:`run`): time is ``step * dt``. Each pass finds the next step at which
    anything is due (an event, a recorder, the end of the run), asks the continuous sources
    for their births in between, advances diffusion to that step in one kernel call (each
    particle takes all the steps; newborns start at their birth step), removes absorbed
    particles, checks for escapes, then applies the due events in phase order (stimulus,
    gating, release, bookkeeping; ties in scheduling order) and runs the due recorders last,
    so they see the state after the events. At the end of every run, also one that raised,
    each recorder that has an ``end_run(sim)`` method gets it called once (a
    :class:`~microsyn.results.ResultsWriter` closes its file there; see
    :mod:`microsyn.recorders`).

    Every time given to a simulation (event, release and source times, recorder times and
    intervals, run durations) must be a whole number of steps ``dt`` (within a relative 1e-9);
    otherwise :class:`~microsyn.events.OffGridTimeError` names the nearest valid times (see
    :mod:`microsyn.events`). A long run shows a progress bar on a terminal (see :meth:`run`).
    :meth:`save` and :meth:`load` checkpoint a simulation: the loaded one continues bitwise
    identically to one that was never stopped.

    Example
    -------
    >>> import microsyn as ms
    >>> sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-6, species=["Na+"], seed=1)
    >>> _ = sim.release("Na+", n=100, at=(0.5, 0.5, 0.5))
    >>> _ = sim.run(1e-4)
    >>> sim.count("Na+")
    100
    """

    _ended_pending = False  # particles ended in a kernel call and wait to be removed
    #: threads also for kernel calls of fewer than PARALLEL_MIN_PARTICLES particles when a call
    #: has at least this many particle-steps (None: off; see ``config.PARALLEL_MIN_WORK``)
    parallel_min_work = None

    def __init__(self, geometry, dt: float, species: Iterable = (), seed: int = 0,
                 gaussian: str = "table", medium: str = "cytoplasm", D: dict | None = None,
                 check_escapes: bool = True, allow_large_dt: bool = False, threads: int | None = None):
        self.domain = as_domain(geometry)
        self.dt = check_positive("dt [ms]", dt)
        self.seed = _rng.check_seed(seed)
        self._seed_key = _rng.seed_key(self.seed)
        if gaussian not in GAUSSIAN_METHODS:
            raise ParameterError(f"gaussian must be one of {GAUSSIAN_METHODS}, got {gaussian!r}")
        self.gaussian = gaussian
        if medium not in ("cytoplasm", "water"):
            raise ParameterError(f"medium must be 'cytoplasm' or 'water', got {medium!r}")
        self.medium = medium
        self.check_escapes = bool(check_escapes)
        self.allow_large_dt = bool(allow_large_dt)
        if threads is not None and (int(threads) < 1):
            raise ParameterError(f"threads must be >= 1, got {threads}")
        self.threads = threads
        self.species = SpeciesTable()
        self._D: dict[str, float] = {}
        self.particles = ParticleStore()
        self.queue = EventQueue()
        self.recorders: list = []
        self._rec_last: dict[int, int] = {}
        self._continuous_sources: list = []
        self.step = 0
        self.absorbed: dict[tuple[str, str], int] = {}
        self.transmitted: dict[tuple[str, str], int] = {}
        self.stats = {"slow_steps": 0, "reflections": 0, "rejected_steps": 0, "ended": 0, "resolved": 0,
                      "folds": 0, "single_surface": 0, "kernel_calls": 0}
        self._compiled: CompiledGeometry | None = None
        #: wall-clock seconds spent in each part of the loop so far (a profile; ``microsyn bench``
        #: reports it): the stepping kernel, births of continuous sources, fates of ended
        #: particles, escape checks, events (including the synapse coupling's work) and recorders
        self.timings = dict(kernel=0.0, births=0.0, fates=0.0, escape_checks=0.0, events=0.0, recorders=0.0)
        self._run_end: int | None = None  # the step the current run ends at (None between runs)
        self._due_rest: list = []  # events of the current step still to be applied
        from .reactions.engine import ReactionEngine

        #: the reactions and their per-step pass (:mod:`microsyn.reactions.engine`)
        self.reactions = ReactionEngine(self)
        #: lattice fields (:class:`~microsyn.reactions.fields.FieldSet`), after :meth:`use_field_lattice`
        self.fields = None
        self._field_species: dict[str, Species] = {}
        for s in species:
            self.add_species(s)
        for name, value in (D or {}).items():
            self.set_D(name, value)

    # ------------------------------------------------------------------ species
    def add_species(self, species, D: float | None = None, kind: str = "particles") -> int:
        """Add a species (name of a standard ion or a :class:`Species`); returns its index.

        Parameters
        ----------
        species : str or Species
        D : float, optional
            Diffusion coefficient [um^2/ms] (default: the species' own for :attr:`medium`).
        kind : {"particles", "field"}
            Track it as particles (default), or keep it as a concentration field on the lattice
            of :meth:`use_field_lattice` (for abundant species such as mM buffers). Reactions,
            :meth:`fill` and :meth:`count` work with either, so the two representations can be
            compared by changing this one word. Returns the particle species index, or the
            field index for a field.
        """
        if kind not in ("particles", "field"):
            raise ParameterError(f"kind must be 'particles' or 'field', got {kind!r}")
        from .species import get_species

        sp = get_species(species)
        if kind == "field" or sp.name in self._field_species:
            return self._add_field_species(sp, D, kind)
        if self.fields is not None and sp.name in self.fields.names:
            raise ParameterError(f"{sp.name!r} is already a lattice field in this simulation")
        idx = self.species.add(sp)
        if D is not None:
            self.set_D(self.species[idx].name, D)
        self._compiled = None
        self.reactions.invalidate()
        return idx

    def _add_field_species(self, sp: Species, D, kind):
        if kind != "field":
            raise ParameterError(f"{sp.name!r} is a lattice field in this simulation, not particles")
        if sp.name in self.species:
            raise ParameterError(f"{sp.name!r} is already tracked as particles in this simulation; a "
                                 f"species is either particles or a field")
        if self.fields is None:
            raise ParameterError(
                f"a field species ({sp.name!r}) needs the field lattice first: call "
                f"sim.use_field_lattice(voxel_size=...) [um] before adding it")
        if sp.name in self._field_species:
            if self._field_species[sp.name] != sp:
                raise ParameterError(f"a different species named {sp.name!r} is already a field here")
            if D is not None:
                raise ParameterError(f"field {sp.name!r} exists; its D cannot change")
            return self.fields.index(sp.name)
        D = sp.D(self.medium) if D is None else check_positive(f"D of {sp.name} [um^2/ms] (0: immobile)", D,
                                                                allow_zero=True)
        self._field_species[sp.name] = sp
        idx = self.fields.add(sp.name, D)
        self.reactions.invalidate()
        return idx

    def use_field_lattice(self, voxel_size: float, lo=None, hi=None, dt: float | None = None,
                          scheme: str = "explicit"):
        """Set the voxel lattice [um] on which field species live (once, before the first one).

        Parameters
        ----------
        voxel_size : float
            Edge of the cubic voxels [um].
        lo, hi : array_like, optional
            Corners [um]; default: the domain's bounds (which must then be finite).
        dt : float, optional
            The fields' time step [ms], a whole number of particle steps; default
            (:meth:`FieldSet.default_dt`): explicit, 0.9 of the largest stable one (D dt / h^2
            <= 1/6); implicit, D dt / h^2 = 1.
        scheme : {"explicit", "implicit"}
            The fields' diffusion in time (:mod:`microsyn.reactions.fields`): forward Euler,
            exact to second order in space and stable up to D dt / h^2 = 1/6; or locally
            one-dimensional backward Euler, stable at any step (for small voxels, where the
            explicit step would be far shorter than anything else in the run).
        """
        from .lattice import Lattice
        from .reactions.fields import FieldSet

        if self.fields is not None:
            raise ParameterError("the field lattice is already set; it can be set once per simulation")
        if lo is None or hi is None:
            dlo, dhi = self.domain.bounds()
            lo = dlo if lo is None else lo
            hi = dhi if hi is None else hi
            if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
                raise ParameterError("the domain is unbounded: give the field lattice lo= and hi= [um]")
        self.fields = FieldSet(self.domain, Lattice(lo, hi, voxel_size=voxel_size), scheme=scheme)
        self._field_dt = None if dt is None else check_positive("field dt [ms]", dt)
        if self._field_dt is not None:
            grid_step(self._field_dt, self.dt, what="field dt")
        return self.fields

    def valences(self) -> dict[str, int]:
        """Charge numbers of every species of the simulation, particles and fields."""
        out = {s.name: s.valence for s in self.species}
        out.update({n: s.valence for n, s in self._field_species.items()})
        return out

    def add_reaction(self, reaction):
        """Add a :class:`~microsyn.reactions.spec.Reaction` (its species must be in the
        simulation, as particles or fields); returns it. See :mod:`microsyn.reactions.engine`."""
        self.reactions.add(reaction)
        return reaction

    @property
    def reaction_counts(self) -> dict[str, int]:
        """Events so far per reaction (a reversible one counts its two directions separately,
        the reverse named ``"<name> (reverse)"``). A reaction among lattice fields only is
        integrated as mass action: its entry is the net number of forward events, a float."""
        out = dict(self.reactions.counts)
        if self.fields is not None:
            for name, v in self.fields.net_events.items():
                out[name] = v
        return out

    def set_D(self, species: str, D: float) -> None:
        """Override the diffusion coefficient [um^2/ms] of a species; 0 makes it immobile (fixed
        binding sites such as receptors or sensors: see :meth:`add_sites`)."""
        sp = self.species[species]
        self._D[sp.name] = check_positive(f"D of {sp.name} [um^2/ms]", D, allow_zero=True)
        self._compiled = None
        self.reactions.invalidate()

    def D(self, species) -> float:
        """Diffusion coefficient [um^2/ms] used for a species."""
        sp: Species = self.species[species]
        return self._D.get(sp.name, sp.D(self.medium))

    @property
    def time(self) -> float:
        """Current time [ms]."""
        return self.step * self.dt

    # ------------------------------------------------------------------ checks
    def _check_dt(self):
        feature = self.domain.smallest_feature()
        for sp in self.species:
            rms = math.sqrt(6.0 * self.D(sp.name) * self.dt)
            if rms > 0.25 * feature:
                dt_max = (0.25 * feature) ** 2 / (6.0 * self.D(sp.name))
                msg = (f"dt = {self.dt:g} ms gives {sp.name} an rms step of {rms:.3g} um, more than "
                       f"a quarter of the geometry's smallest feature ({feature:.3g} um); use "
                       f"dt <= {dt_max:.3g} ms")
                refuse_large_dt(msg, self.allow_large_dt, stacklevel=3)

    def _compile(self) -> CompiledGeometry:
        self._check_dt()
        key = self.domain.compile_key(self.species.names)
        if self._compiled is None or getattr(self, "_compiled_key", None) != key:
            cg = self.domain.compile(self.species.names)
            D = np.array([self.D(s.name) for s in self.species] or [1.0])
            self._compiled = cg.with_partial_probabilities(np.sqrt(2.0 * D * self.dt), self.dt)
            self._compiled_key = key
            self._check_mesh_patches(np.sqrt(2.0 * D * self.dt))
        return self._compiled

    def _check_mesh_patches(self, sigma):
        """Warn where a triangle patch's Brownian-bridge test reaches beyond the distance band of
        its mesh (there the touching point's patch is judged from a lower bound on the distance)."""
        from ._kernels.geometry import BAND_VOXELS
        from .geometry import Mesh

        for name, (surf, patch) in self.domain.patches.items():
            shape, _ = self.domain._face(surf)
            if not isinstance(shape, Mesh):
                continue
            reach = 4.5 * float(np.max(sigma))
            band = BAND_VOXELS * shape.voxel_size
            if reach > band and any(self.domain.boundary(n, sp.name) == "absorb"
                                    for n in (name, surf) for sp in self.species):
                warnings.warn(
                    f"patch {name!r} on mesh {shape.name!r}: the Brownian-bridge margin ({reach:.3g} um, "
                    f"4.5 rms steps) exceeds the mesh's exact distance band ({band:.3g} um), so "
                    f"absorptions near the patch's edge may be booked to the wrong side of it; use "
                    f"Mesh(..., voxel_size >= {reach / BAND_VOXELS:.3g}) or a smaller dt", stacklevel=4)

    def check_inside(self, species, points, what="particles"):
        """Raise :class:`GeometryError` unless all ``points`` (n, 3) [um] are inside the domain of
        ``species`` (adding the species if it is new); ``what`` names them in the message."""
        if species not in self.species:
            self.add_species(species)
        sp = self.species[species].name
        ok = self.domain.contains(points, species=sp)
        if not np.all(ok):
            bad = np.asarray(points)[~ok][0]
            raise GeometryError(
                f"{what}: position {np.round(bad, 6).tolist()} um is outside the domain for {sp}; "
                f"place it inside (a point exactly on a reflecting surface counts as inside)"
            )

    # ------------------------------------------------------------------ particles and sources
    def add_particles(self, species, positions) -> None:
        """Add particles of a species at ``positions`` (n, 3) [um] now."""
        pos = np.asarray(positions, dtype=float).reshape(-1, 3)
        self.check_inside(species, pos)
        self.particles.append(self.species.index(species), pos)

    def add_continuous_source(self, source) -> None:
        """Register a source asked for births every stretch: ``source.births(sim, step0, nsteps)``
        returns particles born per step and ``source.positions(m)`` their places; ``source.species``
        names their species."""
        if not (hasattr(source, "births") and hasattr(source, "positions")):
            raise ParameterError("a continuous source needs births(sim, step0, nsteps) and positions(m)")
        if source.species not in self.species:
            self.add_species(source.species)
        self._continuous_sources.append(source)

    def add_sites(self, species, positions) -> None:
        """Add fixed binding sites: immobile particles of ``species`` at ``positions`` (n, 3)
        [um] (on a surface or in the volume; a point on a reflecting surface counts as inside).

        A site's Markov state is its species: ligand binding is a pair reaction
        (``"Glu + R0 -> R1"``, with the product at the site, since an immobile partner has all
        the weight), unbinding and conformational changes are first-order reactions, so sites
        sample the local concentration by real encounters. The species is added with D = 0 if
        it is new; an existing species must already be immobile.
        """
        from .species import get_species

        sp = self.species[species] if isinstance(species, str) and species in self.species else get_species(species)
        if sp.name not in self.species:
            self.add_species(sp, D=0.0)
        elif self.D(sp.name) != 0.0:
            raise ParameterError(f"sites of {sp.name!r}: that species diffuses (D = {self.D(sp.name):g} "
                                 f"um^2/ms); give sites their own species, or set its D to 0")
        self.add_particles(sp.name, positions)

    def add_source(self, source):
        """Add a source (:class:`~microsyn.sources.PointRelease`, ``FluxSource``, ...)."""
        if not hasattr(source, "attach"):
            raise ParameterError(f"a source needs an attach(sim) method, got {source!r}")
        if source.species not in self.species:
            self.add_species(source.species)
        source.attach(self)
        return source

    def release(self, species, n: int, at, time: float | None = None):
        """Release ``n`` particles at point ``at`` [um] at ``time`` [ms] (default: now)."""
        from .sources import PointRelease

        return self.add_source(PointRelease(species, n, at, self.time if time is None else time))

    def fill(self, species, conc_mM: float, region=None, time: float | None = None):
        """Fill the domain (or ``region``) uniformly at ``conc_mM`` [mM] at ``time`` (default now).

        For a field species the field's concentration is set to ``conc_mM`` in the voxels of the
        region (the others keep theirs)."""
        from .sources import UniformFill

        if species in self._field_species:
            if time is not None and abs(time - self.time) > 1e-12:
                return self.schedule(time, lambda sim: sim.fields.set_concentration(species, conc_mM, region))
            check_positive("conc_mM", conc_mM, allow_zero=True)
            self.fields.set_concentration(species, conc_mM, region)
            return None

        return self.add_source(UniformFill(species, conc_mM, region, self.time if time is None else time))

    def schedule(self, event, func=None):
        """Schedule an event (an object with ``time`` and ``apply``), or ``func(sim)`` at a time."""
        if func is not None:
            event = CallbackEvent(float(event), func)
        return self.queue.push(event, self.dt, self.step)

    def add_recorder(self, recorder, trigger=None):
        """Add a recorder; ``trigger`` (ms interval, list of times, or a trigger) overrides its own."""
        if trigger is not None:
            recorder.trigger = _as_trigger(trigger)
        if getattr(recorder, "trigger", None) is None or not hasattr(recorder, "record"):
            raise ParameterError("a recorder needs a trigger (e.g. every=0.01 ms) and a record(sim) method")
        if hasattr(recorder.trigger, "check"):  # times and intervals on the step grid, or raise now
            recorder.trigger.check(self.dt)
        species = getattr(recorder, "species", None)
        if species is not None and species not in self.species:
            self.add_species(species)
        self.recorders.append(recorder)
        return recorder

    # ------------------------------------------------------------------ queries
    def _species_mask(self, species):
        if species is None:
            return None
        return self.particles.species == self.species.index(species)

    def positions(self, species=None) -> np.ndarray:
        """(n, 3) positions [um] of the live particles (of a species)."""
        return self.particles.positions(self._species_mask(species))

    def ids_and_positions(self, species=None):
        m = self._species_mask(species)
        ids = self.particles.pid if m is None else self.particles.pid[m]
        return ids.copy(), self.particles.positions(m)

    def count(self, species=None) -> int:
        """Number of live particles (of a species); for a field species, its total number of
        molecules (a float)."""
        if species is None:
            return self.particles.n
        if isinstance(species, str) and species in self._field_species:
            return float(self.fields.total_molecules(species))
        return self.particles.count(self.species.index(species))

    # ------------------------------------------------------------------ the loop
    def run(self, duration: float, progress: bool | None = None) -> "Simulation":
        """Advance by ``duration`` [ms]; see the class Notes.

        Parameters
        ----------
        duration : float
            How long to run [ms]: a whole number of steps ``dt`` (else
            :class:`~microsyn.events.OffGridTimeError`).
        progress : bool, optional
            Show a progress bar on stderr (simulated time, particles alive, time left). Default:
            on when stderr is a terminal, unless the environment sets ``MICROSYN_PROGRESS=0``.
            The bar appears only for runs longer than a second and never changes the results.
        """
        duration = check_positive("duration [ms]", duration, allow_zero=True)
        n_steps = grid_step(duration, self.dt, what="run duration")
        return self.run_until_step(self.step + n_steps, progress=progress)

    def run_until(self, t_end: float, progress: bool | None = None) -> "Simulation":
        """Advance to the first step at or after time ``t_end`` [ms] (an end condition, so it is
        not required to be on the step grid; :attr:`time` then says the time reached). See
        :meth:`run` for ``progress``."""
        return self.run_until_step(time_to_step(t_end, self.dt), progress=progress)

    def run_until_step(self, end_step: int, progress: bool | None = None) -> "Simulation":
        """Advance to step ``end_step``; see :meth:`run` for ``progress``."""
        cg = self._compile()
        self._run_end = int(end_step)
        try:
            self._run_until(end_step, cg, progress)
        finally:
            self._run_end = None
            for r in self.recorders:  # the optional end-of-run role (see the class Notes)
                end_run = getattr(r, "end_run", None)
                if end_run is not None:
                    end_run(self)
        return self

    def _run_until(self, end_step, cg, progress):
        bar = None
        try:
            cg = self._events_then_recorders(cg)
            bar = _Progress.open(self, end_step, progress)
            while self.step < end_step:
                nxt = min(end_step, self.queue.next_step(), self._next_recorder_step(self.step + 1))
                if bar is not None:  # shorter stretches to update the bar: results do not change
                    nxt = min(nxt, self.step + bar.chunk_steps)
                t0 = _time.perf_counter()
                n = int(nxt) - self.step
                self._advance(n, cg)
                if self._compiled is None:  # species were added by an event
                    cg = self._compile()
                cg = self._events_then_recorders(cg)
                if bar is not None:
                    bar.update(n, _time.perf_counter() - t0)
        finally:
            if bar is not None:
                bar.close()

    def _events_then_recorders(self, cg):
        """Apply the due events, then run the due recorders (timed); returns the compiled
        geometry, recompiled if an event added species."""
        t1 = _time.perf_counter()
        self._apply_due_events()
        t2 = _time.perf_counter()
        if self._compiled is None:
            cg = self._compile()
        self._run_due_recorders()
        self.timings["events"] += t2 - t1
        self.timings["recorders"] += _time.perf_counter() - t2
        return cg

    def horizon_step(self) -> int:
        """The first step (>= the current one) at which anything may look at or change the state:
        the end of the run under way, an event still to be applied (now or queued) or a recorder.

        An event may work ahead of the particles up to this step (e.g. the synapse coupling
        steps the electrical model over many of its steps at once): nothing can see the
        difference. Between runs it is the current step.
        """
        if self._run_end is None or self._due_rest:
            return self.step
        h = min(self._run_end, self.queue.next_step(), self._next_recorder_step(self.step))
        return int(max(h, self.step))

    # ------------------------------------------------------------------ checkpoints
    def save(self, path) -> str:
        """Write a checkpoint of the whole simulation (particles, clock, events, sources, recorders
        with what they recorded, random-stream states) to ``path``; returns the path.

        :meth:`load` gives back a simulation whose continuation is bitwise identical to this one
        never stopped: ``run(a + b)`` equals ``run(a); save; load; run(b)``. The file is written
        atomically (a temporary file in the same folder, then renamed), so an interrupted save
        never leaves a half-written checkpoint. Format: see :mod:`microsyn.checkpoint`.

        Raises
        ------
        OutputPathError
            If the folder of ``path`` cannot be written.
        CheckpointError
            If something in the simulation cannot be stored (e.g. a lambda as a callback).
        """
        from .checkpoint import save

        return save(self, path)

    @classmethod
    def load(cls, path) -> "Simulation":
        """Read a checkpoint written by :meth:`save` (only load files you trust: a checkpoint is
        a pickle, which can run code).

        Raises
        ------
        CheckpointError
            If the file is not a microsyn checkpoint of a Simulation, or of another format version.
        """
        from .checkpoint import load

        return load(path, cls)

    def _next_recorder_step(self, step):
        nxt = math.inf
        for r in self.recorders:
            nxt = min(nxt, r.trigger.next_step(step, self.dt))
        return nxt

    def _apply_due_events(self):
        while True:
            due = self.queue.pop_due(self.step)
            if not due:
                return
            try:
                for k, ev in enumerate(due):
                    self._due_rest = due[k + 1:]
                    ev.apply(self)
            finally:
                self._due_rest = []

    def _run_due_recorders(self):
        for k, r in enumerate(self.recorders):
            if self._rec_last.get(k) == self.step:
                continue
            if r.trigger.next_step(self.step, self.dt) == self.step:
                r.record(self)
                self._rec_last[k] = self.step

    def _kernel_args(self, cg):
        ns = max(len(self.species), 1)
        D = np.array([self.D(s.name) for s in self.species] or [1.0])
        sigma = np.sqrt(2.0 * D * self.dt)
        Ddt = D * self.dt
        # bridge margin: 4.5 sigma, beyond which exp(-d0 d1 / (D dt)) < exp(-40.5)
        margin = np.where(cg.has_absorb[:ns] != 0, 4.5 * sigma, 0.0)
        return sigma, Ddt, margin

    def _advance(self, nsteps: int, cg: CompiledGeometry):
        if nsteps <= 0:
            return
        if not self.reactions.active:
            self._diffuse(nsteps, cg, check=True)
            return
        # reacted particles wait (state REACTED, skipped by every kernel) until the end
        self.reactions.advance(nsteps, cg, self._kernel_args(cg))
        t1 = _time.perf_counter()  # the reacted and the ended leave; reactions count their fates
        self._record_fates(self.particles.compact(), cg)
        self._ended_pending = False
        self.timings["fates"] += _time.perf_counter() - t1
        if self.check_escapes:
            t3 = _time.perf_counter()
            self.assert_no_escapes(cg)
            self.timings["escape_checks"] += _time.perf_counter() - t3

    def _set_threads(self, n: int, nsteps: int = 1) -> int:
        """Set Numba's thread count for a kernel over ``n`` particles and ``nsteps`` steps (one
        thread below PARALLEL_MIN_PARTICLES, unless :attr:`parallel_min_work` is set and the call
        has that many particle-steps over at least two blocks); returns the previous count, to
        restore. Results do not depend on it."""
        numba = _numba()
        prev = numba.get_num_threads()
        w = self.parallel_min_work
        many = n >= PARALLEL_MIN_PARTICLES or (w is not None and n * nsteps >= w and n >= 2 * BLOCK_SIZE)
        want = min((self.threads or prev) if many else 1, numba.config.NUMBA_NUM_THREADS)
        if want != prev:
            numba.set_num_threads(want)
        return prev

    def _source_births(self, nsteps: int) -> list[tuple[int, int, np.ndarray]]:
        """The births of the continuous sources in steps [step, step + nsteps): (local step,
        species index, positions (m, 3) [um]) by step, then by source."""
        out = []
        for src in self._continuous_sources:
            counts = src.births(self, self.step, nsteps)
            m = int(counts[0]) if counts.size == 1 else int(counts.sum())
            if m:
                pos = src.positions(m)
                sp = self.species.index(src.species)
                ends = np.cumsum(counts)
                for k in np.flatnonzero(counts):
                    out.append((int(k), sp, pos[ends[k] - counts[k]:ends[k]]))
        out.sort(key=lambda b: b[0])  # stable: by step, then in the sources' order
        return out

    def _no_clocks(self) -> tuple:
        """Clock arguments of the stepping kernels for a simulation without reactions."""
        from ._kernels.clocks import no_clocks

        ns = max(len(self.species), 1)
        cached = getattr(self, "_no_clock_args", None)
        if cached is None or cached[1].shape[0] != ns or cached[0] != self.dt:
            self._no_clock_args = no_clocks(ns, self.dt)
        return self._no_clock_args

    def _diffuse(self, nsteps: int, cg: CompiledGeometry, check: bool, args=None, clocks=None, compact=True):
        """``nsteps`` Brownian steps of every particle, the continuous sources' births included
        (each starts at its step)."""
        ps = self.particles
        t0 = _time.perf_counter()
        births = self._source_births(nsteps)
        starts = []
        for k, sp, pos in births:
            ps.append(np.full(pos.shape[0], sp, np.int16), pos)
            starts.append(np.full(pos.shape[0], k, np.int64))
        start_new = np.concatenate(starts) if starts else np.zeros(0, np.int64)
        self.timings["births"] += _time.perf_counter() - t0
        if ps.n:
            self._step_slice(0, ps.n, start_new, self.step, nsteps, cg, args, clocks)
        self.step += nsteps
        t2 = _time.perf_counter()
        if compact and self._ended_pending:
            self._record_fates(ps.compact(), cg)
            self._ended_pending = False
        t3 = _time.perf_counter()
        self.timings["fates"] += t3 - t2
        if check and self.check_escapes:
            self.assert_no_escapes(cg)
        self.timings["escape_checks"] += _time.perf_counter() - t3

    def _step_slice(self, lo: int, hi: int, start_new, step0: int, nsteps: int, cg: CompiledGeometry, args=None,
                    clocks=None, zones=None, zstep=None, idx=None):
        """One kernel call: particles [lo, hi) (or the particles ``idx``, gathered and put back)
        take the steps [step0, step0 + nsteps); the last m = len(start_new) of them are born
        during the call, the k-th of those starting at local step ``start_new[k]``
        (non-decreasing). With ``zones`` (:mod:`microsyn._kernels.zones`) the particles that end
        a step in a reaction zone stop there (state ZONED), the step in ``zstep`` (one entry per
        stepped particle)."""
        from ._kernels import brownian as kb

        if idx is not None:
            return self._step_gathered(idx, start_new, step0, nsteps, cg, args, clocks, zones, zstep)
        ps = self.particles
        t1 = _time.perf_counter()
        sigma, Ddt, margin = args if args is not None else self._kernel_args(cg)
        clocks = clocks if clocks is not None else self._no_clocks()
        n = hi - lo
        if zones is None:
            zones = self._no_zones()
            zstep = np.zeros(n, np.int64)
        block = BLOCK_SIZE
        counters = np.zeros(((n + block - 1) // block, kb.N_COUNTERS), np.int64)
        prev_threads = self._set_threads(n, nsteps)
        key = (cg.digest, sigma.tobytes(), margin.tobytes())
        if ps.free_key != key:  # free radii from another geometry, step or margin: unknown
            ps.forget_free_radii()
            ps.free_key = key
        sl = slice(lo, hi)
        try:
            if nsteps == 1 and self.gaussian == "table" and n >= ONE_STEP_MIN_PARTICLES and not zones[0].any():
                # the particles inside their free balls in one light pass; the others (a few per
                # cent) through step_table, gathered. In a one-step call every particle born in
                # it starts at its step 0, which step_table treats as an old particle's step
                general = np.empty(n, np.uint8)
                kb.step_once(ps.x[sl], ps.y[sl], ps.z[sl], ps.pid[sl], ps.species[sl], ps.state[sl], ps.free_r[sl],
                             step0, self._seed_key, sigma, margin, _rng.gaussian_table(), *cg.kernel_args(),
                             ps.clock[sl], *clocks, general)
                folds = int(np.count_nonzero(general == 2))
                self.stats["folds"] = self.stats.get("folds", 0) + folds
                self.stats["reflections"] += folds
                idx = lo + np.flatnonzero(general == 1)
                self.stats["one_step_general"] = self.stats.get("one_step_general", 0) + idx.size
                if idx.size:
                    sub = [a[idx] for a in (ps.x, ps.y, ps.z, ps.pid, ps.species, ps.state, ps.free_r, ps.clock)]
                    counters = np.zeros(((idx.size + block - 1) // block, kb.N_COUNTERS), np.int64)
                    kb.step_table(*sub[:7], idx.size, start_new, step0, 1, self._seed_key, sigma, Ddt, margin,
                                  cg.has_absorb, _rng.gaussian_table(), *cg.kernel_args(), sub[7], *clocks, *zones,
                                  zstep[:idx.size], block, counters, _numba().get_num_threads())
                    for a, v in zip((ps.x, ps.y, ps.z, ps.state, ps.free_r, ps.clock), sub[:3] + sub[5:]):
                        a[idx] = v
                return self._count_kernel_call(counters, t1)
            common = (ps.x[sl], ps.y[sl], ps.z[sl], ps.pid[sl], ps.species[sl], ps.state[sl], ps.free_r[sl],
                      n - start_new.shape[0], start_new, step0, nsteps, self._seed_key, sigma, Ddt,
                      margin, cg.has_absorb)
            if self.gaussian == "table":
                kb.step_table(*common, _rng.gaussian_table(), *cg.kernel_args(), ps.clock[sl], *clocks, *zones, zstep,
                              block, counters, _numba().get_num_threads())
            else:
                if zones[0].any():
                    raise ParameterError("reaction zones need gaussian='table'")
                zx, zr = _rng.ziggurat_tables()
                kb.step_exact(*common, zx, zr, *cg.kernel_args(), ps.clock[sl], *clocks, block, counters)
        finally:
            _restore_threads(prev_threads)
        self._count_kernel_call(counters, t1)

    def _step_gathered(self, idx, start_new, step0, nsteps, cg, args, clocks, zones, zstep):
        """:meth:`_step_slice` for the particles ``idx`` (table normals): gathered into contiguous
        arrays, stepped in one step_table call, put back (the last len(start_new) start late)."""
        from ._kernels import brownian as kb

        if self.gaussian != "table":
            raise ParameterError("gathered kernel calls need gaussian='table'")
        ps = self.particles
        t1 = _time.perf_counter()
        sigma, Ddt, margin = args if args is not None else self._kernel_args(cg)
        clocks = clocks if clocks is not None else self._no_clocks()
        if zones is None:
            zones = self._no_zones()
            zstep = np.zeros(idx.size, np.int64)
        n = idx.size
        block = BLOCK_SIZE
        counters = np.zeros(((n + block - 1) // block, kb.N_COUNTERS), np.int64)
        key = (cg.digest, sigma.tobytes(), margin.tobytes())
        if ps.free_key != key:
            ps.forget_free_radii()
            ps.free_key = key
        sub = [a[idx] for a in (ps.x, ps.y, ps.z, ps.pid, ps.species, ps.state, ps.free_r, ps.clock)]
        prev_threads = self._set_threads(n, nsteps)
        try:
            kb.step_table(*sub[:7], n - start_new.shape[0], start_new, step0, nsteps, self._seed_key, sigma, Ddt,
                          margin, cg.has_absorb, _rng.gaussian_table(), *cg.kernel_args(), sub[7], *clocks, *zones,
                          zstep, block, counters, _numba().get_num_threads())
        finally:
            _restore_threads(prev_threads)
        for a, v in zip((ps.x, ps.y, ps.z, ps.state, ps.free_r, ps.clock), sub[:3] + sub[5:]):
            a[idx] = v
        self._count_kernel_call(counters, t1)

    def _no_zones(self) -> tuple:
        """Zone arguments of the stepping kernel when nothing stops at sites."""
        from ._kernels.zones import no_zones

        ns = max(len(self.species), 1)
        cached = getattr(self, "_no_zone_args", None)
        if cached is None or cached[0].shape[0] != ns:
            self._no_zone_args = no_zones(ns)
        return self._no_zone_args

    def _count_kernel_call(self, counters, t1):
        """Add a kernel call's time (since ``t1``) and its counters to :attr:`timings` and :attr:`stats`."""
        from ._kernels import brownian as kb

        self.timings["kernel"] += _time.perf_counter() - t1
        self.stats["kernel_calls"] = self.stats.get("kernel_calls", 0) + 1
        tot = counters.sum(axis=0)
        self.stats["slow_steps"] += int(tot[kb.C_SLOW])
        self.stats["reflections"] += int(tot[kb.C_REFLECT])
        self.stats["rejected_steps"] += int(tot[kb.C_REJECT])
        self.stats["ended"] += int(tot[kb.C_ENDED])
        self.stats["resolved"] += int(tot[kb.C_RESOLVE])
        self.stats["folds"] = self.stats.get("folds", 0) + int(tot[kb.C_FOLD])
        self.stats["single_surface"] = self.stats.get("single_surface", 0) + int(tot[kb.C_SINGLE])
        if tot[kb.C_ENDED]:
            self._ended_pending = True  # particles ended in the call: the caller removes them

    def _record_fates(self, states, cg):
        if states.size == 0:
            return
        species = self.particles.last_removed_species
        pairs, counts = np.unique(np.stack([states.astype(np.int64), species.astype(np.int64)], axis=1),
                                  axis=0, return_counts=True)
        for (st, sp), c in zip(pairs, counts):
            if st == REACTED:  # counted per reaction by the reaction pass
                continue
            name = cg.surface_names[abs(int(st)) - 1]
            key = (name, self.species[int(sp)].name)
            book = self.absorbed if st > 0 else self.transmitted
            book[key] = book.get(key, 0) + int(c)

    def assert_no_escapes(self, cg: CompiledGeometry | None = None) -> None:
        """Raise :class:`DomainEscapeError` if any live particle is outside its domain."""
        from ._kernels.boundaries import INSIDE_TOL, count_outside

        cg = cg or self._compiled or self._compile()
        ps = self.particles
        idx = np.zeros(8, np.int64)
        prev = self._set_threads(ps.n)  # one thread for few particles (a parallel region costs more)
        try:
            n_out = count_outside(ps.x, ps.y, ps.z, ps.species, ps.state, cg.kind, cg.role, cg.active,
                                  cg.par, cg.sdf, cg.mesh_meta, 10 * INSIDE_TOL, idx)
        finally:
            _restore_threads(prev)
        if n_out:
            i = int(idx[0])
            raise DomainEscapeError(
                f"{n_out} particle(s) found outside the domain at t = {self.time:g} ms, e.g. "
                f"{self.species[int(ps.species[i])].name} id {int(ps.pid[i])} at "
                f"{[float(ps.x[i]), float(ps.y[i]), float(ps.z[i])]} um. This is a bug in the "
                f"boundary handling; please report it with the geometry and seed"
            )

    def absorbed_count(self, surface: str | None = None, species: str | None = None) -> int:
        """Particles absorbed so far (at a surface, of a species)."""
        return sum(c for (s, sp), c in self.absorbed.items()
                   if (surface is None or s == surface) and (species is None or sp == species))


def _numba():
    import numba

    return numba


def _restore_threads(n: int) -> None:
    numba = _numba()
    if numba.get_num_threads() != n:
        numba.set_num_threads(n)


def _progress_wanted(progress) -> bool:
    """``progress`` as given, or for None: stderr is a terminal and ``MICROSYN_PROGRESS`` is not
    0/false/no/off."""
    if progress is not None:
        return bool(progress)
    if os.environ.get("MICROSYN_PROGRESS", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class _Progress:
    """The progress bar of one run (tqdm on stderr): simulated time, particles alive, time left.

    The run is cut into stretches of about :attr:`TARGET_S` seconds (at least :attr:`MIN_STEPS`
    steps, so the per-stretch escape check stays a small part of the work) to update the bar;
    results do not depend on how a run is cut into stretches. The bar shows up only after
    :attr:`DELAY_S` seconds and is redrawn at most every 0.5 s.
    """

    TARGET_S = 0.5
    MIN_STEPS = 100
    DELAY_S = 1.0
    REDRAW_S = 0.5

    def __init__(self, t0_ms: float, t_end_ms: float, postfix):
        from tqdm.auto import tqdm

        self.chunk_steps = self.MIN_STEPS
        self._postfix = postfix
        self._next_tick = 0.0
        self.bar = tqdm(total=t_end_ms, initial=t0_ms, unit="ms", leave=False, delay=self.DELAY_S,
                        mininterval=self.REDRAW_S, miniters=0, desc="microsyn run", postfix=postfix(),
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| t = {n:.4g}/{total:.4g} ms "
                                   "[{elapsed}<{remaining}{postfix}]")

    @classmethod
    def open(cls, sim, end_step: int, progress):
        """A bar for ``sim`` running to ``end_step`` if :func:`_progress_wanted`, else None."""
        if not _progress_wanted(progress) or end_step <= sim.step:
            return None
        bar = cls(sim.step * sim.dt, end_step * sim.dt, lambda: f"{sim.particles.n:,} particles")
        bar._clock = lambda: sim.step * sim.dt
        return bar

    @classmethod
    def open_counting(cls, coupling, n_steps: int, progress):
        """A bar for a SynapticCoupling without a Simulation (ions counted, not tracked)."""
        if not _progress_wanted(progress) or n_steps <= 0:
            return None
        t0 = coupling.t_ms
        bar = cls(t0, t0 + n_steps * coupling.dt_ms,
                  lambda: f"{sum(s.n_open for s in coupling.synapses):,} channels open")
        bar._clock = lambda: coupling.t_ms
        return bar

    def update(self, nsteps: int, wall_s: float) -> None:
        """After a stretch of ``nsteps`` steps that took ``wall_s`` [s]."""
        if nsteps > 0 and wall_s > 0:
            self.chunk_steps = max(self.MIN_STEPS, int(nsteps * self.TARGET_S / wall_s))
        self.bar.set_postfix_str(self._postfix(), refresh=False)
        self.bar.update(self._clock() - self.bar.n)

    def tick(self) -> None:
        """After one step of a loop: updates the bar at most every REDRAW_S / 2 seconds."""
        now = _time.monotonic()
        if now >= self._next_tick:
            self._next_tick = now + 0.5 * self.REDRAW_S
            self.bar.set_postfix_str(self._postfix(), refresh=False)
            self.bar.update(self._clock() - self.bar.n)

    def close(self) -> None:
        self.bar.update(self._clock() - self.bar.n)
        self.bar.close()
