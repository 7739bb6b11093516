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


# ------------------------------------------------------------------ Brownian bridge at finite faces
def _bridge(dom, p0, p1, Ddt, u, margin=1.0):
    from microsyn._kernels.boundaries import bridge_absorption

    cg = dom.compile(["Na+"])
    return bridge_absorption(0, *map(float, p0), *map(float, p1), Ddt, u, cg.kind, cg.role,
                             cg.active, cg.par, cg.face_base, cg.sdf, cg.mesh_meta, cg.bc,
                             cg.patches, margin, -1), cg.surface_names


@pytest.mark.parametrize("hole", [ms.Box((-0.01,) * 3, (0.01,) * 3, name="t"),
                                  ms.Cylinder((0, 0, 0), 0.01, 0.02, name="t")])
def test_bridge_absorbs_on_a_finite_face_not_on_its_infinite_plane(hole):
    """Issue 8 item 22: a step just below the plane z = -0.01 of a small absorbing hole's bottom
    face, 0.3 um to its side, has a bridge probability exp(-d0 d1 / D dt) = exp(-0.01) of
    touching the *plane* but none of touching the face: no absorption even with u = 0. Under
    the face the same step is absorbed there (u = 0.5 < exp(-0.01))."""
    dom = ms.Domain(ms.Sphere((0, 0, 0), 1.0, name="outer"), holes=[hole])
    dom.set_boundary("t", "absorb")
    Ddt = 1e-6
    z = -0.01 - 1e-4
    st, names = _bridge(dom, (0.3, 0.0, z), (0.3, 0.0005, z), Ddt, 0.0)
    assert st == 0
    st, names = _bridge(dom, (0.0, 0.0, z), (0.0, 0.0005, z), Ddt, 0.5)
    assert names[st - 1] in ("t.zmin", "t.bottom")
    # beside the side face (x = 0.01 + 1e-4) but far above the top: nothing either
    st, _ = _bridge(dom, (0.0101, 0.0, 0.3), (0.0101, 0.0005, 0.3), Ddt, 0.0)
    assert st == 0


def test_bridge_ignores_a_face_plane_continued_inside_another_solid():
    """Two solid boxes side by side, only a.ymax absorbing: a step inside b next to the plane
    y = 1 (b.ymax, reflecting) is not absorbed; the same step inside a is (u = 0)."""
    a = ms.Box((0, 0, 0), (1, 1, 1), name="a")
    b = ms.Box((1, 0, 0), (2, 1, 1), name="b")
    dom = ms.Domain(a, b)
    dom.set_boundary("a.ymax", "absorb")
    y = 1.0 - 1e-4
    st, _ = _bridge(dom, (1.5, y, 0.5), (1.5001, y, 0.5), 1e-6, 0.0)
    assert st == 0
    st, names = _bridge(dom, (0.5, y, 0.5), (0.5001, y, 0.5), 1e-6, 0.0)
    assert names[st - 1] == "a.ymax"
    # the shared face x = 1 is internal even where a's and b's faces coincide
    dom.set_boundary("*", "absorb")
    st, _ = _bridge(dom, (1.0 - 1e-4, 0.5, 0.5), (1.0 - 1e-4, 0.5001, 0.5), 1e-6, 0.0)
    assert st == 0


def _ref_face_point(shape, f, c, sig):
    """Python reference of microsyn._kernels.geometry.face_point (projection clamped onto the
    face, probability that a Gaussian touching point of std sig lies on the face)."""
    from scipy.stats import norm

    def within(v, lo, hi):
        if sig == 0:
            return float(lo <= v <= hi)
        return float(norm.cdf((hi - v) / sig) - norm.cdf((lo - v) / sig))

    if isinstance(shape, ms.Box):
        a = f // 2
        q = np.clip(c, shape.lo, shape.hi)
        q[a] = shape.lo[a] if f % 2 == 0 else shape.hi[a]
        w = np.prod([within(c[i], shape.lo[i], shape.hi[i]) for i in range(3) if i != a])
        return q, w
    base = shape.center - 0.5 * shape.length * shape.axis
    ax = float((c - base) @ shape.axis)
    rad = c - base - ax * shape.axis
    r = float(np.linalg.norm(rad))
    if f == 0:
        q = base + np.clip(ax, 0, shape.length) * shape.axis + rad * (shape.radius / r)
        return q, within(ax, 0.0, shape.length)
    h = 0.0 if f == 1 else shape.length
    q = base + h * shape.axis + rad * min(1.0, shape.radius / r)
    return q, within(r, -np.inf, shape.radius)


@pytest.mark.parametrize("shape", [ms.Box((-0.3, -0.2, -0.1), (0.4, 0.5, 0.2)),
                                   ms.Cylinder((0.0, 0.1, 0.0), 0.2, 0.6, axis=(1, 1, 0))])
def test_face_point_kernel_matches_python_reference(shape):
    """face_point against the reference above at 300 random points per face, sig = 0 and
    0.05 um: to 1e-12 (positions) and 1e-12 (probabilities)."""
    from microsyn._kernels.geometry import face_point

    kind = np.array([shape.kind], np.int64)
    par = shape.params()[None, :]
    rng = np.random.default_rng(5)
    for f in range(len(shape.faces)):
        for sig in (0.0, 0.05):
            for c in rng.uniform(-0.7, 0.7, (300, 3)):
                qx, qy, qz, w = face_point(kind, par, 0, f, *c, sig)
                q_ref, w_ref = _ref_face_point(shape, f, c, sig)
                np.testing.assert_allclose([qx, qy, qz], q_ref, atol=1e-12)
                assert abs(w - w_ref) < 1e-12


@pytest.mark.parametrize("args, match", [
    (((-2, -2, -0.005), (2, 2, 0)), r"use Box\(lo, hi\)"),
    ((0.0, (2, 2, 0)), r"Slab\(z_lo, z_hi, half_width"),
    ((0.02, 0.0), "z_lo < z_hi"),
    ((float("nan"), 0.0), "must be finite"),
    ((0.0, "top"), "must be a number"),
    ((0.0, 0.02, -1.0), "half_width"),
])
def test_slab_with_bad_arguments_says_how_to_call_it(args, match):
    """Issue 8 item 11: Box-style corners given to Slab raise GeometryError naming the right
    call (Slab(z_lo, z_hi, half_width=...) or Box(lo, hi)), not a numpy error."""
    with pytest.raises(GeometryError, match=match):
        ms.Slab(*args)
    s = ms.Slab(-0.005, 0.0, half_width=2.0)
    assert s.bounds()[0].tolist() == [-2.0, -2.0, -0.005] and s.faces[4:] == ("lower", "upper")


def test_junk_saved_as_stl_is_refused_quietly(tmp_path, capfd):
    """Issue 8 item 8: random bytes, plain text, a truncated binary STL and an ASCII STL with a
    bad number raise MeshError "could not be read as STL (binary or ASCII)", and nothing (no
    VTK reader errors) reaches stdout or stderr."""
    import struct

    files = {
        "random.stl": np.random.default_rng(3).integers(0, 256, 3000, dtype=np.uint8).tobytes(),
        "text.stl": b"hello world\nthis is not an stl\n" * 20,
        "truncated.stl": b"x" * 80 + struct.pack("<I", 10) + b"\0" * 120,
        "badnumber.stl": (b"solid x\n facet normal 0 0 1\n  outer loop\n   vertex 0 0 zz\n"
                          b"  endloop\n endfacet\nendsolid x\n"),
    }
    capfd.readouterr()
    for name, data in files.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(MeshError, match=r"could not be read as STL \(binary or ASCII\)"):
            ms.Mesh(p)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


# ------------------------------------------------------------------ malformed closed meshes
def _two_overlapping_spheres(merged=True):
    import pyvista as pv

    a = pv.Sphere(radius=0.5, theta_resolution=30, phi_resolution=30).triangulate()
    b = a.translate((0.4, 0.0, 0.0), inplace=False)
    return a.merge(b) if merged else (a, b)


def test_self_intersecting_mesh_is_refused_with_repair_advice(tmp_path):
    """Issue 8 item 2: two overlapping closed spheres saved as one STL used to load (every edge
    shared by two triangles), and the overlap then counted as outside. Now MeshError says the
    surface intersects itself and how to repair it (a boolean union)."""
    path = tmp_path / "two_spheres.stl"
    _two_overlapping_spheres().save(path)
    with pytest.raises(MeshError, match=r"intersects itself.*boolean union"):
        ms.Mesh(path)
    # the advised repair loads, and the overlap is inside
    a, b = _two_overlapping_spheres(merged=False)
    union = a.boolean_union(b)
    assert ms.Mesh(union).contains([(0.2, 0.0, 0.0)]).tolist() == [True]


def test_non_manifold_and_inconsistently_oriented_meshes_are_refused():
    """Two tetrahedra joined along one edge (an edge of four triangles), and an icosphere with
    one triangle flipped: MeshError naming the defect and the repair."""
    import pyvista as pv

    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1],
                    [0, -1, 0], [0, 0, -1]], float)
    tets = [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3), (0, 1, 4), (0, 5, 1), (0, 4, 5), (1, 5, 4)]
    joined = pv.PolyData(pts, np.hstack([[3, *t] for t in tets]))
    with pytest.raises(MeshError, match=r"not manifold.*boolean union"):
        ms.Mesh(joined)
    ico = pv.Icosphere(radius=0.5, nsub=2)
    f = ico.faces.reshape(-1, 4).copy()
    f[7, 1:] = f[7, [1, 3, 2]]
    ico.faces = f.ravel()
    with pytest.raises(MeshError, match="not consistently oriented"):
        ms.Mesh(ico)


def _ref_crossing_pairs(tri, faces):
    """Brute-force reference: all pairs not sharing a vertex where an edge of one triangle
    meets the other's interior, by solving p + t d = a + u e1 + v e2 for each edge."""
    out = set()
    m = len(tri)
    for a in range(m):
        for b in range(a + 1, m):
            if set(faces[a]) & set(faces[b]):
                continue
            hit = False
            for s_, t_ in ((a, b), (b, a)):
                A = tri[t_]
                for e in range(3):
                    p, q = tri[s_][e], tri[s_][(e + 1) % 3]
                    M = np.column_stack([p - q, A[1] - A[0], A[2] - A[0]])
                    if abs(np.linalg.det(M)) < 1e-14:
                        continue
                    t, u, v = np.linalg.solve(M, p - A[0])
                    tol = 1e-9
                    if tol < t < 1 - tol and u > tol and v > tol and u + v < 1 - tol:
                        hit = True
            if hit:
                out.add((a, b))
    return out


def test_self_intersection_kernel_matches_brute_force_reference():
    """The grid-bucketed kernel against the all-pairs reference above on two overlapping
    icospheres (2 x 80 triangles, randomly rotated): the same set of crossing pairs; none on
    one icosphere or on the shipped sphere (20,480 triangles)."""
    import pyvista as pv
    from scipy.spatial.transform import Rotation

    from microsyn.geometry import find_self_intersections, load_mesh

    a = pv.Icosphere(radius=0.5, nsub=1)
    b = a.copy()
    b.points = Rotation.random(random_state=4).apply(b.points) + np.array([0.35, 0.2, 0.1])
    poly = load_mesh(a.merge(b))
    faces = poly.faces.reshape(-1, 4)[:, 1:]
    tri = poly.points[faces].astype(float)
    n, pairs = find_self_intersections(poly, max_report=10_000)
    ref = _ref_crossing_pairs(tri, faces)
    assert n > 0 and {tuple(p) for p in pairs.tolist()} == ref and n == len(ref)
    assert find_self_intersections(load_mesh(a))[0] == 0
    assert find_self_intersections(load_mesh("sphere"))[0] == 0
