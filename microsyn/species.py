"""Species: ions, transmitters and buffers with valence, diffusion coefficients and concentrations.

The standard table (:data:`STANDARD_SPECIES`) holds Na+, K+, Cl- and Ca2+.

Sources for the numbers
-----------------------
Diffusion coefficients in water at 25 C (infinite dilution), in um^2/ms (= 1e-9 m^2/s):
Na+ 1.334, K+ 1.957, Cl- 2.032, Ca2+ 0.792 (Hille B., *Ion Channels of Excitable Membranes*,
3rd ed. 2001, Table 14.1; Vanysek P., "Ionic conductivity and diffusion at infinite dilution",
CRC Handbook of Chemistry and Physics).

Cytoplasmic defaults: small monovalent ions diffuse about half as fast in cytoplasm as in water
(Kushmerick M.J. & Podolsky R.J. 1969, Science 166:1297, doi:10.1126/science.166.3910.1297),
so Na+, K+ and Cl- use 0.5 x the water value. Free Ca2+ in cytosol: 0.223 um^2/ms
(Allbritton N.L., Meyer T. & Stryer L. 1992, Science 258:1812, doi:10.1126/science.1465619).

Concentrations (mammalian neuron, mM; Hille 2001, Table 1.1, rounded as in teaching texts):
Na+ 12 in / 145 out; K+ 140 in / 5 out; Cl- 7 in / 110 out; Ca2+ 1e-4 in / 2 out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .errors import ParameterError, UnknownSpeciesError


@dataclass(frozen=True)
class Species:
    """An immutable description of a diffusing species.

    Parameters
    ----------
    name : str
        Unique name, e.g. ``"Na+"``.
    valence : int
        Charge number z (``+1`` for Na+, ``-1`` for Cl-, ``0`` for a neutral transmitter).
    D_water : float
        Diffusion coefficient in water [um^2/ms].
    D_cytoplasm : float
        Diffusion coefficient used by default in the cytoplasm [um^2/ms].
    c_in : float
        Standard intracellular concentration [mM].
    c_out : float
        Standard extracellular concentration [mM].
    source : str
        Where the numbers come from.

    Example
    -------
    >>> glu = Species("glutamate", valence=-1, D_water=0.76, D_cytoplasm=0.33, c_in=10.0, c_out=0.0)
    >>> glu.D_cytoplasm
    0.33
    """

    name: str
    valence: int
    D_water: float
    D_cytoplasm: float
    c_in: float = 0.0
    c_out: float = 0.0
    source: str = field(default="user-defined", compare=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ParameterError(f"a species needs a non-empty name, got {self.name!r}")
        if isinstance(self.valence, bool) or not isinstance(self.valence, (int,)) and not (
            isinstance(self.valence, float) and float(self.valence).is_integer()
        ):
            raise ParameterError(
                f"species {self.name!r}: valence must be a whole number (e.g. +1, -1, 2), "
                f"got {self.valence!r}"
            )
        object.__setattr__(self, "valence", int(self.valence))
        for attr in ("D_water", "D_cytoplasm"):
            v = getattr(self, attr)
            if not isinstance(v, (int, float)) or math.isnan(v) or math.isinf(v) or v <= 0:
                raise ParameterError(
                    f"species {self.name!r}: {attr} must be a finite positive diffusion "
                    f"coefficient in um^2/ms, got {v!r}"
                )
            object.__setattr__(self, attr, float(v))
        for attr in ("c_in", "c_out"):
            v = getattr(self, attr)
            if not isinstance(v, (int, float)) or math.isnan(v) or math.isinf(v) or v < 0:
                raise ParameterError(
                    f"species {self.name!r}: {attr} must be a finite concentration >= 0 in mM, "
                    f"got {v!r}"
                )
            object.__setattr__(self, attr, float(v))

    def D(self, medium: str = "cytoplasm") -> float:
        """Diffusion coefficient [um^2/ms] in ``"cytoplasm"`` or ``"water"``."""
        if medium == "cytoplasm":
            return self.D_cytoplasm
        if medium == "water":
            return self.D_water
        raise ParameterError(f"medium must be 'cytoplasm' or 'water', got {medium!r}")


_HILLE = "Hille 2001 (Ion Channels of Excitable Membranes, 3rd ed.)"

#: The four standard ions. D_cytoplasm: Kushmerick & Podolsky 1969 (0.5 x water) for Na+, K+,
#: Cl-; Allbritton et al. 1992 for free Ca2+.
STANDARD_SPECIES: dict[str, Species] = {
    "Na+": Species("Na+", +1, 1.334, 0.667, c_in=12.0, c_out=145.0, source=_HILLE),
    "K+": Species("K+", +1, 1.957, 0.979, c_in=140.0, c_out=5.0, source=_HILLE),
    "Cl-": Species("Cl-", -1, 2.032, 1.016, c_in=7.0, c_out=110.0, source=_HILLE),
    "Ca2+": Species("Ca2+", +2, 0.792, 0.223, c_in=1e-4, c_out=2.0, source=_HILLE),
}

_ALIASES = {"na": "Na+", "k": "K+", "cl": "Cl-", "ca": "Ca2+", "ca++": "Ca2+", "ca2": "Ca2+"}


def get_species(name_or_species) -> Species:
    """Look up a standard species by name (``"Na+"``, ``"K+"``, ``"Cl-"``, ``"Ca2+"``).

    A :class:`Species` instance is returned unchanged. Raises :class:`UnknownSpeciesError`
    listing the known names otherwise.
    """
    if isinstance(name_or_species, Species):
        return name_or_species
    if isinstance(name_or_species, str):
        if name_or_species in STANDARD_SPECIES:
            return STANDARD_SPECIES[name_or_species]
        key = name_or_species.strip().lower().rstrip("+-")
        if key in _ALIASES:
            return STANDARD_SPECIES[_ALIASES[key]]
    raise UnknownSpeciesError(
        f"unknown species {name_or_species!r}; use one of {sorted(STANDARD_SPECIES)} or define "
        f"it with microsyn.Species(name, valence, D_water, D_cytoplasm, c_in, c_out)"
    )


class SpeciesTable:
    """An ordered set of species used by one simulation; maps names to integer indices.

    Example
    -------
    >>> t = SpeciesTable(["Na+", "K+"])
    >>> t.index("K+")
    1
    """

    def __init__(self, species: Iterable = ()):
        self._list: list[Species] = []
        self._index: dict[str, int] = {}
        for s in species:
            self.add(s)

    def add(self, species) -> int:
        """Add a species (name of a standard one, or a :class:`Species`); return its index."""
        sp = get_species(species)
        if sp.name in self._index:
            if self._list[self._index[sp.name]] != sp:
                raise ParameterError(
                    f"a different species named {sp.name!r} is already in this table; "
                    f"give the new one another name"
                )
            return self._index[sp.name]
        if len(self._list) >= 32767:
            raise ParameterError("at most 32767 species per simulation")
        self._index[sp.name] = len(self._list)
        self._list.append(sp)
        return self._index[sp.name]

    def index(self, name_or_species) -> int:
        """Index of a species in this table."""
        name = name_or_species.name if isinstance(name_or_species, Species) else name_or_species
        if name not in self._index:
            try:
                name = get_species(name).name
            except UnknownSpeciesError:
                pass
        if name not in self._index:
            raise UnknownSpeciesError(
                f"species {name_or_species!r} is not in this simulation; known: "
                f"{list(self._index)}. Add it with Simulation.add_species()"
            )
        return self._index[name]

    def __getitem__(self, key) -> Species:
        if isinstance(key, int):
            return self._list[key]
        return self._list[self.index(key)]

    def __contains__(self, name) -> bool:
        try:
            self.index(name)
            return True
        except UnknownSpeciesError:
            return False

    def __len__(self) -> int:
        return len(self._list)

    def __iter__(self):
        return iter(self._list)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self._list]

    def as_mapping(self) -> Mapping[str, Species]:
        return dict(zip(self.names, self._list))
