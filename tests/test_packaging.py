"""Packaging: every subpackage ships, meshes and demos are package data, and a wheel installed into
a fresh virtual environment lists and runs the demos from outside the repository."""
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: listed packages that are folders of scripts (namespace packages without __init__.py)
SCRIPT_PACKAGES = {"microsyn.demos": "demos"}


def test_every_subpackage_is_listed_in_pyproject():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "microsyn").rglob("__init__.py")
             if "__pycache__" not in p.parts}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"
    assert cfg["package-dir"]["microsyn.meshes"] == "meshes"
    for p in listed:
        where = cfg["package-dir"].get(p, p.replace(".", "/"))
        if p in SCRIPT_PACKAGES:
            assert where == SCRIPT_PACKAGES[p]
            continue
        assert (ROOT / where / "__init__.py").exists(), f"{p} is listed but {where}/__init__.py is missing"


def test_shipped_meshes_are_package_data():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = cfg["package-data"]["microsyn.meshes"]
    for mesh in (ROOT / "meshes").iterdir():
        if mesh.suffix in (".stl", ".ply", ".obj", ".vtk", ".vtp"):
            assert f"*{mesh.suffix}" in patterns


def test_demos_ship_as_the_package_microsyn_demos():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "microsyn.demos" in cfg["packages"] and cfg["package-dir"]["microsyn.demos"] == "demos"
    # the demos import only microsyn and third-party packages, never files beside them
    for demo in (ROOT / "demos").glob("[0-9][0-9]_*.py"):
        src = demo.read_text()
        assert "open(os.path.join(os.path.dirname" not in src and "np.load(" not in src, demo.name


def _run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert p.returncode == 0, f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


@pytest.mark.skipif(sys.platform == "win32", reason="venv layout of POSIX systems")
def test_wheel_in_a_fresh_venv_lists_and_runs_the_demos(tmp_path):
    """Reference: the checkout's demos/ folder (all fourteen listed) and demo 02 writing its figure where
    --out says, run from outside the repository with a regular (non-editable) install of the
    built wheel. The venv sees the already installed numpy/numba/vtk (--system-site-packages);
    building the wheel fetches setuptools for the isolated build as ``pip install`` does."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("microsyn", "meshes", "demos"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
          "-w", str(dist), str(src)])
    wheel = next(dist.glob("microsyn-*.whl"))
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)])
    py = venv / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", "--disable-pip-version-check",
          str(wheel)])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(MPLBACKEND="Agg", VTK_DEFAULT_OPENGL_WINDOW="vtkEGLRenderWindow")
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run([str(py), "-c", "import microsyn, microsyn.cli as c; print(microsyn.__file__); print(c.demo_dir())"],
                 cwd=work, env=env).stdout.split()
    site = Path(where[0]).parent
    assert site.is_relative_to(venv) and Path(where[1]) == site / "demos"
    listing = _run([str(venv / "bin" / "microsyn"), "demo"], cwd=work, env=env).stdout
    expected = sorted(p.stem for p in (ROOT / "demos").glob("[0-9][0-9]_*.py"))
    assert len(expected) == 14
    assert [line.split()[0] for line in listing.splitlines() if line[:1].isdigit()] == expected
    out = work / "o2"
    res = _run([str(venv / "bin" / "microsyn"), "demo", "02", "--fast", "--out", str(out)], cwd=work, env=env).stdout
    assert "figures:" in res and (out / "02_resting_potential.png").stat().st_size > 10_000
    shipped = {p.name for p in (site / "demos").iterdir()}
    assert shipped - {"__pycache__"} == {f"{s}.py" for s in expected}  # nothing written into the package
    assert not (work / "out").exists()
