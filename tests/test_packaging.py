"""Packaging: every subpackage ships, meshes are package data."""
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_subpackage_is_listed_in_pyproject():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "microsyn").rglob("__init__.py")
             if "__pycache__" not in p.parts}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"
    assert cfg["package-dir"]["microsyn.meshes"] == "meshes"
    for p in listed:
        where = cfg["package-dir"].get(p, p.replace(".", "/"))
        assert (ROOT / where / "__init__.py").exists(), f"{p} is listed but {where}/__init__.py is missing"


def test_shipped_meshes_are_package_data():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = cfg["package-data"]["microsyn.meshes"]
    for mesh in (ROOT / "meshes").iterdir():
        if mesh.suffix in (".stl", ".ply", ".obj", ".vtk", ".vtp"):
            assert f"*{mesh.suffix}" in patterns
