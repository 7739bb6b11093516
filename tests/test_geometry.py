"""Geometry: shapes, domains, boundary conditions, meshes and their bad inputs."""
import math

import numpy as np
import pytest

import microsyn as ms
from microsyn.errors import GeometryError, MeshError, ParameterError


def test_domain_union_and_holes_contain():
    dom = ms.Domain(ms.Box((0, 0, 0), (1, 1, 1), name="a"), ms.Sphere((1, 0.5, 0.5), 0.3, name="b"),
                    holes=[ms.Sphere((0.5, 0.5, 0.5), 0.2, name="v")])
    pts = [(0.1, 0.1, 0.1), (1.2, 0.5, 0.5), (0.5, 0.5, 0.5), (1.5, 0.5, 0.5)]
    assert dom.contains(pts).tolist() == [True, True, False, False]
    assert dom.surface_names() == ["a.xmin", "a.xmax", "a.ymin", "a.ymax", "a.zmin", "a.zmax", "b", "v"]


def test_operators_build_domains():
    d = (ms.Box((0, 0, 0), (1, 1, 1), name="a") | ms.Box((1, 0, 0), (2, 1, 1), name="b")) - ms.Sphere((1, 0.5, 0.5), 0.1, name="c")
    assert len(d.solids) == 2 and len(d.holes) == 1
    assert d.contains([(1.5, 0.5, 0.5), (1.0, 0.5, 0.5)]).tolist() == [True, False]


def test_boundary_conditions_per_surface_and_species():
    d = ms.Domain(ms.Box((0, 0, 0), (1, 1, 1), name="cyto"))
    d.set_boundary("cyto.zmax", "absorb")
    d.set_boundary("cyto", "transmit", species="K+")
    assert d.boundary("cyto.zmax") == "absorb"
    assert d.boundary("cyto.zmin") == "reflect"
    assert d.boundary("cyto.zmin", "K+") == "transmit"
    cg = d.compile(["Na+", "K+"])
    assert cg.bc[0].tolist() == [0, 0, 0, 0, 0, 1]
    assert cg.bc[1].tolist() == [2] * 6
    with pytest.raises(GeometryError, match="no surface named"):
        d.set_boundary("cyto.top", "absorb")
    with pytest.raises(ParameterError, match="boundary condition"):
        d.set_boundary("cyto.zmax", "sticky")


def test_partially_transmitting_hole_is_refused():
    d = ms.Domain(ms.Box((-1,) * 3, (1,) * 3), holes=[ms.Cylinder(name="c")])
    d.set_boundary("c.side", "transmit")
    with pytest.raises(GeometryError, match="must be all 'transmit'"):
        d.compile(["Na+"])


@pytest.mark.parametrize("make", [
    lambda: ms.Box((0, 0, 0), (1, -1, 1)),
    lambda: ms.Box((0, 0, 0), (1, float("nan"), 1)),
    lambda: ms.Sphere((0, 0, 0), -1.0),
    lambda: ms.Sphere((0, 0, 0), 0.0),
    lambda: ms.Sphere((0, 0, float("nan")), 1.0),
    lambda: ms.Cylinder(radius=float("inf")),
    lambda: ms.Cylinder(length=0),
    lambda: ms.Cylinder(axis=(0, 0, 0)),
    lambda: ms.HalfSpace(normal=(0, 0, 0)),
    lambda: ms.Domain(),
    lambda: ms.Domain(ms.Box((0, 0, 0), (1, 1, 1), name="x"), holes=[ms.Sphere(name="x")]),
])
def test_bad_shapes_raise_specific_errors(make):
    with pytest.raises(ParameterError):  # GeometryError is a ParameterError
        make()


def test_shipped_meshes_are_found_by_name_and_closed():
    assert {"sphere", "spine"} <= set(ms.list_meshes())
    m = ms.Mesh("sphere")
    assert m.n_triangles >= 20000
    assert abs(m.volume() - 4 / 3 * math.pi * 0.5**3) < 0.01
    # within the exact band (3 voxels) the lattice distance agrees with the analytic sphere to
    # 0.2 nm (faceting of the icosphere plus interpolation); beyond it, it never exceeds it
    dirs = np.random.default_rng(0).normal(size=(4000, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    r = np.random.default_rng(1).uniform(0.0, 0.6, (4000, 1))
    pts = dirs * r
    r = r[:, 0]
    near = np.abs(r - 0.5) < 2 * m.voxel_size
    assert np.max(np.abs(m.sdf(pts[near]) - (r[near] - 0.5))) < 2e-4
    assert np.all(np.abs(m.sdf(pts)) <= np.abs(r - 0.5) + 2e-4)
    spine = ms.Mesh("spine")
    assert spine.n_triangles >= 20000
    assert 0.15 < spine.smallest_feature() < 0.25  # the neck's diameter, 0.2 um


def test_open_mesh_is_rejected(tmp_path):
    import pyvista as pv

    cup = pv.Sphere().clip("z")  # a hemisphere without its lid
    path = tmp_path / "cup.stl"
    cup.save(path)
    with pytest.raises(MeshError, match="not watertight"):
        ms.Mesh(path)


def test_unreadable_and_missing_meshes(tmp_path):
    with pytest.raises(MeshError, match="no mesh file"):
        ms.Mesh(tmp_path / "nope.stl")
    bad = tmp_path / "bad.stl"
    bad.write_text("solid junk\nthis is not an stl\n")
    with pytest.raises(MeshError):
        ms.Mesh(bad)
    other = tmp_path / "mesh.xyz"
    other.write_text("1 2 3\n")
    with pytest.raises(MeshError, match="unsupported mesh format"):
        ms.Mesh(other)


def test_mesh_with_nan_vertices_is_rejected():
    import pyvista as pv

    s = pv.Icosphere(nsub=1)
    pts = s.points.copy()
    pts[0, 0] = np.nan
    s.points = pts
    with pytest.raises(MeshError, match="NaN"):
        ms.Mesh(s)


def test_mesh_in_other_formats_and_scaled(tmp_path):
    import pyvista as pv

    s = pv.Icosphere(radius=500.0, nsub=3)  # in nm
    for ext in ("ply", "obj", "vtk"):
        p = tmp_path / f"ball.{ext}"
        s.save(p)
        m = ms.Mesh(p, scale=1e-3)
        assert m.contains([(0, 0, 0), (0, 0, 0.6)]).tolist() == [True, False]
