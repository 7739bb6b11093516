"""Nernst, GHK and pump: against hand-computed values (Hille 2001; Mullins & Noda 1963)."""
import math

import pytest

from microsyn.errors import ParameterError, UnknownSpeciesError
from microsyn.membrane import (ghk_current_density, ghk_voltage, mullins_noda_potential, nernst, nernst_species,
                               resting_potential)
from microsyn.units import thermal_voltage


def test_nernst_potassium_37C_hand_value():
    # 26.73 mV * ln(5/140) = -89.07 mV
    assert nernst(5.0, 140.0, 1, 310.15) == pytest.approx(26.7268 * math.log(5 / 140), rel=1e-4)
    assert nernst_species("Ca2+") == pytest.approx(thermal_voltage() / 2 * math.log(2.0 / 1e-4))
    assert nernst_species("Cl-") == pytest.approx(-thermal_voltage() * math.log(110 / 7))


def test_ghk_voltage_reduces_to_nernst_for_one_ion_and_matches_formula():
    assert ghk_voltage({"K+": 1.0}) == pytest.approx(nernst_species("K+"), abs=1e-9)
    vt = thermal_voltage()
    ref = vt * math.log((5 + 0.05 * 145 + 0.45 * 7) / (140 + 0.05 * 12 + 0.45 * 110))
    assert ghk_voltage() == pytest.approx(ref, abs=1e-9)
    assert -75 < ghk_voltage() < -60


def test_ghk_current_zero_at_nernst_and_sum_zero_at_ghk_voltage():
    ek = nernst_species("K+")
    assert abs(ghk_current_density(1.0, 1, 140.0, 5.0, ek)) < 1e-9
    v = ghk_voltage()
    tot = sum(ghk_current_density(P, z, ci, co, v) for P, z, ci, co in
              [(1.0, 1, 140, 5), (0.05, 1, 12, 145), (0.45, -1, 7, 110)])
    assert abs(tot) < 1e-9
    # continuity through V = 0 and value there: P z F (c_in - c_out) = 96.485 * (140 - 5) pA/um^2
    assert ghk_current_density(1.0, 1, 140.0, 5.0, 0.0) == pytest.approx(96.485 * 135, rel=1e-4)
    assert ghk_current_density(1.0, 1, 140.0, 5.0, 1e-9) == pytest.approx(ghk_current_density(1.0, 1, 140.0, 5.0, 0.0), rel=1e-6)
    # divalent ion with a zero-current potential solved numerically equals Nernst
    assert ghk_voltage({"Ca2+": 1.0}) == pytest.approx(nernst_species("Ca2+"), abs=1e-6)


def test_pump_hyperpolarizes_and_matches_mullins_noda_without_chloride():
    r = resting_potential({"K+": 1.0, "Na+": 0.05})
    assert r.V_rest == pytest.approx(mullins_noda_potential(1.0, 0.05), abs=1e-6)
    assert r.pump_contribution < -1.0
    assert r.pump_current_density > 0
    # steady state: passive Na+ influx = 3 x pump cycles, K+ efflux = 2 x pump cycles
    assert r.currents["Na+"] == pytest.approx(-3 * r.pump_current_density, rel=1e-9)
    assert r.currents["K+"] == pytest.approx(2 * r.pump_current_density, rel=1e-6)
    full = resting_potential()
    assert -75 < full.V_rest < -68 and full.V_rest < full.V_ghk
    assert mullins_noda_potential(1.0, 0.05, pump_ratio=1.0) == pytest.approx(ghk_voltage({"K+": 1, "Na+": 0.05}))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_bad_concentrations_raise(bad):
    with pytest.raises(ParameterError, match="c_out"):
        nernst(bad, 140.0, 1)
    with pytest.raises(ParameterError):
        ghk_voltage({"K+": bad if bad != 0 else -1.0})


def test_bad_species_and_valence():
    with pytest.raises(UnknownSpeciesError):
        ghk_voltage({"Xy+": 1.0})
    with pytest.raises(ParameterError, match="valence"):
        nernst(5.0, 140.0, 0)
    with pytest.raises(ParameterError, match="pump"):
        resting_potential({"K+": 1.0})
