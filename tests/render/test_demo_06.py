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


def test_demo_06_output_matches_its_docstring(gl, tmp_path):
    """Issue 8 item 17. References: ms.AMPA().open_current_pA(-70) for the channel count (64 pA /
    0.70 pA = 91, "about 90" to the nearest ten); the docstring for the inset traces, the caption
    in the results file and the VTK export (every stored frame with --fast; particle ids recorded,
    so none is -1)."""
    import re

    import pyvista as pv

    import microsyn as ms
    from microsyn.results import ResultsFile

    mod = _load()
    doc = " ".join(mod.__doc__.split())
    m = re.search(r"64 pA for 50 us \(about (\d+) AMPA-type channels of ([\d.]+) pA at -70 mV", doc)
    assert m, "the docstring must say how many AMPA channels pass 64 pA"
    i1 = abs(ms.AMPA().open_current_pA(-70.0))
    assert float(m.group(2)) == pytest.approx(i1, abs=0.005)
    assert int(m.group(1)) == int(round(64.0 / i1, -1))
    assert "inset of V(t) at the pore and 1.5 um away" in doc and "channel current" in doc
    assert mod.INSET_TRACES == ["V at the pore", "V 1.5 um away", "channel current"]
    assert "every 10th of the 301 stored frames" in doc and mod.settings(False)["vtk_every"] == 10
    assert mod.settings(False)["n_frames"] == 301

    res = mod.main(tmp_path, fast=True)
    with ResultsFile(res["results"]) as r:
        assert set(mod.INSET_TRACES) <= set(r.traces)
        assert r.attrs["caption"].startswith("gold: Na+ ions") and "[Na+] isosurface" in r.attrs["caption"]
        n_stored = r.n_frames
    assert res["n_vtk_frames"] == n_stored == 13
    vtps = sorted(f for f in os.listdir(os.path.join(tmp_path, "vtk")) if f.startswith("ions_"))
    assert len(vtps) == 13
    ions = pv.read(os.path.join(tmp_path, "vtk", vtps[-1]))
    assert ions.n_points > 100 and int(ions.point_data["particle_id"].min()) >= 0
    assert len(np.unique(ions.point_data["particle_id"])) == ions.n_points
