"""microsyn.reactions.spec: the Reaction parser, its refusals, value semantics and charge check.

Ground truth: the grammar and rules written in the module docstring of ``microsyn.reactions.spec``
(exact string / tuple equality, no tolerance), and for rate units the conversion
1e8 /(M s) = 100 /(mM ms) (``microsyn.units.per_molar_per_second``, relative tolerance 1e-12).
"""
import copy
import doctest
import math
import pickle

import numpy as np
import pytest

import microsyn as ms
from microsyn.errors import ParameterError, ReactionError, UnknownSpeciesError
from microsyn.reactions import spec
from microsyn.reactions.spec import RATE_UNITS, Reaction
from microsyn.units import per_molar_per_second


# --- parsing --------------------------------------------------------------------------------
@pytest.mark.parametrize("text, reactants, products, reversible, canonical", [
    ("Ca2+ + BAPTA <-> CaBAPTA", ("Ca2+", "BAPTA"), ("CaBAPTA",), True, "Ca2+ + BAPTA <-> CaBAPTA"),
    ("Ca2+ + BAPTA<=>CaBAPTA", ("Ca2+", "BAPTA"), ("CaBAPTA",), True, "Ca2+ + BAPTA <-> CaBAPTA"),
    ("A->B", ("A",), ("B",), False, "A -> B"),
    ("A   =>   B", ("A",), ("B",), False, "A -> B"),
    ("  A  ->B  ", ("A",), ("B",), False, "A -> B"),
    ("Cl-->X", ("Cl-",), ("X",), False, "Cl- -> X"),
    ("Cl- + Na+ -> NaCl", ("Cl-", "Na+"), ("NaCl",), False, "Cl- + Na+ -> NaCl"),
    ("2 A -> C", ("A", "A"), ("C",), False, "A + A -> C"),
    ("A + A -> C", ("A", "A"), ("C",), False, "A + A -> C"),
    ("1 A -> B", ("A",), ("B",), False, "A -> B"),
    ("C -> 2 A", ("C",), ("A", "A"), False, "C -> A + A"),
    ("-> A", (), ("A",), False, "0 -> A"),
    ("0 -> A", (), ("A",), False, "0 -> A"),
    ("\u2205 -> A", (), ("A",), False, "0 -> A"),
    ("nothing -> A", (), ("A",), False, "0 -> A"),
    ("A -> ", ("A",), (), False, "A -> 0"),
    ("A -> 0", ("A",), (), False, "A -> 0"),
    ("CaM(4Ca) -> CaM(3Ca) + Ca2+", ("CaM(4Ca)",), ("CaM(3Ca)", "Ca2+"), False,
     "CaM(4Ca) -> CaM(3Ca) + Ca2+"),
])
def test_parse_reference_grammar(text, reactants, products, reversible, canonical):
    """Reference: the grammar in the spec module docstring (exact equality)."""
    r = Reaction(text, 1.0, 2.0 if reversible else None)
    assert r.reactants == reactants and r.products == products
    assert r.reversible is reversible and r.order == len(reactants)
    assert r.equation == canonical and r.name == canonical
    # the canonical text parses back to the same reaction
    assert Reaction(r.equation, 1.0, 2.0 if reversible else None) == r


def test_coefficient_expansion_equals_written_out_sum():
    """Reference: the plan's rule '2 A -> C' == 'A + A -> C' (value equality and equal hashes)."""
    a, b = Reaction("2 A -> C", 3.0), Reaction("A + A -> C", 3.0)
    assert a == b and hash(a) == hash(b)
    assert {a, b} == {a}


def test_species_and_order():
    r = Reaction("Ca2+ + BAPTA <-> CaBAPTA", 400.0, 0.088)
    assert r.species() == {"Ca2+", "BAPTA", "CaBAPTA"}
    assert Reaction("2 A -> B", 1.0).species() == {"A", "B"}
    assert Reaction("0 -> A", 1.0).order == 0 and Reaction("A -> B", 1.0).order == 1


# --- refusals -------------------------------------------------------------------------------
@pytest.mark.parametrize("text, fragment", [
    (None, "must be a string"),
    (42, "must be a string"),
    (["A", "->", "B"], "must be a string"),
    ("A + B", "no arrow"),
    ("A = B", "no arrow"),
    ("A -> B -> C", "2 arrows"),
    ("A <-> B -> C", "2 arrows"),
    ("A -> B >", "stray"),
    ("A + B + C -> D", "at most 2"),
    ("A -> B + C + D", "at most 2"),
    ("3 A -> B", "at most 2"),
    ("2 A + B -> C", "at most 2"),
    ("1000000000 A -> B", "at most 2"),
    ("0 A -> B", "coefficient 0"),
    ("2A -> B", "'2 A'"),
    ("A+B -> C", "' + '"),
    ("Ca BAPTA -> X", "whitespace"),
    ("A + -> B", "dangling"),
    ("+ A -> B", "dangling"),
    ("A + 0 -> B", "alone"),
    ("A$ -> B", "not a species name"),
    ("A -> A", "changes nothing"),
    ("A + B -> B + A", "changes nothing"),
    ("->", "no species"),
    ("0 -> nothing", "no species"),
])
def test_bad_equation_raises_reaction_error(text, fragment):
    """Reference: the refusals listed in the plan; each message names what to change."""
    with pytest.raises(ReactionError) as e:
        Reaction(text, 1.0)
    assert fragment in str(e.value)
    assert isinstance(e.value, ParameterError)  # callers catching ParameterError/ValueError keep working


@pytest.mark.parametrize("rate", [0.0, -1.0, math.nan, math.inf, -math.inf, True, False, "1.0",
                                  None, [1.0], 1 + 0j])
def test_bad_forward_rate_raises(rate):
    with pytest.raises(ReactionError, match=r"rate must be a finite number > 0 \[1/ms\]"):
        Reaction("A -> B", rate)


@pytest.mark.parametrize("order_text, unit", [("0 -> A", "mM/ms"), ("A -> B", "1/ms"),
                                              ("A + B -> C", "1/(mM ms)")])
def test_rate_error_names_the_unit_of_the_order(order_text, unit):
    """Reference: the rate-unit table of the module docstring (zeroth mM/ms, first 1/ms,
    second 1/(mM ms))."""
    assert RATE_UNITS == {0: "mM/ms", 1: "1/ms", 2: "1/(mM ms)"}
    with pytest.raises(ReactionError) as e:
        Reaction(order_text, -1.0)
    assert f"[{unit}]" in str(e.value)


@pytest.mark.parametrize("rev", [0.0, -0.1, math.nan, math.inf, True, "0.088"])
def test_bad_reverse_rate_raises_in_units_of_the_products(rev):
    with pytest.raises(ReactionError, match=r"reverse_rate must be a finite number > 0 \[1/ms\]"):
        Reaction("Ca2+ + BAPTA <-> CaBAPTA", 400.0, rev)
    with pytest.raises(ReactionError, match=r"reverse_rate .*\[1/\(mM ms\)\]"):
        Reaction("C <-> A + B", 1.0, rev)


def test_reversible_needs_reverse_rate_and_irreversible_refuses_one():
    with pytest.raises(ReactionError, match="give reverse_rate"):
        Reaction("A <-> B", 1.0)
    with pytest.raises(ReactionError, match="write '<->'"):
        Reaction("A -> B", 1.0, 2.0)


def test_numpy_scalars_are_accepted_as_rates():
    r = Reaction("A <-> B", np.float64(2.5), np.int64(3))
    assert r.rate == 2.5 and r.reverse_rate == 3.0
    assert type(r.rate) is float and type(r.reverse_rate) is float


@pytest.mark.parametrize("radius", [-0.001, 0.0, math.nan, math.inf, True, "0.002"])
def test_bad_radius_raises(radius):
    with pytest.raises(ReactionError, match=r"radius must be a finite number > 0 \[um\]"):
        Reaction("A + B -> C", 1.0, radius=radius)


def test_radius_only_where_two_particles_meet_or_split():
    assert Reaction("A + B -> C", 1.0, radius=0.002).radius == 0.002
    assert Reaction("C -> A + B", 1.0, radius=0.002).radius == 0.002   # placement radius
    assert Reaction("C <-> A + B", 1.0, 2.0, radius=0.002).radius == 0.002
    for text in ("A -> B", "0 -> A", "A -> 0"):
        with pytest.raises(ReactionError, match="drop radius"):
            Reaction(text, 1.0, radius=0.002)


def test_region_only_for_irreversible_zeroth_order():
    ball = ms.Sphere((0, 0, 0), 0.1)
    r = Reaction("0 -> Ca2+", 1e-3, region=ball)
    assert r.region is ball and r.order == 0
    assert Reaction("0 -> A", 1.0, region=ms.Domain(ms.Sphere((0, 0, 0), 0.2))).region is not None
    with pytest.raises(ReactionError, match="zeroth-order"):
        Reaction("A -> B", 1.0, region=ball)
    with pytest.raises(ReactionError, match="reversible production"):
        Reaction("0 <-> A", 1.0, 1.0, region=ball)
    with pytest.raises(ReactionError, match="Shape or Domain"):
        Reaction("0 -> A", 1.0, region=(0, 0, 0))


@pytest.mark.parametrize("name", ["", "   ", 3, b"bytes"])
def test_bad_name_raises(name):
    with pytest.raises(ReactionError, match="name must be a non-empty string"):
        Reaction("A -> B", 1.0, name=name)


# --- value semantics ------------------------------------------------------------------------
def test_immutable():
    r = Reaction("A -> B", 1.0)
    for attr in ("rate", "reactants", "name", "new_attr"):
        with pytest.raises(AttributeError, match="immutable"):
            setattr(r, attr, 2.0)
    with pytest.raises(AttributeError):
        del r.rate
    assert r.rate == 1.0


def test_equality_and_hash_by_value():
    a = Reaction("A + B <-> C", 1.0, 2.0, radius=0.003)
    assert a == Reaction("A+B <=> C".replace("+", " + "), 1.0, 2.0, radius=0.003)
    assert hash(a) == hash(Reaction("A + B <-> C", 1.0, 2.0, radius=0.003))
    for other in (Reaction("A + B <-> C", 1.5, 2.0, radius=0.003),
                  Reaction("A + B <-> C", 1.0, 2.5, radius=0.003),
                  Reaction("A + B <-> C", 1.0, 2.0),
                  Reaction("A + B <-> C", 1.0, 2.0, radius=0.003, name="bind"),
                  Reaction("A + B -> C", 1.0, radius=0.003),
                  Reaction("B + A <-> C", 1.0, 2.0, radius=0.003)):   # order as written counts
        assert a != other
    assert a != "A + B <-> C" and (a == "x") is False


def test_repr_is_readable():
    r = Reaction("Ca2+ + BAPTA <-> CaBAPTA", 400.0, 0.088, name="BAPTA binding", radius=0.002)
    text = repr(r)
    assert text == ("Reaction('Ca2+ + BAPTA <-> CaBAPTA', rate=400.0, reverse_rate=0.088, "
                    "name='BAPTA binding', radius=0.002)")
    assert repr(Reaction("A=>B", 0.5)) == "Reaction('A -> B', rate=0.5)"


def test_pickle_and_copy_round_trip():
    """Reactions travel in checkpoints (pickle) and copies unchanged."""
    ball = ms.Sphere((0, 0, 0), 0.1, name="src")
    for r in (Reaction("Ca2+ + BAPTA <-> CaBAPTA", 400.0, 0.088, radius=0.002),
              Reaction("0 -> A", 1.0, name="make A")):
        assert pickle.loads(pickle.dumps(r)) == r
        assert copy.copy(r) == r and copy.deepcopy(r) == r
    r = Reaction("0 -> A", 1.0, region=ball)
    back = pickle.loads(pickle.dumps(r))
    assert back.region.name == "src" and back.equation == r.equation


# --- irreversible steps ---------------------------------------------------------------------
def test_irreversible_splits_a_reversible_reaction():
    r = Reaction("Ca2+ + BAPTA <-> CaBAPTA", 400.0, 0.088, radius=0.002)
    fwd, rev = r.irreversible()
    assert (fwd.reactants, fwd.products, fwd.rate, fwd.reversible) == (("Ca2+", "BAPTA"), ("CaBAPTA",), 400.0, False)
    assert (rev.reactants, rev.products, rev.rate, rev.reversible) == (("CaBAPTA",), ("Ca2+", "BAPTA"), 0.088, False)
    assert fwd.name == r.name and rev.name == f"{r.name} (reverse)"
    assert fwd.radius == rev.radius == 0.002
    assert fwd.order == 2 and rev.order == 1
    single = Reaction("A -> B", 1.0)
    assert single.irreversible() == [single]


def test_irreversible_of_reversible_production_and_decay():
    fwd, rev = Reaction("0 <-> A", 0.5, 2.0).irreversible()
    assert fwd.equation == "0 -> A" and rev.equation == "A -> 0" and rev.rate == 2.0


# --- from_species ---------------------------------------------------------------------------
def test_from_species_matches_text():
    ca = ms.get_species("Ca2+")
    a = Reaction.from_species([ca, "BAPTA"], ["CaBAPTA"], 400.0, 0.088, radius=0.002)
    assert a == Reaction("Ca2+ + BAPTA <-> CaBAPTA", 400.0, 0.088, radius=0.002)
    assert Reaction.from_species("A", "B", 1.0) == Reaction("A -> B", 1.0)
    assert Reaction.from_species([], ["A"], 1.0).equation == "0 -> A"
    assert Reaction.from_species(("A", "A"), (), 1.0).equation == "A + A -> 0"


@pytest.mark.parametrize("reactants, fragment", [
    (["A", "B", "C"], "at most 2"),
    (["Ca BAPTA"], "whitespace"),
    ([3], "must be a string"),
    (7, "list of species"),
    (["2A"], "'2 A'"),
])
def test_from_species_refuses_bad_lists(reactants, fragment):
    with pytest.raises(ReactionError) as e:
        Reaction.from_species(reactants, ["X"], 1.0)
    assert fragment in str(e.value)


# --- charge ---------------------------------------------------------------------------------
def test_check_charge_passes_when_conserved():
    r = Reaction("Ca2+ + BAPTA <-> CaBAPTA", 400.0, 0.088)
    r.check_charge({"Ca2+": 2, "BAPTA": -4, "CaBAPTA": -2})
    r.check_charge({"Ca2+": ms.get_species("Ca2+"),
                    "BAPTA": ms.Species("BAPTA", -4, 0.22, 0.22),
                    "CaBAPTA": ms.Species("CaBAPTA", -2, 0.22, 0.22)})
    Reaction("2 A -> B", 1.0).check_charge({"A": -1, "B": -2})
    for step in r.irreversible():
        step.check_charge({"Ca2+": 2, "BAPTA": -4, "CaBAPTA": -2})


def test_check_charge_names_both_totals_and_the_species():
    r = Reaction("Ca2+ + BAPTA -> CaBAPTA", 400.0)
    with pytest.raises(ReactionError) as e:
        r.check_charge({"Ca2+": 2, "BAPTA": -4, "CaBAPTA": 0})
    msg = str(e.value)
    assert "-2" in msg and "+0" in msg
    assert "Ca2+ +2" in msg and "BAPTA -4" in msg and "CaBAPTA +0" in msg
    with pytest.raises(ReactionError, match=r"products \+1 \(A \+1\)"):
        Reaction("0 -> A", 1.0).check_charge({"A": 1})


def test_check_charge_unknown_species():
    r = Reaction("Ca2+ + BAPTA -> CaBAPTA", 400.0)
    with pytest.raises(UnknownSpeciesError, match="'CaBAPTA'"):
        r.check_charge({"Ca2+": 2, "BAPTA": -4})
    with pytest.raises(ReactionError, match="whole number"):
        r.check_charge({"Ca2+": 2, "BAPTA": -4.5, "CaBAPTA": -2})


# --- units and documentation ----------------------------------------------------------------
def test_literature_rate_conversion():
    """Reference: 1e8 /(M s) = 100 /(mM ms) (rel. 1e-12); BAPTA's 4e8 /(M s) is 400 /(mM ms)."""
    assert per_molar_per_second(1e8) == pytest.approx(100.0, rel=1e-12)
    r = Reaction("Ca2+ + BAPTA -> CaBAPTA", per_molar_per_second(4e8))
    assert r.rate == pytest.approx(400.0, rel=1e-12)


def test_module_docstring_examples_run():
    """Reference: the doctest examples in microsyn.reactions.spec (exact output)."""
    result = doctest.testmod(spec, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8 and result.failed == 0
