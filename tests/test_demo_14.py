"""Smoke test of demo 14 (trains: facilitation and depression at 10, 50 and 100 Hz): the fast mode
(one trial of paired pulses per frequency) writes a figure that is not blank and a summary whose
numbers are finite and physically possible: release never exceeds the docked vesicles, counts are
whole and non-negative, Ca2+ came in at every spike, and the buffer's free form stays between 0 and
its total."""
import json
import math

import numpy as np
from PIL import Image

from demo_utils import figures_exist, load_documented_demo


def _finite(x):
    a = np.asarray(x, float)
    return a.size > 0 and bool(np.all(np.isfinite(a)))


def test_demo_14_trains_fast(tmp_path):
    mod = load_documented_demo("14_trains")
    for name in ("Li", "Schneggenburger", "Naraghi", "Schikorski", "Stevens"):
        assert name in mod.__doc__, name
    r = mod.main(str(tmp_path), fast=True)
    figures_exist(r)
    img = np.asarray(Image.open(r["trains_png"]).convert("L"), float)
    assert img.shape[0] > 500 and img.shape[1] > 800 and img.std() > 10.0  # drawn, not blank
    with open(r["summary_json"], encoding="utf-8") as f:
        s = json.load(f)
    assert s["frequencies_hz"] == [10.0, 50.0, 100.0] and s["trials"] == 1 == len(s["seeds"])
    n, n_ves = s["n_spikes"], s["n_vesicles"]
    assert n >= 2 and n_ves >= 1 and s["n_pumps"] > 0
    buffers = dict(mod.BUFFERS)
    assert s["buffers_mM"] == buffers
    for key in ("10 Hz", "50 Hz", "100 Hz"):
        p = s["per_frequency"][key]
        assert p["trials"] == 1 and p["seeds"] == s["seeds"]
        rel = np.asarray(p["release_per_spike"], float)
        dock = np.asarray(p["docked_before_spike"], float)
        assert rel.shape == dock.shape == (n,) and _finite(rel) and _finite(dock)
        assert np.all(rel >= 0) and np.all(rel == np.round(rel))  # one trial: whole fusions
        assert np.all(dock <= n_ves) and dock[0] == n_ves  # the pool starts full
        assert np.all(rel <= dock)  # a spike cannot release more vesicles than are docked
        assert rel[0] > 0  # the first spike releases (the PPR is defined)
        assert math.isclose(p["paired_pulse_ratio"], rel[1] / rel[0])
        assert math.isclose(p["release_per_s"], rel.mean() * float(key.split()[0]))
        pv = np.asarray(p["release_per_docked_vesicle"], float)
        assert _finite(pv) and np.all((pv >= 0) & (pv <= 1))
        assert np.allclose(np.asarray(p["normalised"], float), rel / rel[0])
        assert p["release_per_spike_sem"] is None  # one trial: no SEM
        ca_in = np.asarray(p["ca_in_per_spike"], float)
        assert _finite(ca_in) and np.all(ca_in > 100)  # every AP opened channels
        assert _finite(p["ca_free_uM_before_spike"]) and np.all(np.asarray(p["ca_free_uM_before_spike"]) >= 0)
        peak = np.asarray(p["ap_peak_mV"], float)
        assert _finite(peak) and np.all(peak > 0)  # an overshooting AP reached the bouton at each spike
        times = np.asarray(p["spike_times_ms"], float)
        assert np.allclose(np.diff(times), 1000.0 / float(key.split()[0]))
        # each free buffer starts at its resting equilibrium, K_d / (K_d + [Ca]_rest) of its total
        # (K_d: BAPTA 0.22 uM, EGTA 0.07 uM; rest 0.05 uM), and stays between 0 and that during
        # the train (it binds the ions that come in)
        for b, kd in (("BAPTA", 0.22), ("EGTA", 0.07)):
            total = 1e3 * buffers[b]
            start, low = p["buffer_free_uM_start"][b], p["buffer_free_uM_min"][b]
            assert math.isclose(start, total * kd / (kd + 0.05), rel_tol=0.05), b
            assert 0.0 <= low < start <= total, b
        assert p["ca_free_uM_peak"] > max(p["ca_free_uM_before_spike"])
