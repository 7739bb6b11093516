"""Smoke test of demos/06_render_replay.py in fast mode (simulate, write results, render from the file)."""
import importlib.util
import os

import numpy as np
import pytest

DEMO = os.path.join(os.path.dirname(__file__), "..", "..", "demos", "06_render_replay.py")


def _load():
    spec = importlib.util.spec_from_file_location("demo06", DEMO)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_demo_06_fast(gl, tmp_path):
    import imageio_ffmpeg

    from microsyn.results import ResultsFile

    res = _load().main(tmp_path, fast=True)
    meta = next(imageio_ffmpeg.read_frames(res["movie"]))
    assert meta["codec"] == "h264" and tuple(meta["size"]) == res["frame_size"]
    assert sum(1 for _ in imageio_ffmpeg.read_frames(res["movie"])) - 1 == res["n_frames"]
    assert all(os.path.exists(p) for p in res["stills"])
    assert os.path.exists(res["pvd"])
    with ResultsFile(res["results"]) as r:
        assert r.n_frames == 13 and r.has_lattice and r.membrane_nodes_um is not None
    # the patch charges by Q / C (leak is negligible over 12 us): within 5 %
    assert res["V_peak_mV"] + 70.0 == pytest.approx(res["dV_expected_mV"], rel=0.05)
    assert np.isfinite(res["runtime_s"])
