"""The reactions of a :class:`~microsyn.simulation.Simulation`, in the loop.

1. **First order** (a particle's own reactions, rate k [1/ms], and its reactions with lattice
   fields, rate k [1/(mM ms)] times the field's concentration in the particle's voxel [mM]):
   *reaction clocks* (:mod:`microsyn._kernels.clocks`). Each particle reacts after an exact
   exponential waiting time of its total rate, integrated along its path; the stepping kernels
   run the clocks and stop a particle at the step where its clock runs out (state ``FIRED``),
   then the channel is picked in proportion to the rates at that point. Without pair reactions
   a run therefore takes whole *windows* of steps (up to the next field step) per kernel call:
   the products of the particles that fired, and the births of zeroth-order sources, are added
   in the order of their steps and take the rest of the window in further calls
   (:meth:`ReactionEngine._window`), so ids, random numbers and the order of the particles are
   those of one-step windows. The particles see a field as it was at its last field step.
2. **Pairs** (both partners tracked): with pair reactions each Brownian step is followed by the
   pass. Each pair of particles closer than the binding radius rho of a reaction reacts with
   probability p (:mod:`microsyn.reactions.binding` chooses rho and p so that the simulated rate
   equals the rate constant at this dt). Candidate pairs come from a cell list over the
   reacting particles (:mod:`microsyn._kernels.reactions`); proposals are accepted greedily in
   the order of their random numbers, so each particle reacts at most once per step and the
   result does not depend on the thread count. Particles whose clocks ran out in that step
   (they are no longer live, so they take no part in pairs) then make their products.
3. **Fields to particles.** Reactions whose reactants are all lattice fields and whose
   products include particles happen per voxel, a Poisson number per field step with the
   mass-action mean, each removing exactly one molecule's worth of each reactant field.

Every event removes its particle reactants (state :data:`REACTED`) and one molecule's worth
(:attr:`FieldSet.molecule_mM`) of each field reactant in the event's voxel, and adds its
products: a particle product of A + B -> C at x_A w_A + x_B w_B with w_A = D_B / (D_A + D_B)
(the diffusion-weighted point); of A + B -> C + D at the reactants' places; of C -> A + B at
x_C -/+ (w_B, w_A) r with r uniform in the binding ball of the reverse reaction (so that
unbinding obeys detailed balance); of A -> B at x_A; a field product as one molecule in the
voxel. A product that would land outside the domain is placed again (up to 16 times), then at
the reactant's place. Zeroth-order reactions are continuous sources (a Poisson number per step,
uniform in their region). Counts of events per reaction are kept in
:attr:`ReactionEngine.counts`.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .._kernels.clocks import FIRED
from .._kernels.zones import ZONED

from ..errors import ReactionError, TimeStepError, UnknownSpeciesError, refuse_large_dt
from ..units import PARTICLES_PER_UM3_PER_MM, pair_rate_um3_per_ms

#: particle state of a reactant consumed by a reaction (removed at the end of the step)
REACTED = np.int16(32767)

#: the largest probability per step of a first-order channel (k dt) before dt is refused
MAX_STEP_PROBABILITY = 0.1

#: above this binding probability per step of a pair reaction's reactant, warn (the rate is
#: then low by about that fraction, since a particle reacts at most once per step)
PAIR_WARN_PROBABILITY = 0.01

#: the field step [ms] when no field diffuses (fixed buffers): their reactions among fields, and
#: the particles their complexes let go, are drawn on this step
IMMOBILE_FIELD_STEP_MS = 1e-3

#: buckets of the cell list per binned particle (rounded up to a power of 2)
BUCKETS_PER_PARTICLE = 2


class _Channel:
    """One irreversible reaction as the engine runs it."""

    def __init__(self, rx, index, kinds):
        self.rx = rx
        self.index = index
        self.name = rx.name
        self.reactants = tuple(rx.reactants)
        self.products = tuple(rx.products)
        self.rate = float(rx.rate)
        self.kinds_in = tuple(kinds[s] for s in self.reactants)
        self.kinds_out = tuple(kinds[s] for s in self.products)
        n_part = self.kinds_in.count("particles")
        order = len(self.reactants)
        if order == 0:
            self.kind = "zeroth"
        elif order == 1:
            self.kind = "own" if n_part == 1 else "from_field"
        elif n_part == 2:
            self.kind = "pair"
        elif n_part == 1:
            self.kind = "with_field"
        else:
            self.kind = "from_field"
        if self.kind == "from_field" and all(k == "field" for k in self.kinds_out):
            self.kind = "fields_only"
        self.rho = 0.0  # binding radius (pair) or unbinding placement radius (own, 2 products)
        self.p = 0.0


class ZerothOrderSource:
    """A zeroth-order reaction ``-> A`` as a continuous source: a Poisson number of new
    particles per step with mean rate [mM/ms] * 602,214 * V [um^3] * dt, uniform in the region
    (the domain where no region is given; it must be bounded)."""

    def __init__(self, sim, channel, species):
        from .. import rng as _rng

        self.species = species
        self.channel = channel
        rx = channel.rx
        self.region = getattr(rx, "region", None)
        self._rng = _rng.stream(sim.seed, f"zeroth-order:{channel.name}")
        self._place = _rng.stream(sim.seed, f"zeroth-order places:{channel.name}")
        dom = sim.domain
        shape = self.region if self.region is not None else dom
        lo, hi = shape.bounds()
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ReactionError(
                f"reaction {channel.name!r}: production needs a bounded region; give the reaction a "
                f"region= shape (e.g. a Box) inside the domain")
        self.lo, self.hi = np.asarray(lo, float), np.asarray(hi, float)
        probe = _rng.stream(sim.seed, f"zeroth-order volume:{channel.name}").uniform(self.lo, self.hi, (400_000, 3))
        ok = self._accept(sim, probe)
        frac = float(ok.mean())
        if frac == 0.0:
            raise ReactionError(f"reaction {channel.name!r}: its region does not overlap the domain")
        exact = self.region.volume() if self.region is not None else dom_volume(dom)
        if frac == 1.0 and math.isfinite(exact):
            self.volume = float(exact)
        else:
            self.volume = frac * float(np.prod(self.hi - self.lo))
        self.mean_per_ms = channel.rate * PARTICLES_PER_UM3_PER_MM * self.volume
        self._sim = sim

    def _accept(self, sim, pts):
        ok = sim.domain.contains(pts, species=self.species)
        if self.region is not None:
            ok &= self.region.contains(pts)
        return ok

    def births(self, sim, step0, nsteps):
        counts = self._rng.poisson(self.mean_per_ms * sim.dt, size=nsteps)
        sim.reactions.counts[self.channel.name] += int(counts.sum())
        return counts

    def positions(self, m):
        """The next ``m`` places: candidates are drawn in fixed blocks and the accepted ones kept
        in order, so the places do not depend on how the births are asked for (one step at a
        time or a window at once)."""
        buf = getattr(self, "_buffer", np.empty((0, 3)))
        while buf.shape[0] < m:
            cand = self._place.uniform(self.lo, self.hi, size=(256, 3))
            buf = np.concatenate([buf, cand[self._accept(self._sim, cand)]])
        out, self._buffer = buf[:m], buf[m:]
        self._sim.reactions._tally(self.channel.name, out)
        return out


def dom_volume(domain) -> float:
    """The exact volume [um^3] of a domain of one solid and no holes, else inf (unknown)."""
    solids = getattr(domain, "solids", None)
    holes = getattr(domain, "holes", ())
    if solids is not None and len(solids) == 1 and not holes:
        return float(solids[0].volume())
    return math.inf


class ReactionEngine:
    """The reactions of one simulation and the per-step reaction pass (see the module docstring).

    Made by :meth:`~microsyn.simulation.Simulation.add_reaction`; ``sim.reactions``.
    """

    def __init__(self, sim):
        self.sim = sim
        self.reactions: list = []
        #: events so far per (irreversible) reaction name
        self.counts: dict[str, int] = {}
        self._channels: list[_Channel] | None = None
        self._tables = None
        self._sources: list = []
        self.timings = dict(pairs=0.0, first_order=0.0, products=0.0, fields=0.0)
        #: events per watched (reaction name, region) since it was watched (see :meth:`watch`)
        self.region_counts: list[int] = []
        self._watched: list[tuple[str, object]] = []
        #: reaction name -> [(time [ms], position [um])] of each event, for the reactions logged
        #: with :meth:`log`
        self.logs: dict[str, list] = {}
        #: rates of first-order reactions changed during the run (:meth:`set_rate`), by name
        self._rate_override: dict[str, float] = {}
        self._field_clock = 0
        #: take windows of many steps with zone stops when every pair reaction joins a moving
        #: particle and a fixed site (the result is the same as one step per pass; False forces
        #: the per-step pass, for comparison)
        self.site_windows = True
        self._seen = None  # the fields as the particles' clocks see them (see _seen_fields)
        self._seen_version = -1

    # ------------------------------------------------------------------ specs
    def add(self, reaction) -> None:
        for r in self.reactions:
            if r.name == reaction.name:
                raise ReactionError(f"a reaction named {reaction.name!r} is already in this simulation; "
                                    f"give the new one another name (name=...)")
        self._kinds_of(reaction)  # unknown species fail now
        reaction.check_charge(self.sim.valences())
        self.reactions.append(reaction)
        for part in reaction.irreversible():
            self.counts.setdefault(part.name, 0)
        self._channels = None

    def _kinds_of(self, reaction) -> dict[str, str]:
        sim = self.sim
        kinds = {}
        for s in set(reaction.reactants) | set(reaction.products):
            if s in sim.species:
                kinds[s] = "particles"
            elif sim.fields is not None and s in sim.fields.names:
                kinds[s] = "field"
            else:
                raise UnknownSpeciesError(
                    f"reaction {reaction.name!r}: species {s!r} is not in this simulation; add it "
                    f"first with sim.add_species({s!r}, ...) (kind='particles' or kind='field')")
        return kinds

    def watch(self, name: str, region) -> int:
        """Start counting the events of reaction ``name`` inside ``region`` (a Shape); returns the
        index into :attr:`region_counts`."""
        from ..errors import ParameterError

        if name not in self.counts:
            raise ParameterError(f"no reaction named {name!r} in this simulation; known: {sorted(self.counts)}")
        if not hasattr(region, "contains"):
            raise ParameterError(f"region must be a shape with contains(points), got {region!r}")
        self._watched.append((name, region))
        self.region_counts.append(0)
        return len(self._watched) - 1

    def log(self, name: str) -> list:
        """Start logging every event of reaction ``name`` (an irreversible part's name, as in
        :attr:`counts`): its time [ms] (the end of the particle step in which it happened) and its
        place [um] (the first reactant's position; for a pair, the encounter point used for the
        products; for a reaction of fields only that makes particles, the centre of its voxel,
        at the end of the field step). Returns the log, a list of (time, position) that grows as the run goes."""
        from ..errors import ParameterError

        if name not in self.counts:
            raise ParameterError(f"no reaction named {name!r} in this simulation; known: {sorted(self.counts)}")
        return self.logs.setdefault(name, [])

    def set_rate(self, name: str, rate_per_ms: float) -> None:
        """Change the rate [1/ms] of a first-order reaction of particles (``A -> ...``, by its
        name as in :attr:`counts`) from the current step on. Each particle's reaction clock
        integrates its rate (an inhomogeneous Poisson process), so a rate changed between runs,
        or at an electrical step, is exact for that piecewise-constant rate. 0 pauses the
        reaction. The reverse half of a binding (whose unbinding rate sets the binding's
        equilibrium) cannot be changed here; build the simulation with the rate it needs.

        Raises
        ------
        ParameterError
            If no such reaction exists, it is not first order in one particle species, or the
            rate is not a finite number >= 0.
        TimeStepError
            If k dt exceeds the per-step probability bound of the engine.
        """
        from ..errors import ParameterError, check_positive

        self.compile()
        chans = [c for c in self._channels if c.name == name]
        if not chans:
            raise ParameterError(f"no reaction named {name!r} in this simulation; known: {sorted(self.counts)}")
        c = chans[0]
        if c.kind != "own" or c.name in self._binding_reverses:
            raise ParameterError(f"reaction {name!r} is not a first-order reaction of one particle species that is "
                                 f"not the unbinding of a binding; only those rates can be changed during a run")
        k = check_positive(f"rate of {name!r} [1/ms]", rate_per_ms, allow_zero=True)
        dt = self.sim.dt
        if k * dt > MAX_STEP_PROBABILITY:
            raise TimeStepError(f"rate {k:g} /ms of {name!r} gives k dt = {k * dt:.3g} > {MAX_STEP_PROBABILITY} per "
                                f"step; use dt <= {MAX_STEP_PROBABILITY / k:.3g} ms or a smaller rate")
        self._rate_override[name] = k
        c.rate = k
        t = self._tables
        sp = self.sim.species.index(c.reactants[0])
        t["k_own"][sp] = sum(ch.rate for ch in t["own_by_species"][sp])

    def _tally(self, name, sites):
        for k, (wn, region) in enumerate(self._watched):
            if wn == name and sites.shape[0]:
                self.region_counts[k] += int(np.count_nonzero(region.contains(sites)))

    @property
    def active(self) -> bool:
        """True when the simulation needs the per-step pass."""
        return bool(self.reactions)

    # ------------------------------------------------------------------ compile
    def invalidate(self) -> None:
        """Forget the compiled tables (after dt, D, species or fields change)."""
        self._channels = None
        self._schedule = None

    def compile(self) -> None:
        """Classify the reactions, choose binding radii and probabilities, check dt."""
        if self._channels is not None:
            return
        sim = self.sim
        dt = sim.dt
        chans: list[_Channel] = []
        reverse_of: dict[int, int] = {}
        self._binding_reverses: set[str] = set()
        for rx in self.reactions:
            parts = rx.irreversible()
            base = len(chans)
            for part in parts:
                chans.append(_Channel(part, len(chans), self._kinds_of(part)))
            if len(parts) == 2:
                reverse_of[base + 1] = base
        for ch in chans:
            if ch.name in self._rate_override:
                ch.rate = self._rate_override[ch.name]
        for ch in chans:
            if ch.kind == "pair":
                from .binding import binding_parameters

                a, b = ch.reactants
                D = sim.D(a) + sim.D(b)
                k_pair = pair_rate_um3_per_ms(ch.rate)
                bp = binding_parameters(k_pair, D, dt, ch.rx.radius)
                ch.rho, ch.p, ch.binding = bp.rho, bp.p, bp
                ch.weights = (sim.D(b) / D, sim.D(a) / D)
                self._check_radius(ch)
        for rev, fwd in reverse_of.items():
            f, r = chans[fwd], chans[rev]
            if f.kind == "pair" and r.kind == "own" and len(r.products) == 2:
                # the unbinding of a binding: its probability per step gives exactly K = kf / kb
                from .binding import unbinding_probability

                self._binding_reverses.add(r.name)
                p_off = unbinding_probability(f.binding.k_pair, r.rate, f.binding, dt)
                r.rate = -math.log1p(-p_off) / dt if p_off < 1.0 else math.inf
                r.rho = f.rho
                r.weights = f.weights
        for ch in chans:
            if ch.kind == "own" and len(ch.products) == 2 and ch.rho == 0.0:
                ch.rho = float(ch.rx.radius or 0.0)
                a, b = ch.products
                ka, kb = ch.kinds_out
                Da = sim.D(a) if ka == "particles" else 0.0
                Db = sim.D(b) if kb == "particles" else 0.0
                ch.weights = (Db / (Da + Db), Da / (Da + Db)) if Da + Db > 0 else (0.5, 0.5)
        self._channels = chans
        self._check_dt()
        self._build_tables()
        self._install_sources()

    def _check_radius(self, ch):
        sim = self.sim
        feature = sim.domain.smallest_feature()
        if ch.rho > 0.25 * feature:
            raise ReactionError(
                f"reaction {ch.name!r}: its binding radius {ch.rho * 1e3:.3g} nm is more than a quarter "
                f"of the geometry's smallest feature ({feature * 1e3:.3g} nm); use a shorter dt (the "
                f"radius shrinks with it) or a lower rate")
        lo, hi = sim.domain.bounds()
        vol = float(np.prod(np.asarray(hi) - np.asarray(lo)))
        if math.isfinite(vol):
            # the binding probability per step of one reactant: k_pair [partner] dt
            for me, other in ((0, 1), (1, 0)):
                n_other = sim.count(ch.reactants[other]) - (1 if ch.reactants[0] == ch.reactants[1] else 0)
                P = ch.binding.k_pair * max(n_other, 0) / vol * sim.dt
                if P > MAX_STEP_PROBABILITY:
                    msg = (f"dt = {sim.dt:g} ms is too long for reaction {ch.name!r}: a {ch.reactants[me]} binds "
                           f"with probability {P:.3g} per step at the present [{ch.reactants[other]}] (must be "
                           f"<= {MAX_STEP_PROBABILITY}); use dt <= {sim.dt * MAX_STEP_PROBABILITY / P:.3g} ms")
                    refuse_large_dt(msg, sim.allow_large_dt, stacklevel=5)
                elif P > PAIR_WARN_PROBABILITY:
                    warnings.warn(
                        f"reaction {ch.name!r}: a {ch.reactants[me]} binds with probability {P:.3g} per step; "
                        f"each particle reacts at most once per step, so the simulated rate is low by about "
                        f"that fraction. Use dt <= {sim.dt * PAIR_WARN_PROBABILITY / P:.3g} ms for 1 %",
                        RuntimeWarning, stacklevel=5)
        for s in set(ch.reactants):
            n = sim.count(s)
            if n > 1 and math.isfinite(vol):
                spacing = (vol / n) ** (1.0 / 3.0)
                if ch.rho > 0.5 * spacing:
                    warnings.warn(
                        f"reaction {ch.name!r}: binding radius {ch.rho * 1e3:.3g} nm is more than half "
                        f"the mean spacing of {s} ({spacing * 1e3:.3g} nm at {n} particles); pair "
                        f"reactions then compete and the simulated rate falls below the given one. "
                        f"Use a shorter dt", RuntimeWarning, stacklevel=4)

    def _check_dt(self):
        sim = self.sim
        per_species: dict[str, float] = {}
        for ch in self._channels:
            if ch.kind == "own":
                per_species[ch.reactants[0]] = per_species.get(ch.reactants[0], 0.0) + ch.rate
            elif ch.kind == "with_field":
                s = ch.reactants[0] if ch.kinds_in[0] == "particles" else ch.reactants[1]
                f = ch.reactants[1] if s == ch.reactants[0] else ch.reactants[0]
                cmax = float(np.max(sim.fields.concentration(f), initial=0.0))
                per_species[s] = per_species.get(s, 0.0) + ch.rate * cmax
        for s, k in per_species.items():
            if k * sim.dt > MAX_STEP_PROBABILITY:
                msg = (f"dt = {sim.dt:g} ms is too long for the first-order reactions of {s} (total rate "
                       f"{k:.4g} /ms, so k dt = {k * sim.dt:.3g} > {MAX_STEP_PROBABILITY}); use dt <= "
                       f"{MAX_STEP_PROBABILITY / k:.3g} ms")
                refuse_large_dt(msg, sim.allow_large_dt, stacklevel=5)

    def _build_tables(self):
        sim = self.sim
        ns = max(len(sim.species), 1)
        chans = self._channels
        pair = [c for c in chans if c.kind == "pair"]
        pair_first = np.full(ns * ns, -1, np.int64)
        rx_next = np.full(max(len(pair), 1), -1, np.int64)
        rho2 = np.zeros(max(len(pair), 1))
        p = np.zeros(max(len(pair), 1))
        searcher = np.zeros(ns, np.uint8)
        binned = np.zeros(ns, np.uint8)
        for q, c in enumerate(pair):
            a, b = (sim.species.index(s) for s in c.reactants)
            if not (searcher[a] and binned[b]) and not (searcher[b] and binned[a]):
                # the first reactant searches among the second, unless the roles exist already
                if binned[a] and not binned[b]:
                    a, b = b, a
                searcher[a] = 1
                binned[b] = 1
            rho2[q] = c.rho * c.rho
            p[q] = c.p
        # one chain of reactions per unordered species pair, found from either order
        for q in range(len(pair) - 1, -1, -1):
            a, b = sorted(sim.species.index(s) for s in pair[q].reactants)
            rx_next[q] = pair_first[a * ns + b]
            pair_first[a * ns + b] = q
        for a in range(ns):
            for b in range(a + 1, ns):
                pair_first[b * ns + a] = pair_first[a * ns + b]
        own = [c for c in chans if c.kind == "own"]
        k_own = np.zeros(ns)
        c_on = np.zeros(ns, np.uint8)
        own_by_species: dict[int, list[_Channel]] = {}
        for c in own:
            s = sim.species.index(c.reactants[0])
            k_own[s] += c.rate
            c_on[s] = 1
            own_by_species.setdefault(s, []).append(c)
        wf = [c for c in chans if c.kind == "with_field"]
        rate_row = np.full(ns, -1, np.int64)  # the row of the clocks' rate field per species
        for c in wf:
            ip = 0 if c.kinds_in[0] == "particles" else 1
            c.particle_reactant = c.reactants[ip]
            c.field_reactant = c.reactants[1 - ip]
            s = sim.species.index(c.particle_reactant)
            c_on[s] = 1
            if rate_row[s] < 0:
                rate_row[s] = int(rate_row.max(initial=-1)) + 1
        rate_row[rate_row < 0] = int(rate_row.max(initial=-1)) + 1  # the others: the last row, of 0
        rho_max = max((c.rho for c in pair), default=0.0)
        self._tables = dict(pair=pair, pair_first=pair_first, rx_next=rx_next, rho2=rho2, p=p, searcher=searcher,
                            binned=binned,
                            rho_max=rho_max, own=own, own_by_species=own_by_species, k_own=k_own, c_on=c_on,
                            rate_row=rate_row, wf=wf, from_field=[c for c in chans if c.kind == "from_field"])
        added = getattr(self, "_field_added", set())
        for c in chans:
            if c.kind == "fields_only" and c.name not in added:
                sim.fields.add_reaction(c.rx)
                added.add(c.name)
        self._field_added = added

    def _install_sources(self):
        sim = self.sim
        for src in self._sources:
            if src in sim._continuous_sources:
                sim._continuous_sources.remove(src)
        self._sources = []
        for c in self._channels:
            if c.kind != "zeroth":
                continue
            for s, k in zip(c.products, c.kinds_out):
                if k != "particles":
                    raise ReactionError(f"reaction {c.name!r}: production of a lattice field is not "
                                        f"supported yet; set the field's concentration instead")
            if len(c.products) != 1:
                raise ReactionError(f"reaction {c.name!r}: a zeroth-order reaction makes one species")
            src = ZerothOrderSource(sim, c, c.products[0])
            sim._continuous_sources.append(src)
            self._sources.append(src)

    # ------------------------------------------------------------------ the pass
    @property
    def has_pairs(self) -> bool:
        self.compile()
        return bool(self._tables["pair"])

    def clock_args(self) -> tuple:
        """The reaction-clock arguments of the stepping kernels (see :mod:`microsyn._kernels.clocks`),
        after the particles' ``clock`` array: dt, on, k_own, rate_row, rate_field, lat_lo, lat_hi,
        inv_h, lat_shape."""
        self.compile()
        sim = self.sim
        t = self._tables
        f = sim.fields
        if f is not None and t["wf"]:
            self._seen_fields()
            lat = f.lattice
            lat_args = (np.asarray(lat.lo, float), np.asarray(lat.hi, float), 1.0 / np.asarray(f.spacing, float),
                        np.asarray(lat.shape, np.int64))
            rate_row, rate_field = t["rate_row"], self._rate_field
        else:
            lat_args = (np.zeros(3), np.ones(3), np.ones(3), np.ones(3, np.int64))
            rate_row, rate_field = np.zeros(len(t["k_own"]), np.int64), np.zeros((1, 2))
        return (float(sim.dt), t["c_on"], t["k_own"], rate_row, rate_field) + lat_args

    def _seen_fields(self) -> np.ndarray:
        """The fields' concentrations as the particles' clocks see them [mM] (n_fields, n_voxels;
        a dead voxel holds its live stand-in's value, or 0): a copy taken at each field step
        (and whenever a field was set from outside), so that a particle's rate does not depend
        on how the steps between two field steps were cut. Also makes the rate per voxel of
        each species with field reactions (``rate_field`` of :meth:`clock_args`)."""
        f = self.sim.fields
        shape = (len(f.names), f.n_voxels)
        if self._seen is None or self._seen_version != f.version or self._seen.shape != shape:
            from .._kernels.fields import seen_rates

            t = self._tables
            # one row per species with field reactions and a last row of 0; a last column of 0
            n_rows = int(t["rate_row"].max(initial=0)) + 1
            seen = np.empty(shape)  # (new arrays: a kernel call may still hold the old ones)
            rate = np.empty((n_rows, shape[1] + 1))
            wf = t["wf"]
            wf_row = np.array([t["rate_row"][self.sim.species.index(c.particle_reactant)] for c in wf], np.int64)
            wf_field = np.array([f.index(c.field_reactant) for c in wf], np.int64)
            wf_rate = np.array([c.rate for c in wf], float)
            seen_rates(f.conc.reshape(shape), f.live_voxel, seen, rate, wf_row, wf_field, wf_rate)
            self._seen, self._rate_field, self._seen_version = seen, rate, f.version
        return self._seen

    def advance(self, nsteps: int, cg, args) -> int:
        """Advance the particles by ``nsteps`` steps with the reactions (see the module docstring);
        returns the number of particles consumed (marked :data:`REACTED` or :data:`FIRED`; the
        caller removes them)."""
        import time as _time

        from ..simulation import SORT_EVERY_STEPS, _restore_threads

        sim = self.sim
        self.compile()
        consumed = 0
        done = 0
        while done < nsteps:
            clocks = self.clock_args()
            zones = self._zone_args() if self._tables["pair"] else None
            if zones is not None:  # every pair joins a particle and a fixed site: windows, with zone stops
                w = min(nsteps - done, self._steps_to_field_step())
                consumed += self._window(w, cg, args, clocks, zones)
                done += w
            elif self._tables["pair"]:  # pairs couple particles: one Brownian step, then the pass
                if sim.step % SORT_EVERY_STEPS == 0:
                    self.sort_particles()
                sim._diffuse(1, cg, check=False, args=args, clocks=clocks, compact=False)
                t0 = _time.perf_counter()
                prev = sim._set_threads(sim.particles.n)
                try:
                    consumed += self._pass(sim.step - 1)
                finally:
                    _restore_threads(prev)
                self._fields_advance(1)
                sim.timings["reactions"] = sim.timings.get("reactions", 0.0) + _time.perf_counter() - t0
                done += 1
            else:
                w = min(nsteps - done, self._steps_to_field_step())
                consumed += self._window(w, cg, args, clocks)
                done += w
        return consumed

    def _pass(self, step: int) -> int:
        """The pass after the Brownian step ``step`` when there are pair reactions: pairs among
        the live particles, then the particles whose clocks ran out in this step."""
        import time as _time

        sim = self.sim
        ps = sim.particles
        t = self._tables
        n = ps.n
        t0 = _time.perf_counter()
        events = []  # (channel, i, j or None, voxel or None)
        if n:
            taken = np.zeros(n, np.uint8)
            pi, pj, pr = self._pairs(step, taken)
            for q, c in enumerate(t["pair"]):
                sel = pr == q
                if sel.any():
                    events.append((c, pi[sel], pj[sel], None))
        t1 = _time.perf_counter()
        self.timings["pairs"] += t1 - t0
        fired = np.flatnonzero(ps.state == FIRED) if t["c_on"].any() else np.zeros(0, np.int64)
        events += self._fired_events(fired, step)
        t2 = _time.perf_counter()
        self.timings["first_order"] += t2 - t1
        consumed = 0
        if events:
            consumed, births = self._apply(events, step)
            for sp, pos in births:
                ps.append(np.full(pos.shape[0], sp, np.int16), pos)
        self.timings["products"] += _time.perf_counter() - t2
        return consumed

    def _window(self, w: int, cg, args, clocks, zones=None) -> int:
        """``w`` steps without pair reactions: every particle takes its ``w`` steps in one kernel
        call, its clock running; then, in the order of the steps, the births of the continuous
        sources and the products of the particles whose clocks ran out are added and take the
        rest of the window's steps (a kernel call per group of births that could react in
        turn). Ids, random numbers and the order of the particles are those of ``w`` windows of
        one step, so how a run is cut does not change it.

        With ``zones`` (every pair reaction joins a moving particle and a fixed site; see
        :meth:`_zone_args`), a moving particle also stops at a step that ends within a binding
        radius of a site; at that step its pairs are tried as :meth:`_pass` would try them (then
        the fired clocks of the step), and if it did not react it goes on from the next step. The
        result is the per-step pass's, bit for bit."""
        import heapq
        import time as _time

        sim = self.sim
        ps = sim.particles
        t = self._tables
        s0 = sim.step
        c_on = t["c_on"]
        pending: dict[tuple[int, int], list] = {}  # (local step, 0: source births | 1: fired) -> items
        for k, sp, pos in sim._source_births(w):
            pending.setdefault((k, 0), []).append((sp, pos))
        n0 = ps.n
        zone_on = zones[0] if zones is not None else None
        zstep = np.zeros(n0, np.int64) if zones is not None else None
        sim._step_slice(0, n0, np.zeros(0, np.int64), s0, w, cg, args, clocks, zones, zstep)

        def collect(idx, zst):
            """Queue the particles ``idx`` that stopped in the window: clocks run out (FIRED) and,
            with zones, zone entries (ZONED, their steps in ``zst``)."""
            if c_on.any():
                f = np.flatnonzero(ps.state[idx] == FIRED)
                if f.size:
                    fi = idx[f]
                    ks = (-ps.clock[fi] - 1.0).astype(np.int64) - s0
                    for k in np.unique(ks):
                        pending.setdefault((int(k), 1), []).append(("fired", fi[ks == k]))
            if zones is not None:
                zq = np.flatnonzero(ps.state[idx] == ZONED)
                if zq.size:
                    zi = idx[zq]
                    ks = zst[zq] - s0
                    for k in np.unique(ks):
                        pending.setdefault((int(k), 1), []).append(("zone", zi[ks == k]))

        collect(np.arange(n0), zstep)
        consumed = 0
        t_rx = 0.0
        keys = list(pending)
        heapq.heapify(keys)
        while keys:
            t0 = _time.perf_counter()
            lo = ps.n
            starts = []
            going_on = []  # zone-stopped particles that did not react: they go on from the next step
            reacts = False
            while keys and not reacts:
                key = heapq.heappop(keys)
                k, kind = key
                items = pending.pop(key)
                if kind == 0:
                    births = items
                    start = k
                else:
                    # (a site queued to fire later in the window may have reacted with a particle
                    # since: only those still waiting take part)
                    zoned = [i[ps.state[i] == ZONED] for tag, i in items if tag == "zone"]
                    fired = [i[ps.state[i] == FIRED] for tag, i in items if tag == "fired"]
                    events = []
                    if zoned:
                        zi = np.sort(np.concatenate(zoned))
                        events = self._zone_events(zi, s0 + k, s0)
                        ps.state[zi[ps.state[zi] == ZONED]] = 0  # the others reacted (REACTED)
                        rest = zi[ps.state[zi] == 0]
                        if rest.size and k + 1 < w:
                            going_on.append((rest, np.full(rest.size, k + 1, np.int64)))
                            reacts = True
                    if fired:
                        events += self._fired_events(np.concatenate(fired), s0 + k)
                    used, births = self._apply(events, s0 + k)
                    consumed += used
                    start = k + 1
                    if zones is not None:
                        self._check_zone_births(births)
                for sp, pos in births:
                    ps.append(np.full(pos.shape[0], sp, np.int16), pos)
                    starts.append(np.full(pos.shape[0], start, np.int64))
                    reacts = reacts or bool(c_on[sp]) or (zones is not None and bool(zone_on[sp]))
            t_rx += _time.perf_counter() - t0
            if ps.n > lo or going_on:
                start_new = np.concatenate(starts) if starts else np.zeros(0, np.int64)
                if zones is None:
                    if start_new.min() < w:
                        sim._step_slice(lo, ps.n, start_new, s0, w, cg, args, clocks)
                    idx, zst = np.arange(lo, ps.n), None
                else:
                    idx = np.concatenate([g[0] for g in going_on] + [np.arange(lo, ps.n)])
                    st = np.concatenate([g[1] for g in going_on] + [start_new])
                    order = np.argsort(st, kind="stable")
                    idx, st = idx[order], st[order]
                    zst = np.zeros(idx.size, np.int64)
                    if st.size and st.min() < w:
                        sim._step_slice(0, 0, st, s0, w, cg, args, clocks, zones, zst, idx=idx)
                before = set(pending)
                collect(idx, zst)
                for key in set(pending) - before:
                    heapq.heappush(keys, key)
        sim.step = s0 + w
        self.timings["first_order"] += t_rx
        t0 = _time.perf_counter()
        self._fields_advance(w)
        self.timings["fields"] += _time.perf_counter() - t0
        return consumed

    # ------------------------------------------------------------------ zones of fixed sites
    def _zone_plan(self):
        """Whether every pair reaction joins a moving particle and a fixed site (D = 0), with the
        table normals; then (zone_on per species, the site species mask, the zone radius^2),
        else None. Sites are the immobile particles of any species that is a reactant (only
        those can be, or become, a pair partner)."""
        sim = self.sim
        t = self._tables
        if sim.gaussian != "table" or not t["pair"]:
            return None
        ns = max(len(sim.species), 1)
        zone_on = np.zeros(ns, np.uint8)
        for c in t["pair"]:
            a, b = c.reactants
            Da, Db = sim.D(a), sim.D(b)
            if (Da == 0.0) == (Db == 0.0):
                return None
            zone_on[sim.species.index(a if Da > 0 else b)] = 1
        site = np.zeros(ns, bool)
        for c in self._channels:
            for s_ in c.reactants:
                if s_ in sim.species and sim.D(s_) == 0.0:
                    site[sim.species.index(s_)] = True
        return zone_on, site, float(np.max(t["rho2"][:len(t["pair"])]))

    def _zone_args(self):
        """The zone arguments of the stepping kernel for a window (before ``zstep``), or None when
        the pairs are not all particle + fixed site (:meth:`_zone_plan`)."""
        from .._kernels.zones import site_grid

        if not getattr(self, "site_windows", True):
            return None
        if getattr(self, "_zone_plan_cache", ("none",))[0] is not self._tables:
            self._zone_plan_cache = (self._tables, self._zone_plan())
        plan = self._zone_plan_cache[1]
        if plan is None:
            return None
        zone_on, site, r2 = plan
        ps = self.sim.particles
        live = ps.state == 0
        if not live.all():  # FIRED sites are sites until their step: the kernel stops at any of them
            live = live | (ps.state == FIRED)
        sel = np.flatnonzero(live & site[ps.species])
        lo, inv_h, dims, start, sx, sy, sz = site_grid(ps.x[sel], ps.y[sel], ps.z[sel], math.sqrt(r2))
        self._zone_sites = (sel, site)
        return (zone_on, lo, float(inv_h), dims, start, sx, sy, sz, r2)

    def _check_zone_births(self, births) -> None:
        """Sites born in a window (a site's new state is a new particle) must stand where a site
        stood, or the window's zone stops would not have seen them."""
        sel, site = self._zone_sites
        ps = self.sim.particles
        for sp, pos in births:
            if not site[sp] or pos.shape[0] == 0:
                continue
            known = np.stack([ps.x[sel], ps.y[sel], ps.z[sel]], axis=1) if sel.size else np.zeros((0, 3))
            for p in pos:
                if known.shape[0] == 0 or not np.any(np.all(known == p, axis=1)):
                    raise RuntimeError(
                        f"a fixed site of {self.sim.species.names[sp]!r} was made at {p.tolist()} um, where no site "
                        f"stood at the start of the window; the window's reaction zones do not cover it. Let the "
                        f"reaction that makes it place it at its site (a product of a site stays at the site)")

    def _zone_events(self, zi, step, s0) -> list:
        """The pair events at ``step`` of the zone-stopped particles ``zi`` (sorted), as
        :meth:`_pass` would find them: every pair of a stopped particle and a site (live at that
        step) within the binding radius proposes with its pair uniform, and the proposals are
        accepted greedily in priority order."""
        from .._kernels import reactions as kr

        sim = self.sim
        ps = self.sim.particles
        t = self._tables
        ns = max(len(sim.species), 1)
        _, site = self._zone_sites
        cand = np.flatnonzero(site[ps.species])  # the window's sites and the ones born in it so far
        st = ps.state[cand]
        fire_step = np.where(st == FIRED, -ps.clock[cand] - 1.0, -1.0).astype(np.int64)
        fired_later = (st == FIRED) & (fire_step > step)
        sites = cand[(st == 0) | fired_later]
        if sites.size == 0:
            return []
        rm2 = float(np.max(t["rho2"][:len(t["pair"])]))
        pi, pj, pr, pu = [], [], [], []
        for i in zi:
            dx = ps.x[sites] - ps.x[i]
            dy = ps.y[sites] - ps.y[i]
            dz = ps.z[sites] - ps.z[i]
            d2 = dx * dx + dy * dy + dz * dz
            for q in np.flatnonzero(d2 < rm2):
                j = sites[q]
                r = t["pair_first"][int(ps.species[i]) * ns + int(ps.species[j])]
                while r >= 0:
                    if d2[q] < t["rho2"][r]:
                        u = kr.pair_uniform(sim._seed_key, ps.pid[i], ps.pid[j], np.int64(step), np.int64(r))
                        if u < t["p"][r]:
                            pi.append(i)
                            pj.append(j)
                            pr.append(r)
                            pu.append(u)
                    r = t["rx_next"][r]
        if not pi:
            return []
        pi, pj, pr, pu = (np.array(pi, np.int64), np.array(pj, np.int64), np.array(pr, np.int64), np.array(pu))
        order = np.lexsort((ps.pid[pj], ps.pid[pi], pu)).astype(np.int64)
        accepted = np.zeros(pi.size, np.uint8)
        taken = np.zeros(ps.n, np.uint8)
        kr.accept_proposals(order, pi, pj, taken, accepted)
        keep = order[accepted[order].astype(bool)]
        pi, pj, pr = pi[keep], pj[keep], pr[keep]
        events = []
        for q, c in enumerate(t["pair"]):
            m = pr == q
            if m.any():
                events.append((c, pi[m], pj[m], None))
        return events

    def _fired_events(self, fired, step) -> list:
        """The events of the particles ``fired`` (in canonical order) whose clocks ran out at
        ``step``: which of its first-order channels each took, in proportion to their rates at
        its place (a uniform from its own stream at that step)."""
        from .._kernels import reactions as kr

        if fired.size == 0:
            return []
        sim = self.sim
        ps = sim.particles
        fired = fired[np.argsort(ps.pid[fired], kind="stable")]
        t = self._tables
        u = np.empty(fired.size)
        kr.channel_uniforms(sim._seed_key, ps.pid[fired], step, u)
        sp = ps.species[fired]
        wf = t["wf"]
        cells = None
        rates_f = np.zeros((fired.size, len(wf)))
        if wf:
            f = sim.fields
            cells = f.voxel_index(ps.x[fired], ps.y[fired], ps.z[fired])
            seen = self._seen_fields()
            inside = cells >= 0
            for q, c in enumerate(wf):
                mine = np.flatnonzero((sp == sim.species.index(c.particle_reactant)) & inside)
                rates_f[mine, q] = c.rate * seen[f.index(c.field_reactant)][cells[mine]]
        events = []
        for s in np.unique(sp):
            sel = np.flatnonzero(sp == s)
            own = t["own_by_species"].get(int(s), [])
            r_own = np.array([c.rate for c in own]).reshape(1, -1).repeat(sel.size, axis=0)
            rates = np.concatenate([r_own, rates_f[sel]], axis=1)
            cum = np.cumsum(rates, axis=1)
            pick = (u[sel, None] * cum[:, -1:] >= cum).sum(axis=1)
            pick = np.minimum(pick, rates.shape[1] - 1)
            for q, c in enumerate(own):
                m = pick == q
                if m.any():
                    events.append((c, fired[sel[m]], None, None))
            for q, c in enumerate(wf):
                m = pick == len(own) + q
                if m.any():
                    events.append((c, fired[sel[m]], None, cells[sel[m]]))
        return events

    def sort_particles(self) -> None:
        """Choose the grid of the pair cell list from the reacting particles (cells of about one
        binned particle, at least the largest binding radius, over their bounding box) and put
        all particles in the order of its cells (x-major), so that the binning and the searches
        of the next steps read and write nearly in order. Nothing else depends on the storage
        order (every random number is keyed by particle ids, and events are applied in a
        canonical order)."""
        from .._kernels import reactions as kr

        sim = self.sim
        ps = sim.particles
        t = self._tables
        n = ps.n
        member = (t["binned"] | t["searcher"]).astype(np.uint8)
        lo, hi = np.empty(3), np.empty(3)
        m_all = kr.member_bounds(ps.x, ps.y, ps.z, ps.species, ps.state, n, member, lo, hi)
        nb = int(np.count_nonzero(t["binned"][ps.species] & (ps.state == 0)))
        if m_all == 0 or nb == 0:
            self._grid = None
            return
        rho_max = t["rho_max"]
        ext = np.maximum(hi - lo, rho_max)
        h = max(rho_max, (float(np.prod(ext)) / nb) ** (1.0 / 3.0))
        dims = np.maximum(1, np.floor(ext / h).astype(np.int64) + 1)
        while int(np.prod(dims)) > 8 * nb + 64:  # a thin cloud: coarser cells
            h *= 1.5
            dims = np.maximum(1, np.floor(ext / h).astype(np.int64) + 1)
        self._grid = (lo, 1.0 / h, dims, int(np.prod(dims)))
        if n >= 1024:
            keys = np.empty(n, np.int64)
            kr.cell_keys(ps.x, ps.y, ps.z, ps.species, np.zeros(n, ps.state.dtype), n, np.ones_like(member), lo,
                         1.0 / h, dims, keys)
            ps.permute(np.argsort(keys, kind="stable"))

    def _pairs(self, step, taken):
        from .._kernels import reactions as kr

        sim = self.sim
        ps = sim.particles
        t = self._tables
        n = ps.n
        if getattr(self, "_grid", None) is None:
            # no grid: the last sort found no live binned particle; look again only if one is
            # live now (a cheap count, where a sort would also bound every reacting particle)
            if np.any(t["binned"][ps.species[:n]] & (ps.state[:n] == 0)):
                self.sort_particles()
        if self._grid is None:
            z = np.zeros(0, np.int64)
            return z, z, z
        lo, inv_h, dims, n_cells = self._grid
        keys = np.empty(n, np.int64)
        search = np.empty(n + 1, np.int64)
        n_search = kr.bin_members(ps.x, ps.y, ps.z, ps.species, ps.state, n, t["binned"], t["searcher"], lo, inv_h,
                                  dims, keys, search, 8 * max(sim.threads or 2, 1))
        start = np.empty(n_cells + 2, np.int64)
        items = np.empty(n, np.int64)
        sx, sy, sz = np.empty(n), np.empty(n), np.empty(n)
        ssp = np.empty(n, ps.species.dtype)
        if kr.counting_sort(keys, ps.x, ps.y, ps.z, ps.species, n, n_cells, start, items, sx, sy, sz, ssp) == 0:
            z = np.zeros(0, np.int64)
            return z, z, z
        block = 2048
        nblocks = max(1, (n_search + block - 1) // block)
        cap = 16
        while True:
            out_i = np.empty(nblocks * cap, np.int64)
            out_j = np.empty(nblocks * cap, np.int64)
            out_r = np.empty(nblocks * cap, np.int64)
            out_u = np.empty(nblocks * cap)
            out_count = np.zeros(nblocks, np.int64)
            kr.find_pairs(ps.x, ps.y, ps.z, ps.pid, ps.species, search, n_search, t["searcher"], t["binned"], start,
                          items, sx, sy, sz, ssp, lo, inv_h, dims, len(sim.species), t["pair_first"], t["rx_next"],
                          t["rho2"], t["p"], t["rho_max"], sim._seed_key, step, block, out_i, out_j, out_r, out_u,
                          out_count)
            if out_count.max(initial=0) <= cap:
                break
            cap = int(out_count.max()) * 2
        sel = np.concatenate([np.arange(b * cap, b * cap + out_count[b]) for b in range(nblocks)]) \
            if out_count.sum() else np.zeros(0, np.int64)
        pi, pj, pr, pu = out_i[sel], out_j[sel], out_r[sel], out_u[sel]
        if pi.size == 0:
            return pi, pj, pr
        # priority: the pair's uniform, ties broken by the particle ids (thread-count free)
        order = np.lexsort((ps.pid[pj], ps.pid[pi], pu)).astype(np.int64)
        accepted = np.zeros(pi.size, np.uint8)
        kr.accept_proposals(order, pi, pj, taken, accepted)
        keep = order[accepted[order].astype(bool)]  # in priority order: canonical, whatever the cell grid
        return pi[keep], pj[keep], pr[keep]

    # ------------------------------------------------------------------ products
    def _rng(self):
        from .. import rng as _rng

        if getattr(self, "_place_rng", None) is None:
            self._place_rng = _rng.stream(self.sim.seed, "reaction products")
        return self._place_rng

    def _apply(self, events, step: int):
        """Remove the reactants of ``events`` (which happened in particle step ``step``) and make
        their products; returns (the number of particles consumed, the particle births as
        [(species index, positions)] in order)."""
        sim = self.sim
        ps = sim.particles
        fields = sim.fields
        births = []  # (species name, positions)
        consumed = 0
        for c, i, j, cell in events:
            m = i.size
            consumed += m * (2 if j is not None else 1)
            self.counts[c.name] += m
            xi = np.stack([ps.x[i], ps.y[i], ps.z[i]], axis=1)
            ps.state[i] = REACTED
            if j is not None:
                swap = ps.species[i] != sim.species.index(c.reactants[0])  # i of the first reactant
                if swap.any():
                    i, j = np.where(swap, j, i), np.where(swap, i, j)
                    xi = np.stack([ps.x[i], ps.y[i], ps.z[i]], axis=1)
                xj = np.stack([ps.x[j], ps.y[j], ps.z[j]], axis=1)
                ps.state[j] = REACTED
            if cell is not None:  # the field reactant loses one molecule per event
                fields.add_molecules(fields.index(c.field_reactant), cell, -np.ones(m))
            if c.name in self.logs:
                where = xi if j is None else c.weights[0] * xi + c.weights[1] * xj
                t_ev = (step + 1) * sim.dt
                self.logs[c.name].extend((t_ev, p) for p in where.copy())
            if self._watched:
                if j is not None:
                    wa, wb = c.weights
                    self._tally(c.name, wa * xi + wb * xj)
                else:
                    self._tally(c.name, xi)
            parts = [(s, k) for s, k in zip(c.products, c.kinds_out)]
            if c.kind == "pair" and len(parts) == 1:
                wa, wb = c.weights
                at = [wa * xi + wb * xj]
                fb = [xi if wa >= wb else xj]
            elif c.kind == "pair" and len(parts) == 2:
                at, fb = [xi, xj], [xj, xi]
            elif len(parts) == 2 and c.rho > 0.0:
                r = self._ball(m, c.rho)
                wa, wb = c.weights
                at = [xi - wb * r, xi + wa * r]
                fb = [xi, xi]
            else:
                at = [xi] * len(parts)
                fb = [xi] * len(parts)
            for q, (s, k) in enumerate(parts):
                if k == "field":
                    self._deposit(c, s, at[q])
                else:
                    births.append((s, self._inside(s, at[q], fb[q], c)))
        return consumed, [(sim.species.index(s), pos) for s, pos in births]

    # ------------------------------------------------------------------ fields
    def field_schedule(self) -> tuple[int, int]:
        """(particle steps per field step, field substeps per particle step): the field steps
        every n particle steps with dt_f = n dt, or, when even one particle step is longer
        than the stable limit, m substeps of dt / m per particle step."""
        sim = self.sim
        f = sim.fields
        user = getattr(sim, "_field_dt", None)
        if user is not None:
            n = int(round(user / sim.dt))
            if f.scheme == "explicit" and n * sim.dt > f.max_stable_dt():
                raise TimeStepError(
                    f"field dt = {user:g} ms is unstable for explicit diffusion on {f.lattice.spacing[0] * 1e3:.3g} nm "
                    f"voxels (largest stable: {f.max_stable_dt():.3g} ms); use a shorter field dt, larger "
                    f"voxels, leave dt=None to choose it, or use_field_lattice(..., scheme='implicit')")
            return n, 1
        limit = f.default_dt()
        if not math.isfinite(limit):  # no field diffuses (fixed buffers): step for the reactions only
            limit = IMMOBILE_FIELD_STEP_MS
        if sim.dt <= limit:
            return max(1, int(limit // sim.dt)), 1
        return 1, int(math.ceil(sim.dt / limit))

    def _steps_to_field_step(self) -> int | float:
        """Particle steps until the next field step (inf without diffusing fields)."""
        f = self.sim.fields
        if f is None or not f.names:
            return math.inf
        if getattr(self, "_schedule", None) is None:
            self._schedule = self.field_schedule()
        return self._schedule[0] - self._field_clock

    def _fields_advance(self, nsteps: int) -> None:
        """Count ``nsteps`` particle steps; take the field step when one is due (the fields'
        diffusion and mass action, then their births of particles)."""
        sim = self.sim
        f = sim.fields
        if f is None or not f.names:
            return
        if getattr(self, "_schedule", None) is None:
            self._schedule = self.field_schedule()
        n, m = self._schedule
        self._field_clock += nsteps
        if self._field_clock < n:
            return
        self._field_clock = 0
        dt_f = n * sim.dt / m
        for _ in range(m):
            f.step(dt_f)
            for c in self._tables["from_field"]:
                self._field_births(c, dt_f)

    def _field_births(self, c, dt_f):
        """Reactions of fields only that make particles: independent Poisson numbers per voxel
        with means k dt c_A (c_B) / molecule_mM, drawn as one Poisson total over the lattice whose
        events choose their voxels with probability proportional to the means (the same law:
        Poisson splitting), so a step costs one compiled pass over the voxels."""
        from .._kernels.fields import birth_cumulative

        f = self.sim.fields
        idx = [f.index(s) for s in c.reactants]
        if getattr(self, "_birth_cum", None) is None or self._birth_cum.shape[0] != f.n_voxels:
            self._birth_cum = np.empty(f.n_voxels)
        cum = self._birth_cum
        # first order: k [1/ms] c [mM] dt / (mM per molecule); second: k [1/(mM ms)] cA cB dt / (mM per molecule)
        total = birth_cumulative(f.conc.reshape(f.conc.shape[0], -1), idx[0], idx[1] if len(idx) == 2 else -1,
                                 c.rate * dt_f / f.molecule_mM, cum)
        if not total > 0.0:
            return
        rng = self._rng()
        n = int(rng.poisson(total))
        if n == 0:
            return
        # the first voxel whose cumulative sum exceeds the draw: one of zero mean (where the sum
        # is flat) is never chosen; a draw rounded up to the total goes to the last voxel that adds
        cells = np.searchsorted(cum, rng.uniform(0.0, total, size=n), side="right")
        cells[cells >= f.n_voxels] = np.searchsorted(cum, total, side="left")
        cells.sort()
        self.counts[c.name] += cells.size
        if self._watched or c.name in self.logs:
            centres = f.sample_in_voxels(cells, np.full((cells.size, 3), 0.5))
            self._tally(c.name, centres)
            if c.name in self.logs:
                t_ev = self.sim.step * self.sim.dt
                self.logs[c.name].extend((t_ev, p) for p in centres)
        for s in c.reactants:
            f.add_molecules(f.index(s), cells, -np.ones(cells.size))
        for s, kind in zip(c.products, c.kinds_out):
            if kind == "field":
                f.add_molecules(f.index(s), cells, np.ones(cells.size))
            else:
                self._birth_in_voxels(c, s, cells)

    def _birth_in_voxels(self, c, species, cells):
        sim = self.sim
        f = sim.fields
        rng = self._rng()
        pos = f.sample_in_voxels(cells, rng.uniform(size=(cells.size, 3)))
        ok = sim.domain.contains(pos, species=species)
        for _ in range(16):
            if ok.all():
                break
            bad = np.flatnonzero(~ok)
            pos[bad] = f.sample_in_voxels(cells[bad], rng.uniform(size=(bad.size, 3)))
            ok[bad] = sim.domain.contains(pos[bad], species=species)
        if not ok.all():
            bad = np.flatnonzero(~ok)
            pos[bad] = f.sample_in_voxels(cells[bad], np.full((bad.size, 3), 0.5))  # the live centre
        sim.particles.append(np.full(cells.size, sim.species.index(species), np.int16), pos)

    def _ball(self, m, rho):
        rng = self._rng()
        v = rng.normal(size=(m, 3))
        v /= np.linalg.norm(v, axis=1)[:, None]
        return v * (rho * rng.uniform(size=m) ** (1.0 / 3.0))[:, None]

    def _inside(self, species, pos, fallback, c):
        """``pos``, with the products that would lie outside the domain, or across a membrane
        from their reactants (at ``fallback``), placed again or at ``fallback``."""
        sim = self.sim
        dom = sim.domain

        def ok_at(p, ref):
            ok = dom.contains(p, species=species)
            if dom.membranes:
                ok &= dom.same_side(p, ref, species=species)
            return ok

        ok = ok_at(pos, fallback)
        if ok.all():
            return pos
        pos = pos.copy()
        bad = np.flatnonzero(~ok)
        if c.rho > 0.0 and c.kind == "own":  # place the unbinding pair again
            for _ in range(16):
                r = self._ball(bad.size, c.rho)
                wa, wb = c.weights
                sign = -wb if species == c.products[0] else wa
                cand = fallback[bad] + sign * r
                good = ok_at(cand, fallback[bad])
                pos[bad[good]] = cand[good]
                bad = bad[~good]
                if bad.size == 0:
                    return pos
        pos[bad] = fallback[bad]
        still = ~sim.domain.contains(pos[bad], species=species)
        if still.any():
            raise ReactionError(
                f"reaction {c.name!r}: a product {species} would be placed outside its domain at "
                f"{np.round(pos[bad][still][0], 6).tolist()} um; the product species must be allowed "
                f"where its reactants are (check the boundary conditions per species)")
        return pos

    def _deposit(self, c, species, pos):
        f = self.sim.fields
        cells = f.voxel_index(pos[:, 0].copy(), pos[:, 1].copy(), pos[:, 2].copy())
        if np.any(cells < 0):
            bad = pos[cells < 0][0]
            raise ReactionError(
                f"reaction {c.name!r}: its field product {species} would be made at "
                f"{np.round(bad, 6).tolist()} um, outside the field lattice; cover the whole domain "
                f"with sim.use_field_lattice(...)")
        f.add_molecules(f.index(species), cells, np.ones(cells.size))
