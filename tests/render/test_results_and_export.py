"""Results file round trip (HDF5, read back with h5py/numpy) and VTK export (read back by pyvista).

Ground truth: the simulation's own state (positions, ids, counts) after the run, and a second run
with the same seed.
"""
import h5py
import numpy as np
import pytest

import microsyn as ms
from microsyn.errors import ParameterError, UnknownSpeciesError
from microsyn.results import ResultsFile, ResultsWriter

from ._helpers import make_results


def test_round_trip_equals_the_simulation_state(tmp_path):
    path = tmp_path / "rt.h5"
    sim, w = make_results(str(path))
    # an identical second run (same seed) must write identical frames
    make_results(str(tmp_path / "rt2.h5"))
    with ResultsFile(path) as r, ResultsFile(tmp_path / "rt2.h5") as r2:
        assert r.n_frames == 6
        np.testing.assert_allclose(r.times_ms, np.arange(6) * 0.002, atol=1e-12)
        assert r.species == ["Na+", "Cl-"]
        assert r.valence == {"Na+": 1, "Cl-": -1}
        last = r.frame(5)
        ids, pos = sim.ids_and_positions("Na+")
        order = np.argsort(ids)
        np.testing.assert_array_equal(last.ids["Na+"], ids[order])
        np.testing.assert_allclose(last.positions["Na+"], pos[order].astype(np.float32))
        assert last.n_total["Na+"] == sim.count("Na+")
        assert last.scalars["n_Na"] == sim.count("Na+")
        # same seed, same file contents
        np.testing.assert_array_equal(r2.frame(5).positions["Cl-"], last.positions["Cl-"])
        # lattice: counts integrate to the ions inside the lattice
        geo = r.lattice_geometry
        vox = float(np.prod(geo["spacing_um"]))
        from microsyn.units import PARTICLES_PER_UM3_PER_MM
        n_in = last.conc_mM["Na+"].sum() * vox * PARTICLES_PER_UM3_PER_MM
        assert n_in == pytest.approx(sim.count("Na+"), rel=0.05)  # a few beyond the lattice
        assert last.V_mV.shape == (169,)
        assert set(r.traces) == {"V at pore", "channel current"}
        assert r.traces["channel current"]["units"] == "pA"
        assert r.glyphs["channel"]["positions_um"].shape == (2, 3)
        assert r.index_at(0.0051) == 2


def test_layout_is_readable_with_h5py_alone(tiny_results):
    with h5py.File(tiny_results, "r") as f:
        assert f.attrs["format"] == "microsyn-results"
        assert f["time_ms"].shape == (6,)
        pos = f["frames/000003/ions/Na+"][:]
        assert pos.dtype == np.float32 and pos.shape[1] == 3
        assert f["frames/000003/lattice/conc_mM/Na+"].shape == (24, 24, 12)
        assert f["surfaces/membrane/triangles"].shape[1] == 3


def test_subsampling_keeps_at_most_max_ions(tmp_path):
    path = tmp_path / "sub.h5"
    sim, _ = make_results(str(path), max_ions=100, lattice=False)
    with ResultsFile(path) as r:
        fr = r.frame(-1)
        assert sum(len(p) for p in fr.positions.values()) <= 100
        assert fr.n_total["Na+"] == sim.count("Na+") > 100
        assert np.all(np.diff(fr.ids["Na+"]) > 0)


def test_bad_files_and_names(tmp_path):
    with pytest.raises(ParameterError, match="does not exist"):
        ResultsFile(tmp_path / "nope.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(ParameterError, match="not an HDF5 file"):
        ResultsFile(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(ParameterError, match="not a microsyn results file"):
        ResultsFile(tmp_path / "other.h5")
    with pytest.raises(ParameterError, match="exactly one"):
        ResultsWriter(tmp_path / "w.h5")


def test_unknown_species_in_reader(tiny_results):
    with ResultsFile(tiny_results) as r:
        with pytest.raises(UnknownSpeciesError):
            r.positions(0, "K+")
        with pytest.raises(ParameterError, match="does not exist"):
            r.frame(99)


def test_vtk_export_from_results(tiny_results, tmp_path):
    import pyvista as pv

    from microsyn.export_vtk import export_results

    pvd = export_results(tiny_results, tmp_path / "vtk")
    ions = pv.read(tmp_path / "vtk" / "ions_000005.vtp")
    with ResultsFile(tiny_results) as r:
        fr = r.frame(5)
    assert ions.n_points == sum(len(p) for p in fr.positions.values())
    assert set(np.unique(ions["species_id"])) == {0, 1}
    lat = pv.read(tmp_path / "vtk" / "lattice_000005.vti")
    assert {"conc_mM_Na+", "conc_mM_Cl-", "charge_e_per_um3"} <= set(lat.cell_data)
    np.testing.assert_allclose(lat.cell_data["conc_mM_Na+"], fr.conc_mM["Na+"].ravel(order="F"), rtol=1e-6)
    mem = pv.read(tmp_path / "vtk" / "membrane_000005.vtp")
    np.testing.assert_allclose(mem["V_mV"], fr.V_mV, rtol=1e-6)
    series = pv.read(pvd)
    assert series.n_blocks == 3
    text = open(pvd).read()
    assert text.count("<DataSet") == 18


def test_vtk_particle_ids_are_the_recorded_ids_or_absent(tiny_results, tmp_path):
    """Issue 8 item 17: particle_id holds the ids in the results file (reference: ResultsFile.frame
    ids, species in file order), and is left out, not filled with -1, when none were recorded."""
    import pyvista as pv

    from microsyn.export_vtk import export_results

    export_results(tiny_results, tmp_path / "a", frames=[5])
    with ResultsFile(tiny_results) as r:
        fr = r.frame(5)
        want = np.concatenate([fr.ids[s] for s in r.species if len(fr.positions[s])])
    ions = pv.read(tmp_path / "a" / "ions_000000.vtp")
    np.testing.assert_array_equal(ions.point_data["particle_id"], want)
    noid = tmp_path / "noid.h5"
    make_results(str(noid), n_frames_ms=0.004, store_ids=False, lattice=False)
    export_results(str(noid), tmp_path / "b")
    ions = pv.read(tmp_path / "b" / "ions_000002.vtp")
    assert ions.n_points > 0 and "particle_id" not in ions.point_data and "species_id" in ions.point_data


def test_vtk_series_writer_from_a_running_sim(tmp_path):
    import pyvista as pv

    from microsyn.export_vtk import VTKSeriesWriter

    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-6, species=["K+"], seed=2)
    sim.release("K+", n=50, at=(0.5, 0.5, 0.5))
    lat = ms.Lattice((0, 0, 0), (1, 1, 1), voxel_size=0.25)
    w = sim.add_recorder(VTKSeriesWriter(tmp_path, every=2e-5, lattice=lat, surfaces={}))
    sim.run(4e-5)
    assert w.n_frames == 3
    m = pv.read(tmp_path / "ions_000002.vtp")
    assert m.n_points == 50 and "species_id" in m.point_data
    assert pv.read(tmp_path / "lattice_000002.vti").cell_data["conc_mM_K+"].sum() > 0


def test_import_microsyn_does_not_import_pyvista():
    import subprocess
    import sys

    code = ("import sys, microsyn, microsyn.results, microsyn.export_vtk; "
            "assert 'pyvista' not in sys.modules and 'vtk' not in sys.modules, 'pyvista imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
