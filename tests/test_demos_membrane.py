"""Smoke tests of the membrane demos (02-05): each runs with fast=True and its numbers make sense."""
import math

import pytest

from demo_utils import figures_exist as _figures_exist
from demo_utils import load_documented_demo as _load


def test_demo_02_resting_potential(tmp_path):
    r = _load("02_resting_potential").main(str(tmp_path), fast=True)
    _figures_exist(r)
    assert r["E_K_mV"] < r["E_Cl_mV"] < r["V_ghk_mV"] < 0 < r["E_Na_mV"] < r["E_Ca_mV"]
    assert -75 < r["V_rest_with_pump_mV"] < r["V_ghk_mV"] < -60
    assert -8 < r["pump_contribution_mV"] < -1
    assert r["tau_measured_ms"] == pytest.approx(r["tau_expected_ms"], rel=0.02)


def test_demo_03_graded_potentials(tmp_path):
    r = _load("03_graded_potentials").main(str(tmp_path), fast=True)
    _figures_exist(r)
    assert r["tau_m_ms"] == pytest.approx(r["tau_m_theory_ms"], rel=0.01)
    assert r["lambda_um"] == pytest.approx(r["lambda_theory_um"], rel=0.02)
    amps = list(r["epsp_peak_by_distance_mV"].values())
    assert all(a > b for a, b in zip(amps, amps[1:])) and amps[-1] > 0
    assert r["ipsp_peak_mV"] < 0
    ts = r["temporal_summation_peak_mV"]
    assert ts[2.0] > ts[10.0] > ts[40.0] > r["single_epsp_mV"]
    sp = r["spatial_summation_mV"]
    assert max(sp["A"], sp["B"]) < sp["A+B"] <= sp["A"] + sp["B"] + 1e-9


def test_demo_04_action_potential(tmp_path):
    r = _load("04_action_potential").main(str(tmp_path), fast=True)
    _figures_exist(r)
    assert r["rest_mV"] == pytest.approx(-70.0, abs=1.0)
    assert r["peaks_mV"][0.98] < -50.0 < 20.0 < r["peaks_mV"][1.02]
    assert 30.0 <= r["spike_peak_mV"] <= 40.0 and r["ahp_mV"] < r["rest_mV"] - 5
    ratios = r["paired_pulse_threshold_ratio"]
    assert math.isinf(ratios[0]) and all(x > 1.0 for x in ratios[1:])
    assert all(a >= b for a, b in zip(ratios[1:], ratios[2:]))
    rates = r["fI_rates_hz"]
    assert rates[0] == 0.0 and all(b > a for a, b in zip(rates[1:], rates[2:]))


def test_demo_05_conduction(tmp_path):
    r = _load("05_conduction").main(str(tmp_path), fast=True)
    _figures_exist(r)
    assert 0.4 < r["velocity_unmyelinated_m_per_s"] < 1.2
    assert r["velocity_myelinated_m_per_s"] > 2 * r["velocity_unmyelinated_m_per_s"]
    vu = r["velocities_unmyelinated_m_per_s"]
    assert vu[2] / vu[0] == pytest.approx(2.0, rel=0.05)  # 4x diameter, 2x velocity


@pytest.mark.slow
@pytest.mark.parametrize("name", ["02_resting_potential", "03_graded_potentials", "04_action_potential",
                                  "05_conduction"])
def test_demo_full_run(tmp_path, name):
    """Full-resolution demo runs (--validate): they finish and write their figures."""
    r = _load(name).main(str(tmp_path), fast=False)
    _figures_exist(r)
