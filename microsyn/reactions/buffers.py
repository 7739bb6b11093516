"""Published Ca2+ chelators (EGTA, BAPTA) and Ca2+-binding proteins (calbindin-D28k, parvalbumin)
as ready-made species and binding reactions, and the linearised steady Ca2+ profile of a point
source in excess buffer.

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

Proteins with several sites
---------------------------
A :class:`BufferProtein` is a molecule with several independent (non-cooperative) Ca2+ sites.
Each kind of site is a one-site :class:`CaBuffer` of its own, a *site population* whose total is
``sites_per_molecule`` times the concentration of the protein, with its own free and bound
species. For independent sites with one diffusion coefficient for every form of the protein
this describes the occupancy of every site exactly; what it leaves out is which sites share a
molecule (it cannot say how many molecules carry 0, 1, 2, ... ions, only how many sites are
occupied). Ions other than Ca2+ that compete for the same sites are :class:`Competitor`
reactions (``Mg2+ + PV <-> MgPV``); at equilibrium the fraction of such sites with Ca2+ is
(Ca/K_Ca) / (1 + Ca/K_Ca + Mg/K_Mg) (:meth:`BufferProtein.equilibrium`). Look them up with
:func:`ca_protein` (``"calbindin"``, ``"parvalbumin"``), or :func:`published_buffer` for any
published name.

- **calbindin** (calbindin-D28k): 2 high-affinity sites per molecule (``"CBH"`` free,
  ``"CaCBH"`` occupied) and 2 medium-affinity sites (``"CBM"``, ``"CaCBM"``).
- **parvalbumin**: 2 Ca2+/Mg2+ sites per molecule (``"PV"`` free, ``"CaPV"``, ``"MgPV"``), with
  free Mg2+ as a species ``"Mg2+"`` (valence +2; kept as a lattice field by
  :meth:`~microsyn.presynaptic.Terminal.add_buffer`, uniform at 0.59 mM at the start).

Charges of the proteins (a modelling choice, as for EGTA and BAPTA): every free site is written
as a divalent anion (valence -2) and every occupied site as neutral (0), so that each binding
step, ``Ca2+ + X2- <-> CaX`` and ``Mg2+ + PV2- <-> MgPV``, conserves charge. The proteins' real
net charges (they are acidic, with many charged residues besides the sites) are not modelled;
the valences serve the bookkeeping of each reaction only.

==================  ============  ==============  ===========  ===========  ============
site (reaction)     per molecule  k_on [1/(M s)]  k_off [1/s]  K_d          D [um^2/ms]
==================  ============  ==============  ===========  ===========  ============
calbindin, high     2             1.1e7           2.6          236 nM       0.028
calbindin, medium   2             8.7e7           35.8         411 nM       0.028
parvalbumin, Ca2+   2             1.07e8          0.95         8.9 nM       0.043
parvalbumin, Mg2+   (same sites)  8.0e5           25           31 uM        0.043
==================  ============  ==============  ===========  ===========  ============

K_d is k_off / k_on throughout (236.4 nM, 411.5 nM, 8.88 nM, 31.25 uM). Free [Mg2+]: 0.59 mM.
Mg2+: D_water 0.705 um^2/ms, D_cytoplasm 0.35 um^2/ms.

Sources, and how each number was checked (the full texts of the papers could not be read while
this was written; the checks below are against abstracts, a reproduced table and third-party
model code, and are stated as such):

- Calbindin: Naegerl U.V., Novo D., Mody I. & Vergara J.L. 2000, "Binding kinetics of
  calbindin-D28k determined by flash photolysis of caged Ca2+", Biophys. J. 79:3009-3018,
  PubMed 11106608 (journal, volume, pages and PubMed ID as given on the physiome.org page of the
  CellML version of the paper's model; the paper itself not read). Four non-cooperative sites, 2
  high- and 2 medium-affinity, k_off 2.6 /s and 35.8 /s: as tabulated, with this paper as the
  source, in Table 2 of Schmidt et al. 2003 (below; read through the copy of that table on
  neuroelectro.org), and the same k_off in a NEURON implementation of that model (Stiefel's
  ``ca_dynamics.mod``: 0.26e-2 and 3.58e-2 /ms); four Ca2+ per molecule also by mass
  spectrometry (Veenstra et al. 1997, abstract read). k_on 1.1e7 and 8.7e7 /(M s): found in one
  third-party table (a STEPS model, github.com/RomanKoshkin/CNU, with k_off 2.607 and 35.76 /s,
  i.e. K_d 237 and 411 nM), NOT checked against the paper. Beware: Schmidt et al. 2003's Table 2
  lists half of each (0.55e7 and 4.35e7 /(M s), with the same k_off, so K_d 474 and 822 nM) and
  attributes them to the same paper; the reason was not found here. D 0.028 um^2/ms is the
  value of that NEURON implementation of the Schmidt et al. model (``Dcbd1``), chosen because
  it is the one value found tied to that paper's model; it lies in the 0.02-0.03 um^2/ms range
  commonly quoted for calbindin in neurons (not checked here), but the entry of Schmidt et al.'s
  own table could not be read, so it is not checked against the paper.
- Parvalbumin: Lee S.-H., Schwaller B. & Neher E. 2000, "Kinetics of Ca2+ binding to parvalbumin
  in bovine chromaffin cells: implications for [Ca2+] transients of neuronal dendrites",
  J. Physiol. 525:419-432 (abstract read on PubMed Central, PMC2269947; volume and pages as
  quoted, not checked). The abstract gives k_off(Ca) = 0.95 +- 0.026 /s and an apparent K_d of
  51.4 +- 2.0 nM for an assumed free [Mg2+] of 0.14 mM; the constants here give
  K_Ca (1 + [Mg]/K_Mg) = 48.7 nM at 0.14 mM, 5 % lower (checked in the tests). k_on(Ca)
  1.07e8 /(M s) (K_d 9 nM), k_off(Mg) 25 /s, K_d(Mg) 31 uM (attributed there to Eberhard &
  Erne 1994), k_on(Mg) 0.8e6 /(M s), two sites per molecule and free [Mg2+] 0.59 mM
  ("calculated, held constant"): Table 2 of Schmidt H., Stiefel K.M., Racay P., Schwaller B. &
  Eilers J. 2003, "Mutational analysis of dendritic Ca2+ kinetics in rodent Purkinje cells: role
  of parvalbumin and calbindin D28k", J. Physiol. 551:13-32 (title, authors and table read
  through neuroelectro.org; volume and pages as quoted, not checked), and the same numbers in two
  NEURON mechanisms built on that model (Stiefel's ``ca_dynamics.mod``, and a packaged copy of
  the ``cdp5`` mechanism of Anwar, Hong & De Schutter 2010, Cerebellum: 1.07e2 /(mM ms),
  9.5e-4 /ms, 0.8 /(mM ms), 2.5e-2 /ms, 0.59 mM). D 0.043 um^2/ms: Schmidt H., Brown E.B., Schwaller B. & Eilers J. 2003,
  Biophys. J. 84:2599-2608 (abstract read: 43 um^2/s, interquartile range 34-56, by two-photon
  FRAP in spiny dendrites of Purkinje cells), the value used in the J. Physiol. model (``Dpar``).
  A later FRAP study found about 12 um^2/s in Purkinje-cell axons, 3 times less than in dendrites
  (doi:10.1111/j.1471-4159.2006.04231.x, abstract read), so D in a presynaptic terminal may be
  several times lower than 0.043. Eggermann E. & Jonas P. 2012 (Nat. Neurosci. 15(1), pages not
  checked, "How the 'slow' Ca2+ buffer parvalbumin affects transmitter release in
  nanodomain-coupling regimes") used parvalbumin in nanodomain models; their constants were not
  read here (one third-party implementation labelled as following them uses k_on 4e8 and
  1e6 /(M s), k_off 4 and 30 /s for Ca2+ and Mg2+, at room temperature).
- Mg2+: D_water 0.705 um^2/ms (0.705e-9 m^2/s, the infinite-dilution value of the phreeqc
  database as tabulated by aqion; 0.70 in a textbook table computed from limiting ionic
  conductivities). D_cytoplasm is half of it, the rule :mod:`microsyn.species` uses for small
  ions (Kushmerick & Podolsky 1969): an assumption for Mg2+, not a measurement. Schmidt et al. held [Mg2+] constant; here it is a
  diffusing species, so it changes where parvalbumin takes up or lets go of Mg2+.

Temperatures, pH and ionic strength are those of the original measurements (not checked here);
no temperature correction is applied. The forms of a protein are given the protein's D (Ca2+
binding hardly changes its size). As for EGTA and BAPTA, pass your own numbers with
:class:`BufferProtein` if they differ.

Example
-------
>>> from microsyn.reactions.buffers import ca_buffer, ca_protein, excess_buffer_profile, length_constant
>>> b = ca_buffer("BAPTA")
>>> b.reaction.equation
'Ca2+ + BAPTA <-> CaBAPTA'
>>> round(b.k_on, 6), round(b.k_off, 6), round(b.K_d_mM * 1e6)   # 1/(mM ms), 1/ms, nM
(400.0, 0.088, 220)
>>> round(length_constant(0.22, b.k_on, 1.0) * 1e3, 1)   # nm, 1 mM BAPTA, D_Ca 0.22 um^2/ms
23.5
>>> pv = ca_protein("parvalbumin")
>>> [r.equation for r in pv.reactions]
['Ca2+ + PV <-> CaPV', 'Mg2+ + PV <-> MgPV']
>>> rest = pv.equilibrium(0.1, ca_mM=5e-5)   # 0.1 mM PV at 50 nM Ca2+ and 0.59 mM Mg2+
>>> {k: round(v * 1e3, 1) for k, v in rest.items()}   # uM of sites
{'PV': 7.8, 'CaPV': 44.1, 'MgPV': 148.0}
>>> cb = ca_protein("calbindin-D28k")
>>> cb.n_sites, [round(s.K_d_mM * 1e6, 1) for s in cb.sites]   # K_d [nM]
(4, [236.4, 411.5])
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
    hint = ""
    if _protein_key(name) is not None:
        hint = f" ({name!r} is a protein with several sites: use ca_protein({name!r}))"
    raise UnknownSpeciesError(
        f"no published Ca2+ buffer named {name!r}{hint}; use one of {sorted(BUFFERS)}, or build "
        f"your own with CaBuffer(...) or Reaction('Ca2+ + X <-> CaX', k_on, k_off)")


# ------------------------------------------------------------------ proteins with several sites
@dataclass(frozen=True)
class Competitor:
    """Another ion binding the sites of one site population of a protein (Mg2+ on parvalbumin).

    Parameters
    ----------
    ion : Species
        The competing ion (e.g. ``Mg2+``).
    bound : Species
        The site with that ion bound (e.g. ``MgPV``).
    reaction : Reaction
        ``ion + site <-> bound``, where ``site`` is the free form of one site population of the
        protein, with rate ``k_on`` and reverse rate ``k_off``.
    k_on : float
        Binding rate constant [1/(mM ms)].
    k_off : float
        Unbinding rate constant [1/ms].
    K_d_mM : float
        k_off / k_on [mM].
    free_mM : float
        The usual free concentration of the ion in cytoplasm [mM] (the default at rest).
    reference : str
        Where the numbers come from, with their verification status.

    Raises
    ------
    ParameterError
        If the constants are not finite and positive or disagree (relative tolerance 1e-9), or
        the reaction is not ``ion + site <-> bound`` with these rates.
    """

    ion: Species
    bound: Species
    reaction: Reaction
    k_on: float
    k_off: float
    K_d_mM: float
    free_mM: float
    reference: str

    def __post_init__(self):
        for attr, unit in (("k_on", "1/(mM ms)"), ("k_off", "1/ms"), ("K_d_mM", "mM"),
                           ("free_mM", "mM")):
            object.__setattr__(self, attr, _check_real(f"Competitor.{attr}", getattr(self, attr),
                                                       unit, exc=ParameterError))
        if not isinstance(self.ion, Species) or not isinstance(self.bound, Species):
            raise ParameterError("Competitor.ion and .bound must be microsyn.Species")
        if not isinstance(self.reaction, Reaction):
            raise ParameterError("Competitor.reaction must be a microsyn Reaction")
        r = self.reaction
        if not (r.reversible and len(r.reactants) == 2 and r.reactants[0] == self.ion.name
                and r.products == (self.bound.name,)):
            raise ParameterError(
                f"Competitor {self.ion.name!r}: the reaction must be '{self.ion.name} + <site> <-> "
                f"{self.bound.name}', got {r.equation!r}")
        if not math.isclose(self.k_off, self.k_on * self.K_d_mM, rel_tol=1e-9):
            raise ParameterError(
                f"Competitor {self.ion.name!r}: k_off ({self.k_off} /ms) must equal k_on * K_d_mM "
                f"({self.k_on * self.K_d_mM} /ms); give consistent constants")
        if not (math.isclose(r.rate, self.k_on, rel_tol=1e-9)
                and math.isclose(r.reverse_rate, self.k_off, rel_tol=1e-9)):
            raise ParameterError(
                f"Competitor {self.ion.name!r}: the reaction's rates ({r.rate}, {r.reverse_rate}) "
                f"must be k_on and k_off ({self.k_on}, {self.k_off})")

    @property
    def site(self) -> str:
        """The name of the free site this ion binds."""
        return self.reaction.reactants[1]


@dataclass(frozen=True)
class BufferProtein:
    """A Ca2+-binding protein with independent sites, as site populations (see the module
    docstring, "Proteins with several sites").

    Parameters
    ----------
    name : str
        The protein's name (``"calbindin"``).
    sites : tuple of CaBuffer
        One one-site buffer per kind of site; their free and bound species must all differ.
    sites_per_molecule : tuple of int
        How many sites of each kind one molecule carries (>= 1 each).
    competitors : tuple of Competitor
        Other ions binding some of the sites (default none); each binds the free form of one of
        ``sites``, and the reaction must conserve charge.
    reference : str
        Where the numbers come from.

    Raises
    ------
    ParameterError
        For an empty or malformed ``sites``, counts that are not whole numbers >= 1, repeated
        species names, a competitor for a site the protein does not have, or a reaction that does
        not conserve charge.
    """

    name: str
    sites: tuple
    sites_per_molecule: tuple
    competitors: tuple = ()
    reference: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ParameterError(f"BufferProtein.name must be a non-empty string, got {self.name!r}")
        sites = tuple(self.sites) if isinstance(self.sites, (tuple, list)) else (self.sites,)
        if not sites or not all(isinstance(b, CaBuffer) for b in sites):
            raise ParameterError(
                f"BufferProtein {self.name!r}: sites must be one or more CaBuffer (one per kind of "
                f"site), got {self.sites!r}")
        counts = (tuple(self.sites_per_molecule) if isinstance(self.sites_per_molecule, (tuple, list))
                  else (self.sites_per_molecule,))
        if len(counts) != len(sites) or any(isinstance(n, bool) or not isinstance(n, int) or n < 1
                                            for n in counts):
            raise ParameterError(
                f"BufferProtein {self.name!r}: sites_per_molecule must be one whole number >= 1 per "
                f"kind of site ({len(sites)}), got {self.sites_per_molecule!r}")
        comps = self.competitors
        comps = tuple(comps) if isinstance(comps, (tuple, list)) else (comps,)
        if not all(isinstance(c, Competitor) for c in comps):
            raise ParameterError(f"BufferProtein {self.name!r}: competitors must be Competitor, got "
                                 f"{self.competitors!r}")
        names = [sp.name for b in sites for sp in (b.free, b.bound)] + [c.bound.name for c in comps]
        if len(set(names)) != len(names) or "Ca2+" in names:
            raise ParameterError(
                f"BufferProtein {self.name!r}: every site form needs its own species name (and none "
                f"may be 'Ca2+'), got {names}")
        free = {b.free.name: b.free for b in sites}
        for c in comps:
            if c.site not in free:
                raise ParameterError(
                    f"BufferProtein {self.name!r}: competitor {c.reaction.equation!r} binds "
                    f"{c.site!r}, which is not a free site of the protein ({sorted(free)})")
            if c.ion.name in names or c.ion.name == "Ca2+":
                raise ParameterError(f"BufferProtein {self.name!r}: the competing ion {c.ion.name!r} "
                                     f"cannot be Ca2+ or a form of the protein")
            c.reaction.check_charge({c.ion.name: c.ion, c.site: free[c.site], c.bound.name: c.bound})
        object.__setattr__(self, "sites", sites)
        object.__setattr__(self, "sites_per_molecule", counts)
        object.__setattr__(self, "competitors", comps)

    @property
    def n_sites(self) -> int:
        """Ca2+ sites per molecule."""
        return int(sum(self.sites_per_molecule))

    @property
    def species(self) -> tuple:
        """Every form of every site (free, Ca-bound, bound to a competitor), then the competing
        ions, as :class:`microsyn.Species`."""
        out = [sp for b in self.sites for sp in (b.free, b.bound)] + [c.bound for c in self.competitors]
        for c in self.competitors:
            if c.ion not in out:
                out.append(c.ion)
        return tuple(out)

    @property
    def reactions(self) -> tuple:
        """The binding reactions: Ca2+ on each site population, then each competitor's."""
        return tuple(b.reaction for b in self.sites) + tuple(c.reaction for c in self.competitors)

    @property
    def ions(self) -> dict:
        """The competing ions' usual free concentrations [mM] by name (``{"Mg2+": 0.59}``)."""
        return {c.ion.name: c.free_mM for c in self.competitors}

    def _free_ions(self, free_mM) -> dict:
        ions = self.ions
        if free_mM is None:
            return ions
        if not isinstance(free_mM, dict):
            raise ParameterError(f"free_mM must be a dict of ion name -> free concentration [mM] "
                                 f"(e.g. {ions or {'Mg2+': 0.5}}), got {free_mM!r}")
        for k, v in free_mM.items():
            if k not in ions:
                raise ParameterError(f"{self.name} has no sites for {k!r}; the competing ions are "
                                     f"{sorted(ions) or 'none'}")
            ions[k] = _check_real(f"free [{k}]", v, "mM", allow_zero=True, exc=ParameterError)
        return ions

    def equilibrium(self, total_mM: float, ca_mM: float, free_mM: dict | None = None) -> dict:
        """The concentrations [mM] of every site form at equilibrium with free Ca2+ at ``ca_mM``
        and the competing ions at ``free_mM`` (a dict by ion name; default :attr:`ions`), for
        ``total_mM`` of the protein: sites of one kind total ``n * total_mM``, split as
        1 : Ca/K_Ca : c_j/K_j (free : Ca-bound : bound to ion j). The ions themselves are not in
        the result.

        Raises
        ------
        ParameterError
            For a negative or non-finite concentration, or an ion the protein has no sites for.
        """
        B = _check_real("total_mM", total_mM, "mM", allow_zero=True, exc=ParameterError)
        ca = _check_real("ca_mM", ca_mM, "mM", allow_zero=True, exc=ParameterError)
        ions = self._free_ions(free_mM)
        out = {}
        for b, n in zip(self.sites, self.sites_per_molecule):
            comps = [c for c in self.competitors if c.site == b.free.name]
            ratios = [ca / b.K_d_mM] + [ions[c.ion.name] / c.K_d_mM for c in comps]
            free = n * B / (1.0 + sum(ratios))
            out[b.free.name] = free
            out[b.bound.name] = free * ratios[0]
            for c, x in zip(comps, ratios[1:]):
                out[c.bound.name] = free * x
        return out

    def ca_bound_fraction(self, ca_mM: float, free_mM: dict | None = None) -> float:
        """The fraction of all the protein's sites holding Ca2+ at equilibrium with free Ca2+ at
        ``ca_mM`` (and the competing ions at ``free_mM``, default :attr:`ions`)."""
        eq = self.equilibrium(1.0, ca_mM, free_mM)
        return sum(eq[b.bound.name] for b in self.sites) / self.n_sites


def _site(free_name: str, k_on_per_M_per_s: float, k_off_per_s: float, D: float,
          reference: str) -> CaBuffer:
    """One site population: the free site (valence -2) and the Ca-bound site (0), see the module
    docstring; K_d = k_off / k_on."""
    free = Species(free_name, -2, D_water=D, D_cytoplasm=D, source=reference)
    bound = Species(f"Ca{free_name}", 0, D_water=D, D_cytoplasm=D, source=reference)
    k_on = per_molar_per_second(k_on_per_M_per_s)
    k_off = k_off_per_s * 1e-3
    reaction = Reaction(f"Ca2+ + {free.name} <-> {bound.name}", k_on, k_off)
    return CaBuffer(free, bound, reaction, k_on, k_off, k_off / k_on, reference)


_NAEGERL_2000 = (
    "Naegerl U.V., Novo D., Mody I. & Vergara J.L. 2000, Biophys. J. 79:3009-3018 (4 sites, 2 high "
    "and 2 medium affinity, and k_off as tabulated from it by Schmidt et al. 2003, J. Physiol.; k_on "
    "from a third-party table only, half of it in Schmidt et al.'s; D 0.028 um^2/ms from a NEURON "
    "implementation of Schmidt et al.'s model; none checked against the paper's text, see "
    "microsyn.reactions.buffers)"
)
_LEE_2000 = (
    "Lee S.-H., Schwaller B. & Neher E. 2000, J. Physiol. 525:419-432 (k_off(Ca) 0.95 /s checked "
    "in its abstract); K_d(Ca) 9 nM, Mg2+ k_off 25 /s and K_d 31 uM, 2 sites and free Mg2+ 0.59 mM as "
    "tabulated by Schmidt et al. 2003, J. Physiol. 551:13; D 0.043 um^2/ms: Schmidt et al. 2003, "
    "Biophys. J. 84:2599 (abstract); see microsyn.reactions.buffers"
)
_MG_SOURCE = ("Mg2+: D_water 0.705 um^2/ms (infinite dilution, phreeqc database as tabulated by aqion); "
              "D_cytoplasm 0.5 x water, an assumption (see microsyn.reactions.buffers)")

#: free Mg2+ (valence +2) as the competitor of parvalbumin's sites
MG = Species("Mg2+", 2, D_water=0.705, D_cytoplasm=0.35, c_in=0.59, source=_MG_SOURCE)
#: the resting free [Mg2+] [mM] of Schmidt et al. 2003 (held constant there)
MG_FREE_MM = 0.59


def _calbindin() -> BufferProtein:
    D = 0.028
    return BufferProtein("calbindin", (_site("CBH", 1.1e7, 2.6, D, _NAEGERL_2000),
                                       _site("CBM", 8.7e7, 35.8, D, _NAEGERL_2000)),
                         (2, 2), (), _NAEGERL_2000)


def _parvalbumin() -> BufferProtein:
    D = 0.043
    site = _site("PV", 1.07e8, 0.95, D, _LEE_2000)
    mgpv = Species("MgPV", 0, D_water=D, D_cytoplasm=D, source=_LEE_2000)
    k_on, k_off = per_molar_per_second(8.0e5), 25.0e-3
    mg = Competitor(MG, mgpv, Reaction("Mg2+ + PV <-> MgPV", k_on, k_off), k_on, k_off, k_off / k_on,
                    MG_FREE_MM, _LEE_2000)
    return BufferProtein("parvalbumin", (site,), (2,), (mg,), _LEE_2000)


#: The published proteins by name (see the module docstring for the numbers and their status).
PROTEINS: dict[str, BufferProtein] = {"calbindin": _calbindin(), "parvalbumin": _parvalbumin()}

_PROTEIN_ALIASES = {"calbindin": "calbindin", "calbindin-d28k": "calbindin", "calbindin d28k": "calbindin",
                    "calbindind28k": "calbindin", "cb": "calbindin", "cb-d28k": "calbindin",
                    "parvalbumin": "parvalbumin", "pv": "parvalbumin"}


def _protein_key(name):
    if isinstance(name, str):
        return _PROTEIN_ALIASES.get(" ".join(name.strip().lower().split()))
    return None


def ca_protein(name: str) -> BufferProtein:
    """The published protein ``name``: ``"calbindin"`` (also ``"calbindin-D28k"``, ``"CB"``) or
    ``"parvalbumin"`` (also ``"PV"``), any letter case.

    Raises
    ------
    UnknownSpeciesError
        For another name (the message lists the known ones).
    """
    key = _protein_key(name)
    if key is not None:
        return PROTEINS[key]
    hint = ""
    if isinstance(name, str) and name.strip().upper() in BUFFERS:
        hint = f" ({name!r} is a one-site chelator: use ca_buffer({name!r}))"
    raise UnknownSpeciesError(
        f"no published Ca2+-binding protein named {name!r}{hint}; use one of {sorted(PROTEINS)}, or "
        f"build your own with BufferProtein(...)")


def published_buffer(name: str):
    """The published chelator (:func:`ca_buffer`: a :class:`CaBuffer`) or protein
    (:func:`ca_protein`: a :class:`BufferProtein`) named ``name``.

    Raises
    ------
    UnknownSpeciesError
        For another name (the message lists all the known ones).
    """
    if isinstance(name, str) and name.strip().upper() in BUFFERS:
        return ca_buffer(name)
    if _protein_key(name) is not None:
        return ca_protein(name)
    raise UnknownSpeciesError(
        f"no published Ca2+ buffer named {name!r}; use one of {sorted(BUFFERS) + sorted(PROTEINS)}, "
        f"or build your own with CaBuffer(...) (one site) or BufferProtein(...) (several)")


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


__all__ = ["BUFFERS", "BufferProtein", "CaBuffer", "Competitor", "MG", "MG_FREE_MM", "PROTEINS", "ca_buffer",
           "ca_protein", "excess_buffer_profile", "length_constant", "published_buffer"]
