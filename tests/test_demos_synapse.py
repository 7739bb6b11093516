"""Smoke tests of the synapse demos (07-10): each runs with fast=True and its numbers make physical sense."""

import pytest

from demo_utils import figures_exist as _figures_exist
from demo_utils import load_documented_demo as _load


def test_demo_07_epsp_ampa(tmp_path):
    r = _load("07_epsp_ampa").main(str(tmp_path), fast=True)
    _figures_exist(r)
    peaks = [r["epsp_peak_mV"][d] for d in (0.0, 50.0, 100.0, 200.0)]
    assert peaks[0] > 0.05 and all(a > b > 0 for a, b in zip(peaks, peaks[1:]))  # decays with distance
    assert r["single_channel_current_at_rest_pA"] == pytest.approx(-0.70, abs=1e-9)
    assert r["na_in"] > 1000 and r["k_out"] > 0 and r["na_in"] > 5 * r["k_out"]
    assert r["charge_in_e"] == pytest.approx(r["injected_charge_e"], abs=1e-6)  # charge conservation
    assert 0.5 < r["profile_vs_quasi_steady_ratio"] < 1.5


def test_demo_08_ipsp_and_shunting(tmp_path):
    r = _load("08_ipsp_and_shunting").main(str(tmp_path), fast=True)
    _figures_exist(r)
    assert r["ipsp_cl_mV"] < -1.0 and r["cl_in"] > 0 and r["cl_out"] == 0
    assert r["ipsp_k_mV"] < -1.0 and r["k_out"] > 0 and r["k_in"] == 0
    assert r["E_Cl_shunt_mV"] == pytest.approx(-70.0, abs=1e-6)
    assert r["shunt_alone_max_abs_mV"] < 0.05  # no hyperpolarisation
    assert r["epsp_with_shunt_mV"] < 0.8 * r["epsp_alone_mV"]  # yet a smaller EPSP


def test_demo_09_summation_to_spike(tmp_path):
    r = _load("09_summation_to_spike").main(str(tmp_path), fast=True)
    _figures_exist(r)
    sp = r["spikes"]
    assert sp["one synapse, one pulse"] == 0 and sp["two synapses together"] == 0
    assert sp["temporal: 4 inputs at 20 um, 2 ms apart"] == 1 and sp["spatial: 4 synapses together"] == 1
    assert 0 < r["single_epsp_mV"] < r["two_together_peak_mV"] < 2 * r["single_epsp_mV"] + 0.5
    assert r["ap_peak_mV"] > 0


def test_demo_10_ions_vs_voltage(tmp_path):
    r = _load("10_ions_vs_voltage").main(str(tmp_path), fast=True)
    _figures_exist(r)
    assert all(x < 3.0 for x in r["ion_rms_um"])  # ions: micrometres in milliseconds
    assert all(v > 30.0 for v in r["voltage_half_width_um"])  # voltage: tens to hundreds of um
    assert min(r["ratio_voltage_to_ion_spread"]) > 20
    assert r["dV_at_100um_mV"][-1] > 0.2 * r["dV_at_synapse_mV"][-1] > 0
