"""Published Ca2+ chelators (EGTA, BAPTA) as ready-made species and binding reactions, and the
linearised steady Ca2+ profile of a point source in excess buffer.

Each buffer is a :class:`CaBuffer`: the free chelator and its Ca-bound form as
:class:`microsyn.Species`, the reversible binding :class:`~microsyn.reactions.spec.Reaction`
``Ca2+ + X <-> CaX`` with k_on [1/(mM ms)] and k_off [1/ms], and K_d = k_off / k_on [mM].

Charges
-------
The free chelators are written as the fully deprotonated tetra-anions (EGTA4-, BAPTA4-) and the
complexes as CaEGTA2- and CaBAPTA2-, so that ``Ca2+ + X4- <-> CaX2-`` conserves charge
(:meth:`Reaction.check_charge` passes). This is a modelling choice: near pH 7.2 much of the free
EGTA carries protons (its last two pK_a are above 8), and Ca2+ binding releases them; that proton
exchange is not modelled. The species are named ``"EGTA"``, ``"CaEGTA"``, ``"BAPTA"`` and
``"CaBAPTA"`` (valences -4, -2, -4, -2).

Numbers and their sources
-------------------------
==========  ===============  ========  ======================  ============
buffer      k_on [1/(M s)]   K_d [nM]  k_off = k_on K_d [1/s]  D [um^2/ms]
==========  ===============  ========  ======================  ============
EGTA        1.05e7           70        0.735                   0.22
BAPTA       4.0e8            220       88                      0.22
==========  ===============  ========  ======================  ============

The binding rates are those used by Naraghi M. & Neher E. (1997), "Linearized buffered Ca2+
diffusion in microdomains and its implications for calculation of [Ca2+] at the mouth of a
calcium channel", J. Neurosci. 17:6961-6973, doi:10.1523/JNEUROSCI.17-18-06961.1997; they are
attributed to the temperature-jump measurements of Naraghi M. (1997, Cell Calcium; volume and pages
not checked here).

Verification status (stated plainly, because the full texts could not be read while this module
was written): the paper's title, journal, pages and DOI were checked against its PubMed record.
The k_on values are as quoted for that paper and were not re-read in its tables. The K_d values
(EGTA 70 nM, BAPTA 220 nM) and the chelator diffusion coefficient 0.22 um^2/ms (220 um^2/s) are
the values commonly quoted from Naraghi & Neher (1997) in later modelling work, but they were NOT
checked against the paper's text; secondary sources agree in order of magnitude (BAPTA K_d about
0.2 uM; EGTA K_d about 60-70 nM near pH 7.2-7.4). The bound forms are given the same diffusion
coefficient as the free forms (the chelators are much heavier than Ca2+). D_water is set to the
same number as D_cytoplasm; no separate measurement in water is claimed. Check these numbers
against your own conditions (pH, temperature, ionic strength change K_d several-fold) and pass
your own with :class:`CaBuffer` or :class:`~microsyn.reactions.spec.Reaction` if they differ.

Example
-------
>>> from microsyn.reactions.buffers import ca_buffer, excess_buffer_profile, length_constant
>>> b = ca_buffer("BAPTA")
>>> b.reaction.equation
'Ca2+ + BAPTA <-> CaBAPTA'
>>> round(b.k_on, 6), round(b.k_off, 6), round(b.K_d_mM * 1e6)   # 1/(mM ms), 1/ms, nM
(400.0, 0.088, 220)
>>> round(length_constant(0.22, b.k_on, 1.0) * 1e3, 1)   # nm, 1 mM BAPTA, D_Ca 0.22 um^2/ms
23.5
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError, UnknownSpeciesError
from ..species import Species
from ..units import PARTICLES_PER_UM3_PER_MM, per_molar_per_second
from .spec import Reaction, _check_real

_NARAGHI_NEHER_1997 = (
    "Naraghi M. & Neher E. 1997, J. Neurosci. 17:6961-6973, doi:10.1523/JNEUROSCI.17-18-06961.1997 "
    "(k_on as quoted for it; K_d and D as commonly quoted from it; none re-checked against the "
    "paper's text, see microsyn.reactions.buffers)"
)


@dataclass(frozen=True)
class CaBuffer:
    """A Ca2+ chelator with one binding site: species, binding reaction and constants.

    Parameters
    ----------
    free, bound : Species
        The free chelator and its Ca2+ complex.
    reaction : Reaction
        ``Ca2+ + free <-> bound`` with rate ``k_on`` and reverse rate ``k_off``.
    k_on : float
        Binding rate constant [1/(mM ms)] (1e8 /(M s) = 100 /(mM ms)).
    k_off : float
        Unbinding rate constant [1/ms].
    K_d_mM : float
        Dissociation constant k_off / k_on [mM].
    reference : str
        Where the numbers come from, with their verification status.

    Raises
    ------
    ParameterError
        If the constants are not finite and positive, or disagree with each other or with the
        reaction (relative tolerance 1e-9), or the reaction does not conserve charge.
    """

    free: Species
    bound: Species
    reaction: Reaction
    k_on: float
    k_off: float
    K_d_mM: float
    reference: str

    def __post_init__(self):
        for attr, unit in (("k_on", "1/(mM ms)"), ("k_off", "1/ms"), ("K_d_mM", "mM")):
            object.__setattr__(self, attr, _check_real(f"CaBuffer.{attr}", getattr(self, attr),
                                                       unit, exc=ParameterError))
        if not isinstance(self.free, Species) or not isinstance(self.bound, Species):
            raise ParameterError("CaBuffer.free and .bound must be microsyn.Species")
        if not isinstance(self.reaction, Reaction):
            raise ParameterError("CaBuffer.reaction must be a microsyn Reaction")
        if not math.isclose(self.k_off, self.k_on * self.K_d_mM, rel_tol=1e-9):
            raise ParameterError(
                f"CaBuffer {self.free.name!r}: k_off ({self.k_off} /ms) must equal k_on * K_d_mM "
                f"({self.k_on * self.K_d_mM} /ms); give consistent constants")
        expect = (("Ca2+", self.free.name), (self.bound.name,), True)
        got = (self.reaction.reactants, self.reaction.products, self.reaction.reversible)
        if got != expect:
            raise ParameterError(
                f"CaBuffer {self.free.name!r}: the reaction must be 'Ca2+ + {self.free.name} <-> "
                f"{self.bound.name}', got {self.reaction.equation!r}")
        if not (math.isclose(self.reaction.rate, self.k_on, rel_tol=1e-9)
                and math.isclose(self.reaction.reverse_rate, self.k_off, rel_tol=1e-9)):
            raise ParameterError(
                f"CaBuffer {self.free.name!r}: the reaction's rates ({self.reaction.rate}, "
                f"{self.reaction.reverse_rate}) must be k_on and k_off ({self.k_on}, {self.k_off})")
        from ..species import STANDARD_SPECIES

        self.reaction.check_charge({"Ca2+": STANDARD_SPECIES["Ca2+"], self.free.name: self.free,
                                    self.bound.name: self.bound})


def _published(name: str, k_on_per_M_per_s: float, K_d_nM: float, D: float,
               reference: str) -> CaBuffer:
    free = Species(name, -4, D_water=D, D_cytoplasm=D, source=reference)
    bound = Species(f"Ca{name}", -2, D_water=D, D_cytoplasm=D, source=reference)
    k_on = per_molar_per_second(k_on_per_M_per_s)
    K_d = K_d_nM * 1e-6
    k_off = k_on * K_d
    reaction = Reaction(f"Ca2+ + {free.name} <-> {bound.name}", k_on, k_off)
    return CaBuffer(free, bound, reaction, k_on, k_off, K_d, reference)


#: The published buffers by name (see the module docstring for the numbers and their status).
BUFFERS: dict[str, CaBuffer] = {
    "EGTA": _published("EGTA", 1.05e7, 70.0, 0.22, _NARAGHI_NEHER_1997),
    "BAPTA": _published("BAPTA", 4.0e8, 220.0, 0.22, _NARAGHI_NEHER_1997),
}


def ca_buffer(name: str) -> CaBuffer:
    """The published buffer ``name`` (``"EGTA"`` or ``"BAPTA"``, any letter case).

    Raises
    ------
    UnknownSpeciesError
        For another name (the message lists the known ones).
    """
    if isinstance(name, str):
        for key, buf in BUFFERS.items():
            if name.strip().upper() == key:
                return buf
    raise UnknownSpeciesError(
        f"no published Ca2+ buffer named {name!r}; use one of {sorted(BUFFERS)}, or build your "
        f"own with CaBuffer(...) or Reaction('Ca2+ + X <-> CaX', k_on, k_off)")


def length_constant(D_Ca: float, k_on: float, B_free_mM: float) -> float:
    """Length constant [um] of Ca2+ buffering, lambda = sqrt(D_Ca / (k_on [B]_free)).

    Parameters
    ----------
    D_Ca : float
        Diffusion coefficient of free Ca2+ [um^2/ms].
    k_on : float
        Binding rate constant [1/(mM ms)]; 0 means no buffer.
    B_free_mM : float
        Free buffer concentration [mM]; 0 means no buffer.

    Returns
    -------
    float
        lambda [um]; ``inf`` when ``k_on * B_free_mM == 0``.

    References
    ----------
    Neher E. 1986, in *Calcium Electrogenesis and Neuronal Functioning* (Exp. Brain Res. Ser. 14),
    Springer, pp. 80-96; Naraghi M. & Neher E. 1997, J. Neurosci. 17:6961,
    doi:10.1523/JNEUROSCI.17-18-06961.1997.
    """
    D = _check_real("D_Ca", D_Ca, "um^2/ms", exc=ParameterError)
    k = _check_real("k_on", k_on, "1/(mM ms)", allow_zero=True, exc=ParameterError)
    B = _check_real("B_free_mM", B_free_mM, "mM", allow_zero=True, exc=ParameterError)
    rate = k * B
    return math.inf if rate == 0.0 else math.sqrt(D / rate)


def excess_buffer_profile(r, flux_ions_per_ms: float, D_Ca: float, k_on: float,
                          B_free_mM: float, c_rest_mM: float = 0.0):
    """Linearised steady [Ca2+] [mM] at distance r of a point source on a reflecting plane.

    c(r) = c_rest + sigma / (2 pi D_Ca r) * exp(-r / lambda), with sigma = flux / 602,214
    [mM um^3/ms] (the ions entering per ms, as an amount in mM um^3) and
    lambda = sqrt(D_Ca / (k_on [B]_free)) (:func:`length_constant`). The source sits on an
    impermeable membrane, so all ions spread into a half-space (hence 2 pi, not 4 pi). Valid
    for buffer in excess (not depleted near the source) and a steady state (after the
    sub-millisecond rise).

    Parameters
    ----------
    r : float or array_like
        Distance from the source [um], finite and > 0 (the profile diverges at the source).
    flux_ions_per_ms : float
        Ca2+ ions entering per ms, >= 0 (a current i [pA] carries
        ``microsyn.units.current_to_ion_rate(i, 2)`` ions per ms: 0.2 pA is 624 ions/ms).
    D_Ca : float
        Diffusion coefficient of free Ca2+ [um^2/ms], > 0.
    k_on : float
        Binding rate constant of the buffer [1/(mM ms)], >= 0.
    B_free_mM : float
        Free buffer concentration far from the source [mM], >= 0.
    c_rest_mM : float
        Resting [Ca2+] far away [mM], >= 0.

    Returns
    -------
    float or numpy.ndarray
        [Ca2+] [mM], a float for scalar ``r``.

    Raises
    ------
    ParameterError
        For a non-number, NaN, infinite or negative argument, or r <= 0.

    References
    ----------
    Neher E. 1986 (excess buffer approximation), in *Calcium Electrogenesis and Neuronal
    Functioning*, Exp. Brain Res. Ser. 14, pp. 80-96; Naraghi M. & Neher E. 1997, J. Neurosci.
    17:6961, doi:10.1523/JNEUROSCI.17-18-06961.1997; Smith G.D., Dai L., Miura R.M. &
    Sherman A. 2001, SIAM J. Appl. Math. 61:1816 (asymptotic analysis of the approximation).

    Example
    -------
    >>> from microsyn.units import current_to_ion_rate
    >>> c = excess_buffer_profile(0.020, current_to_ion_rate(0.2, 2), 0.22, 0.0, 0.0)
    >>> round(c * 1e3, 1)   # uM, 0.2 pA, 20 nm, no buffer
    37.5
    """
    flux = _check_real("flux_ions_per_ms", flux_ions_per_ms, "ions/ms", allow_zero=True,
                       exc=ParameterError)
    lam = length_constant(D_Ca, k_on, B_free_mM)
    D = float(D_Ca)
    c_rest = _check_real("c_rest_mM", c_rest_mM, "mM", allow_zero=True, exc=ParameterError)
    scalar = np.ndim(r) == 0
    if isinstance(r, (bool, np.bool_)) or isinstance(r, str):
        raise ParameterError(f"r must be distances > 0 [um], got {r!r}")
    try:
        rr = np.asarray(r, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"r must be distances > 0 [um], got {r!r}") from None
    if rr.dtype == object or not np.all(np.isfinite(rr)) or np.any(rr <= 0):
        raise ParameterError(
            f"r must be finite distances > 0 [um] (the profile diverges at the source), got {r!r}")
    sigma = flux / PARTICLES_PER_UM3_PER_MM
    c = c_rest + sigma / (2.0 * math.pi * D * rr) * np.exp(-rr / lam)
    return float(c) if scalar else c


__all__ = ["BUFFERS", "CaBuffer", "ca_buffer", "excess_buffer_profile", "length_constant"]
