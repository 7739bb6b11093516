"""Ligand-gated channel types as Markov schemes: states, rates, conductance and selectivity.

A :class:`ChannelType` is an immutable description of one kind of channel:

- ``states`` (names) and ``transitions``: each a :class:`Transition` with a rate
  ``k [1/ms] * L**ligand_order * exp(V / v_efold_mV)``, where L is the ligand (transmitter)
  concentration at the receptor [mM] and V the membrane potential [mV]. A binding step has
  ``ligand_order=1`` and k in [1/(mM ms)];
- ``open_states``: the conducting states;
- ``conductance_pS``: the single-channel (unitary) conductance [pS] (0.001 nS);
- ``selectivity``: how the current is shared among ions, as conductance fractions
  ``{ion: fraction}`` summing to 1;
- ``E_rev_mV``: a fixed reversal potential, or ``None`` (default) for the *chord* model in which
  each ion has its own driving force (below); ``ghk_ions``: ions whose flux follows the
  Goldman-Hodgkin-Katz current equation (Ca2+);
- ``mg_block``: an optional :class:`MgBlock` (NMDA receptors).

Currents of one open channel (outward positive, the membrane convention)
-------------------------------------------------------------------------
Chord model (``E_rev_mV=None``): ion i carries ``I_i = B(V) f_i g (V - E_i)`` with E_i its
Nernst potential at the given concentrations; the total reverses at the chord potential
``E_rev = sum f_i E_i`` (for GHK ions the chord form is replaced by a GHK current scaled to
equal ``f_i g (V_ref - E_i)`` at ``V_ref`` = -70 mV). Every ion moves down its own gradient: in
an AMPA channel at -70 mV Na+ enters and K+ leaves. Fixed-reversal model (``E_rev_mV`` given):
the net current ``I = B(V) g (V - E_rev)`` is shared by the fractions ``I_i = f_i I``, so all ions
move together in the direction the net current says (a single-ion channel is the clean case).

The ions carried per ms are ``I_i * 6241.5 / z_i`` (outward positive): a 10 pS channel at
-70 mV with E_rev = 0 carries 0.70 pA, 4,369 monovalent cations per ms.

Built-in types (:func:`AMPA`, :func:`NMDA`, :func:`GABA_A`, :func:`GIRK`, :func:`CA_PERMEABLE`)
are functions returning a fresh type, with keyword overrides.

Temperature
-----------
Every type simulates one temperature, ``temperature_K`` (default 310.15 K = 37 C): its Nernst and
GHK potentials use it, and its rates are the published ones (measured at
``reference_temperature_K``) times ``q10 ** ((temperature_K - reference_temperature_K) / 10)``
(:attr:`ChannelType.rate_factor`); the conductance has its own ``q10_conductance`` (default 1).
Built-in values:

=============  ==========  =====  ==============================================
type           T_ref       Q10    source
=============  ==========  =====  ==============================================
AMPA           22 C        2.4    Jonas et al. 1993 (rates); Postlethwaite et al. 2007 (Q10 2-3)
NMDA           22 C        3      Lester & Jahr 1992 / Destexhe et al. 1994; Hille 2001 (Q10)
GABA_A         22 C        3      Destexhe et al. 1994; Hille 2001 (Q10)
GIRK           37 C        3      illustrative rates, meant for 37 C
Ca-permeable   37 C        3      illustrative rates, meant for 37 C
=============  ==========  =====  ==============================================

A user-defined type must say how its rates scale: ``q10`` with ``reference_temperature_K``, or
``q10=None`` for no scaling (:class:`TemperatureSpecError` otherwise).

References
----------
Jonas P., Major G. & Sakmann B. (1993) J. Physiol. 472:615, doi:10.1113/jphysiol.1993.sp019873
   (seven-state AMPA receptor scheme; rates as tabulated by Franks, Stevens & Sejnowski 2003,
   J. Neurosci. 23:3186, doi:10.1523/JNEUROSCI.23-08-03186.2003).
Jahr C.E. & Stevens C.F. (1990) J. Neurosci. 10:3178, doi:10.1523/JNEUROSCI.10-09-03178.1990
   (Mg2+ block of NMDA receptors: B(V) = 1 / (1 + [Mg]/3.57 exp(-0.062 V))).
Lester R.A. & Jahr C.E. (1992) J. Neurosci. 12:635, doi:10.1523/JNEUROSCI.12-02-00635.1992 and
   Destexhe A., Mainen Z.F. & Sejnowski T.J. (1994) J. Comput. Neurosci. 1:195,
   doi:10.1007/BF00961734 (NMDA kinetic scheme and rates; two-state GABA_A scheme).
Burnashev N. et al. (1995) J. Physiol. 485:403, doi:10.1113/jphysiol.1995.sp020738 (Ca2+ carries
   about 10 % of the NMDA receptor current).
Bormann J., Hamill O.P. & Sakmann B. (1987) J. Physiol. 385:243, doi:10.1113/jphysiol.1987.sp016493
   (GABA_A main conductance ~27-30 pS).
Hille B. (2001) Ion Channels of Excitable Membranes, 3rd ed. (Nernst, GHK, chord conductance;
   temperature coefficients: gating Q10 typically 2-4, single-channel conductance 1.2-1.5).
Postlethwaite M., Hennig M.H., Steinert J.R., Graham B.P. & Forsythe I.D. (2007) J. Physiol.
   579:69 (AMPA receptor kinetics accelerate from room to physiological temperature, Q10 ~2-3).

Example
-------
>>> from microsyn.channels import AMPA
>>> ch = AMPA()
>>> round(ch.reversal_mV(), 3)
0.0
>>> round(ch.open_current_pA(-70.0), 3)
-0.7
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .errors import ParameterError, UnknownSpeciesError
from .species import Species, get_species
from .units import BODY_TEMPERATURE_K, CHARGES_PER_MS_PER_PA, FARADAY_C_PER_MOL, thermal_voltage

__all__ = [
    "Transition", "MgBlock", "ChannelType", "ChannelSpecError", "InvalidGeneratorError",
    "NegativeRateError", "NegativeConductanceError", "UnknownIonError", "SelectivityError",
    "TemperatureSpecError", "q10_factor", "ROOM_TEMPERATURE_K", "AMPA_Q10", "TYPICAL_GATING_Q10",
    "AMPA", "NMDA", "GABA_A", "GIRK", "CA_PERMEABLE", "BUILTIN_TYPES", "chord_fractions",
    "ghk_flux_shape", "ghk_current_pA",
]

#: reference potential [mV] at which a GHK ion's current is matched to its chord form
GHK_REFERENCE_MV = -70.0
#: room temperature [K] (22 C) of the patch-clamp recordings the built-in kinetics come from
ROOM_TEMPERATURE_K = 295.15
#: Q10 of the AMPA receptor rates (2-3 between room and body temperature, Postlethwaite et al. 2007)
AMPA_Q10 = 2.4
#: a typical Q10 of channel gating (Hille 2001), used where no type-specific value is given
TYPICAL_GATING_Q10 = 3.0


# ------------------------------------------------------------------------------ errors
class ChannelSpecError(ParameterError):
    """A channel type is malformed (states, transitions, open states, conductance ...)."""


class InvalidGeneratorError(ChannelSpecError):
    """A rate matrix is not a valid Markov generator (negative off-diagonal entries, or rows
    that do not sum to zero)."""


class NegativeRateError(ChannelSpecError):
    """A transition rate is negative, NaN or infinite."""


class NegativeConductanceError(ChannelSpecError):
    """A single-channel conductance is negative, NaN or infinite."""


class SelectivityError(ChannelSpecError):
    """A selectivity is malformed (fractions not summing to 1, negative, uncharged ions)."""


class UnknownIonError(UnknownSpeciesError):
    """A selectivity names an ion that is not a known species."""


class TemperatureSpecError(ChannelSpecError):
    """A channel type's temperature scaling is missing or malformed (reference temperature, Q10)."""


# ------------------------------------------------------------------------------ pieces
@dataclass(frozen=True)
class Transition:
    """One transition of a Markov scheme.

    Parameters
    ----------
    src, dst : str
        State names.
    k : float
        Rate constant [1/ms], or [1/(mM^n ms)] when ``ligand_order`` = n > 0. Must be >= 0.
    ligand_order : int
        Power of the ligand concentration L [mM] the rate is proportional to (0: no ligand,
        1: one transmitter molecule binds in this step).
    v_efold_mV : float or None
        Voltage dependence: the rate is multiplied by exp(V / v_efold_mV) (None: none).
    """

    src: str
    dst: str
    k: float
    ligand_order: int = 0
    v_efold_mV: float | None = None

    def __post_init__(self):
        try:
            k = float(self.k)
        except (TypeError, ValueError):
            raise NegativeRateError(f"transition {self.src}->{self.dst}: k must be a number, got {self.k!r}") from None
        if not math.isfinite(k) or k < 0:
            raise NegativeRateError(
                f"transition {self.src}->{self.dst}: rate constant k = {self.k!r} must be finite and >= 0 "
                f"[1/ms, or 1/(mM ms) for a binding step]; fix the sign or remove the transition")
        object.__setattr__(self, "k", k)
        if isinstance(self.ligand_order, bool) or int(self.ligand_order) != self.ligand_order \
                or self.ligand_order < 0:
            raise ChannelSpecError(
                f"transition {self.src}->{self.dst}: ligand_order must be a whole number >= 0, "
                f"got {self.ligand_order!r}")
        object.__setattr__(self, "ligand_order", int(self.ligand_order))
        if self.v_efold_mV is not None:
            v = float(self.v_efold_mV)
            if not math.isfinite(v) or v == 0:
                raise ChannelSpecError(
                    f"transition {self.src}->{self.dst}: v_efold_mV must be a finite non-zero number "
                    f"[mV] or None, got {self.v_efold_mV!r}")
            object.__setattr__(self, "v_efold_mV", v)


@dataclass(frozen=True)
class MgBlock:
    """Voltage-dependent Mg2+ block of the open channel (Jahr & Stevens 1990).

    B(V) = 1 / (1 + [Mg2+]_o / K0 * exp(-slope * V)), multiplying the conductance.

    Parameters
    ----------
    mg_mM : float
        Extracellular [Mg2+] [mM] (default 1).
    K0_mM : float
        Dissociation constant at 0 mV [mM] (3.57).
    slope_per_mV : float
        Voltage dependence [1/mV] (0.062).
    """

    mg_mM: float = 1.0
    K0_mM: float = 3.57
    slope_per_mV: float = 0.062

    def __post_init__(self):
        for name in ("mg_mM", "K0_mM", "slope_per_mV"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or (name == "K0_mM" and v == 0):
                raise ChannelSpecError(f"MgBlock {name} must be a finite number >= 0 (K0 > 0), got {v!r}")

    def __call__(self, V_mV):
        """Unblocked fraction at V [mV] (number or array)."""
        return 1.0 / (1.0 + self.mg_mM / self.K0_mM * np.exp(-self.slope_per_mV * np.asarray(V_mV, float)))


_REQUIRED = object()  # marks a required keyword argument (q10) that has no sensible default


def _check_kelvin(name, what, T):
    try:
        T = float(T)
    except (TypeError, ValueError):
        raise TemperatureSpecError(f"{name}: {what} must be a number of kelvin, got {T!r}") from None
    if not math.isfinite(T) or not 250.0 <= T <= 350.0:
        raise TemperatureSpecError(
            f"{name}: {what} = {T!r} K is outside 250-350 K; give kelvin, not Celsius (22 C = 295.15 K, "
            f"37 C = 310.15 K)")
    return T


def q10_factor(q10: float, reference_temperature_K: float, temperature_K: float) -> float:
    """The Q10 scaling factor q10^((T - T_ref)/10) (temperatures [K]; a 10 K step = 10 C).

    Example
    -------
    >>> round(q10_factor(3.0, 295.15, 305.15), 12)
    3.0
    """
    return float(q10) ** ((float(temperature_K) - float(reference_temperature_K)) / 10.0)


def _nernst(c_out, c_in, z, T):
    return thermal_voltage(T) / z * math.log(c_out / c_in)


def ghk_flux_shape(V_mV, z: int, c_in: float, c_out: float, temperature_K: float = BODY_TEMPERATURE_K):
    """The GHK current per unit permeability, z^2 F V/RT (c_in - c_out e^{-zFV/RT})/(1 - e^{-zFV/RT})
    up to the factor F [mM mV-free]; only ratios of it are used here (dimensionless scale)."""
    vt = thermal_voltage(temperature_K)
    u = z * np.asarray(V_mV, float) / vt
    small = np.abs(u) < 1e-7
    us = np.where(small, 1.0, u)
    em = np.exp(-us)
    val = np.where(small, c_in - c_out + 0.5 * u * (c_in + c_out), us * (c_in - c_out * em) / (1.0 - em))
    return z * val


def ghk_current_pA(V_mV, z: int, c_in: float, c_out: float, permeability_cm3_per_s: float,
                   temperature_K: float = BODY_TEMPERATURE_K):
    """The GHK current [pA] (outward positive) of one open pore of permeability P [cm^3/s]:
    I = P z^2 F^2 V / (RT) (c_in - c_out e^{-zFV/RT}) / (1 - e^{-zFV/RT}) with c [mM].

    Example: a Ca2+ pore of 1e-12 cm^3/s at 0 mV with 2 mM outside and none inside carries
    -P z F c_out = -0.386 pA:

    >>> round(float(ghk_current_pA(0.0, 2, 0.0, 2.0, 1e-12)), 3)
    -0.386
    """
    # P [cm^3/s] x F [C/mol] x shape [mM = 1e-6 mol/cm^3] -> A; x 1e12 -> pA
    return permeability_cm3_per_s * FARADAY_C_PER_MOL * 1e6 * ghk_flux_shape(V_mV, z, c_in, c_out, temperature_K)


# ------------------------------------------------------------------------------ the type
class ChannelType:
    """A ligand-gated channel type: a Markov scheme with a conductance and a selectivity.

    Parameters
    ----------
    name : str
        Name (e.g. ``"AMPA"``).
    states : sequence of str
        State names; the first is the initial (resting, unliganded) state.
    transitions : sequence of Transition or tuples (src, dst, k[, ligand_order[, v_efold_mV]])
        Rates [1/ms] (binding steps [1/(mM ms)]).
    open_states : sequence of str
        Conducting states (at least one).
    conductance_pS : float
        Single-channel conductance [pS], >= 0.
    selectivity : mapping ion -> fraction
        Conductance fractions per ion (standard names ``"Na+"``, ``"K+"``, ``"Cl-"``, ``"Ca2+"``
        or :class:`~microsyn.species.Species`), each >= 0, summing to 1.
    E_rev_mV : float or None
        Fixed reversal potential [mV]; None for the chord model (each ion its own Nernst
        potential; see the module docstring).
    ghk_ions : sequence of str
        Ions whose current follows the GHK equation (chord model only).
    mg_block : MgBlock or None
        Voltage-dependent block of the open channel.
    permeability_cm3_per_s : mapping ion -> P, optional
        Single-channel permeabilities [cm^3/s] of ions whose current is the absolute GHK current
        of :func:`ghk_current_pA` (voltage-gated Ca2+ channels): then that ion's current follows
        its concentrations on both sides exactly, with no reference to ``conductance_pS`` (which
        may be 0 for a channel carrying only such ions). P is scaled with ``q10_conductance``.
    ligand : str
        Name of the transmitter (informative; e.g. ``"glutamate"``).
    temperature_K : float
        The simulated temperature [K] (default 310.15 K = 37 C): Nernst and GHK potentials are
        computed at it, and the rates and conductance are scaled to it from
        ``reference_temperature_K`` (below).
    reference : str
        Where the scheme and numbers come from.
    q10 : float or None
        Required. Temperature coefficient of the rates: every rate constant k of ``transitions``
        (given at ``reference_temperature_K``) is used as k q10^((T - T_ref)/10) at
        T = ``temperature_K``. ``None`` says explicitly that the rates apply as given at any
        temperature (no scaling).
    reference_temperature_K : float or None
        Temperature [K] at which the rates (and ``conductance_pS``) were measured; required when
        ``q10`` is a number (e.g. 295.15 for a room-temperature patch recording at 22 C).
    q10_conductance : float
        Temperature coefficient of the single-channel conductance (default 1: the conductance is
        taken as given at every temperature; aqueous pores have Q10 about 1.2-1.5, Hille 2001).

    Attributes
    ----------
    rate_factor : float
        q10^((temperature_K - reference_temperature_K)/10) (1 with ``q10=None``): what every
        rate constant is multiplied by.
    conductance_factor : float
        The same with ``q10_conductance``: what ``conductance_pS`` is multiplied by.

    Raises
    ------
    ChannelSpecError, NegativeRateError, NegativeConductanceError, SelectivityError, UnknownIonError,
    TemperatureSpecError

    Notes
    -----
    Temperature: rates measured at room temperature (most patch-clamp kinetics) are too slow at
    37 C by a factor q10^1.5 (about 3.7 for Q10 = 2.4 from 22 C). ``transitions`` keep the
    published values at ``reference_temperature_K``; :meth:`rates`, :meth:`generator`,
    :meth:`exit_rates` and :meth:`equilibrium` (and so the gating in :mod:`microsyn.gating` and
    :mod:`microsyn.synapse`) use them times :attr:`rate_factor`, and :attr:`g_nS` is
    ``conductance_pS`` times :attr:`conductance_factor`. Evaluate a type at its reference
    temperature with ``ch.at_temperature(ch.reference_temperature_K)``.

    Example
    -------
    >>> two = ChannelType("two-state", ["C", "O"], [("C", "O", 5.0, 1), ("O", "C", 0.5)], ["O"],
    ...                   conductance_pS=20.0, selectivity={"Cl-": 1.0},
    ...                   q10=3.0, reference_temperature_K=295.15)
    >>> two.n_states, two.g_nS, round(two.rate_factor, 3)
    (2, 0.02, 5.196)
    """

    def __init__(self, name: str, states: Sequence[str], transitions, open_states: Sequence[str],
                 conductance_pS: float, selectivity: Mapping, E_rev_mV: float | None = None,
                 ghk_ions: Sequence[str] = (), mg_block: MgBlock | None = None, ligand: str = "transmitter",
                 temperature_K: float = BODY_TEMPERATURE_K, reference: str = "user-defined", *,
                 q10=_REQUIRED, reference_temperature_K: float | None = None, q10_conductance: float = 1.0,
                 permeability_cm3_per_s: Mapping | None = None):
        if not isinstance(name, str) or not name.strip():
            raise ChannelSpecError(f"a channel type needs a non-empty name, got {name!r}")
        self.name = name
        states = tuple(states)
        if len(states) < 2:
            raise ChannelSpecError(f"{name}: a Markov scheme needs at least 2 states, got {list(states)}")
        if len(set(states)) != len(states) or not all(isinstance(s, str) and s for s in states):
            raise ChannelSpecError(f"{name}: state names must be distinct non-empty strings, got {list(states)}")
        self.states = states
        self._index = {s: i for i, s in enumerate(states)}
        trs = []
        seen = set()
        for t in transitions:
            if not isinstance(t, Transition):
                if not isinstance(t, (tuple, list)) or not 3 <= len(t) <= 5:
                    raise ChannelSpecError(
                        f"{name}: a transition is a Transition or a tuple (src, dst, k[, ligand_order"
                        f"[, v_efold_mV]]), got {t!r}")
                t = Transition(*t)
            for s in (t.src, t.dst):
                if s not in self._index:
                    raise ChannelSpecError(f"{name}: transition {t.src}->{t.dst} names unknown state {s!r}; "
                                           f"states are {list(states)}")
            if t.src == t.dst:
                raise InvalidGeneratorError(f"{name}: transition {t.src}->{t.dst} goes nowhere; a generator's "
                                            f"diagonal is implied by the other rates, remove it")
            if (t.src, t.dst) in seen:
                raise ChannelSpecError(f"{name}: transition {t.src}->{t.dst} is given twice; merge the rates")
            seen.add((t.src, t.dst))
            trs.append(t)
        if not trs:
            raise ChannelSpecError(f"{name}: no transitions given")
        self.transitions = tuple(trs)
        opens = tuple(open_states)
        if not opens:
            raise ChannelSpecError(f"{name}: give at least one open (conducting) state")
        for s in opens:
            if s not in self._index:
                raise ChannelSpecError(f"{name}: open state {s!r} is not one of the states {list(states)}")
        self.open_states = opens
        self.open_mask = np.array([s in opens for s in states])
        try:
            g = float(conductance_pS)
        except (TypeError, ValueError):
            raise NegativeConductanceError(f"{name}: conductance_pS must be a number [pS], got {conductance_pS!r}") from None
        if not math.isfinite(g) or g < 0:
            raise NegativeConductanceError(
                f"{name}: single-channel conductance {conductance_pS!r} pS must be finite and >= 0; "
                f"the direction of the current comes from the driving force, not the conductance's sign")
        self.conductance_pS = g
        # selectivity
        if not isinstance(selectivity, Mapping) or not selectivity:
            raise SelectivityError(f"{name}: selectivity must be a non-empty mapping ion -> fraction, "
                                   f"e.g. {{'Na+': 0.57, 'K+': 0.43}}")
        sel: dict[str, float] = {}
        ions: dict[str, Species] = {}
        for ion, frac in selectivity.items():
            try:
                sp = get_species(ion)
            except UnknownSpeciesError:
                raise UnknownIonError(
                    f"{name}: selectivity names unknown ion {ion!r}; use one of 'Na+', 'K+', 'Cl-', 'Ca2+' "
                    f"or pass a microsyn.Species for another ion") from None
            if sp.valence == 0:
                raise SelectivityError(f"{name}: {sp.name} is uncharged and carries no current; remove it "
                                       f"from the selectivity")
            try:
                f = float(frac)
            except (TypeError, ValueError):
                raise SelectivityError(f"{name}: fraction of {sp.name} must be a number, got {frac!r}") from None
            if not math.isfinite(f) or f < 0:
                raise SelectivityError(f"{name}: fraction of {sp.name} must be finite and >= 0, got {frac!r}")
            sel[sp.name] = f
            ions[sp.name] = sp
        tot = sum(sel.values())
        if abs(tot - 1.0) > 1e-6:
            raise SelectivityError(f"{name}: selectivity fractions sum to {tot:.6g}, not 1; divide each by "
                                   f"{tot:.6g} (they are shares of the channel's conductance)")
        self.selectivity = sel
        self.ions = ions
        if E_rev_mV is not None:
            E = float(E_rev_mV)
            if not math.isfinite(E):
                raise ChannelSpecError(f"{name}: E_rev_mV must be finite or None, got {E_rev_mV!r}")
            E_rev_mV = E
            if ghk_ions:
                raise ChannelSpecError(f"{name}: ghk_ions need the chord model; leave E_rev_mV=None")
        self.E_rev_mV = E_rev_mV
        for ion in ghk_ions:
            if get_species(ion).name not in sel:
                raise SelectivityError(f"{name}: GHK ion {ion!r} is not in the selectivity {list(sel)}")
        self.ghk_ions = tuple(get_species(i).name for i in ghk_ions)
        perm = {}
        for ion, P in dict(permeability_cm3_per_s or {}).items():
            nm = get_species(ion).name
            if nm not in sel:
                raise SelectivityError(f"{name}: permeability given for {ion!r}, which is not in the selectivity "
                                       f"{list(sel)}; add it there")
            if E_rev_mV is not None:
                raise ChannelSpecError(f"{name}: permeabilities need the chord/GHK model; leave E_rev_mV=None")
            try:
                Pf = float(P)
            except (TypeError, ValueError):
                raise NegativeConductanceError(f"{name}: permeability of {nm} must be a number [cm^3/s], got {P!r}") from None
            if not math.isfinite(Pf) or Pf <= 0:
                raise NegativeConductanceError(
                    f"{name}: permeability of {nm} must be finite and > 0 [cm^3/s] (a Ca2+ channel is about "
                    f"1e-12 cm^3/s), got {P!r}")
            perm[nm] = Pf
        self.permeability_cm3_per_s = perm
        if mg_block is not None and not isinstance(mg_block, MgBlock):
            raise ChannelSpecError(f"{name}: mg_block must be a MgBlock or None, got {mg_block!r}")
        self.mg_block = mg_block
        self.ligand = str(ligand)
        self.temperature_K = _check_kelvin(name, "temperature_K", temperature_K)
        self.reference = reference
        self._set_temperature_scaling(q10, reference_temperature_K, q10_conductance)
        # arrays for fast rate evaluation (rates at temperature_K)
        self._src = np.array([self._index[t.src] for t in self.transitions], np.int64)
        self._dst = np.array([self._index[t.dst] for t in self.transitions], np.int64)
        self._k = np.array([t.k for t in self.transitions]) * self.rate_factor
        self._order = np.array([t.ligand_order for t in self.transitions], np.int64)
        self._vfold = np.array([t.v_efold_mV if t.v_efold_mV is not None else np.inf for t in self.transitions])
        self._has_v = bool(np.any(np.isfinite(self._vfold)))
        # per source state: indices of its transitions
        self._out = [np.flatnonzero(self._src == i) for i in range(len(states))]

    def _set_temperature_scaling(self, q10, reference_temperature_K, q10_conductance):
        name = self.name
        if q10 is _REQUIRED:
            raise TemperatureSpecError(
                f"{name}: say how the rates depend on temperature: give q10=... and reference_temperature_K=... "
                f"(the temperature [K] the rates were measured at, e.g. q10=2.4, reference_temperature_K=295.15 "
                f"for 22 C), or q10=None to use the rates as given at every temperature")
        try:
            gq = float(q10_conductance)
        except (TypeError, ValueError):
            raise TemperatureSpecError(f"{name}: q10_conductance must be a number, got {q10_conductance!r}") from None
        if not math.isfinite(gq) or gq <= 0:
            raise TemperatureSpecError(f"{name}: q10_conductance must be finite and > 0 (1 = no scaling), "
                                       f"got {q10_conductance!r}")
        if q10 is None:
            if reference_temperature_K is not None or gq != 1.0:
                raise TemperatureSpecError(
                    f"{name}: q10=None means no temperature scaling; then leave reference_temperature_K=None and "
                    f"q10_conductance=1, or give a q10 for the rates")
            self.q10 = None
            self.reference_temperature_K = None
            self.q10_conductance = 1.0
            self.rate_factor = 1.0
            self.conductance_factor = 1.0
            return
        try:
            q = float(q10)
        except (TypeError, ValueError):
            raise TemperatureSpecError(f"{name}: q10 must be a number or None, got {q10!r}") from None
        if not math.isfinite(q) or q <= 0:
            raise TemperatureSpecError(f"{name}: q10 must be finite and > 0 (typically 2-3 for gating), got {q10!r}")
        if reference_temperature_K is None:
            raise TemperatureSpecError(f"{name}: q10 = {q:g} needs the temperature the rates were measured at: give "
                                       f"reference_temperature_K [K] (e.g. 295.15 for 22 C)")
        self.q10 = q
        self.reference_temperature_K = _check_kelvin(name, "reference_temperature_K", reference_temperature_K)
        self.q10_conductance = gq
        self.rate_factor = q10_factor(q, self.reference_temperature_K, self.temperature_K)
        self.conductance_factor = q10_factor(gq, self.reference_temperature_K, self.temperature_K)

    # -------------------------------------------------------------------- construction helpers
    @classmethod
    def from_matrix(cls, name: str, states: Sequence[str], Q, open_states: Sequence[str], conductance_pS: float,
                    selectivity: Mapping, ligand_Q=None, **kw) -> "ChannelType":
        """Build a type from a generator matrix Q [1/ms] (and optionally a ligand-dependent part).

        The rate matrix is ``Q + L * ligand_Q`` (L [mM]); each of Q and ligand_Q must be a valid
        generator: off-diagonal entries >= 0 and every row summing to 0 (the diagonal is minus the
        total exit rate of the state).

        Raises
        ------
        InvalidGeneratorError
        """
        parts = [("Q", Q, 0)] + ([("ligand_Q", ligand_Q, 1)] if ligand_Q is not None else [])
        n = len(states)
        trs = []
        for label, M, order in parts:
            M = np.asarray(M, dtype=float)
            if M.shape != (n, n):
                raise InvalidGeneratorError(f"{name}: {label} must be a {n}x{n} matrix (one row per state), "
                                            f"got shape {M.shape}")
            if not np.all(np.isfinite(M)):
                raise InvalidGeneratorError(f"{name}: {label} contains NaN or inf")
            off = M - np.diag(np.diag(M))
            if np.any(off < 0):
                i, j = np.argwhere(off < 0)[0]
                raise InvalidGeneratorError(
                    f"{name}: {label}[{i},{j}] = {M[i, j]!r} is negative; off-diagonal rates of a generator must "
                    f"be >= 0 (the rate from {states[i]} to {states[j]})")
            rows = M.sum(axis=1)
            scale = np.maximum(np.abs(off).sum(axis=1), 1e-300)
            bad = np.abs(rows) > 1e-9 * scale + 1e-12
            if np.any(bad):
                i = int(np.flatnonzero(bad)[0])
                raise InvalidGeneratorError(
                    f"{name}: row {i} ({states[i]}) of {label} sums to {rows[i]:.6g}, not 0; set the diagonal "
                    f"entry to minus the sum of the other entries in that row ({-off[i].sum():.6g})")
            for i in range(n):
                for j in range(n):
                    if i != j and M[i, j] > 0:
                        trs.append(Transition(states[i], states[j], M[i, j], order))
        return cls(name, states, trs, open_states, conductance_pS, selectivity, **kw)

    def with_(self, **kw) -> "ChannelType":
        """A copy with some constructor arguments changed (e.g. ``conductance_pS=20``)."""
        args = dict(name=self.name, states=self.states, transitions=self.transitions,
                    open_states=self.open_states, conductance_pS=self.conductance_pS,
                    selectivity=self.selectivity, E_rev_mV=self.E_rev_mV, ghk_ions=self.ghk_ions,
                    mg_block=self.mg_block, ligand=self.ligand, temperature_K=self.temperature_K,
                    reference=self.reference, q10=self.q10, reference_temperature_K=self.reference_temperature_K,
                    q10_conductance=self.q10_conductance, permeability_cm3_per_s=self.permeability_cm3_per_s)
        if "E_rev_mV" in kw and kw["E_rev_mV"] is not None and "ghk_ions" not in kw:
            args["ghk_ions"] = ()
        args.update(kw)
        return ChannelType(**args)

    def at_temperature(self, temperature_K: float) -> "ChannelType":
        """The same type simulated at another temperature [K] (rates, conductance, Nernst)."""
        return self.with_(temperature_K=temperature_K)

    # -------------------------------------------------------------------- properties
    @property
    def n_states(self) -> int:
        return len(self.states)

    @property
    def g_nS(self) -> float:
        """Single-channel conductance [nS] at ``temperature_K`` (``conductance_pS`` x
        :attr:`conductance_factor` x 0.001)."""
        return self.conductance_pS * self.conductance_factor * 1e-3

    @property
    def is_ligand_gated(self) -> bool:
        """True if some transition is a binding step (its rate grows with the ligand)."""
        return bool(np.any(self._order > 0))

    @property
    def temperature_C(self) -> float:
        """The simulated temperature [C]."""
        return self.temperature_K - 273.15

    def index(self, state: str) -> int:
        """Index of a state."""
        if state not in self._index:
            raise ChannelSpecError(f"{self.name}: no state {state!r}; states are {list(self.states)}")
        return self._index[state]

    # -------------------------------------------------------------------- rates
    def rates(self, L_mM: float, V_mV: float = -70.0) -> np.ndarray:
        """Rates [1/ms] of every transition at ligand L [mM] and voltage V [mV]."""
        L = float(L_mM)
        r = self._k * np.where(self._order == 0, 1.0, L ** self._order)
        if self._has_v:
            r = r * np.exp(V_mV / self._vfold)
        return r

    def generator(self, L_mM: float, V_mV: float = -70.0) -> np.ndarray:
        """The generator matrix Q [1/ms] (rows sum to 0) at ligand L [mM] and V [mV]."""
        n = self.n_states
        Q = np.zeros((n, n))
        np.add.at(Q, (self._src, self._dst), self.rates(L_mM, V_mV))
        Q[np.arange(n), np.arange(n)] = -Q.sum(axis=1)
        return Q

    def exit_rates(self, L_mM: float, V_mV: float = -70.0) -> np.ndarray:
        """Total exit rate [1/ms] of each state."""
        return np.bincount(self._src, weights=self.rates(L_mM, V_mV), minlength=self.n_states)

    def _cached_rates(self, L_mM: float, V_mV: float):
        """(rates, exit rates) at (L, V), remembered for the last few hundred (L, V) pairs (the
        gating asks for the same ligand levels over and over); read-only arrays."""
        key = (float(L_mM), float(V_mV) if self._has_v else None)
        cache = self.__dict__.setdefault("_rate_cache", {})
        hit = cache.get(key)
        if hit is None:
            if len(cache) > 512:
                cache.clear()
            r = self.rates(L_mM, V_mV)
            q = np.bincount(self._src, weights=r, minlength=self.n_states)
            r.flags.writeable = False
            q.flags.writeable = False
            hit = cache[key] = (r, q)
        return hit

    def equilibrium(self, L_mM: float, V_mV: float = -70.0) -> np.ndarray:
        """Stationary occupancy of the states at constant L [mM] and V [mV]."""
        Q = self.generator(L_mM, V_mV)
        A = np.vstack([Q.T, np.ones(self.n_states)])
        b = np.zeros(self.n_states + 1)
        b[-1] = 1.0
        p, *_ = np.linalg.lstsq(A, b, rcond=None)
        return np.clip(p, 0.0, None) / np.clip(p, 0.0, None).sum()

    # -------------------------------------------------------------------- currents
    def concentrations(self, overrides: Mapping | None = None) -> dict:
        """{ion: (c_in, c_out)} [mM]: the species' standard values with ``overrides`` applied."""
        out = {}
        for ion, sp in self.ions.items():
            out[ion] = (sp.c_in, sp.c_out)
        for ion, pair in (overrides or {}).items():
            nm = get_species(ion).name
            if nm not in out:
                continue
            ci, co = (float(pair[0]), float(pair[1]))
            if not (ci > 0 and co > 0 and math.isfinite(ci) and math.isfinite(co)):
                raise ParameterError(f"concentrations of {nm} must be finite and > 0 mM, got {pair!r}")
            out[ion] = (ci, co)
        return out

    def nernst_mV(self, concentrations: Mapping | None = None) -> dict:
        """{ion: Nernst potential [mV]} at the (standard or given) concentrations."""
        conc = self.concentrations(concentrations)
        return {ion: _nernst(conc[ion][1], conc[ion][0], self.ions[ion].valence, self.temperature_K)
                for ion in self.ions}

    def block(self, V_mV):
        """Unblocked fraction B(V) (1 without Mg2+ block)."""
        return 1.0 if self.mg_block is None else float(self.mg_block(V_mV))

    def ion_currents_pA(self, V_mV: float, concentrations: Mapping | None = None) -> dict:
        """{ion: current [pA]} through ONE open channel at V [mV], outward positive."""
        V = float(V_mV)
        g = self.g_nS * self.block(V)
        if self.E_rev_mV is not None:
            I = g * (V - self.E_rev_mV)
            return {ion: f * I for ion, f in self.selectivity.items()}
        key = None if concentrations is None else tuple(sorted(concentrations.items()))
        cached = self.__dict__.get("_nernst_cache")
        if cached is not None and cached[0] == key:
            E, conc = cached[1], cached[2]
        else:
            E = self.nernst_mV(concentrations)
            conc = self.concentrations(concentrations)
            self._nernst_cache = (key, E, conc)
        out = {}
        for ion, f in self.selectivity.items():
            if ion in self.permeability_cm3_per_s:
                ci, co = conc[ion]
                P = self.permeability_cm3_per_s[ion] * self.conductance_factor * self.block(V)
                out[ion] = float(ghk_current_pA(V, self.ions[ion].valence, ci, co, P, self.temperature_K))
            elif ion in self.ghk_ions:
                z = self.ions[ion].valence
                ci, co = conc[ion]
                ref = float(ghk_flux_shape(GHK_REFERENCE_MV, z, ci, co, self.temperature_K))
                Eref = _nernst(co, ci, z, self.temperature_K)
                # scale: equal to the chord current f g (V_ref - E) at V_ref (standard-free)
                scale = f * g * (GHK_REFERENCE_MV - Eref) / ref if ref != 0 else 0.0
                out[ion] = scale * float(ghk_flux_shape(V, z, ci, co, self.temperature_K))
            else:
                out[ion] = f * g * (V - E[ion])
        return out

    def open_current_pA(self, V_mV: float, concentrations: Mapping | None = None) -> float:
        """Net current [pA] through one open channel at V [mV] (outward positive)."""
        return float(sum(self.ion_currents_pA(V_mV, concentrations).values()))

    def ion_flux_per_ms(self, V_mV: float, concentrations: Mapping | None = None) -> dict:
        """{ion: ions per ms} through one open channel, outward positive (I * 6241.5 / z)."""
        return {ion: I * CHARGES_PER_MS_PER_PA / self.ions[ion].valence
                for ion, I in self.ion_currents_pA(V_mV, concentrations).items()}

    def reversal_mV(self, concentrations: Mapping | None = None) -> float:
        """Potential [mV] at which the net open-channel current is zero."""
        if self.E_rev_mV is not None:
            return self.E_rev_mV
        from scipy.optimize import brentq

        f = lambda v: self.open_current_pA(v, concentrations) / max(self.block(v), 1e-300)  # noqa: E731
        lo, hi = -250.0, 250.0
        if f(lo) * f(hi) > 0:
            raise ParameterError(f"{self.name}: no reversal potential between -250 and +250 mV")
        return float(brentq(f, lo, hi, xtol=1e-10))

    def __repr__(self):
        return (f"ChannelType({self.name!r}, states={list(self.states)}, open={list(self.open_states)}, "
                f"{self.conductance_pS:g} pS, selectivity={self.selectivity})")


# ------------------------------------------------------------------------------ helpers
def chord_fractions(ions: Sequence[str], E_rev_mV: float = 0.0, temperature_K: float = BODY_TEMPERATURE_K,
                    concentrations: Mapping | None = None) -> dict:
    """Conductance fractions of two ions giving the chord reversal ``E_rev_mV`` [mV].

    f_1 E_1 + f_2 E_2 = E_rev with f_1 + f_2 = 1 (standard concentrations unless given).

    Example
    -------
    >>> f = chord_fractions(["Na+", "K+"], 0.0)
    >>> round(f["Na+"], 3)
    0.572
    """
    if len(ions) != 2:
        raise ParameterError("chord_fractions takes exactly two ions")
    Es = []
    for ion in ions:
        sp = get_species(ion)
        ci, co = (concentrations or {}).get(sp.name, (sp.c_in, sp.c_out))
        Es.append(_nernst(co, ci, sp.valence, temperature_K))
    E1, E2 = Es
    if not min(E1, E2) < E_rev_mV < max(E1, E2):
        raise ParameterError(f"E_rev = {E_rev_mV} mV is not between the two Nernst potentials {E1:.1f}, {E2:.1f}")
    f1 = (E_rev_mV - E2) / (E1 - E2)
    return {get_species(ions[0]).name: f1, get_species(ions[1]).name: 1.0 - f1}


def _nmda_fractions(ca_fraction: float = 0.1, E_rev_mV: float = 0.0, V_ref: float = GHK_REFERENCE_MV,
                    T: float = BODY_TEMPERATURE_K) -> dict:
    """Na+/K+/Ca2+ conductance fractions with chord reversal E_rev and Ca2+ carrying
    ``ca_fraction`` of the current at V_ref (Burnashev et al. 1995: ~10 %)."""
    sp = {n: get_species(n) for n in ("Na+", "K+", "Ca2+")}
    E = {n: _nernst(s.c_out, s.c_in, s.valence, T) for n, s in sp.items()}
    ca = sp["Ca2+"]
    ref = float(ghk_flux_shape(V_ref, 2, ca.c_in, ca.c_out, T))
    ca_at_E = float(ghk_flux_shape(E_rev_mV, 2, ca.c_in, ca.c_out, T)) / ref * (V_ref - E["Ca2+"])
    # unknowns fNa, fK, fCa: sum = 1; net current 0 at E_rev; I_Ca(V_ref) = ca_fraction I(V_ref)
    A = np.array([
        [1.0, 1.0, 1.0],
        [E_rev_mV - E["Na+"], E_rev_mV - E["K+"], ca_at_E],
        [-ca_fraction * (V_ref - E["Na+"]), -ca_fraction * (V_ref - E["K+"]),
         (1 - ca_fraction) * (V_ref - E["Ca2+"])],
    ])
    f = np.linalg.solve(A, np.array([1.0, 0.0, 0.0]))
    return {"Na+": float(f[0]), "K+": float(f[1]), "Ca2+": float(f[2])}


# ------------------------------------------------------------------------------ built-ins
def AMPA(**kw) -> ChannelType:
    """AMPA receptor: the Jonas, Major & Sakmann (1993) seven-state scheme, 10 pS, Na+/K+.

    States C0 (unbound), C1, C2 (one, two glutamates bound), O (open), C3, C4, C5
    (desensitised from C1, C2, O). Rates (22 C) [1/ms; binding 1/(mM ms)]:
    C0->C1 4.59 L, C1->C0 4.26, C1->C2 28.4 L, C2->C1 3.26, C2->O 4.24, O->C2 0.9,
    C1->C3 2.89, C3->C1 0.0392, C3->C4 1.27 L, C4->C3 0.0457, C2->C4 0.172, C4->C2 0.000727,
    C4->C5 0.0168, C5->C4 0.1904, O->C5 0.0177, C5->O 0.004
    (Jonas et al. 1993, doi:10.1113/jphysiol.1993.sp019873, as tabulated by Franks et al. 2003,
    doi:10.1523/JNEUROSCI.23-08-03186.2003; C4->C3 is 45.7 /s). Both cycles of the scheme obey
    detailed balance to within 1 % (tested), as a ligand-gated scheme without energy input must.
    Selectivity: Na+ and K+ conductance fractions (0.572 / 0.428) whose chord reversal is 0 mV
    at the standard concentrations, so Na+ enters and K+ leaves at rest. Keyword arguments
    override constructor arguments (e.g. ``conductance_pS=20``, ``temperature_K=295.15``).

    Temperature: the rates above are at 22 C (``reference_temperature_K`` = 295.15 K, the room
    temperature of the recordings) and are scaled with Q10 = 2.4 (``AMPA_Q10``), within the 2-3
    reported for AMPA receptor kinetics between room and physiological temperature
    (Postlethwaite et al. 2007, J. Physiol. 579:69); at the default 37 C every rate is
    2.4^1.5 = 3.72 times the tabulated one. The unitary conductance stays 10 pS
    (``q10_conductance`` = 1).
    """
    T = [("C0", "C1", 4.59, 1), ("C1", "C0", 4.26), ("C1", "C2", 28.4, 1), ("C2", "C1", 3.26),
         ("C2", "O", 4.24), ("O", "C2", 0.9), ("C1", "C3", 2.89), ("C3", "C1", 0.0392),
         ("C3", "C4", 1.27, 1), ("C4", "C3", 0.0457), ("C2", "C4", 0.172), ("C4", "C2", 0.000727),
         ("C4", "C5", 0.0168), ("C5", "C4", 0.1904), ("O", "C5", 0.0177), ("C5", "O", 0.004)]
    args = dict(name="AMPA", states=["C0", "C1", "C2", "O", "C3", "C4", "C5"], transitions=T,
                open_states=["O"], conductance_pS=10.0, selectivity=chord_fractions(["Na+", "K+"], 0.0),
                ligand="glutamate", reference="Jonas, Major & Sakmann 1993, doi:10.1113/jphysiol.1993.sp019873",
                q10=AMPA_Q10, reference_temperature_K=ROOM_TEMPERATURE_K)
    args.update(kw)
    return ChannelType(**args)


def NMDA(mg_mM: float = 1.0, ca_fraction: float = 0.1, **kw) -> ChannelType:
    """NMDA receptor: five-state scheme (Lester & Jahr 1992 rates as fitted by Destexhe et al.
    1994), 50 pS, Na+/K+/Ca2+ with Ca2+ by GHK carrying ``ca_fraction`` of the current at -70 mV,
    chord reversal 0 mV, and Jahr & Stevens (1990) Mg2+ block at ``mg_mM`` [mM].

    C0 -5 L-> C1 -5 L-> C2 -0.0465-> O; reverse 0.0129 (each unbinding), 0.0738 (closing);
    C2 <-> D (0.0084 / 0.0068) [1/ms; binding 1/(mM ms)].

    Temperature: rates fitted to room-temperature recordings (taken as 22 C, 295.15 K), scaled
    with the typical gating Q10 = 3 (``TYPICAL_GATING_Q10``, Hille 2001): x5.2 at 37 C. The
    conductance is not scaled (``q10_conductance`` = 1).
    """
    T = [("C0", "C1", 2 * 5.0, 1), ("C1", "C0", 0.0129), ("C1", "C2", 5.0, 1), ("C2", "C1", 2 * 0.0129),
         ("C2", "O", 0.0465), ("O", "C2", 0.0738), ("C2", "D", 0.0084), ("D", "C2", 0.0068)]
    args = dict(name="NMDA", states=["C0", "C1", "C2", "O", "D"], transitions=T, open_states=["O"],
                conductance_pS=50.0, selectivity=_nmda_fractions(ca_fraction), ghk_ions=["Ca2+"],
                mg_block=MgBlock(mg_mM=mg_mM), ligand="glutamate",
                reference="Jahr & Stevens 1990, doi:10.1523/JNEUROSCI.10-09-03178.1990; "
                          "Destexhe et al. 1994, doi:10.1007/BF00961734",
                q10=TYPICAL_GATING_Q10, reference_temperature_K=ROOM_TEMPERATURE_K)
    args.update(kw)
    return ChannelType(**args)


def GABA_A(**kw) -> ChannelType:
    """GABA_A receptor: two-state scheme C -5 L-> O, O -0.18-> C (Destexhe et al. 1994), 27 pS
    (Bormann et al. 1987), Cl- only; E_Cl from the (overridable) Cl- concentrations.

    Temperature: rates taken as measured at 22 C (295.15 K), scaled with Q10 = 3 (Hille 2001):
    x5.2 at 37 C; conductance not scaled."""
    args = dict(name="GABA_A", states=["C", "O"], transitions=[("C", "O", 5.0, 1), ("O", "C", 0.18)],
                open_states=["O"], conductance_pS=27.0, selectivity={"Cl-": 1.0}, ligand="GABA",
                reference="Destexhe et al. 1994, doi:10.1007/BF00961734; Bormann et al. 1987, "
                          "doi:10.1113/jphysiol.1987.sp016493",
                q10=TYPICAL_GATING_Q10, reference_temperature_K=ROOM_TEMPERATURE_K)
    args.update(kw)
    return ChannelType(**args)


def GIRK(**kw) -> ChannelType:
    """A GIRK-like K+ channel gated by a ligand (standing for G-protein beta-gamma), two states,
    C -1 L-> O, O -0.05-> C, 10 pS, K+ only (E_K = -89 mV): K+ leaves, an IPSP.

    Illustrative rates (slow, tens of ms), not a fit to a paper; they are meant for 37 C
    (``reference_temperature_K`` = 310.15 K, Q10 = 3 away from it)."""
    args = dict(name="GIRK", states=["C", "O"], transitions=[("C", "O", 1.0, 1), ("O", "C", 0.05)],
                open_states=["O"], conductance_pS=10.0, selectivity={"K+": 1.0}, ligand="G-beta-gamma",
                reference="illustrative (Hille 2001, ch. 6)",
                q10=TYPICAL_GATING_Q10, reference_temperature_K=BODY_TEMPERATURE_K)
    args.update(kw)
    return ChannelType(**args)


def CA_PERMEABLE(**kw) -> ChannelType:
    """A Ca2+-permeable ligand-gated channel (Ca2+ only, GHK flux), two states C -5 L-> O,
    O -1-> C, 5 pS (equivalent chord conductance at -70 mV). Illustrative; rates meant for 37 C
    (Q10 = 3 away from it)."""
    args = dict(name="Ca-permeable", states=["C", "O"], transitions=[("C", "O", 5.0, 1), ("O", "C", 1.0)],
                open_states=["O"], conductance_pS=5.0, selectivity={"Ca2+": 1.0}, ghk_ions=["Ca2+"],
                ligand="transmitter", reference="illustrative; GHK: Goldman 1943, Hodgkin & Katz 1949",
                q10=TYPICAL_GATING_Q10, reference_temperature_K=BODY_TEMPERATURE_K)
    args.update(kw)
    return ChannelType(**args)


#: name -> factory of the built-in types
BUILTIN_TYPES = {"AMPA": AMPA, "NMDA": NMDA, "GABA_A": GABA_A, "GIRK": GIRK, "Ca-permeable": CA_PERMEABLE}
