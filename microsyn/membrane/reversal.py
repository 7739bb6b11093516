"""Reversal and resting potentials: Nernst, Goldman-Hodgkin-Katz (GHK) and the Na+/K+ pump.

All potentials are inside minus outside [mV]; concentrations [mM]; permeabilities [um/ms]
(1 cm/s = 10 um/ms; only ratios matter for the GHK voltage equation); temperatures [K].

References
----------
Nernst W. (1889) Z. Phys. Chem. 4:129, doi:10.1515/zpch-1889-0412.
Goldman D.E. (1943) J. Gen. Physiol. 27:37, doi:10.1085/jgp.27.1.37.
Hodgkin A.L. & Katz B. (1949) J. Physiol. 108:37, doi:10.1113/jphysiol.1949.sp004310.
Mullins L.J. & Noda K. (1963) J. Gen. Physiol. 47:117, doi:10.1085/jgp.47.1.117.
Hille B. (2001) Ion Channels of Excitable Membranes, 3rd ed., Sinauer (ch. 14).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
from scipy.optimize import brentq

from ..errors import ParameterError, check_positive
from ..species import get_species
from ..units import BODY_TEMPERATURE_K, FARADAY_C_PER_MOL, thermal_voltage

__all__ = [
    "nernst",
    "nernst_species",
    "ghk_current_density",
    "ghk_voltage",
    "mullins_noda_potential",
    "resting_potential",
    "RestingPotential",
    "DEFAULT_PERMEABILITY_RATIOS",
    "GHK_PA_PER_UM2",
]

#: GHK current-density prefactor: P [um/ms] * c [mM] * F gives 96.485 pA/um^2
#: (1 mM = 1e-18 mol/um^3; F * 1e-18 C/um^3 * 1 um/ms = 9.6485e-14 C/(um^2 ms) = 96.485 pA/um^2).
GHK_PA_PER_UM2 = FARADAY_C_PER_MOL * 1e-3

#: Resting permeability ratios P_K : P_Na : P_Cl of a typical neuron (Hille 2001, ch. 14;
#: Hodgkin & Katz 1949 found 1 : 0.04 : 0.45 for squid axon).
DEFAULT_PERMEABILITY_RATIOS = {"K+": 1.0, "Na+": 0.05, "Cl-": 0.45}


def _conc(name: str, c_in, c_out, valence):
    sp = get_species(name) if (c_in is None or c_out is None or valence is None) else None
    ci = sp.c_in if c_in is None else check_positive(f"{name} c_in [mM]", c_in)
    co = sp.c_out if c_out is None else check_positive(f"{name} c_out [mM]", c_out)
    z = sp.valence if valence is None else int(valence)
    return ci, co, z


def nernst(c_out: float, c_in: float, valence: int, temperature_K: float = BODY_TEMPERATURE_K) -> float:
    """Nernst equilibrium potential [mV].

    Parameters
    ----------
    c_out, c_in : float
        Outside and inside concentrations [mM], both > 0.
    valence : int
        Charge number z (non-zero).
    temperature_K : float
        Temperature [K].

    Returns
    -------
    float
        E = (RT / zF) ln(c_out / c_in) [mV].

    Notes
    -----
    Nernst 1889, doi:10.1515/zpch-1889-0412.

    Example
    -------
    >>> round(nernst(5.0, 140.0, 1, 310.15), 1)
    -89.1
    """
    co = check_positive("c_out [mM]", c_out)
    ci = check_positive("c_in [mM]", c_in)
    if int(valence) == 0 or valence != int(valence):
        raise ParameterError(f"valence must be a non-zero whole number, got {valence!r}")
    return thermal_voltage(temperature_K) / int(valence) * math.log(co / ci)


def nernst_species(species, temperature_K: float = BODY_TEMPERATURE_K, *, c_in=None, c_out=None) -> float:
    """Nernst potential [mV] of a species (name or :class:`~microsyn.species.Species`).

    Concentrations [mM] default to the species' standard ``c_in`` / ``c_out``; local
    concentrations (for example measured from the particles) can be passed instead.

    Example
    -------
    >>> round(nernst_species("Na+"), 1)
    66.6
    """
    sp = get_species(species)
    ci = sp.c_in if c_in is None else c_in
    co = sp.c_out if c_out is None else c_out
    return nernst(co, ci, sp.valence, temperature_K)


def ghk_current_density(permeability_um_per_ms: float, valence: int, c_in: float, c_out: float,
                        V_mV, temperature_K: float = BODY_TEMPERATURE_K):
    """GHK current equation: current density [pA/um^2] (outward positive) of one ion.

    Parameters
    ----------
    permeability_um_per_ms : float
        Permeability P [um/ms] (1 cm/s = 10 um/ms).
    valence : int
        Charge number z.
    c_in, c_out : float
        Concentrations [mM].
    V_mV : float or array
        Membrane potential [mV].
    temperature_K : float
        Temperature [K].

    Returns
    -------
    float or ndarray
        i = P z^2 F^2 V / (RT) * (c_in - c_out exp(-zFV/RT)) / (1 - exp(-zFV/RT)) [pA/um^2].

    Notes
    -----
    Goldman 1943, doi:10.1085/jgp.27.1.37; Hodgkin & Katz 1949, doi:10.1113/jphysiol.1949.sp004310.
    At V = 0 the limit P z F (c_in - c_out) is used.
    """
    P = check_positive("permeability [um/ms]", permeability_um_per_ms, allow_zero=True)
    z = int(valence)
    if z == 0:
        raise ParameterError("an uncharged species carries no GHK current; give valence != 0")
    vt = thermal_voltage(temperature_K)
    V = np.asarray(V_mV, dtype=float)
    u = z * V / vt
    small = np.abs(u) < 1e-6
    us = np.where(small, 1.0, u)
    em = np.exp(-us)
    val = np.where(small, c_in - c_out + 0.5 * u * (c_in + c_out),
                   us * (c_in - c_out * em) / (1.0 - em))
    out = GHK_PA_PER_UM2 * P * z * val
    return float(out) if out.ndim == 0 else out


def ghk_voltage(permeabilities: Mapping[str, float] | None = None, temperature_K: float = BODY_TEMPERATURE_K,
                concentrations: Mapping[str, tuple[float, float]] | None = None) -> float:
    """GHK voltage equation: the zero-current potential [mV] of a leak-only membrane.

    Parameters
    ----------
    permeabilities : mapping name -> P, optional
        Permeabilities (any common unit; only ratios matter), default
        :data:`DEFAULT_PERMEABILITY_RATIOS` (K+ 1, Na+ 0.05, Cl- 0.45).
    temperature_K : float
        Temperature [K].
    concentrations : mapping name -> (c_in, c_out), optional
        Concentrations [mM]; default: the standard species table.

    Returns
    -------
    float
        For monovalent ions V = (RT/F) ln((sum P_c c_out + sum P_a c_in) / (sum P_c c_in + sum P_a c_out)).
        With divalent ions the total GHK current is solved for zero numerically.

    Example
    -------
    >>> round(ghk_voltage(), 1)
    -67.2
    """
    perms = dict(DEFAULT_PERMEABILITY_RATIOS if permeabilities is None else permeabilities)
    ions = _ions(perms, concentrations)
    if all(abs(z) == 1 for _, z, _, _ in ions):
        num = den = 0.0
        for P, z, ci, co in ions:
            if z > 0:
                num += P * co
                den += P * ci
            else:
                num += P * ci
                den += P * co
        if num <= 0 or den <= 0:
            raise ParameterError("GHK voltage undefined: give at least one permeant ion with non-zero "
                                 "concentrations on both sides")
        return thermal_voltage(temperature_K) * math.log(num / den)
    return _zero_current(lambda V: sum(ghk_current_density(P, z, ci, co, V, temperature_K)
                                       for P, z, ci, co in ions))


def _ions(perms, concentrations):
    if not perms:
        raise ParameterError("give at least one permeability, e.g. {'K+': 1.0, 'Na+': 0.05}")
    ions = []
    for name, P in perms.items():
        P = check_positive(f"permeability of {name}", P, allow_zero=True)
        sp = get_species(name)
        if concentrations is not None and name in concentrations:
            ci, co = concentrations[name]
            ci = check_positive(f"{name} c_in [mM]", ci, allow_zero=True)
            co = check_positive(f"{name} c_out [mM]", co, allow_zero=True)
        else:
            ci, co = sp.c_in, sp.c_out
        if sp.valence == 0:
            raise ParameterError(f"{name} is uncharged and cannot set a membrane potential")
        ions.append((P, sp.valence, ci, co))
    return ions


def _zero_current(f, lo=-200.0, hi=200.0):
    flo, fhi = f(lo), f(hi)
    if not (flo < 0 < fhi):
        raise ParameterError("no zero-current potential between -200 and +200 mV; check the "
                             "permeabilities and concentrations")
    return float(brentq(f, lo, hi, xtol=1e-10))


def mullins_noda_potential(P_K: float, P_Na: float, *, K_in=None, K_out=None, Na_in=None, Na_out=None,
                           pump_ratio: float = 1.5, temperature_K: float = BODY_TEMPERATURE_K) -> float:
    """Steady membrane potential [mV] with an electrogenic Na+/K+ pump (Mullins & Noda 1963).

    At steady state the pump moves 3 Na+ out for 2 K+ in (``pump_ratio`` r = 3/2) and exactly
    balances the passive fluxes, giving V = (RT/F) ln((r P_K K_o + P_Na Na_o) / (r P_K K_i + P_Na Na_i)).

    Parameters
    ----------
    P_K, P_Na : float
        Permeabilities (ratio matters only).
    K_in, K_out, Na_in, Na_out : float, optional
        Concentrations [mM]; default standard table.
    pump_ratio : float
        Na+ pumped per K+ (r >= 1; r = 1 is an electroneutral pump and gives the plain GHK value).
    temperature_K : float
        Temperature [K].

    Notes
    -----
    Mullins & Noda 1963, doi:10.1085/jgp.47.1.117.
    """
    r = check_positive("pump_ratio", pump_ratio)
    P_K = check_positive("P_K", P_K)
    P_Na = check_positive("P_Na", P_Na, allow_zero=True)
    K = get_species("K+")
    Na = get_species("Na+")
    Ki = K.c_in if K_in is None else check_positive("K_in [mM]", K_in)
    Ko = K.c_out if K_out is None else check_positive("K_out [mM]", K_out)
    Nai = Na.c_in if Na_in is None else check_positive("Na_in [mM]", Na_in)
    Nao = Na.c_out if Na_out is None else check_positive("Na_out [mM]", Na_out)
    return thermal_voltage(temperature_K) * math.log((r * P_K * Ko + P_Na * Nao) / (r * P_K * Ki + P_Na * Nai))


@dataclass(frozen=True)
class RestingPotential:
    """Result of :func:`resting_potential` (all potentials [mV], currents [pA/um^2]).

    Attributes
    ----------
    V_rest : float
        Steady resting potential with the pump [mV].
    V_ghk : float
        GHK (leak-only, no pump) potential [mV].
    pump_contribution : float
        V_rest - V_ghk [mV] (negative: the 3:2 pump hyperpolarizes).
    pump_current_density : float
        Net outward pump current density at rest [pA/um^2] (one charge per cycle).
    nernst : dict
        Nernst potential of each permeant ion [mV].
    currents : dict
        Passive GHK current density of each ion at V_rest [pA/um^2].
    """

    V_rest: float
    V_ghk: float
    pump_contribution: float
    pump_current_density: float
    nernst: dict
    currents: dict


def resting_potential(permeabilities_um_per_ms: Mapping[str, float] | None = None, *,
                      temperature_K: float = BODY_TEMPERATURE_K, pump: bool = True,
                      concentrations: Mapping[str, tuple[float, float]] | None = None,
                      P_K_um_per_ms: float = 1e-6) -> RestingPotential:
    """Resting potential of a leak membrane from permeabilities, with the 3:2 Na+/K+ pump.

    Solves sum_i I_GHK,i(V) + I_pump = 0 where the pump current is set by the steady-state
    condition that the pump balances the passive Na+ and K+ fluxes with 3 Na+ out per 2 K+ in
    (the Mullins-Noda condition 2 I_Na + 3 I_K = 0, I_pump = -I_Na / 3); other ions (Cl-) are at
    their own zero-current balance only in the sense of the GHK sum.

    Parameters
    ----------
    permeabilities_um_per_ms : mapping, optional
        Relative permeabilities (multiplied by ``P_K_um_per_ms`` for absolute currents);
        default K+ 1, Na+ 0.05, Cl- 0.45.
    temperature_K : float
        Temperature [K].
    pump : bool
        Include the electrogenic pump.
    concentrations : mapping name -> (c_in, c_out), optional
        Concentrations [mM]; default the standard table.
    P_K_um_per_ms : float
        Absolute scale [um/ms] for the current densities (1e-6 um/ms = 1e-7 cm/s, typical).

    Returns
    -------
    RestingPotential

    Notes
    -----
    Hodgkin & Katz 1949, doi:10.1113/jphysiol.1949.sp004310;
    Mullins & Noda 1963, doi:10.1085/jgp.47.1.117.

    Example
    -------
    >>> r = resting_potential()
    >>> -75 < r.V_rest < r.V_ghk < -60
    True
    """
    perms = dict(DEFAULT_PERMEABILITY_RATIOS if permeabilities_um_per_ms is None else permeabilities_um_per_ms)
    scale = check_positive("P_K_um_per_ms", P_K_um_per_ms)
    ions = _ions(perms, concentrations)
    names = list(perms)
    T = temperature_K
    V_ghk = ghk_voltage(perms, T, concentrations)

    def I(name_idx, V):
        P, z, ci, co = ions[name_idx]
        return ghk_current_density(P * scale, z, ci, co, V, T)

    iNa = names.index("Na+") if "Na+" in names else None
    iK = names.index("K+") if "K+" in names else None
    if pump and (iNa is None or iK is None):
        raise ParameterError("the Na+/K+ pump needs both 'Na+' and 'K+' permeabilities; "
                             "add them or pass pump=False")

    def total(V):
        s = sum(I(k, V) for k in range(len(ions)))
        if pump:
            s += -I(iNa, V) / 3.0  # pump net outward current = Na+ passive influx / 3
        return s

    V_rest = _zero_current(total) if pump else V_ghk
    i_pump = -I(iNa, V_rest) / 3.0 if pump else 0.0
    ner = {}
    for k, (P, z, ci, co) in enumerate(ions):
        ner[names[k]] = nernst(co, ci, z, T) if ci > 0 and co > 0 else float("nan")
    cur = {names[k]: I(k, V_rest) for k in range(len(ions))}
    return RestingPotential(V_rest, V_ghk, V_rest - V_ghk, float(i_pump), ner, cur)
