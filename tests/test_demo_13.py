"""Smoke test of demo 13 (nanodomain coupling): the fast mode's figure, frames, movie and summary,
and the signature it is about (Adler et al. 1991; Bucurenciu et al. 2008): release falls with the
distance from the channel, and the fast buffer BAPTA takes more release away than the slow EGTA
at ten times its concentration, except right at the channel."""
import json
import os

import numpy as np

from demo_utils import figures_exist, load_documented_demo


def test_demo_13_nanodomain_coupling_fast(tmp_path):
    mod = load_documented_demo("13_nanodomain_coupling")
    assert "Borst" in mod.__doc__ and "Schneggenburger" in mod.__doc__
    r = mod.main(str(tmp_path), fast=True)
    figures_exist(r)
    assert os.path.getsize(r["movie"]) > 10_000 and r["n_frames"] >= 30
    with open(r["summary_json"], encoding="utf-8") as f:
        summary = json.load(f)
    assert summary["trials"] == r["trials"]
    p = {k: np.asarray(v) for k, v in r["p_release"].items()}
    d = np.asarray(r["distance_nm"])
    assert np.all(np.diff(d) > 0) and 10.0 < d[0] < 12.0
    assert p["control"][0] > p["control"][-1]  # nanodomain: release falls with the distance
    # totals over the rings beyond the nearest: control > EGTA and control > BAPTA
    assert p["control"][1:].sum() > p["EGTA"][1:].sum() and p["control"][1:].sum() > p["BAPTA"][1:].sum()
    m = r["movie_stats"]
    assert m["control"]["ca_entered"] == m["EGTA"]["ca_entered"] == m["BAPTA"]["ca_entered"] > 0  # same gating
    assert m["control"]["fused"] >= m["EGTA"]["fused"] >= m["BAPTA"]["fused"]
    assert m["control"]["far_fused"] >= m["EGTA"]["far_fused"]
