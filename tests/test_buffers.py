"""microsyn.reactions.buffers: published Ca2+ chelators and the excess-buffer point-source profile.

Ground truth: the numbers quoted for Naraghi & Neher 1997 (J. Neurosci. 17:6961,
doi:10.1523/JNEUROSCI.17-18-06961.1997) in the module docstring (EGTA k_on 1.05e7 /(M s), K_d 70 nM;
BAPTA k_on 4e8 /(M s), K_d 220 nM; D 0.22 um^2/ms), compared at relative tolerance 1e-12; and
for the profile, an independent evaluation of c = I / (2 F) / (2 pi D r) * exp(-r / lambda) in SI
units (relative tolerance 1e-9), plus the hand values 37.5 uM (0.2 pA, 20 nm, D 0.22 um^2/ms,
no buffer; 0.1 %) and lambda = 23.5 nm (1 mM BAPTA; 0.5 %).
"""
import dataclasses
import doctest
import math

import numpy as np
import pytest

import microsyn as ms
from microsyn.errors import ParameterError, UnknownSpeciesError
from microsyn.reactions import buffers
from microsyn.reactions.buffers import (BUFFERS, CaBuffer, ca_buffer, excess_buffer_profile,
                                        length_constant)
from microsyn.reactions.spec import Reaction
from microsyn.units import current_to_ion_rate

FARADAY = 96485.33212  # C/mol (CODATA 2018, exact N_A e)


@pytest.mark.parametrize("name, k_on_M_s, K_d_M, D", [("EGTA", 1.05e7, 70e-9, 0.22),
                                                       ("BAPTA", 4.0e8, 220e-9, 0.22)])
def test_published_constants_in_base_units(name, k_on_M_s, K_d_M, D):
    """Reference: the table of the module docstring, converted by hand: 1 /(M s) = 1e-6 /(mM ms),
    1 M = 1e3 mM, 1 /s = 1e-3 /ms (rel. 1e-12)."""
    b = ca_buffer(name)
    assert b.k_on == pytest.approx(k_on_M_s * 1e-6, rel=1e-12)
    assert b.K_d_mM == pytest.approx(K_d_M * 1e3, rel=1e-12)
    assert b.k_off == pytest.approx(k_on_M_s * K_d_M * 1e-3, rel=1e-12)   # k_off [1/s] -> [1/ms]
    assert b.reaction.rate == b.k_on and b.reaction.reverse_rate == b.k_off
    assert b.free.D_cytoplasm == b.bound.D_cytoplasm == D
    assert "10.1523/JNEUROSCI.17-18-06961.1997" in b.reference and "re-checked" in b.reference


def test_bapta_reverse_rate_matches_the_shared_plan_example():
    """Reference: the plan's example Reaction('Ca2+ + BAPTA <-> CaBAPTA', rate=400.0,
    reverse_rate=0.088) (rel. 1e-12)."""
    r = ca_buffer("BAPTA").reaction
    assert r.equation == "Ca2+ + BAPTA <-> CaBAPTA"
    assert r.rate == pytest.approx(400.0, rel=1e-12) and r.reverse_rate == pytest.approx(0.088, rel=1e-12)


@pytest.mark.parametrize("name", ["EGTA", "BAPTA"])
def test_species_and_charges_conserve(name):
    """Reference: Ca2+ (+2) + X4- -> CaX2- conserves charge (the documented choice)."""
    b = ca_buffer(name)
    assert (b.free.name, b.free.valence) == (name, -4)
    assert (b.bound.name, b.bound.valence) == (f"Ca{name}", -2)
    table = ms.SpeciesTable(["Ca2+", b.free, b.bound])
    b.reaction.check_charge(table.as_mapping())
    assert b.reaction.species() == {"Ca2+", name, f"Ca{name}"}
    assert b.reaction.reactants == ("Ca2+", name) and b.reaction.products == (f"Ca{name}",)


def test_lookup_and_registry():
    assert set(BUFFERS) == {"EGTA", "BAPTA"}
    assert ca_buffer("egta") is BUFFERS["EGTA"] and ca_buffer(" Bapta ") is BUFFERS["BAPTA"]
    for bad in ("fura-2", "", None, 3):
        with pytest.raises(UnknownSpeciesError, match="EGTA"):
            ca_buffer(bad)


def test_cabuffer_is_frozen_and_checks_consistency():
    b = ca_buffer("BAPTA")
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.k_on = 1.0
    with pytest.raises(ParameterError, match="k_off"):
        dataclasses.replace(b, k_off=1.0)
    with pytest.raises(ParameterError, match="reaction's rates"):
        dataclasses.replace(b, reaction=Reaction("Ca2+ + BAPTA <-> CaBAPTA", 1.0, 1.0 * b.K_d_mM))
    with pytest.raises(ParameterError, match="must be 'Ca2\\+ \\+ BAPTA <-> CaBAPTA'"):
        dataclasses.replace(b, reaction=Reaction("Ca2+ + EGTA <-> CaEGTA", b.k_on, b.k_off))
    with pytest.raises(ParameterError, match="k_on must be a finite number > 0"):
        dataclasses.replace(b, k_on=-1.0)
    with pytest.raises(ParameterError, match="conserve charge"):
        dataclasses.replace(b, bound=ms.Species("CaBAPTA", 0, 0.22, 0.22))
    own = CaBuffer(b.free, b.bound, Reaction("Ca2+ + BAPTA <-> CaBAPTA", 500.0, 0.1), 500.0, 0.1,
                   0.1 / 500.0, "my lab, pH 7.4")
    assert own.K_d_mM == pytest.approx(2e-4, rel=1e-12)


# --- length constant and profile ------------------------------------------------------------
def test_length_constant_of_1mM_bapta_is_23_nm():
    """Reference: lambda = sqrt(D / (k_on B)) in SI: D = 0.22e-9 m^2/s, k_on = 4e8 /(M s) =
    4e5 m^3/(mol s), B = 1 mol/m^3 -> 23.45 nm (rel. 1e-9); Naraghi & Neher's ~23 nm (0.5 nm)."""
    lam_si = math.sqrt(0.22e-9 / (4e8 * 1e-3 * 1.0))
    lam = length_constant(0.22, ca_buffer("BAPTA").k_on, 1.0)
    assert lam * 1e-6 == pytest.approx(lam_si, rel=1e-9)
    assert abs(lam * 1e3 - 23.0) < 1.0
    # EGTA is 38x slower: lambda = 23.45 nm * sqrt(400 / 10.5) = 145 nm at 1 mM
    assert length_constant(0.22, ca_buffer("EGTA").k_on, 1.0) == pytest.approx(
        lam * math.sqrt(400.0 / 10.5), rel=1e-12)
    assert length_constant(0.22, 0.0, 1.0) == math.inf and length_constant(0.22, 400.0, 0.0) == math.inf


def test_unbuffered_point_source_gives_37_5_uM_at_20_nm():
    """Reference: 0.2 pA of Ca2+ into a half-space, c = (I / 2F) / (2 pi D r) in SI units:
    I = 0.2e-12 A, D = 0.22e-9 m^2/s, r = 20e-9 m -> 3.749e-2 mol/m^3 = 37.5 uM (rel. 1e-9 against
    the SI value, 0.1 % against 37.5 uM)."""
    c_si = (0.2e-12 / (2 * FARADAY)) / (2 * math.pi * 0.22e-9 * 20e-9)   # mol/m^3 = mM
    flux = current_to_ion_rate(0.2, 2)                                   # ions/ms
    c = excess_buffer_profile(0.020, flux, 0.22, 0.0, 0.0)
    assert isinstance(c, float)
    assert c == pytest.approx(c_si, rel=1e-9)
    assert c * 1e3 == pytest.approx(37.5, rel=1e-3)


def test_buffered_profile_is_unbuffered_times_exp_decay():
    """Reference: the EBA formula c_rest + sigma/(2 pi D r) exp(-r/lambda), evaluated in SI units
    for 1 mM BAPTA and 0.5 pA at r = 5..200 nm (rel. 1e-9)."""
    r_um = np.array([0.005, 0.010, 0.020, 0.050, 0.100, 0.200])
    flux = current_to_ion_rate(0.5, 2)
    k_on = ca_buffer("BAPTA").k_on
    c = excess_buffer_profile(r_um, flux, 0.22, k_on, 1.0, c_rest_mM=1e-4)
    lam_m = math.sqrt(0.22e-9 / (4e8 * 1e-3 * 1.0))
    r_m = r_um * 1e-6
    c_si = 1e-4 + (0.5e-12 / (2 * FARADAY)) / (2 * math.pi * 0.22e-9 * r_m) * np.exp(-r_m / lam_m)
    np.testing.assert_allclose(c, c_si, rtol=1e-9)
    assert isinstance(c, np.ndarray) and c.shape == r_um.shape
    assert np.all(np.diff(c) < 0)                       # falls with distance
    # close to the source the buffer hardly matters; far away the profile returns to rest
    free = excess_buffer_profile(r_um, flux, 0.22, 0.0, 0.0, c_rest_mM=1e-4)
    assert (c[0] - 1e-4) / (free[0] - 1e-4) == pytest.approx(math.exp(-0.005e-6 / lam_m), rel=1e-9)
    assert c[-1] - 1e-4 < 1e-3 * (free[-1] - 1e-4)
    # zero flux: the resting level everywhere
    np.testing.assert_array_equal(excess_buffer_profile(r_um, 0.0, 0.22, k_on, 1.0, 2e-4),
                                  np.full(r_um.shape, 2e-4))


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(r=0.0), "r must be finite distances > 0"),
    (dict(r=-0.01), "r must be finite distances > 0"),
    (dict(r=[0.01, math.nan]), "r must be finite distances > 0"),
    (dict(r="0.01"), "r must be distances"),
    (dict(r=True), "r must be distances"),
    (dict(flux_ions_per_ms=-1.0), "flux_ions_per_ms must be a finite number >= 0"),
    (dict(flux_ions_per_ms=math.inf), "flux_ions_per_ms must be a finite number >= 0"),
    (dict(D_Ca=0.0), "D_Ca must be a finite number > 0"),
    (dict(D_Ca="0.22"), "D_Ca must be a finite number > 0"),
    (dict(k_on=-400.0), "k_on must be a finite number >= 0"),
    (dict(B_free_mM=math.nan), "B_free_mM must be a finite number >= 0"),
    (dict(c_rest_mM=-1e-4), "c_rest_mM must be a finite number >= 0"),
])
def test_profile_refuses_bad_input(kwargs, fragment):
    args = dict(r=0.02, flux_ions_per_ms=600.0, D_Ca=0.22, k_on=400.0, B_free_mM=1.0, c_rest_mM=0.0)
    args.update(kwargs)
    with pytest.raises(ParameterError) as e:
        excess_buffer_profile(**args)
    assert fragment in str(e.value)


def test_module_docstring_examples_run():
    """Reference: the doctest examples in microsyn.reactions.buffers (exact output)."""
    result = doctest.testmod(buffers, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 6 and result.failed == 0
