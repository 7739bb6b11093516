"""Lattice fields: species kept as concentrations [mM] on the voxels of one lattice.

A :class:`FieldSet` holds every lattice field of a simulation on one
:class:`~microsyn.lattice.Lattice`. Each field has a name, a diffusion coefficient D
[um^2/ms], a concentration per voxel [mM] and a *live* mask: the voxels whose centres are
inside the domain for that species (``domain.contains(centres, species=name)``, so per-species
boundary conditions apply: a hole that ``"transmit"``\\ s a species is absent for it). Dead
voxels hold zero and take no part in anything.

Diffusion
    Explicit (forward Euler in time, centred in space: FTCS) in flux form: each pair of
    face-neighbouring live voxels exchanges ``D dt / h^2 * (c_q - c_p)`` per step, nothing is
    exchanged with dead voxels or across the lattice edge (reflecting walls, zero flux). Every
    exchange leaves one voxel exactly as it enters the other, so a field's total is conserved to
    round-off. Stability and positivity need ``D dt (1/hx^2 + 1/hy^2 + 1/hz^2) <= 1/2``, i.e.
    ``D dt / h^2 <= 1/6`` for cubic voxels (:meth:`FieldSet.max_stable_dt`); then every new
    value is a convex combination of old ones, so no concentration is made negative. A smooth
    mode cos(k x) decays at the discrete rate ``(4 D / h^2) sin^2(k h / 2)`` (slower than
    ``D k^2`` by the relative ``(k h)^2 / 12``), and forward Euler speeds the decay up by about
    ``D k^2 dt / 2`` relative (tests/validation/test_field_diffusion_analytic.py checks both).

Implicit diffusion (``scheme="implicit"``)
    Locally one-dimensional backward Euler: the step solves ``(I - D dt L_x) c' = c``, then the
    same along y and along z, where each ``L_a`` is the 1-D Laplacian along the lattice lines
    with zero flux at walls, dead voxels and the lattice edge (one tridiagonal solve per run of
    live voxels, :func:`microsyn._kernels.fields.diffuse_implicit_axis`). Every 1-D matrix is a
    symmetric, diagonally dominant M-matrix whose columns sum to one, so the step is stable at
    any dt, never makes a concentration negative and conserves each field's total to round-off.
    Its price is accuracy at long steps: a mode cos(k x) is multiplied per step by
    ``1 / (1 + 4 r sin^2(k h / 2))`` per axis (``r = D dt / h^2``) instead of ``exp(-D k^2 dt)``,
    so the decay of a smooth mode is too slow by about ``D k^2 dt / 2`` relative (the same size
    as FTCS's error, of the opposite sign) and the axes' splitting adds an error of first order
    in dt. :data:`IMPLICIT_R` (D dt / h^2 = 1 per axis) is the default step the particle engine
    takes with it, 6.7 times the explicit one.

Mass action
    Reactions whose species are all fields of the set (:meth:`FieldSet.add_reaction`) run in
    every voxel live for all of their species. The event rate [mM/ms] of ``A + B -> ...`` is
    ``k [A][B]``, of ``A + A -> ...`` it is ``k [A]^2 / 2`` (``k`` is the rate per pair of
    molecules times 602,214, as for particles, so ``d[A]/dt = -k [A]^2``), of ``A -> ...`` it is
    ``k [A]``, of ``-> A`` it is ``k`` [mM/ms] in every live voxel; a reversible reaction
    subtracts the same for its products with ``reverse_rate``. With the extent xi [mM] of one
    reaction in one voxel, each species changes by its net stoichiometry (products minus
    reactants: 0 for a catalyst such as E in ``E + S -> E + P``) times xi, so the rate of xi is a
    polynomial of degree <= 2 in xi, which is integrated *exactly* over the step
    (:func:`microsyn._kernels.fields.reaction_extent`, a Riccati equation). First-order decay
    therefore follows ``exp(-k t)`` to round-off, and a reversible reaction relaxes to its
    mass-action equilibrium (``kf [A][B] = kb [C]``) at any step length. The extent is kept
    within the interval where no species goes below zero (a guard against round-off only: the
    exact solution never leaves it), and every species changes by its stoichiometry times the
    same extent, so mass is conserved to round-off and no concentration is made negative.
    Concentrations below zero (see Particles) count as zero in the rates. Several reactions are
    applied one after the other in the order they were added (sequential splitting, first order
    in dt); the two halves of a reversible reaction added separately are merged into one, so
    they are integrated together.

Splitting
    :meth:`FieldSet.step` is Lie splitting: the diffusion step, then the reactions over the
    same dt. Its error is first order in dt (zero where the fields are uniform, since diffusion
    then changes nothing) and does not affect conservation or positivity.

Particles
    The particle engine uses :meth:`FieldSet.voxel_index`, :meth:`FieldSet.add_molecules`
    (one molecule is :attr:`FieldSet.molecule_mM` in one voxel) and
    :meth:`FieldSet.sample_in_voxels`. A particle inside the domain can sit in a boundary voxel
    whose centre is outside (a dead voxel); :attr:`FieldSet.live_voxel` maps it to the nearest
    live neighbour, and :meth:`FieldSet.add_molecules` uses that map, so no molecule is lost.
    Removing molecules can make a voxel's concentration transiently negative (a particle takes
    a molecule from a voxel holding less than one); that is kept, not clipped, so the total
    stays exact; rates use ``max(c, 0)`` and the deficit is refilled by diffusion and reactions.

Example
-------
>>> import microsyn as ms
>>> from microsyn.reactions.fields import FieldSet
>>> dom = ms.Domain(ms.Box((0, 0, 0), (1, 1, 1)))
>>> fs = FieldSet(dom, ms.Lattice((0, 0, 0), (1, 1, 1), voxel_size=0.1))
>>> fs.add("BAPTA", D=0.2, conc_mM=1.0)
0
>>> round(fs.max_stable_dt(), 6)   # h^2 / (6 D)
0.008333
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import (
    GeometryError,
    ParameterError,
    ReactionError,
    TimeStepError,
    UnknownSpeciesError,
    check_count,
    check_positive,
)
from ..lattice import Lattice
from ..units import PARTICLES_PER_UM3_PER_MM

#: fraction of the stability limit :meth:`FieldSet.suggest_substeps` uses
STABILITY_SAFETY = 0.9
#: the diffusion schemes of a :class:`FieldSet`
SCHEMES = ("explicit", "implicit")
#: D dt / h^2 per axis of the default implicit field step (see the module docstring)
IMPLICIT_R = 1.0


def _neighbour_offsets(h) -> list[tuple[int, int, int]]:
    """The 26 neighbour offsets, nearest first (by centre distance with spacing h), ties in
    lexicographic order."""
    offs = [(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1) if (a, b, c) != (0, 0, 0)]
    return sorted(offs, key=lambda o: ((o[0] * h[0]) ** 2 + (o[1] * h[1]) ** 2 + (o[2] * h[2]) ** 2, o))


class FieldSet:
    """All lattice fields of one simulation on one lattice (see the module docstring).

    Parameters
    ----------
    domain : Domain or Shape
        Where the species live; voxels whose centres are inside (per species) are live.
    lattice : Lattice
        The voxel grid [um] shared by all fields.
    scheme : {"explicit", "implicit"}
        Diffusion in time: forward Euler (FTCS; stable for D dt / h^2 <= 1/6) or locally
        one-dimensional backward Euler (stable at any dt; see the module docstring).

    Attributes
    ----------
    conc : (n_fields, nx, ny, nz) float64
        Concentrations [mM], zero in dead voxels (C-contiguous; replaced by a larger array when
        a field is added, so views taken earlier no longer follow it).
    live : (n_fields, nx, ny, nz) bool
        Live voxels per field.
    live_voxel : (n_fields, nx * ny * nz) int64
        For each voxel (flat C-order index), the live voxel that stands for it for each field:
        itself if live; for a dead voxel the nearest live one of its 26 neighbours (by centre
        distance; ties to the lowest offset), or -1 if it has none. Particles inside the
        domain but in a boundary voxel whose centre is outside use this voxel.
    molecule_mM : float
        Concentration [mM] of one molecule in one voxel: 1 / (602,214 * voxel volume [um^3]).
    """

    #: bumped whenever the concentrations change other than by single molecules (a field step,
    #: a concentration set, a field added): the reaction clocks then see the new values
    version = 0

    def __init__(self, domain, lattice: Lattice, scheme: str = "explicit"):
        from ..geometry import as_domain

        if not isinstance(lattice, Lattice):
            raise ParameterError(f"lattice must be a microsyn.Lattice, got {type(lattice).__name__}")
        if scheme not in SCHEMES:
            raise ParameterError(f"field scheme must be one of {SCHEMES}, got {scheme!r}")
        #: "explicit" (FTCS) or "implicit" (locally one-dimensional backward Euler)
        self.scheme = scheme
        self.domain = as_domain(domain)
        self.lattice = lattice
        self.shape = tuple(lattice.shape)
        self.n_voxels = int(np.prod(self.shape))
        self.spacing = np.asarray(lattice.spacing, float)
        self.molecule_mM = 1.0 / (PARTICLES_PER_UM3_PER_MM * lattice.voxel_volume_um3)
        self._names: list[str] = []
        self._D: list[float] = []
        self.conc = np.zeros((0,) + self.shape)
        self.live = np.zeros((0,) + self.shape, bool)
        self.live_voxel = np.zeros((0, self.n_voxels), np.int64)
        #: the field reactions, in the order they run: :class:`FieldReaction`
        self.reactions: list[FieldReaction] = []
        self._rx_tables = None
        self._scratch = None
        #: field steps taken so far
        self.steps = 0
        #: field time simulated so far [ms]
        self.time = 0.0

    # ------------------------------------------------------------------ fields
    @property
    def names(self) -> list[str]:
        """Field names, in index order."""
        return list(self._names)

    @property
    def D(self) -> np.ndarray:
        """Diffusion coefficients [um^2/ms] in index order."""
        return np.array(self._D, float)

    def index(self, name: str) -> int:
        """Index of a field; UnknownSpeciesError if there is none of that name."""
        try:
            return self._names.index(name)
        except ValueError:
            raise UnknownSpeciesError(f"no lattice field named {name!r}; fields: {self._names}") from None

    def centres(self) -> np.ndarray:
        """Voxel centres (nx * ny * nz, 3) [um] in flat C order."""
        cx, cy, cz = (self.lattice.centers(a) for a in range(3))
        g = np.meshgrid(cx, cy, cz, indexing="ij")
        return np.stack([a.ravel() for a in g], axis=1)

    def add(self, name: str, D: float, conc_mM: float = 0.0, region=None) -> int:
        """Add a field; returns its index.

        Parameters
        ----------
        name : str
            Species name (per-species boundary conditions of the domain apply to its live mask).
        D : float
            Diffusion coefficient [um^2/ms] (0: immobile).
        conc_mM : float or array
            Initial concentration [mM] in its live voxels (within ``region`` if given), as
            :meth:`set_concentration`; on bad values the field is not added.
        region : Shape or Domain, optional
            Where to put the initial concentration (voxel centres inside it).
        """
        if not isinstance(name, str) or not name or name != name.strip() or any(ch.isspace() for ch in name):
            raise ParameterError(f"a field name must be a non-empty string without whitespace, got {name!r}")
        if name in self._names:
            raise ParameterError(f"a lattice field named {name!r} already exists; give each field its own name")
        D = check_positive(f"D of field {name!r} [um^2/ms]", D, allow_zero=True)
        walls = self.domain.barrier_membranes(name)
        if walls and D > 0.0:
            raise GeometryError(
                f"field {name!r}: the domain has membranes it cannot cross ({[m.name for m in walls]}), and "
                f"lattice fields do not see membranes (they would diffuse through); track {name!r} as "
                f"particles, or let it through: set_boundary(<membrane>, 'transmit', species={name!r})")
        live = self.domain.contains(self.centres(), species=name).reshape(self.shape)
        if not live.any():
            raise GeometryError(
                f"no voxel centre of the lattice (lo={self.lattice.lo.tolist()}, hi={self.lattice.hi.tolist()} um, "
                f"voxel {self.spacing.tolist()} um) is inside the domain for {name!r}; cover the domain "
                f"with the lattice or use smaller voxels")
        self.conc = np.ascontiguousarray(np.concatenate([self.conc, np.zeros((1,) + self.shape)]))
        self.live = np.ascontiguousarray(np.concatenate([self.live, live[None]]))
        self.live_voxel = np.ascontiguousarray(np.concatenate([self.live_voxel, self._redirect(live)[None]]))
        self._names.append(name)
        self._D.append(D)
        self._rx_tables = None
        if region is not None or np.ndim(conc_mM) > 0 or conc_mM != 0.0:
            try:
                self.set_concentration(name, conc_mM, region)
            except ParameterError:
                self._drop_last()
                raise
        return len(self._names) - 1

    def _drop_last(self) -> None:
        self._names.pop()
        self._D.pop()
        self.conc = np.ascontiguousarray(self.conc[:-1])
        self.live = np.ascontiguousarray(self.live[:-1])
        self.live_voxel = np.ascontiguousarray(self.live_voxel[:-1])

    def _redirect(self, live: np.ndarray) -> np.ndarray:
        nx, ny, nz = self.shape
        flat = np.arange(self.n_voxels, dtype=np.int64).reshape(self.shape)
        out = np.where(live, flat, -1)
        pad_live = np.zeros((nx + 2, ny + 2, nz + 2), bool)
        pad_live[1:-1, 1:-1, 1:-1] = live
        pad_idx = np.full((nx + 2, ny + 2, nz + 2), -1, np.int64)
        pad_idx[1:-1, 1:-1, 1:-1] = flat
        for a, b, c in _neighbour_offsets(self.spacing):
            todo = out < 0
            if not todo.any():
                break
            nl = pad_live[1 + a:1 + a + nx, 1 + b:1 + b + ny, 1 + c:1 + c + nz]
            ni = pad_idx[1 + a:1 + a + nx, 1 + b:1 + b + ny, 1 + c:1 + c + nz]
            take = todo & nl
            out[take] = ni[take]
        return out.ravel()

    def concentration(self, name: str) -> np.ndarray:
        """The concentration [mM] of a field: a (nx, ny, nz) view of :attr:`conc`."""
        return self.conc[self.index(name)]

    def set_concentration(self, name: str, conc_mM, region=None) -> None:
        """Set a field's concentration [mM] in its live voxels, or only in those whose centres
        are inside ``region`` (a Shape or Domain); other voxels keep their value.

        ``conc_mM`` is a number >= 0 or an array of the lattice's shape (values >= 0; only its
        values at the chosen voxels are used).
        """
        f = self.index(name)
        if np.ndim(conc_mM) == 0:
            value = check_positive(f"concentration of {name!r} [mM]", conc_mM, allow_zero=True)
        else:
            value = np.asarray(conc_mM, dtype=float)
            if value.shape != self.shape:
                raise ParameterError(f"concentration array of {name!r} has shape {value.shape}; "
                                     f"the lattice is {self.shape}")
            if not np.all(np.isfinite(value)) or np.any(value < 0):
                raise ParameterError(f"concentrations of {name!r} must be finite and >= 0 [mM]")
        mask = self.live[f].copy()
        if region is not None:
            if not hasattr(region, "contains"):
                raise ParameterError(f"region must be a microsyn Shape or Domain, got {type(region).__name__}")
            mask &= np.asarray(region.contains(self.centres()), bool).reshape(self.shape)
        if np.ndim(value) == 0:
            self.conc[f][mask] = value
        else:
            self.conc[f][mask] = value[mask]
        self.version += 1

    def total_molecules(self, name: str) -> float:
        """Number of molecules of a field in the lattice (sum of concentrations / molecule_mM)."""
        f = self.index(name)
        return float(np.sum(self.conc[f], where=self.live[f]) / self.molecule_mM)

    # ------------------------------------------------------------------ reactions
    def add_reaction(self, reaction) -> None:
        """Add a mass-action reaction among fields (see the module docstring).

        ``reaction`` needs ``.reactants`` and ``.products`` (tuples of 0-2 field names),
        ``.rate`` (forward: [mM/ms], [1/ms] or [1/(mM ms)] by order), ``.reverse_rate`` (units
        of the products' order, or None) and ``.name``; e.g. a
        :class:`microsyn.reactions.spec.Reaction`. A zeroth-order reaction with a ``region``
        is not supported here (ReactionError). An irreversible reaction that is the exact
        reverse of an irreversible one already added (e.g. the two halves of
        ``Reaction.irreversible()``) is merged into it as its reverse rate, so the pair is
        integrated together; pass reversible reactions whole or in halves alike.
        """
        try:
            reactants = tuple(reaction.reactants)
            products = tuple(reaction.products)
            rate = reaction.rate
            reverse = getattr(reaction, "reverse_rate", None)
            rname = getattr(reaction, "name", None) or f"{' + '.join(reactants)} -> {' + '.join(products)}"
        except (AttributeError, TypeError):
            raise ReactionError(f"a field reaction needs .reactants, .products, .rate, .reverse_rate and "
                                f".name; got {reaction!r}") from None
        if len(reactants) > 2 or len(products) > 2:
            raise ReactionError(f"reaction {rname!r}: at most 2 reactants and 2 products, got "
                                f"{len(reactants)} and {len(products)}")
        if not reactants and not products:
            raise ReactionError(f"reaction {rname!r} has no species")
        for s in reactants + products:
            if s not in self._names:
                raise UnknownSpeciesError(
                    f"reaction {rname!r}: {s!r} is not a lattice field of this set (fields: {self._names}); "
                    f"add it with add({s!r}, D) first, or let the particle engine run this reaction")
        if not reactants and getattr(reaction, "region", None) is not None:
            raise ReactionError(f"reaction {rname!r}: zeroth-order production in a region is not done by "
                                f"FieldSet; set the field's concentration or drop the region")
        kf = _check_rate(rname, "rate", rate, len(reactants))
        kb = 0.0 if reverse is None else _check_rate(rname, "reverse_rate", reverse, len(products))
        if reverse is None:
            for e in self.reactions:  # the other half of a reversible pair given as two reactions
                if e.reverse_rate == 0.0 and sorted(e.reactants) == sorted(products) \
                        and sorted(e.products) == sorted(reactants):
                    e.reverse_rate = kf
                    e.reverse_name = rname
                    self._rx_tables = None
                    return
        self.reactions.append(FieldReaction(rname, reactants, products, kf, kb,
                                            None if reverse is None else f"{rname} (reverse)"))
        self._rx_tables = None

    @property
    def net_events(self) -> dict[str, float]:
        """Net number of events (molecules' worth: extent / molecule_mM, summed over voxels) of
        each field reaction so far, forward minus reverse, by the forward reaction's name. Not a
        whole number: the fields are continuous."""
        return {e.name: e.net_events for e in self.reactions}

    def _tables(self):
        """Kernel tables of the reactions (see :func:`microsyn._kernels.fields.mass_action_step`)."""
        if self._rx_tables is None:
            n = len(self.reactions)
            fac_sp = np.full((n, 4), -1, np.int64)
            fac_nu = np.zeros((n, 4))
            k_eff = np.zeros((n, 2))
            sp = np.full((n, 4), -1, np.int64)
            nu = np.zeros((n, 4))
            for r, e in enumerate(self.reactions):
                ins = [self._names.index(s) for s in e.reactants]
                outs = [self._names.index(s) for s in e.products]
                net: dict[int, float] = {}
                for s in ins:
                    net[s] = net.get(s, 0.0) - 1.0
                for s in outs:
                    net[s] = net.get(s, 0.0) + 1.0
                for m, s in enumerate(sorted(net)):
                    sp[r, m] = s
                    nu[r, m] = net[s]
                for m, s in enumerate(ins):
                    fac_sp[r, m] = s
                    fac_nu[r, m] = net[s]
                for m, s in enumerate(outs):
                    fac_sp[r, 2 + m] = s
                    fac_nu[r, 2 + m] = net[s]
                k_eff[r, 0] = e.rate * (0.5 if len(ins) == 2 and ins[0] == ins[1] else 1.0)
                k_eff[r, 1] = e.reverse_rate * (0.5 if len(outs) == 2 and outs[0] == outs[1] else 1.0)
            self._rx_tables = (fac_sp, fac_nu, k_eff, sp, nu)
        return self._rx_tables

    # ------------------------------------------------------------------ time stepping
    def _inv_h2(self) -> float:
        return float(np.sum(1.0 / self.spacing ** 2))

    def max_stable_dt(self) -> float:
        """The longest stable field step [ms]: 1 / (2 D_max (1/hx^2 + 1/hy^2 + 1/hz^2))
        (h^2 / (6 D) for cubic voxels); inf if no field diffuses."""
        dmax = max(self._D, default=0.0)
        if dmax == 0.0:
            return math.inf
        return 1.0 / (2.0 * dmax * self._inv_h2())

    def default_dt(self) -> float:
        """The field step [ms] the particle engine takes by default: 0.9 of :meth:`max_stable_dt`
        (explicit) or D_max dt / h_min^2 = :data:`IMPLICIT_R` (implicit); inf if no field
        diffuses."""
        if self.scheme == "explicit":
            return STABILITY_SAFETY * self.max_stable_dt()
        dmax = max(self._D, default=0.0)
        if dmax == 0.0:
            return math.inf
        return IMPLICIT_R * float(np.min(self.spacing)) ** 2 / dmax

    def _check_dt(self, dt) -> float:
        dt = check_positive("field time step dt [ms]", dt)
        if self.scheme == "implicit":
            return dt
        limit = self.max_stable_dt()
        if dt > limit:
            f = int(np.argmax(self._D))
            D = self._D[f]
            h_min = math.sqrt(6.0 * D * dt)
            raise TimeStepError(
                f"field time step dt={dt:.6g} ms is unstable for field {self._names[f]!r} "
                f"(D={D:.6g} um^2/ms, voxel {np.round(self.spacing, 9).tolist()} um): explicit diffusion needs "
                f"D dt (1/hx^2 + 1/hy^2 + 1/hz^2) <= 1/2 (D dt / h^2 <= 1/6 for cubic voxels); use "
                f"dt <= {limit:.6g} ms, or cubic voxels of at least {h_min:.6g} um")
        return dt

    def suggest_substeps(self, dt_particle: float) -> int:
        """How many particle steps one field step may span: the largest n with
        n * dt_particle <= 0.9 * :meth:`max_stable_dt` (a 10 % margin below the stability
        limit, where FTCS would damp the shortest mode to zero in one step; the diffusion error
        of a smooth mode grows only as D k^2 dt / 2, so the longest stable step is the right
        one). 1 when no field diffuses. The reactions need no limit (they are integrated exactly
        per voxel); the splitting error grows with dt * rate, so a caller wanting accuracy for
        fast reactions in steep gradients may choose fewer. TimeStepError if even one particle
        step is above 0.9 of the limit.
        """
        dtp = check_positive("particle time step dt [ms]", dt_particle)
        if math.isinf(self.max_stable_dt()):
            return 1
        limit = STABILITY_SAFETY * self.max_stable_dt()
        n = int(math.floor(limit / dtp * (1.0 + 1e-12)))
        if n < 1:
            f = int(np.argmax(self._D))
            raise TimeStepError(
                f"the particle step {dtp:.6g} ms is above {STABILITY_SAFETY} of the stability limit "
                f"{self.max_stable_dt():.6g} ms of field {self._names[f]!r} (D={self._D[f]:.6g} um^2/ms, voxel "
                f"{np.round(self.spacing, 9).tolist()} um); use a particle step <= {limit:.6g} ms, or cubic "
                f"voxels of at least {math.sqrt(6.0 * self._D[f] * dtp / STABILITY_SAFETY):.6g} um")
        return n

    def step(self, dt: float) -> None:
        """Advance all fields by ``dt`` [ms]: diffusion, then the reactions (Lie splitting).
        TimeStepError if ``dt`` exceeds :meth:`max_stable_dt` with the explicit scheme."""
        from .._kernels import fields as kf

        dt = self._check_dt(dt)
        if not self._names:
            return
        live8 = self.live.view(np.uint8)
        if max(self._D) > 0.0:
            coef = np.ascontiguousarray(self.D[:, None] * dt / self.spacing[None, :] ** 2)
            if self.scheme == "implicit":
                for axis in range(3):
                    kf.diffuse_implicit_axis(self.conc, live8, coef, axis)
            else:
                if self._scratch is None or self._scratch.shape != self.conc.shape:
                    self._scratch = np.empty_like(self.conc)
                kf.diffuse_step(self.conc, live8, coef, self._scratch)
                np.copyto(self.conc, self._scratch)
        if self.reactions:
            extent = np.zeros((len(self.reactions), self.shape[0]))
            kf.mass_action_step(self.conc, live8, *self._tables(), dt, extent)
            net = extent.sum(axis=1) / self.molecule_mM
            for e, v in zip(self.reactions, net):
                e.net_events += float(v)
        self.steps += 1
        self.version += 1
        self.time += dt

    # ------------------------------------------------------------------ particle hooks
    def voxel_index(self, x, y, z, field=None) -> np.ndarray:
        """Flat voxel index (int64, C order over the lattice) of each point [um]:
        floor((x - lo) * (1 / h)) per axis, a point on the lattice's upper face in the last voxel; -1
        outside the lattice (or not finite). With ``field`` (name or index), a dead voxel of that field
        is replaced by :attr:`live_voxel` (-1 if it has no live neighbour)."""
        from .._kernels import fields as kf

        x = np.ascontiguousarray(x, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        z = np.ascontiguousarray(z, dtype=np.float64)
        if not (x.shape == y.shape == z.shape) or x.ndim != 1:
            raise ParameterError(f"x, y, z must be 1-D arrays of one length, got shapes {x.shape}, "
                                 f"{y.shape}, {z.shape}")
        out = np.empty(x.shape[0], np.int64)
        kf.voxel_index(x, y, z, np.asarray(self.lattice.lo, float), np.asarray(self.lattice.hi, float),
                       1.0 / np.asarray(self.spacing, float), np.asarray(self.shape, np.int64), out)
        if field is not None:
            f = field if isinstance(field, (int, np.integer)) else self.index(field)
            ok = out >= 0
            out[ok] = self.live_voxel[f][out[ok]]
        return out

    def add_molecules(self, field_index: int, flat_indices, counts) -> None:
        """Add ``counts`` molecules (negative: remove) to voxels, as ``np.add.at``: each entry
        adds ``counts * molecule_mM`` [mM]. A dead voxel of the field is replaced by its
        :attr:`live_voxel` so nothing is lost. A concentration may become negative (see the
        module docstring)."""
        f = check_count("field index", field_index)
        if f >= len(self._names):
            raise UnknownSpeciesError(f"field index {f} out of range; there are {len(self._names)} fields")
        idx = np.asarray(flat_indices)
        cnt = np.asarray(counts, dtype=float)
        if idx.ndim != 1 or cnt.shape != idx.shape:
            raise ParameterError(f"flat_indices and counts must be 1-D of one length, got {idx.shape}, {cnt.shape}")
        if idx.size == 0:
            return
        if not np.issubdtype(idx.dtype, np.integer):
            raise ParameterError(f"flat_indices must be integers, got dtype {idx.dtype}")
        if idx.min() < 0 or idx.max() >= self.n_voxels:
            raise GeometryError(f"voxel index out of range 0..{self.n_voxels - 1} (got {idx.min()}..{idx.max()}); "
                                f"the point lies outside the field lattice: cover the domain with it")
        if not np.all(np.isfinite(cnt)):
            raise ParameterError("counts must be finite numbers of molecules")
        target = self.live_voxel[f][idx]
        if np.any(target < 0):
            bad = int(idx[target < 0][0])
            raise GeometryError(f"voxel {np.unravel_index(bad, self.shape)} and its neighbours are all outside "
                                f"the domain for field {self._names[f]!r}; a molecule cannot be put there")
        np.add.at(self.conc[f].reshape(-1), target, cnt * self.molecule_mM)

    def sample_in_voxels(self, flat_indices, rng_uniforms) -> np.ndarray:
        """Positions (n, 3) [um] uniform in the given voxels: ``lo + (ijk + u) * h`` with
        ``rng_uniforms`` (n, 3) in [0, 1). In a boundary voxel a point can lie outside the
        domain; the caller checks ``domain.contains`` and draws again where needed."""
        idx = np.asarray(flat_indices)
        u = np.asarray(rng_uniforms, dtype=float)
        if idx.ndim != 1 or u.shape != (idx.size, 3):
            raise ParameterError(f"need flat_indices (n,) and rng_uniforms (n, 3), got {idx.shape} and {u.shape}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_voxels):
            raise GeometryError(f"voxel index out of range 0..{self.n_voxels - 1}")
        if np.any(u < 0) or np.any(u >= 1):
            raise ParameterError("rng_uniforms must lie in [0, 1)")
        ijk = np.stack(np.unravel_index(idx, self.shape), axis=1).astype(float)
        return np.asarray(self.lattice.lo, float)[None, :] + (ijk + u) * self.spacing[None, :]


class FieldReaction:
    """One mass-action reaction among fields as a :class:`FieldSet` runs it: ``reactants`` ->
    ``products`` at ``rate``, back at ``reverse_rate`` (0: irreversible) [units by order].
    ``reverse_name`` names the reverse half (when given as a separate irreversible reaction, it
    is merged here so the pair is integrated together and relaxes to the exact equilibrium)."""

    __slots__ = ("name", "reactants", "products", "rate", "reverse_rate", "reverse_name", "net_events")

    def __init__(self, name, reactants, products, rate, reverse_rate, reverse_name=None):
        self.name = name
        self.reactants = tuple(reactants)
        self.products = tuple(products)
        self.rate = float(rate)
        self.reverse_rate = float(reverse_rate)
        self.reverse_name = reverse_name
        #: net events so far (forward minus reverse), molecules' worth
        self.net_events = 0.0

    def __repr__(self):
        arrow = "<->" if self.reverse_rate else "->"
        return (f"FieldReaction({' + '.join(self.reactants) or '0'} {arrow} {' + '.join(self.products) or '0'}, "
                f"rate={self.rate!r}, reverse_rate={self.reverse_rate!r})")


def _check_rate(rname: str, what: str, value, order: int) -> float:
    units = {0: "mM/ms", 1: "1/ms", 2: "1/(mM ms)"}[order]
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not (math.isfinite(v) and v > 0.0):
        raise ReactionError(f"{what} of reaction {rname!r} must be a finite number > 0 [{units}], got {value!r}")
    return v
