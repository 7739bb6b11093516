"""A reaction as chemistry: reactants, products and rate constants in base units.

:class:`Reaction` parses an equation written as text (``"Ca2+ + BAPTA <-> CaBAPTA"``). The parser
reads the text as data only (a small tokenizer; nothing is evaluated), and every malformed
equation or rate raises :class:`~microsyn.errors.ReactionError` saying what to change.

Equations
---------
- Arrows: ``->`` or ``=>`` (irreversible), ``<->`` or ``<=>`` (reversible). Whitespace around the
  arrow is optional (``"A->B"`` is ``"A -> B"``).
- Terms are separated by a ``+`` with whitespace on both sides, because species names may end
  in ``+`` or ``-`` (``"Ca2+ + BAPTA"``, ``"Cl- + X"``).
- A whole-number coefficient, separated from the name by a space, expands: ``"2 A -> C"`` is
  ``"A + A -> C"``. ``"2A"`` is refused (it reads as a name starting with a digit).
- An empty side, ``0``, ``∅`` or ``nothing`` means no species (``"0 -> A"`` is production,
  ``"A -> 0"`` decay).
- At most 2 reactants and 2 products after expansion (elementary reactions only).
- Species names start with a letter or ``_``, hold letters, digits and ``_ . : ' ( ) [ ]``, and
  may end in one or more ``+`` or ``-`` (a charge), e.g. ``Ca2+``, ``Cl-``, ``CaM(4Ca)``.

Rate units
----------
Rates are in the base units of their order (the order of the reverse rate is the number of
products):

==========  ==================  ===============  ==============================================
order       example             unit             conversion
==========  ==================  ===============  ==============================================
zeroth      ``0 -> A``          [mM/ms]          molecules per um^3 per ms = rate * 602,214
first       ``A -> B``          [1/ms]           1 /s = 1e-3 /ms
second      ``A + B -> C``      [1/(mM ms)]      1e8 /(M s) = 100 /(mM ms)
==========  ==================  ===============  ==============================================

A second-order constant from the literature in /(M s) converts with
:func:`microsyn.units.per_molar_per_second`: BAPTA binds Ca2+ at 4e8 /(M s) = 400 /(mM ms).
The rate at which one given pair of molecules reacts is k / 602,214 [um^3/ms]
(:func:`microsyn.units.pair_rate_um3_per_ms`).

Example
-------
>>> from microsyn.reactions.spec import Reaction
>>> r = Reaction("Ca2+ + BAPTA <-> CaBAPTA", rate=400.0, reverse_rate=0.088)
>>> r.reactants, r.products, r.order, r.reversible
(('Ca2+', 'BAPTA'), ('CaBAPTA',), 2, True)
>>> [x.name for x in r.irreversible()]
['Ca2+ + BAPTA <-> CaBAPTA', 'Ca2+ + BAPTA <-> CaBAPTA (reverse)']
>>> r.irreversible()[1].equation
'CaBAPTA -> Ca2+ + BAPTA'
>>> r.check_charge({"Ca2+": 2, "BAPTA": -4, "CaBAPTA": -2})
>>> Reaction("2 A -> C", rate=1.0) == Reaction("A + A -> C", rate=1.0)
True
"""
from __future__ import annotations

import math
import numbers
import re
from typing import Mapping

from ..errors import ReactionError, UnknownSpeciesError

#: the unit of a rate constant by reaction order
RATE_UNITS = {0: "mM/ms", 1: "1/ms", 2: "1/(mM ms)"}

_ARROWS = {"->": False, "=>": False, "<->": True, "<=>": True}
_ARROW_RE = re.compile(r"<->|<=>|->|=>")
_TERM_SEP_RE = re.compile(r"\s+\+\s+")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.:'()\[\]]*[+-]*\Z")
_COEFF_RE = re.compile(r"(\d+)\s+(\S+)\Z")
_EMPTY = {"", "0", "\u2205", "\u00d8", "nothing"}
_MAX_SIDE = 2


def _check_real(name: str, value, unit: str, *, allow_zero: bool = False, exc=ReactionError) -> float:
    """``float(value)`` after checking it is a real number (not a bool or a string), finite and
    > 0 (or >= 0 with ``allow_zero``); raises ``exc`` saying what to give otherwise."""
    need = ">= 0" if allow_zero else "> 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise exc(f"{name} must be a finite number {need} [{unit}], got {value!r} "
                  f"({type(value).__name__})")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise exc(f"{name} must be a finite number {need} [{unit}], got {v!r}")
    return v


def _check_name(name, where: str) -> str:
    if not isinstance(name, str):
        raise ReactionError(f"{where}: a species name must be a string, got {name!r}")
    if any(c.isspace() for c in name):
        raise ReactionError(
            f"{where}: species name {name!r} contains whitespace; a name is one word (write "
            f"'CaBAPTA', not 'Ca BAPTA'), and terms are separated by ' + ' with spaces on both sides")
    if not _NAME_RE.match(name):
        hint = ""
        if name[:1].isdigit():
            hint = " (write a coefficient with a space, e.g. '2 A', not '2A')"
        elif "+" in name.rstrip("+-") or "-" in name.rstrip("+-"):
            hint = (" (separate terms with ' + ' with spaces on both sides, e.g. 'Ca2+ + BAPTA'; "
                    "+ and - may only end a name)")
        raise ReactionError(
            f"{where}: {name!r} is not a species name: start with a letter or '_', use letters, "
            f"digits and _ . : ' ( ) [ ], and end with + or - for a charge{hint}")
    return name


def _parse_side(text: str, which: str, equation: str) -> tuple[str, ...]:
    where = f"reaction {equation!r}, {which}"
    side = text.strip()
    if side in _EMPTY:
        return ()
    if side == "+" or side.startswith("+ ") or side.endswith(" +"):
        raise ReactionError(f"{where}: a dangling '+' in {side!r}; write terms as 'A + B'")
    names: list[str] = []
    for term in _TERM_SEP_RE.split(side):
        term = term.strip()
        if term in _EMPTY:
            raise ReactionError(
                f"{where}: {term or 'an empty term'!r} among other terms; write an empty side "
                f"alone as '0' (e.g. '0 -> A'), and separate terms with ' + '")
        m = _COEFF_RE.match(term)
        if m:
            n = int(m.group(1))
            if n == 0:
                raise ReactionError(f"{where}: coefficient 0 in {term!r}; drop the term instead")
            name = _check_name(m.group(2), where)
            names.extend([name] * min(n, _MAX_SIDE + 1))
        else:
            names.append(_check_name(term, where))
        if len(names) > _MAX_SIDE:
            raise ReactionError(
                f"{where} {side!r} has more than {_MAX_SIDE} species after expanding "
                f"coefficients; at most {_MAX_SIDE} are allowed (elementary reactions only): split "
                f"it into steps, e.g. 'A + B -> AB' and 'AB + C -> ABC'")
    return tuple(names)


def _parse(equation) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    if not isinstance(equation, str):
        raise ReactionError(
            f"a reaction equation must be a string such as 'A + B -> C', got {equation!r}")
    arrows = list(_ARROW_RE.finditer(equation))
    if not arrows:
        raise ReactionError(
            f"reaction {equation!r} has no arrow; write '->' (irreversible) or '<->' "
            f"(reversible) between reactants and products, e.g. 'Ca2+ + BAPTA <-> CaBAPTA'")
    if len(arrows) > 1:
        raise ReactionError(
            f"reaction {equation!r} has {len(arrows)} arrows "
            f"({', '.join(repr(a.group()) for a in arrows)}); write one reaction per Reaction")
    a = arrows[0]
    left, right = equation[: a.start()], equation[a.end():]
    for side in (left, right):
        stray = set(side) & set("<>=")
        if stray:
            raise ReactionError(
                f"reaction {equation!r}: stray {''.join(sorted(stray))!r} outside the arrow; "
                f"use one of '->', '=>', '<->', '<=>'")
    reactants = _parse_side(left, "left side", equation)
    products = _parse_side(right, "right side", equation)
    return reactants, products, _ARROWS[a.group()]


def _side_text(names: tuple[str, ...]) -> str:
    return " + ".join(names) if names else "0"


class Reaction:
    """An elementary reaction with rate constants in base units; immutable.

    Parameters
    ----------
    equation : str
        The reaction as text, e.g. ``"Ca2+ + BAPTA <-> CaBAPTA"`` (see the module docstring for
        the grammar). ``<->`` / ``<=>`` make it reversible and then need ``reverse_rate``.
    rate : float
        Forward rate constant in the units of the order (number of reactants): zeroth [mM/ms],
        first [1/ms], second [1/(mM ms)]. Finite and > 0.
    reverse_rate : float or None
        Rate constant of products -> reactants, in the units of the number of products; required
        for a reversible arrow, refused for an irreversible one.
    name : str, optional
        A label for counts and results; default the canonical equation.
    radius : float, optional
        Binding radius [um] for a reaction that joins two particles (``A + B -> C``), which is
        also the placement radius of its reverse (``C -> A + B``); None lets
        :mod:`microsyn.reactions.binding` choose it. Only for reactions with two reactants or two
        products.
    region : Shape or Domain, optional
        Zeroth-order (production) reactions only: where production happens; None = the whole
        domain. An irreversible reaction only (the decay of a reversible one would not be
        confined to the region).

    Attributes
    ----------
    reactants, products : tuple of str
        Species names as written, coefficients expanded (``"2 A"`` -> ``("A", "A")``).
    order : int
        Number of reactants (0, 1 or 2).
    reversible : bool
    equation : str
        Canonical text: terms joined by ``" + "``, ``"0"`` for an empty side, arrow ``->`` or
        ``<->``.

    Raises
    ------
    ReactionError
        For a malformed equation or a bad rate, radius, region or name (the message says what to
        change).

    Example
    -------
    >>> Reaction("A=>B", rate=0.5)
    Reaction('A -> B', rate=0.5)
    >>> Reaction("0 -> Ca2+", rate=1e-3).order
    0
    """

    __slots__ = ("reactants", "products", "rate", "reverse_rate", "name", "radius", "region",
                 "order", "reversible", "equation")

    def __init__(self, equation: str, rate: float, reverse_rate: float | None = None, *,
                 name: str | None = None, radius: float | None = None, region=None):
        reactants, products, reversible = _parse(equation)
        canonical = f"{_side_text(reactants)} {'<->' if reversible else '->'} {_side_text(products)}"
        if not reactants and not products:
            raise ReactionError(
                f"reaction {equation!r} has no species on either side; name the reactants or "
                f"the products")
        if sorted(reactants) == sorted(products):
            raise ReactionError(
                f"reaction {equation!r} has the same species on both sides, so it changes "
                f"nothing; remove it or correct the products")
        order = len(reactants)
        rate_v = _check_real(f"reaction {canonical!r}: rate", rate, RATE_UNITS[order])
        if reversible:
            if reverse_rate is None:
                raise ReactionError(
                    f"reaction {canonical!r} is reversible but has no reverse_rate; give "
                    f"reverse_rate [{RATE_UNITS[len(products)]}] or write '->' for an "
                    f"irreversible reaction")
            rev_v = _check_real(f"reaction {canonical!r}: reverse_rate", reverse_rate,
                                RATE_UNITS[len(products)])
        else:
            if reverse_rate is not None:
                raise ReactionError(
                    f"reaction {canonical!r} is irreversible ('->') but was given "
                    f"reverse_rate={reverse_rate!r}; write '<->' to make it reversible, or drop "
                    f"reverse_rate")
            rev_v = None
        if name is None:
            name = canonical
        elif not isinstance(name, str) or not name.strip():
            raise ReactionError(
                f"reaction {canonical!r}: name must be a non-empty string, got {name!r}")
        if radius is not None:
            if order != 2 and len(products) != 2:
                raise ReactionError(
                    f"reaction {canonical!r}: radius is only for a reaction that joins or splits "
                    f"two particles (two reactants or two products); drop radius={radius!r}")
            radius = _check_real(f"reaction {canonical!r}: radius", radius, "um")
        if region is not None:
            from ..geometry import Domain, Shape

            if order != 0:
                raise ReactionError(
                    f"reaction {canonical!r}: region is only for zeroth-order (production) "
                    f"reactions such as '0 -> A'; drop region for a reaction of order {order}")
            if reversible:
                raise ReactionError(
                    f"reaction {canonical!r}: a reversible production reaction cannot have a "
                    f"region (its decay would act everywhere); write it as two reactions, "
                    f"'0 -> A' with the region and 'A -> 0'")
            if not isinstance(region, (Shape, Domain)):
                raise ReactionError(
                    f"reaction {canonical!r}: region must be a microsyn Shape or Domain (e.g. "
                    f"microsyn.Sphere(...)), got {region!r}")
        for attr, value in (("reactants", reactants), ("products", products), ("rate", rate_v),
                            ("reverse_rate", rev_v), ("name", name), ("radius", radius),
                            ("region", region), ("order", order), ("reversible", reversible),
                            ("equation", canonical)):
            object.__setattr__(self, attr, value)

    # --- immutability, value semantics ------------------------------------------------------
    def __setattr__(self, attr, value):
        raise AttributeError(f"Reaction is immutable; make a new one instead of setting {attr!r}")

    def __delattr__(self, attr):
        raise AttributeError(f"Reaction is immutable; cannot delete {attr!r}")

    def __reduce__(self):
        return (_rebuild, (self.equation, self.rate, self.reverse_rate, self.name, self.radius,
                           self.region))

    def _key(self):
        return (self.reactants, self.products, self.reversible, self.rate, self.reverse_rate,
                self.name, self.radius, self.region)

    def __eq__(self, other):
        if not isinstance(other, Reaction):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        parts = [repr(self.equation), f"rate={self.rate!r}"]
        if self.reverse_rate is not None:
            parts.append(f"reverse_rate={self.reverse_rate!r}")
        if self.name != self.equation:
            parts.append(f"name={self.name!r}")
        if self.radius is not None:
            parts.append(f"radius={self.radius!r}")
        if self.region is not None:
            parts.append(f"region={self.region!r}")
        return f"Reaction({', '.join(parts)})"

    # --- queries -----------------------------------------------------------------------------
    def irreversible(self) -> list["Reaction"]:
        """The reaction as irreversible steps: ``[self]``, or ``[forward, reverse]`` for a
        reversible one. The forward step keeps the name, the reverse is named
        ``f"{name} (reverse)"``; both carry ``radius`` (the binding radius of the joining step
        is the placement radius of the splitting one)."""
        if not self.reversible:
            return [self]
        fwd = Reaction(f"{_side_text(self.reactants)} -> {_side_text(self.products)}", self.rate,
                       name=self.name, radius=self.radius, region=self.region)
        rev = Reaction(f"{_side_text(self.products)} -> {_side_text(self.reactants)}",
                       self.reverse_rate, name=f"{self.name} (reverse)", radius=self.radius)
        return [fwd, rev]

    def species(self) -> set[str]:
        """The names of all species taking part (reactants and products)."""
        return set(self.reactants) | set(self.products)

    def check_charge(self, valence: Mapping) -> None:
        """Check that the reaction conserves charge.

        Parameters
        ----------
        valence : mapping
            Species name -> valence (an int), or -> an object with a ``valence`` attribute such
            as :class:`microsyn.Species` (e.g. ``SpeciesTable.as_mapping()``).

        Raises
        ------
        UnknownSpeciesError
            A species of the reaction is not in ``valence``.
        ReactionError
            The total valence of the reactants differs from that of the products.
        """
        def z(name):
            if name not in valence:
                raise UnknownSpeciesError(
                    f"reaction {self.equation!r}: species {name!r} has no valence in the mapping "
                    f"(known: {sorted(valence)}); add it, e.g. with Simulation.add_species()")
            v = valence[name]
            v = getattr(v, "valence", v)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                if not (isinstance(v, numbers.Real) and float(v).is_integer()):
                    raise ReactionError(
                        f"reaction {self.equation!r}: the valence of {name!r} must be a whole "
                        f"number, got {v!r}")
            return int(v)

        zr = [(n, z(n)) for n in self.reactants]
        zp = [(n, z(n)) for n in self.products]
        total_r, total_p = sum(v for _, v in zr), sum(v for _, v in zp)
        if total_r != total_p:
            def fmt(items):
                return ", ".join(f"{n} {v:+d}" for n, v in items) or "none"

            raise ReactionError(
                f"reaction {self.equation!r} does not conserve charge: the reactants carry total "
                f"valence {total_r:+d} ({fmt(zr)}) but the products {total_p:+d} ({fmt(zp)}); "
                f"correct the species or their valences")

    @classmethod
    def from_species(cls, reactants, products, rate: float, reverse_rate: float | None = None,
                     **kw) -> "Reaction":
        """Build a reaction from lists of species (names or :class:`microsyn.Species`) rather
        than text; reversible when ``reverse_rate`` is given. Other keywords as the constructor.

        Example
        -------
        >>> Reaction.from_species(["Ca2+", "BAPTA"], ["CaBAPTA"], 400.0, 0.088).equation
        'Ca2+ + BAPTA <-> CaBAPTA'
        """
        def names(items, which) -> tuple[str, ...]:
            if isinstance(items, str) or hasattr(items, "valence"):
                items = [items]
            try:
                items = list(items)
            except TypeError:
                raise ReactionError(
                    f"{which} must be a list of species names, got {items!r}") from None
            out = tuple(_check_name(getattr(s, "name", s), which) for s in items)
            if len(out) > _MAX_SIDE:
                raise ReactionError(
                    f"{which}: {len(out)} species; at most {_MAX_SIDE} are allowed (elementary "
                    f"reactions only): split it into steps")
            return out

        r, p = names(reactants, "reactants"), names(products, "products")
        arrow = "->" if reverse_rate is None else "<->"
        return cls(f"{_side_text(r)} {arrow} {_side_text(p)}", rate, reverse_rate, **kw)


def _rebuild(equation, rate, reverse_rate, name, radius, region) -> Reaction:
    """Unpickle a :class:`Reaction` (it is immutable, so it is rebuilt through the constructor)."""
    return Reaction(equation, rate, reverse_rate, name=name, radius=radius, region=region)


__all__ = ["RATE_UNITS", "Reaction"]
