"""Smoke test of demo 12 (release sensors): runs with fast=True; its numbers make sense."""
import pytest

from demo_utils import figures_exist, load_documented_demo


def test_demo_12_release_sensor_fast(tmp_path):
    r = load_documented_demo("12_release_sensor").main(str(tmp_path), fast=True)
    figures_exist(r)
    pk, tp = r["peak_rate_per_ms"], r["peak_time_ms"]
    for name in ("Schneggenburger", "Lou,"):
        assert pk[f"{name} 10 uM"] < pk[f"{name} 20 uM"] < pk[f"{name} 50 uM"]
        assert tp[f"{name} 10 uM"] > tp[f"{name} 20 uM"] > tp[f"{name} 50 uM"]  # faster at higher [Ca2+]
    assert r["slope_low_ca"] == pytest.approx(5.0, abs=0.1)
    assert 3.0 < r["slope_1_3_uM"] < r["slope_low_ca"]
    assert r["basal_rate_per_s"] == pytest.approx(2e-4)
    assert 0 < r["sites_fused"] < r["n_sensors"]
