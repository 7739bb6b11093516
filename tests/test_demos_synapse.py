"""Smoke tests of the synapse demos (07-10): each runs with fast=True and its numbers make physical sense."""

import math

import numpy as np
import pytest

from demo_utils import figures_exist as _figures_exist
from demo_utils import load_documented_demo as _load


def test_demo_07_epsp_ampa(tmp_path):
    """Fast mode. References: cable theory (attenuation, later half-rise with distance; a sealed
    passive cable relaxes with tau_m = c_m / g_leak, fitted tau within 5 %); charge conservation
    (exact); quasi-steady point source (ratio 0.5-1.5). Issue 8 item 5: the full window covers
    several tau_m, the docstring names the particle steps actually used."""
    mod = _load("07_epsp_ampa")
    r = mod.main(str(tmp_path), fast=True)
    _figures_exist(r)
    d = (0.0, 50.0, 100.0, 200.0)
    peaks = [r["epsp_peak_mV"][x] for x in d]
    assert peaks[0] > 0.05 and all(a > b > 0 for a, b in zip(peaks, peaks[1:]))  # decays with distance
    half = [r["epsp_half_rise_time_ms"][x] for x in d]
    assert all(a < b for a, b in zip(half, half[1:]))  # delayed with distance
    assert r["epsp_decay_tau_ms"] == pytest.approx(r["tau_m_ms"], rel=0.05)
    assert r["epsp_at_end_fraction_of_peak"] < 0.5  # the EPSP visibly decays within the window
    assert mod.settings(False)["t_end_ms"] >= 3 * r["tau_m_ms"]
    for fast in (False, True):
        assert f"{mod.settings(fast)['dt_particle_ms'] * 1e3:g} us" in mod.__doc__
    assert r["single_channel_current_at_rest_pA"] == pytest.approx(-0.70, abs=1e-9)
    assert -0.70 < r["single_channel_current_at_peak_epsp_pA"] < 0
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
    """Fast mode (same dt and seeds as full, shorter window). Issue 8 item 6: the soma alone fires
    the textbook AP of the MAMMALIAN set (documented peak near +38 mV, AHP near -83 mV: peak
    > +35, AHP < -80 mV); the passive dendrite is a load (lower peak, shallower AHP, more so for
    the thicker one); the synaptic AP undershoots rest by > 2 mV."""
    r = _load("09_summation_to_spike").main(str(tmp_path), fast=True)
    _figures_exist(r)
    sp = r["spikes"]
    assert sp["one synapse, one pulse"] == 0 and sp["two synapses together"] == 0
    assert sp["temporal: 4 inputs at 20 um, 2 ms apart"] == 1 and sp["spatial: 4 synapses together"] == 1
    assert sp["one synapse pulsed 4 times, 2 ms apart"] == 0  # desensitisation
    assert 0 < r["single_epsp_mV"] < r["two_together_peak_mV"] < 2 * r["single_epsp_mV"] + 0.5
    peak, ahp = r["clamped_ap_peak_mV"], r["clamped_ap_min_after_mV"]
    alone, this, thick = "soma alone", "soma + 1 um dendrite (this demo)", "soma + 2 um dendrite"
    assert peak[alone] > 35.0 and ahp[alone] < -80.0
    assert peak[alone] > peak[this] > peak[thick] and ahp[alone] < ahp[this] < ahp[thick]
    assert r["ap_peak_mV"] > 20.0 and r["ap_min_after_mV"] < r["rest_mV"] - 2.0


def test_demo_10_ions_vs_voltage(tmp_path):
    """Fast mode. Issue 8 item 4. References: 1D diffusion of the ions along the axis, rms =
    sqrt(2 D <age>) with the recorded entry times (within 5 %); the infinite-cable Green's
    function (D_V = lambda^2/tau_m, leak decay) driven by the recorded current (within 2 %); their
    ratio sqrt(D_V / D) (within 5 %). Every snapshot has open channels (nothing normalised from
    zero) and the voltage spread stays far from the cable's ends."""
    mod = _load("10_ions_vs_voltage")
    r = mod.main(str(tmp_path), fast=True)
    _figures_exist(r)
    assert all(r["channels_opened"])
    assert all(x < 3.0 for x in r["ion_rms_um"])  # ions: micrometres in milliseconds
    assert np.allclose(r["ion_rms_um"], r["ion_rms_theory_um"], rtol=0.05)
    assert np.allclose(r["voltage_rms_um"], r["voltage_rms_theory_um"], rtol=0.02)
    assert max(r["voltage_rms_um"]) < mod.CABLE_UM / 8  # ends > 4 rms away: effectively infinite
    assert np.allclose(r["ratio_voltage_to_ion_spread"], r["ratio_theory_sqrt_DV_over_D"], rtol=0.05)
    assert r["ratio_theory_sqrt_DV_over_D"] == pytest.approx(math.sqrt(707.1 ** 2 / 20.0 / 0.667), rel=1e-3)
    assert r["dV_at_100um_mV"][-1] > 0.2 * r["dV_at_synapse_mV"][-1] > 0
