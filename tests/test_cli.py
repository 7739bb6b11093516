"""The ``microsyn`` command line: help texts, the demo list, printed results, one-line errors.

Ground truth: the demos' own docstrings (read with :mod:`ast`), argparse's exit status 0 for
``--help``, and the OS refusing to create folders under ``/proc``.
"""
import ast
import os
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from microsyn import cli
from microsyn.errors import ParameterError
from microsyn.results import OutputPathError, ResultsFile, ResultsWriter, ensure_output_dir

ROOT = Path(__file__).resolve().parent.parent
#: a folder that cannot be created, whatever the user's permissions (procfs refuses mkdir)
FORBIDDEN = "/proc/forbidden/out"

needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")


def test_top_level_help_is_plain_text_not_restructuredtext(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: microsyn")
    assert "``" not in out and ":mod:" not in out
    for cmd in cli.COMMANDS:
        assert f"\n  {cmd} " in out


def test_info_help_prints_usage_instead_of_running(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["info", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "usage: microsyn info" in out and "numba" not in out


def test_demo_list_prints_each_first_paragraph_whole(capsys):
    """Reference: the first paragraph of each demo's docstring, parsed with ast."""
    assert cli.main(["demo"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    stems = sorted(p.stem for p in (ROOT / "demos").glob("[0-9][0-9]_*.py"))
    assert len(stems) == 14
    for stem in stems:
        doc = ast.get_docstring(ast.parse((ROOT / "demos" / f"{stem}.py").read_text()))
        para = " ".join(doc.split("\n\n")[0].split()).split(": ", 1)[1]
        assert f"{stem} {para[0].upper()}{para[1:]}" in out, stem
    assert "with the conduction velocities measured." in out  # demo 05 spans two docstring lines


def test_printed_results_use_plain_python_numbers(capsys):
    cli.print_result({"a": np.float64(0.5), "b": [np.float64(1.25), np.int64(3)], "c": np.arange(2),
                      "d": (np.float32(2.0),)})
    out = capsys.readouterr().out
    assert out.splitlines() == ["a: 0.5", "b: [1.25, 3]", "c: [0, 1]", "d: (2.0,)"]
    assert "np." not in out


@needs_proc
def test_unwritable_demo_output_is_a_one_line_error(capsys):
    assert cli.main(["demo", "02", "--fast", "--out", FORBIDDEN]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("microsyn demo: OutputPathError:") and FORBIDDEN in err and "writable" in err


@needs_proc
def test_unwritable_render_output_is_a_one_line_error(tiny_results_path, capsys):
    assert cli.main(["render", tiny_results_path, "--out", FORBIDDEN, "--png"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("microsyn render: OutputPathError:")


@needs_proc
def test_results_writer_in_unwritable_folder_raises_output_path_error():
    with pytest.raises(OutputPathError, match="writable folder"):
        ResultsWriter("/proc/nonexistent/run.h5", every=1e-3)
    with pytest.raises(OutputPathError):
        ensure_output_dir(FORBIDDEN)


def test_read_only_folder_is_refused_before_writing(tmp_path):
    """Reference: the OS refuses to create files in a mode-0o500 folder (unless run as root)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(OutputPathError, match="Permission denied"):
            ensure_output_dir(ro / "sub")
    finally:
        ro.chmod(0o700)


def test_results_file_without_time_axis_names_what_is_missing(tmp_path):
    """A file with the right format attribute but no /time_ms: the message says what is missing
    instead of 'format=microsyn-results, expected microsyn-results'."""
    p = tmp_path / "broken.h5"
    with h5py.File(p, "w") as f:
        f.attrs["format"] = "microsyn-results"
        f.create_group("frames")
    with pytest.raises(ParameterError) as e:
        ResultsFile(p)
    msg = str(e.value)
    assert "lacks /time_ms" in msg and "expected" not in msg


@pytest.fixture
def tiny_results_path(tmp_path):
    import microsyn as ms

    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-6, species=["Na+"], seed=1)
    sim.release("Na+", n=10, at=(0.5, 0.5, 0.5))
    path = tmp_path / "t.h5"
    sim.add_recorder(ResultsWriter(path, every=1e-5))
    sim.run(2e-5)
    return str(path)


def test_demos_run_as_scripts_from_the_cli_do_not_leave_the_package_folder_on_sys_path():
    before = list(sys.path)
    name, mod = cli._load_demo("02")
    assert name == "02_resting_potential" and callable(mod.main)
    assert sys.path == before


def test_folder_under_a_file_is_refused_even_as_root(tmp_path):
    """Reference: no OS lets a folder be made below a regular file (root included)."""
    f = tmp_path / "a_file"
    f.write_text("x")
    with pytest.raises(OutputPathError, match="writable folder"):
        ensure_output_dir(f / "sub")


def test_every_writer_refuses_an_unwritable_folder_with_output_path_error(tmp_path):
    """VTK series, PNG sequences and movie files go through the same check as results files."""
    from microsyn.export_vtk import VTKSeriesWriter
    from microsyn.render.movie import GIFWriter, MP4Writer, PNGSequence

    f = tmp_path / "a_file"
    f.write_text("x")
    with pytest.raises(OutputPathError):
        VTKSeriesWriter(f / "vtk", every=1e-3)
    with pytest.raises(OutputPathError):
        PNGSequence(f / "frames")
    with pytest.raises(OutputPathError):
        MP4Writer(str(f / "m" / "movie.mp4"), size=(64, 64))
    with pytest.raises(OutputPathError):
        GIFWriter(str(f / "m" / "movie.gif"))


def test_frame_with_an_empty_species_list_holds_no_ions(tiny_results_path):
    with ResultsFile(tiny_results_path) as res:
        assert res.frame(0, species=[]).positions == {}
        assert set(res.frame(0).positions) == set(res.species)
