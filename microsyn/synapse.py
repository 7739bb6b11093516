"""Ligand-gated synapses: channels on the membrane that emit ions as particles and drive the voltage.

This module joins the particle engine (:class:`~microsyn.simulation.Simulation`) and the membrane
electrical model (:class:`~microsyn.membrane.MembraneSolver`):

- a :class:`Synapse` is a cluster of ``n_channels`` channels of one
  :class:`~microsyn.channels.ChannelType` at a pore position ``at`` [um] on the membrane of the
  particle domain, and at a compartment ``node`` of the electrical graph;
- its channels gate stochastically with exact event times (or mean-field) under a ligand: a
  prescribed transmitter time course (:mod:`microsyn.gating`) or :class:`TransmitterParticles`
  counted near the receptor;
- while channels are open, ion i flows at ``n_open(t) * I_i(V) * 6241.5 / z_i`` ions per ms
  (:meth:`ChannelType.ion_flux_per_ms <microsyn.channels.ChannelType.ion_flux_per_ms>`), with
  I_i from the conductance and driving force at the *local membrane voltage* V of the synapse's
  compartment (chord V - E_i, GHK for Ca2+, Mg2+ block for NMDA);
- the ions are emitted as discrete particles at the pore mouth, with Poisson numbers per particle
  step: entering ions (Na+, Ca2+, Cl- at rest) at the cytoplasmic mouth ``at + offset * normal``,
  leaving ions (K+ at rest) at the extracellular mouth ``at - offset * normal`` when that point is
  inside the particle domain (a domain holding both sides of the membrane). Where the domain is
  the cytoplasm only, leaving ions are *counted* (``ions_out``) but not drawn: the background
  K+ is a continuum and an exit lowers it by a number far below its fluctuations. This is the
  documented choice for "K+ out";
- the same ions are the current of the electrical model (``current="ions"``, default): the charge
  the emitted ions carried into the cell during an electrical step, divided by the step, is
  injected at the synapse's compartment for that step. Charge is therefore conserved exactly: every
  emitted ion is in the current and the other way round (the current has the ions' shot noise).
  With ``current="mean"`` the expected current (n_open g (V - E)) is injected instead and the ion
  counts agree with it within Poisson error.

Co-stepping (the loop)
----------------------
The electrical model steps at its own dt (``SynapticCoupling.dt_ms``, typically 5-25 us, equal to
the solver's dt and a whole number of particle steps). A recurring event in the ``"gating"`` phase
runs at every electrical step boundary t_k (see :class:`SynapticCoupling`):

1. *close the step [t_{k-1}, t_k]*: the emitted ions of that step (drawn by the particle engine
   while it advanced, or drawn here without particles) give each compartment's injected current;
   the membrane solver advances one step; readouts (V, current, open channels) are recorded;
2. *local concentrations* (optional Nernst feedback): tracked ions within ``feedback_radius_um`` of
   the pore are added to the background concentrations, and the ions' Nernst potentials follow;
3. *gate the step [t_k, t_{k+1}]*: transmitter particles near each receptor are counted (a
   concentration held over the step), and every channel's transitions in the step are sampled
   with exact times at V(t_k) (held over the step);
4. *set the emission*: each ion's rate per particle step is the open-channel count integrated
   over that particle step times the single-channel ion flux at V(t_k); the particle engine then
   draws Poisson births per step as it advances to t_{k+1}.

The voltage enters explicitly (V(t_k) for the whole step); keep g_syn dt / C of the compartment
well below 1 (a warning says when it is not).

References
----------
Hille B. (2001) Ion Channels of Excitable Membranes, 3rd ed. (single-channel currents).
Rall W. (1967) J. Neurophysiol. 30:1138, doi:10.1152/jn.1967.30.5.1138 (synaptic potentials).
Koch C. (1999) Biophysics of Computation, ch. 1 and 5 (EPSPs, shunting inhibition).
Bhalla U.S. (2004) Biophys. J. 87:733, doi:10.1529/biophysj.104.040469 (hybrid stochastic /
   deterministic co-simulation with separate time steps).

Example
-------
>>> import microsyn as ms
>>> from microsyn.channels import AMPA
>>> from microsyn.gating import PulseLigand
>>> from microsyn.membrane import MembraneSolver, cable
>>> solver = MembraneSolver(cable(200.0, 1.0, 20), dt_ms=0.01)
>>> cpl = SynapticCoupling(solver, dt_ms=0.01, seed=1)
>>> syn = cpl.add_synapse(Synapse(AMPA(), 20, node=0, ligand=PulseLigand(1.0, 0.1, 1.0)))
>>> _ = cpl.run(3.0)
>>> bool(syn.trace()["V_mV"].max() > -70.0)
True
"""
from __future__ import annotations

import math
import time as _time
import warnings

import numpy as np

from .channels import ChannelType
from .errors import MissingLigandError, GeometryError, ParameterError, check_count, check_positive, check_vector3
from .gating import ConstantLigand, MeanFieldGating, StochasticGating, as_ligand
from .rng import stream
from .units import CHARGES_PER_MS_PER_PA, PARTICLES_PER_UM3_PER_MM

__all__ = ["Synapse", "SynapticCoupling", "TransmitterParticles", "MissingLigandError", "node_at_distance",
           "isopotential_epsp"]

CURRENT_MODES = ("ions", "mean")
GATING_MODES = ("stochastic", "mean")


# ------------------------------------------------------------------------------ ligand from particles
class TransmitterParticles(ConstantLigand):
    """Ligand concentration [mM] from transmitter particles near the receptor.

    The particles of ``species`` within ``radius_um`` of ``center`` (only on the side
    ``hemisphere_normal`` points to, if given) are counted at every electrical step and divided by
    the region's volume; the concentration is held over the step (the gating is exact for that
    piecewise-constant ligand).

    Parameters
    ----------
    species : str
        Transmitter species name (e.g. a user ``Species("glutamate", 0, ...)`` in the cleft).
    center : 3 floats
        Receptor position [um].
    radius_um : float
        Sensing radius [um] (a few tens of nm: the receptor's binding domain).
    hemisphere_normal : 3 floats, optional
        Count only the half-ball on this side (the cleft side of the receptor).
    """

    piecewise_constant = True  # held over each electrical step

    def __init__(self, species: str, center, radius_um: float = 0.02, hemisphere_normal=None):
        self.species = species
        self.center = check_vector3("center", center)
        self.radius_um = check_positive("radius_um", radius_um)
        self.normal = None if hemisphere_normal is None else check_vector3("hemisphere_normal", hemisphere_normal)
        vol = 4.0 / 3.0 * math.pi * self.radius_um ** 3
        self.volume_um3 = vol / 2.0 if self.normal is not None else vol
        self.conc_mM = 0.0
        self.count = 0

    def update(self, sim) -> float:
        """Count the transmitter near the receptor now; returns the concentration [mM]."""
        if self.species not in sim.species:
            self.count = 0
        else:
            d = sim.positions(self.species) - self.center
            m = np.einsum("ij,ij->i", d, d) <= self.radius_um ** 2
            if self.normal is not None:
                m &= d @ self.normal >= 0.0
            self.count = int(np.count_nonzero(m))
        self.conc_mM = self.count / (self.volume_um3 * PARTICLES_PER_UM3_PER_MM)
        return self.conc_mM


# ------------------------------------------------------------------------------ emitters
def open_time_integral(times, n_open, t1):
    """Knots [ms] (``times`` and ``t1``), the cumulative open-channel time [ms] at them, and its
    total [ms], of the step function n_open (``n_open[j]`` on [times[j], times[j + 1]))."""
    knots = np.append(np.asarray(times, float), t1)
    piece = np.diff(knots) * np.asarray(n_open, float)
    return knots, np.concatenate([[0.0], np.cumsum(piece)]), float(np.sum(piece))


class _PoreEmitter:
    """A continuous source of one ion at one mouth of a synapse (registered with the Simulation).

    Its mean births per particle step come from the open-channel count of the current electrical
    step; births are Poisson. ``draw(nsteps)`` without a Simulation draws the step's total.
    """

    def __init__(self, synapse, ion: str, direction: str, at):
        self.synapse = synapse
        self.species = ion
        self.direction = direction  # "in" or "out"
        self.at = None if at is None else np.asarray(at, float)
        self.name = f"synapse:{synapse.name}:{ion}:{direction}"
        self._rng = None
        self.rate_per_open = 0.0  # ions per ms per open channel
        self._knots = np.array([0.0, 1.0])  # times [ms] of the open-count step function
        self._cum = np.array([0.0, 0.0])  # cumulative open-channel time [ms] at the knots
        self.count_step = 0  # ions emitted in the current electrical step
        self.total = 0
        self.expected_total = 0.0

    def attach(self, sim):
        self._rng = stream(sim.seed, self.name)
        if self.at is not None:
            sim.check_inside(self.species, self.at[None, :], what=f"pore mouth of {self.name!r}")
            sim.add_continuous_source(self)

    def set_interval(self, times, n_open, t1, rate_per_open):
        """Open-count step function on [times[0], t1] and the ion rate per open channel [1/ms]."""
        knots, cum, _ = open_time_integral(times, n_open, t1)
        self.set_step_function(knots, cum, rate_per_open)

    def set_step_function(self, knots, cum, rate_per_open):
        """As :meth:`set_interval`, from :func:`open_time_integral`'s knots [ms] and cumulative
        open-channel time [ms] (shared by the emitters of one synapse)."""
        self._knots, self._cum = knots, cum
        self.rate_per_open = float(rate_per_open)
        self.count_step = 0

    def mean_between(self, ta, tb):
        """Expected ions between times ta and tb [ms] (arrays allowed)."""
        ca = np.interp(ta, self._knots, self._cum)
        cb = np.interp(tb, self._knots, self._cum)
        return self.rate_per_open * (cb - ca)

    def draw_interval(self, step0: int, nsteps: int, dt: float) -> None:
        """Draw the Poisson births of particle steps ``step0 .. step0 + nsteps - 1`` (of ``dt``
        [ms]) now, from the open-count step function of the current electrical step; the
        Simulation takes them with :meth:`births` when it advances over those steps (and only
        then are they counted in ``total``)."""
        if self.rate_per_open > 0 and self._cum[-1] > 0:
            t = (step0 + np.arange(nsteps + 1)) * dt
            lam = np.maximum(self.mean_between(t[:-1], t[1:]), 0.0)
            counts = self._rng.poisson(lam)
            self.count_step += int(counts.sum())
        else:  # no open channel (or no flow) in the step: no births, and no random numbers used
            lam = np.zeros(nsteps)
            counts = np.zeros(nsteps, np.int64)
        pend = self.__dict__.setdefault("_pending", [])
        if pend and pend[-1][0] + pend[-1][1].size != step0:
            raise RuntimeError(f"{self.name}: births drawn for step {step0}, but the last drawn ones end at "
                               f"step {pend[-1][0] + pend[-1][1].size}")
        # (first step, counts, means, their running sums from 0, steps already taken)
        pend.append([int(step0), counts, lam, np.r_[0, np.cumsum(counts)], np.r_[0.0, np.cumsum(lam)], 0])

    # the Simulation's continuous-source protocol
    def births(self, sim, step0: int, nsteps: int) -> np.ndarray:
        """Births per particle step for steps ``step0 .. step0 + nsteps - 1``, drawn ahead by
        :meth:`draw_interval` (the coupling draws each electrical step's births when it gates it)."""
        pend = self.__dict__.setdefault("_pending", [])
        out = []
        need = nsteps
        at = step0
        while need > 0:
            if not pend or pend[0][0] + pend[0][5] != at:
                raise ParameterError(f"{self.name}: the Simulation asked for births at step {at}, which the "
                                     f"synapse coupling has not drawn; advance a coupled Simulation through "
                                     f"SynapticCoupling.run or after SynapticCoupling.start()")
            chunk = pend[0]
            _, c, _, cum_c, cum_lam, o = chunk
            take = min(need, c.size - o)
            out.append(c[o:o + take])
            self.total += int(cum_c[o + take] - cum_c[o])
            self.expected_total += float(cum_lam[o + take] - cum_lam[o])
            if o + take == c.size:
                pend.pop(0)
            else:
                chunk[5] = o + take
            at += take
            need -= take
        return out[0] if len(out) == 1 else np.concatenate(out)

    def positions(self, m: int) -> np.ndarray:
        return np.repeat(self.at[None, :], m, axis=0)

    def draw_step(self, rng, t0, t1):
        lam = max(float(self.mean_between(t0, t1)), 0.0) if (self.rate_per_open > 0 and self._cum[-1] > 0) else 0.0
        n = int(rng.poisson(lam)) if lam > 0 else 0  # Poisson(0) uses no random numbers
        self.count_step += n
        self.total += n
        self.expected_total += lam
        return n


# ------------------------------------------------------------------------------ the synapse
class Synapse:
    """A cluster of ligand-gated channels at a pore on the membrane.

    Parameters
    ----------
    channel : ChannelType
        The channel type (e.g. :func:`microsyn.channels.AMPA`).
    n_channels : int
        Channels at this synapse (>= 1).
    at : 3 floats
        Pore position [um] on the membrane of the particle domain (used when particles are run).
    node : int, optional
        Compartment of the electrical graph (or give ``point_um``).
    point_um : 3 floats, optional
        A point [um] in the graph's coordinates; the nearest compartment is used.
    normal : 3 floats
        Unit direction from the membrane into the cytoplasm at the pore (default +z).
    ligand : number [mM] or ligand object
        The transmitter at the receptor (:class:`~microsyn.gating.PulseLigand`, ... or
        :class:`TransmitterParticles`). Required when the channel type has a binding step
        (a transition with ``ligand_order`` > 0): without transmitter such channels never open, so
        leaving it out raises :class:`MissingLigandError`; give ``ligand=0.0`` to say "no
        transmitter" on purpose (e.g. channels started open with ``initial_state``).
    gating : {"stochastic", "mean"}
        Exact-time stochastic gating, or the mean-field expectation (n_open = n p_open(t)).
    membrane : str, optional
        Name of the membrane shape of the particle domain; the pore must lie on its surface.
        Default: on the domain's boundary.
    mouth_offset_um : float
        Distance [um] from the membrane at which ions appear (default 0.001 = 1 nm).
    membrane_thickness_um : float
        Thickness [um] of the membrane in the particle domain (e.g. 0.005 for a slab-shaped
        membrane hole with the pore at its cytoplasmic face): the extracellular mouth is at
        ``at - (thickness + offset) * normal``.
    tolerance_um : float
        How far from the membrane surface ``at`` may be [um] (default 0.005).
    concentrations : mapping ion -> (c_in, c_out) [mM], optional
        Background concentrations (default: the species' standard values).
    nernst_feedback : bool
        Add tracked ions within ``feedback_radius_um`` of the pore to the local concentrations
        and update each ion's Nernst potential every electrical step.
    feedback_radius_um : float
        Radius [um] of the hemisphere used for the local concentrations.
    initial_state : str, optional
        Initial state of every channel (default the type's first state).
    name : str, optional
        Names the synapse's random streams (default: ``"<type>-<k>"`` for the k-th synapse added
        to the coupling), so that a seed reproduces a run.
    """

    def __init__(self, channel: ChannelType, n_channels: int = 1, at=(0.0, 0.0, 0.0), *, node=None, point_um=None,
                 normal=(0.0, 0.0, 1.0), ligand=None, gating: str = "stochastic", membrane: str | None = None,
                 mouth_offset_um: float = 0.001, membrane_thickness_um: float = 0.0, tolerance_um: float = 0.005,
                 concentrations=None,
                 nernst_feedback: bool = False, feedback_radius_um: float = 0.2, initial_state: str | None = None,
                 name: str | None = None):
        if not isinstance(channel, ChannelType):
            raise ParameterError(f"channel must be a ChannelType (e.g. microsyn.channels.AMPA()), got {channel!r}")
        self.channel = channel
        self.n_channels = check_count("n_channels", n_channels, allow_zero=False)
        self.at = check_vector3("at", at)
        n = check_vector3("normal", normal)
        if np.linalg.norm(n) == 0:
            raise ParameterError("normal must be a non-zero vector pointing into the cytoplasm")
        self.normal = n / np.linalg.norm(n)
        if node is None and point_um is None:
            raise ParameterError("give the synapse's compartment: node=index or point_um=(x, y, z)")
        self._node_arg, self._point_arg = node, point_um
        self.node = None
        if gating not in GATING_MODES:
            raise ParameterError(f"gating must be one of {GATING_MODES}, got {gating!r}")
        self.gating_mode = gating
        if ligand is None and bool(np.any(channel._order > 0)):
            raise MissingLigandError(
                f"Synapse({channel.name}): no ligand given, so its {channel.name} channels, which open only after "
                f"binding transmitter, would never open and the synapse would do nothing; give the transmitter at "
                f"the receptor, e.g. ligand=PulseLigand(1.0, t_on, 1.0) (1 mM for 1 ms from t_on [ms]), "
                f"ligand=TransmitterParticles(...), or ligand=0.0 for none on purpose")
        self.ligand = as_ligand(0.0 if ligand is None else ligand)
        self.membrane = membrane
        self.mouth_offset_um = check_positive("mouth_offset_um", mouth_offset_um)
        self.tolerance_um = check_positive("tolerance_um", tolerance_um)
        self.concentrations = channel.concentrations(concentrations)
        self.nernst_feedback = bool(nernst_feedback)
        self.feedback_radius_um = check_positive("feedback_radius_um", feedback_radius_um)
        self.initial_state = initial_state
        if initial_state is not None:
            channel.index(initial_state)
        # default name (and so random streams) from the position in the coupling: reproducible
        self.name = name
        self.in_mouth = self.at + self.mouth_offset_um * self.normal
        self.membrane_thickness_um = check_positive("membrane_thickness_um", membrane_thickness_um, allow_zero=True)
        self.out_mouth = self.at - (self.membrane_thickness_um + self.mouth_offset_um) * self.normal
        self.emitters: dict[tuple[str, str], _PoreEmitter] = {}
        self.local_concentrations = dict(self.concentrations)
        self._gate = None
        self._mf = None
        # records
        self._t, self._V, self._nopen, self._mean_open, self._I, self._Erev = [], [], [], [], [], []
        self._unit_I = []

    # ---------------------------------------------------------------- set-up (called by the coupling)
    def _setup(self, coupling):
        solver = coupling.solver
        if self._point_arg is not None:
            self.node = solver.graph.nearest_node(self._point_arg)
        else:
            self.node = solver._node(self._node_arg, None, None, f"synapse {self.name!r}")
        rng = stream(coupling.seed, f"gating:{self.name}")
        if self.gating_mode == "stochastic":
            self._gate = StochasticGating(self.channel, self.n_channels, rng=rng, initial_state=self.initial_state,
                                          t0=coupling.t_ms)
        else:
            self._mf = MeanFieldGating(self.channel, initial_state=self.initial_state)
            self._mf.t = coupling.t_ms
        sim = coupling.sim
        out_ok = False
        if sim is not None:
            self.check_placement(sim.domain)
            out_ok = bool(sim.domain.contains(self.out_mouth[None, :], species=None)[0])
        for ion in self.channel.ions:
            self.emitters[(ion, "in")] = _PoreEmitter(self, ion, "in", self.in_mouth if sim is not None else None)
            self.emitters[(ion, "out")] = _PoreEmitter(self, ion, "out",
                                                       self.out_mouth if (sim is not None and out_ok) else None)
        self.extracellular_in_domain = out_ok
        for e in self.emitters.values():
            if sim is not None:
                if e.at is not None:
                    sim.add_source(e)  # a continuous source: births(sim, step0, nsteps), positions(m)
                else:
                    e._rng = stream(sim.seed, e.name)
            else:
                e._rng = stream(coupling.seed, e.name)

    def check_placement(self, domain) -> None:
        """Raise :class:`~microsyn.errors.GeometryError` unless the pore lies on the membrane of
        ``domain`` with its cytoplasmic mouth inside the domain."""
        p = self.at[None, :]
        if self.membrane is not None:
            shapes = {s.name: s for s in domain.shapes}
            if self.membrane not in shapes:
                raise GeometryError(f"synapse {self.name!r}: no membrane shape named {self.membrane!r}; "
                                    f"shapes are {list(shapes)}")
            d = float(shapes[self.membrane].sdf(p)[0])
            what = f"the membrane {self.membrane!r}"
        else:
            d = float(domain.sdf(p)[0])
            what = "the domain's boundary (the membrane)"
        if abs(d) > self.tolerance_um:
            raise GeometryError(
                f"synapse {self.name!r} at {self.at.tolist()} um is {abs(d):.4g} um from {what}; channels sit "
                f"on the membrane: move 'at' onto it (within tolerance_um = {self.tolerance_um} um)")
        if not domain.contains(self.in_mouth[None, :])[0]:
            raise GeometryError(
                f"synapse {self.name!r}: the cytoplasmic mouth {self.in_mouth.tolist()} um is outside the domain; "
                f"'normal' must point from the membrane into the cytoplasm (try the opposite sign)")

    # ---------------------------------------------------------------- gating
    def _gate_interval(self, t0, t1, V):
        """Gating over [t0, t1] at V; returns the open-count step function (times, n_open)."""
        if self._gate is not None:
            return self._gate.advance(t0, t1, self.ligand, V)
        # mean field: the expected open count, piecewise constant on sub-steps (mean of the ends)
        ns = 4
        ts = np.linspace(t0, t1, ns + 1)
        om = self.channel.open_mask
        p_prev = self._mf.p[om].sum()
        if getattr(self.ligand, "piecewise_constant", False) and not any(
                t0 < b < t1 for b in getattr(self.ligand, "breakpoints", lambda: [])()):
            # constant ligand over the step: exact propagation by a (cached) matrix exponential
            from scipy.linalg import expm

            L = float(self.ligand.max_over(t0, t1))
            h = (t1 - t0) / ns
            key = (L, round(h, 15), V if self.channel._has_v else None)
            cache = self.__dict__.setdefault("_expm_cache", {})
            if key not in cache:
                if len(cache) > 256:
                    cache.clear()
                cache[key] = expm(self.channel.generator(L, V) * h)
            P = cache[key]
            p = self._mf.p
            occ = []
            for _ in range(ns):
                p = p @ P
                occ.append(p[om].sum())
            self._mf.p = p
            self._mf.t = t1
            po = np.r_[p_prev, occ]
        else:
            _, occ = self._mf.solve(ts[1:], self.ligand, V)
            po = np.r_[p_prev, occ[:, om].sum(axis=1)]
        return ts[:-1], self.n_channels * 0.5 * (po[:-1] + po[1:])

    @property
    def n_open(self) -> float:
        """Open channels now (expected number for mean-field gating)."""
        if self._gate is not None:
            return self._gate.n_open
        if self._mf is None:
            return 0
        return self.n_channels * float(self._mf.p[self.channel.open_mask].sum())

    # ---------------------------------------------------------------- readouts
    def trace(self) -> dict:
        """Records at every electrical step: ``time_ms``, ``V_mV`` (at the synapse's compartment),
        ``n_open`` (at the step's end), ``mean_open`` (time-averaged over the step), ``p_open``,
        ``I_pA`` (synaptic membrane current over the step, outward positive; what the electrical
        model received, with opposite sign), ``I_per_open_channel_pA`` (single-channel current at
        V), ``E_rev_mV``."""
        n = len(self._t)  # the step under way (gated already) is left out
        mo = np.asarray(self._mean_open[:n], float)
        return dict(time_ms=np.asarray(self._t), V_mV=np.asarray(self._V), n_open=np.asarray(self._nopen, float),
                    mean_open=mo, p_open=mo / self.n_channels, I_pA=np.asarray(self._I),
                    I_per_open_channel_pA=np.asarray(self._unit_I[:n]), E_rev_mV=np.asarray(self._Erev[:n]))

    @property
    def ions_in(self) -> dict:
        """{ion: ions that entered the cytoplasm so far}."""
        return {ion: self.emitters[(ion, "in")].total for ion in self.channel.ions}

    @property
    def ions_out(self) -> dict:
        """{ion: ions that left the cytoplasm so far} (drawn at the extracellular mouth, or only
        counted when the domain has no extracellular side)."""
        return {ion: self.emitters[(ion, "out")].total for ion in self.channel.ions}

    @property
    def charge_in_e(self) -> int:
        """Net elementary charges carried into the cell by the emitted ions."""
        return int(sum(self.channel.ions[ion].valence * (self.emitters[(ion, "in")].total
                                                         - self.emitters[(ion, "out")].total)
                       for ion in self.channel.ions))

    def shell_recorder(self, species: str, r_max_um: float, n_bins: int = 20, trigger=None):
        """A :class:`~microsyn.recorders.RadialProfile` of ``species`` in hemispherical shells around
        the pore, on the cytoplasmic side (add it with ``sim.add_recorder``)."""
        from .recorders import RadialProfile

        return RadialProfile(species, self.at, r_max_um, n_bins, hemisphere_normal=self.normal, trigger=trigger)

    def shell_counts(self, sim, species: str, edges_um, side: str = "in"):
        """Counts and concentrations [mM] of ``species`` in hemispherical shells (``edges_um``)
        around the pore now, on the cytoplasmic (``"in"``) or extracellular (``"out"``) side."""
        edges = np.asarray(edges_um, float)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0) or edges[0] < 0:
            raise ParameterError("edges_um must increase from >= 0")
        nrm = self.normal if side == "in" else -self.normal
        d = sim.positions(species) - self.at
        d = d[d @ nrm >= 0.0]
        r = np.sqrt(np.einsum("ij,ij->i", d, d))
        counts, _ = np.histogram(r, bins=edges)
        vol = 2.0 / 3.0 * math.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
        return counts, counts / (vol * PARTICLES_PER_UM3_PER_MM)

    def _reversal(self) -> float:
        key = tuple(sorted(self.local_concentrations.items()))
        if getattr(self, "_erev_key", None) != key:
            try:
                self._erev_val = float(self.channel.reversal_mV(self.local_concentrations))
            except ParameterError:
                self._erev_val = float("nan")
            self._erev_key = key
        return self._erev_val

    def _update_local_concentrations(self, sim):
        conc = dict(self.concentrations)
        if sim is not None and self.nernst_feedback:
            r = self.feedback_radius_um
            vol = 2.0 / 3.0 * math.pi * r ** 3 * PARTICLES_PER_UM3_PER_MM
            for ion in self.channel.ions:
                ci, co = conc[ion]
                if ion in sim.species:
                    c_in_n, _ = self.shell_counts(sim, ion, [0.0, r], "in")
                    ci = ci + c_in_n[0] / vol
                    if self.extracellular_in_domain:
                        c_out_n, _ = self.shell_counts(sim, ion, [0.0, r], "out")
                        co = co + c_out_n[0] / vol
                conc[ion] = (ci, co)
        self.local_concentrations = conc


def _as_probe_node(graph, from_node, distance_um):
    d = graph.path_distance_um(from_node)
    return int(np.argmin(np.abs(d - distance_um)))


def node_at_distance(graph, from_node: int, distance_um: float) -> int:
    """The compartment whose path distance [um] from ``from_node`` is closest to ``distance_um``."""
    return _as_probe_node(graph, from_node, check_positive("distance_um", distance_um, allow_zero=True))


# ------------------------------------------------------------------------------ the coupling
class _CouplingEvent:
    phase = "gating"

    def __init__(self, coupling, time):
        self.coupling = coupling
        self.time = time

    def apply(self, sim):
        self.coupling._on_event()


class SynapticCoupling:
    """Co-steps synapses, the particle engine and the membrane solver (see the module Notes).

    Parameters
    ----------
    solver : MembraneSolver
        The electrical model; its dt must equal ``dt_ms``. Its time is taken as aligned with the
        particle simulation's (both start at 0 unless the coupling is created later).
    sim : Simulation, optional
        The particle engine. Without it, ions are counted (Poisson numbers per electrical step)
        but not tracked in space: the electrical side and the ion bookkeeping are the same.
    dt_ms : float, optional
        Electrical step [ms] (default: the solver's); a whole number of particle steps.
    current : {"ions", "mean"}
        Inject the emitted ions' charge (exact conservation, shot noise) or the expected current.
    seed : int
        Seed of the gating and emission streams when there is no Simulation (the Simulation's
        seed otherwise).
    max_window_steps : int
        At most this many electrical steps are gated and stepped in one go ahead of the
        particles, where nothing can observe the difference (see :meth:`_on_event`); 1 gives
        one kernel call per electrical step. Results do not depend on it.

    Attributes
    ----------
    synapses : list of Synapse
    time_ms : list
        Times of the recorded electrical steps [ms].
    """

    def __init__(self, solver, sim=None, dt_ms: float | None = None, current: str = "ions", seed: int = 0,
                 max_window_steps: int = 1000):
        from .membrane import MembraneSolver

        if not isinstance(solver, MembraneSolver):
            raise ParameterError("solver must be a microsyn.membrane.MembraneSolver")
        self.solver = solver
        self.sim = sim
        dt = solver.dt_ms if dt_ms is None else check_positive("dt_ms [ms]", dt_ms)
        if abs(dt - solver.dt_ms) > 1e-12 * dt:
            raise ParameterError(f"the coupling step dt_ms = {dt} ms must equal the solver's dt ({solver.dt_ms} ms); "
                                 f"build the MembraneSolver with dt_ms={dt}")
        self.dt_ms = dt
        if sim is not None:
            r = dt / sim.dt
            if abs(r - round(r)) > 1e-6 * r or round(r) < 1:
                raise ParameterError(f"the electrical step ({dt} ms) must be a whole number of particle steps "
                                     f"({sim.dt} ms); choose dt_ms = k * {sim.dt}")
            self.seed = sim.seed
        else:
            self.seed = int(seed)
        if current not in CURRENT_MODES:
            raise ParameterError(f"current must be one of {CURRENT_MODES}, got {current!r}")
        self.current_mode = current
        self.synapses: list[Synapse] = []
        self._k = 0  # electrical steps done
        self._t0 = solver.t_ms if sim is None else sim.time
        self._started = False
        self._began = False  # an electrical step is open (gated, its births drawn)
        self.max_window_steps = int(max_window_steps)
        if self.max_window_steps < 1:
            raise ParameterError(f"max_window_steps must be >= 1, got {max_window_steps}")
        self._sim_step0 = 0 if sim is None else sim.step
        self._ratio = 1 if sim is None else int(round(dt / sim.dt))
        self._rng = stream(self.seed, "coupling")
        #: wall-clock seconds spent so far in the coupling's parts (a profile): channel gating,
        #: emission (currents, rates, Poisson counts, the current injected), the membrane solver
        #: and readouts (records, ligand and concentration updates)
        self.timings = dict(gating=0.0, emission=0.0, membrane=0.0, readouts=0.0)
        self._my_current = np.zeros(solver.graph.n)
        self.time_ms: list[float] = []
        self.charge_injected_e = 0.0  # integral of the injected current [elementary charges]
        self._warned = False

    @property
    def _needs_particles(self) -> bool:
        """True when a synapse reads the particles at every electrical step."""
        return any(isinstance(syn.ligand, TransmitterParticles) or syn.nernst_feedback for syn in self.synapses)

    @property
    def t_ms(self) -> float:
        """Coupling time [ms]."""
        return self._t0 + self._k * self.dt_ms

    def add_synapse(self, synapse: Synapse) -> Synapse:
        """Add a synapse (before the first run). Placement is checked here: off the membrane or
        on a compartment that does not exist raise GeometryError (NoMembraneError)."""
        if self._started:
            raise ParameterError("add synapses before the first run")
        if not isinstance(synapse, Synapse):
            raise ParameterError(f"expected a Synapse, got {synapse!r}")
        if synapse.name is None:
            synapse.name = f"{synapse.channel.name}-{len(self.synapses)}"
        if any(s.name == synapse.name for s in self.synapses):
            raise ParameterError(f"two synapses named {synapse.name!r}")
        synapse._setup(self)
        self.synapses.append(synapse)
        return synapse

    def add_voltage_probe(self, node=None, *, point_um=None, synapse: Synapse | None = None,
                          distance_um: float | None = None, name=None):
        """Record V [mV] every electrical step at a compartment: by index, by point [um], or at a
        path distance [um] from a synapse's compartment. Returns the solver's Probe."""
        if synapse is not None and distance_um is not None:
            node = node_at_distance(self.solver.graph, synapse.node, distance_um)
            name = name or f"{synapse.name}+{distance_um:g}um"
        return self.solver.add_probe(node, point_um=point_um, name=name)

    # ---------------------------------------------------------------- the loop
    def start(self) -> "SynapticCoupling":
        """Schedule the recurring coupling event in the Simulation (done by the first :meth:`run`);
        afterwards ``sim.run(...)`` advances the synapses and the voltage as well."""
        if self.sim is None:
            raise ParameterError("start() is for a coupling with a Simulation; call run() instead")
        if not self._started:
            self._started = True
            if abs(self.sim.time - self.t_ms) > 1e-9:
                raise ParameterError("the Simulation's clock moved since the coupling was created")
            self.sim.schedule(_CouplingEvent(self, self.sim.time))
        return self

    def run(self, duration: float, progress: bool | None = None) -> "SynapticCoupling":
        """Advance everything by ``duration`` [ms] (a whole number of electrical steps, else
        :class:`~microsyn.events.OffGridTimeError`).

        ``progress`` shows a progress bar on stderr (simulated time, particles alive or open
        channels, time left); default: on when stderr is a terminal, unless
        ``MICROSYN_PROGRESS=0`` (see :meth:`microsyn.Simulation.run`). It never changes results.
        """
        from .events import grid_step

        duration = check_positive("duration [ms]", duration, allow_zero=True)
        n_steps = grid_step(duration, self.dt_ms, what="run duration (in electrical steps)")
        if not self.synapses:
            warnings.warn("SynapticCoupling.run without synapses", stacklevel=2)
        if self.sim is None:
            from .simulation import _Progress

            if not self._started:
                self._started = True
                self._begin_interval()
            bar = _Progress.open_counting(self, n_steps, progress)
            try:
                for _ in range(n_steps):
                    for syn in self.synapses:
                        for e in syn.emitters.values():
                            e.draw_step(e._rng, self.t_ms, self.t_ms + self.dt_ms)
                    self._on_boundary(advance_clock=True)
                    if bar is not None:
                        bar.tick()
            finally:
                if bar is not None:
                    bar.close()
            return self
        self.start()
        self.sim.run(n_steps * self.dt_ms, progress=progress)
        return self

    def save(self, path) -> str:
        """Write a checkpoint of the coupling with its solver, synapses and Simulation to ``path``
        (atomically); returns the path. :meth:`load` continues bitwise identically:
        ``run(a + b)`` equals ``run(a); save; load; run(b)``. See :mod:`microsyn.checkpoint`."""
        from .checkpoint import save

        return save(self, path)

    @classmethod
    def load(cls, path) -> "SynapticCoupling":
        """Read a checkpoint written by :meth:`save` (a pickle: load only files you trust); the
        solver and the Simulation are ``.solver`` and ``.sim`` of the result."""
        from .checkpoint import load

        return load(path, cls)

    def _on_boundary(self, advance_clock: bool = False):
        """Without a Simulation: close the last electrical step and open the next."""
        self._finish_interval()
        self._begin_interval()

    def _window_steps(self) -> int:
        """How many electrical steps the coupling event may open at once (see :meth:`_on_event`)."""
        if self._needs_particles or self.max_window_steps <= 1:
            return 1
        sim = self.sim
        ahead = sim.horizon_step() - sim.step
        if ahead <= 0:
            return 1
        return int(max(1, min(self.max_window_steps, -(-ahead // self._ratio))))

    def _on_event(self):
        """The coupling event at an electrical step boundary t_k (module Notes).

        It closes the step that the particles just finished and opens the next; when nothing in
        the Simulation can look at or change the state before t_{k+W} (its
        :meth:`~microsyn.Simulation.horizon_step`) and no synapse reads the particles (a
        :class:`TransmitterParticles` ligand or Nernst feedback), it goes on over the W - 1 next
        boundaries as well: gating, emission counts and membrane steps of the whole window in
        one go, so that the particle engine advances over the W steps in one kernel call. The
        random draws and the arithmetic are those of W separate events: the result is the same.
        """
        sim = self.sim
        for _ in range(self._window_steps()):
            if self._began:
                self._finish_interval()
            self._began = True
            self._begin_interval()
            c0 = _time.perf_counter()
            step0 = self._sim_step0 + self._k * self._ratio
            for syn in self.synapses:
                for e in syn.emitters.values():
                    if e.at is not None:
                        e.draw_interval(step0, self._ratio, sim.dt)
            self.timings["emission"] += _time.perf_counter() - c0
        sim.schedule(_CouplingEvent(self, self.t_ms + self.dt_ms))

    def _finish_interval(self):
        c0 = _time.perf_counter()
        solver = self.solver
        dt = self.dt_ms
        I_in = {}  # current into the cell [pA] per compartment of a synapse
        if self.sim is not None:  # count-only emitters (no extracellular side in the domain)
            t1 = self.t_ms + dt
            for syn in self.synapses:
                for e in syn.emitters.values():
                    if e.at is None:
                        e.draw_step(e._rng, self.t_ms, t1)
        for syn in self.synapses:
            if self.current_mode == "ions":
                q = 0
                for (ion, d), e in syn.emitters.items():
                    z = syn.channel.ions[ion].valence
                    q += z * e.count_step * (1 if d == "in" else -1)
                I = q / dt / CHARGES_PER_MS_PER_PA
            else:
                I = -syn._expected_I_pA
            I_in[syn.node] = I_in.get(syn.node, 0.0) + I
            syn._I.append(-I)
            self.charge_injected_e += I * dt * CHARGES_PER_MS_PER_PA
        # the solver's injected current: what others set there, plus this step's synaptic current
        ext = solver.external_current_pA
        mine = self._my_current
        for node, I in I_in.items():
            v = ext[node] - mine[node] + I
            if not math.isfinite(v):
                raise ParameterError(f"the synaptic current at compartment {node} is not finite ({v} pA)")
            ext[node] = v
            mine[node] = I
        # a channel opening or closing is a step in the current: damp Crank-Nicolson's ringing
        if any(syn._gate is not None and syn._nopen and syn.n_open != syn._nopen[-1]
               for syn in self.synapses):
            solver.mark_discontinuity()
        c1 = _time.perf_counter()
        solver.step(1)
        c2 = _time.perf_counter()
        self._k += 1
        t = self.t_ms
        self.time_ms.append(t)
        for syn in self.synapses:
            syn._t.append(t)
            syn._V.append(float(solver.V[syn.node]))
            syn._nopen.append(syn.n_open)
        tm = self.timings
        tm["emission"] += c1 - c0
        tm["membrane"] += c2 - c1
        tm["readouts"] += _time.perf_counter() - c2

    def _begin_interval(self):
        t0 = self.t_ms
        t1 = t0 + self.dt_ms
        V = self.solver.V
        tm = self.timings
        for syn in self.synapses:
            c0 = _time.perf_counter()
            v = float(V[syn.node])
            if isinstance(syn.ligand, TransmitterParticles) and self.sim is not None:
                syn.ligand.update(self.sim)
            if syn.nernst_feedback:
                syn._update_local_concentrations(self.sim)
            else:
                syn.local_concentrations = syn.concentrations
            c1 = _time.perf_counter()
            times, n_open = syn._gate_interval(t0, t1, v)
            c2 = _time.perf_counter()
            knots, cum, total = open_time_integral(times, n_open, t1)
            mean_open = float(total / self.dt_ms)
            syn._mean_open.append(mean_open)
            unit = syn.channel.ion_currents_pA(v, syn.local_concentrations)  # outward + per open channel
            unit_sum = float(sum(unit.values()))
            syn._unit_I.append(unit_sum)
            syn._expected_I_pA = unit_sum * mean_open
            syn._Erev.append(syn._reversal())
            for ion, I in unit.items():
                f = I * CHARGES_PER_MS_PER_PA / syn.channel.ions[ion].valence
                syn.emitters[(ion, "in")].set_step_function(knots, cum, max(-f, 0.0))
                syn.emitters[(ion, "out")].set_step_function(knots, cum, max(f, 0.0))
            c3 = _time.perf_counter()
            tm["readouts"] += c1 - c0
            tm["gating"] += c2 - c1
            tm["emission"] += c3 - c2
            if not self._warned:
                C = self.solver.graph.capacitance_pF[syn.node]
                gmax = syn.n_channels * syn.channel.g_nS
                if gmax * self.dt_ms / C > 0.5:
                    self._warned = True
                    warnings.warn(
                        f"synapse {syn.name!r}: its full conductance {gmax:.3g} nS is large for the explicit "
                        f"coupling step (g dt / C = {gmax * self.dt_ms / C:.2f} > 0.5 with C = {C:.3g} pF); "
                        f"use a smaller dt_ms or larger compartments", stacklevel=3)


# ------------------------------------------------------------------------------ reference model
def isopotential_epsp(t_ms, g_nS, E_syn_mV, C_pF, g_leak_nS, E_leak_mV):
    """Membrane potential [mV] of an isopotential compartment driven by a conductance g(t).

    Solves C dV/dt = -g_leak (V - E_leak) - g(t) (V - E_syn) exactly for g piecewise constant on
    the intervals of ``t_ms`` (g_nS[j] holds on [t_j, t_{j+1}]): the analytic reference for the
    EPSP validations (Rall 1967; Koch 1999, ch. 1).
    """
    t = np.asarray(t_ms, float)
    g = np.broadcast_to(np.asarray(g_nS, float), t.shape)
    V = np.empty_like(t)
    V[0] = E_leak_mV
    for j in range(t.size - 1):
        gt = g_leak_nS + g[j]
        Vinf = (g_leak_nS * E_leak_mV + g[j] * E_syn_mV) / gt
        V[j + 1] = Vinf + (V[j] - Vinf) * math.exp(-gt / C_pF * (t[j + 1] - t[j]))
    return V
