"""Surface patches (microsyn.patches): names and conditions, the kernels' point-in-patch test on
every kind of face, sites placed on patches, and every bad input.

References: the patch's own numpy ``contains`` (an independent implementation of the kernel
test), the exact areas of discs, caps and polygons, and the geometry itself (a hit point must lie
on its face). The physics (an absorbing disc against electrostatics, harmonic measures) is in
``tests/validation/test_patch_absorption.py``.
"""
import math

import numpy as np
import pytest

import microsyn as ms
from microsyn._kernels import boundaries as kbd
from microsyn._kernels.patches import patch_at


def _hemisphere():
    return ms.Domain(ms.Sphere((0, 0, 0), 1.0, name="far"),
                     holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])


# ------------------------------------------------------------------ names and conditions
def test_patch_is_a_surface_with_its_faces_condition_until_set():
    dom = _hemisphere()
    dom.set_boundary("membrane", "partial", rate=2.0)
    dom.add_patch("psd", "membrane", ms.DiscPatch((0, 0, 0), 0.2))
    assert dom.surface_names() == ["far", "membrane", "psd"]
    assert dom.boundary("psd") == "partial" and dom.adsorption_rate("psd") == 2.0
    dom.set_boundary("psd", "absorb", species="Ca2+")
    assert dom.boundary("psd", "Ca2+") == "absorb"
    assert dom.boundary("psd", "Na+") == "partial"
    assert dom.boundary("membrane", "Ca2+") == "partial"
    cg = dom.compile(["Na+", "Ca2+"])
    assert cg.surface_names == ["far", "membrane", "psd"]
    # the patched face's code is stored as -1 - code; the patch's own column is plain
    assert cg.bc[0, 1] == -1.0 - 3.0 and cg.bc[1, 2] == 1.0 and cg.bc[0, 2] == 3.0
    assert cg.has_absorb.tolist() == [0, 1]


def test_patches_survive_union_and_copy_and_change_the_compile_key():
    dom = _hemisphere()
    k0 = dom.compile_key(["Na+"])
    dom.add_patch("psd", "membrane", ms.DiscPatch((0, 0, 0), 0.2))
    assert dom.compile_key(["Na+"]) != k0
    d2 = dom | ms.Sphere((3, 0, 0), 0.5, name="other")
    assert "psd" in d2.surface_names() and "psd" in dom.copy().patches


def test_patch_area_and_points_on_every_kind():
    """Areas: pi a^2 (disc), 2 pi R h (cap), the shoelace area (polygon), the triangle sum; the
    sampled points lie on the face and in the patch, and their mean is the patch's centroid
    (within 5 standard errors)."""
    box = ms.Box((0, 0, 0), (1, 1, 1), name="box")
    dom = ms.Domain(box)
    dom.add_patch("sq", "box.zmax", ms.PolygonPatch([(0, 0, 1), (0.5, 0, 1), (0.5, 0.5, 1), (0, 0.5, 1)]))
    dom.add_patch("d", "box.xmin", ms.DiscPatch((0, 0.5, 0.5), 0.3))
    assert dom.patch_area("sq") == pytest.approx(0.25)
    assert dom.patch_area("d") == pytest.approx(math.pi * 0.09)
    p = dom.patch_points("sq", 4000, seed=1)
    assert np.all(p[:, 2] == 1.0) and np.all((p[:, :2] >= 0) & (p[:, :2] <= 0.5))
    se = 0.5 / math.sqrt(12 * 4000)
    assert np.all(np.abs(p[:, :2].mean(0) - 0.25) < 5 * se)
    q = dom.patch_points("d", 4000, seed=2)
    assert np.allclose(q[:, 0], 0.0) and np.all(np.hypot(q[:, 1] - 0.5, q[:, 2] - 0.5) <= 0.3 + 1e-12)
    # a cap on a sphere: area 2 pi R h with h = a^2 / (2 R)
    sph = ms.Domain(ms.Sphere((1, 2, 3), 0.5, name="s"))
    c = np.array([1, 2, 3.5])
    sph.add_patch("cap", "s", ms.DiscPatch(c, 0.3))
    assert sph.patch_area("cap") == pytest.approx(2 * math.pi * 0.5 * 0.09 / 1.0)
    pts = sph.patch_points("cap", 2000, seed=3)
    assert np.allclose(np.linalg.norm(pts - (1, 2, 3), axis=1), 0.5)
    assert np.all(np.linalg.norm(pts - c, axis=1) <= 0.3 + 1e-12)
    # the cap's mean height above the centre is R (1 + cos) / 2 for a uniform cap
    cosm = 1 - 0.09 / (2 * 0.25)
    se = 0.5 * (1 - cosm) / math.sqrt(12 * 2000)
    assert abs((pts[:, 2] - 3).mean() - 0.5 * (1 + cosm) / 2 * 1.0) < 5 * se + 1e-12
    # triangles of a mesh
    mesh = ms.Mesh(_cube_poly(1.0), name="m")
    tp = ms.TrianglePatch.from_mesh(mesh, where=ms.Box((-1, -1, 0.49), (1, 1, 1)))
    md = ms.Domain(mesh)
    md.add_patch("top", "m", tp)
    assert md.patch_area("top") == pytest.approx(1.0)
    t = md.patch_points("top", 500, seed=4)
    assert np.allclose(t[:, 2], 0.5)


def _cube_poly(side):
    import pyvista as pv

    return pv.Cube(x_length=side, y_length=side, z_length=side).triangulate()


# ------------------------------------------------------------------ the kernels' test on every face
def _cases():
    """(name, domain, patch name, a point inside the domain near the patch, step size)."""
    out = []
    d = ms.Domain(ms.HalfSpace((0, 0, 0), (0, 0, 1), name="plane"))
    d.add_patch("p", "plane", ms.DiscPatch((0.1, 0, 0), 0.1))
    out.append(("half-space solid, disc", d, "p", (0.1, 0, 0.05)))
    d = _hemisphere()
    d.add_patch("p", "membrane", ms.PolygonPatch([(0, 0, 0), (0.2, 0, 0), (0.1, 0.15, 0)]))
    out.append(("half-space hole, triangle polygon", d, "p", (0.1, 0.05, 0.05)))
    d = ms.Domain(ms.Box((0, 0, 0), (1, 1, 1), name="b"))
    d.add_patch("p", "b.zmax", ms.PolygonPatch([(0.2, 0.2, 1), (0.6, 0.2, 1), (0.6, 0.4, 1), (0.4, 0.3, 1),
                                                (0.2, 0.6, 1)]))
    out.append(("box face, concave polygon", d, "p", (0.4, 0.35, 0.95)))
    d = ms.Domain(ms.Box((-1, -1, -1), (1, 1, 1), name="out"), holes=[ms.Box((0, 0, 0), (0.2, 0.2, 0.2), name="b")])
    d.add_patch("p", "b.xmax", ms.DiscPatch((0.2, 0.1, 0.1), 0.06))
    out.append(("box hole face, disc", d, "p", (0.25, 0.1, 0.1)))
    d = ms.Domain(ms.Sphere((0, 0, 0), 0.3, name="s"))
    d.add_patch("p", "s", ms.DiscPatch((0, 0.3, 0), 0.12))
    out.append(("sphere solid, cap", d, "p", (0, 0.25, 0)))
    d = ms.Domain(ms.Sphere((0, 0, 0), 1.0, name="out"), holes=[ms.Sphere((0, 0, 0), 0.2, name="ves")])
    d.add_patch("p", "ves", ms.DiscPatch((0, 0, 0.2), 0.08))
    out.append(("sphere hole (vesicle), cap", d, "p", (0, 0, 0.25)))
    d = ms.Domain(ms.Cylinder((0, 0, 0), 0.2, 1.0, name="c"))
    d.add_patch("p", "c.side", ms.DiscPatch((0.2, 0, 0.1), 0.1))
    d.add_patch("q", "c.top", ms.PolygonPatch([(0, 0, 0.5), (0.1, 0, 0.5), (0.1, 0.1, 0.5), (0, 0.1, 0.5)]))
    out.append(("cylinder side, disc", d, "p", (0.15, 0, 0.1)))
    out.append(("cylinder cap, square", d, "q", (0.05, 0.05, 0.45)))
    d = ms.Domain(ms.Slab(0.0, 0.02, name="cleft"))
    d.add_patch("p", "cleft.upper", ms.DiscPatch((0, 0, 0.02), 0.05))
    out.append(("slab upper, disc", d, "p", (0, 0, 0.01)))
    mesh = ms.Mesh(_cube_poly(0.4), name="m")
    d = ms.Domain(mesh)
    d.add_patch("p", "m", ms.TrianglePatch.from_mesh(mesh, where=ms.Box((-1, -1, 0.19), (1, 1, 1))))
    out.append(("mesh, triangles", d, "p", (0.15, 0, 0.15)))
    return out


CASES = _cases()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hits_land_on_the_patch_or_face_they_are_counted_at(case):
    """Every face absorbing: random steps near the patch through the general resolver; each
    absorbed step ends on the surface, and it is counted at the patch exactly when the patch's
    own (numpy) test holds there. Both outcomes occur."""
    _, dom, pname, at = case
    dom = dom.copy()
    dom.set_boundary("*", "absorb")
    cg = dom.compile(["Na+"])
    kind, role, active, par, face_base, sdf, mesh_meta, bc, patches = cg.kernel_args()
    surf, patch = dom.patches[pname]
    own = cg.surface_names.index(pname)
    face = cg.surface_names.index(surf)
    n = kind.shape[0]
    tin, tout = np.empty(n), np.empty(n)
    fin, fout = np.empty(n, np.int64), np.empty(n, np.int64)
    rng = np.random.default_rng(7)
    sigma = 0.06
    hits = {own: 0, face: 0}
    for i in range(3000):
        p = np.asarray(at) + rng.normal(0, 0.02, 3)
        if not dom.contains(p[None])[0]:
            continue
        d = rng.normal(0, sigma, 3)
        x, y, z, st, nref, rej = kbd.resolve_step(0, *p, *d, np.uint64(3), i, sigma ** 2 / 2, 0.0, kind, role,
                                                  active, par, face_base, sdf, mesh_meta, bc, patches, False,
                                                  tin, tout, fin, fout)
        if st <= 0:
            continue
        q = np.array([[x, y, z]])
        assert abs(dom.sdf(q)[0]) < 1e-9
        if st - 1 not in hits:
            continue  # another face (a slab's lower face is also within the disc's ball)
        inside = bool(patch.contains(q)[0])
        assert (st - 1 == own) == inside, (q, st, cg.surface_names)
        hits[st - 1] += 1
        assert patch_at(face, x, y, z, 0.0, patches) == (own if inside else face)
    assert hits[own] > 20 and hits[face] > 20, hits


def test_fast_paths_leave_patched_faces_to_the_exact_resolver():
    """A patched face is not a plain face for single_surface (no one-surface shortcut) and gets
    the bridge margin; its unpatched twin does."""
    d0 = _hemisphere()
    d1 = _hemisphere()
    d1.add_patch("p", "membrane", ms.DiscPatch((0, 0, 0), 0.1))
    for dom, expect in ((d0, 1), (d1, -2)):
        cg = dom.compile(["Na+"])
        kind, role, active, par, face_base, sdf, mesh_meta, bc, patches = cg.kernel_args()
        one = kbd.single_surface(0, 0.0, 0.0, 0.01, 0.05, kind, role, active, par, sdf, mesh_meta, face_base, bc)
        assert one == expect
    fm = kbd.face_margins(np.array([0.3]), d1.compile(["Na+"]).bc)
    assert fm[0, 1] == 0.3 and fm[0, 0] == 0.0


def test_absorbing_patch_counts_in_a_run_and_nothing_escapes():
    """A run with an absorbing disc in a reflecting membrane: absorptions are booked under the
    patch's name, never the membrane's, and no live particle is outside."""
    dom = _hemisphere()
    dom.add_patch("disc", "membrane", ms.DiscPatch((0, 0, 0), 0.05))
    dom.set_boundary("disc", "absorb")
    sim = ms.Simulation(dom, dt=1e-5, species=["Na+"], D={"Na+": 0.5}, seed=1)
    sim.add_particles("Na+", np.tile((0.0, 0.0, 0.02), (500, 1)))
    sim.run(0.5)
    assert sim.absorbed_count("disc") > 100
    assert sim.absorbed_count("membrane") == 0
    sim.assert_no_escapes()


def test_sites_on_a_patch():
    """Receptor sites on a PSD patch: on the membrane, inside the disc, immobile."""
    dom = _hemisphere()
    dom.add_patch("psd", "membrane", ms.DiscPatch((0, 0, 0), 0.15))
    sim = ms.Simulation(dom, dt=1e-5, species=["Na+"], seed=2)
    pos = dom.patch_points("psd", 30, seed=5)
    sim.add_sites(ms.Species("R", 0, 0.1, 0.1), pos)
    sim.run(0.01)
    got = sim.positions("R")
    assert np.allclose(got, pos) and np.all(got[:, 2] == 0.0)
    assert np.all(np.hypot(got[:, 0], got[:, 1]) <= 0.15)


# ------------------------------------------------------------------ bad input
def test_bad_patches_are_refused_with_what_to_change():
    dom = _hemisphere()
    with pytest.raises(ms.GeometryError, match="from surface 'membrane'"):
        dom.add_patch("p", "membrane", ms.DiscPatch((0, 0, 0.1), 0.1))
    with pytest.raises(ms.GeometryError, match="no face named 'nope'"):
        dom.add_patch("p", "nope", ms.DiscPatch((0, 0, 0), 0.1))
    with pytest.raises(ms.GeometryError, match="taken"):
        dom.add_patch("far", "membrane", ms.DiscPatch((0, 0, 0), 0.1))
    with pytest.raises(ms.ParameterError, match="patch name"):
        dom.add_patch("a.b", "membrane", ms.DiscPatch((0, 0, 0), 0.1))
    with pytest.raises(ms.GeometryError, match="expected a DiscPatch"):
        dom.add_patch("p", "membrane", ms.Sphere((0, 0, 0), 0.1))
    with pytest.raises(ms.GeometryError, match="curved"):
        dom.add_patch("p", "far", ms.PolygonPatch([(1, 0, 0), (0, 1, 0), (0, 0, 1)]))
    with pytest.raises(ms.GeometryError, match="a vertex is"):
        dom.add_patch("p", "membrane", ms.PolygonPatch([(0, 0, 0.1), (1, 0, 0.1), (0, 1, 0.1)]))
    dom.add_patch("p", "membrane", ms.DiscPatch((0, 0, 0), 0.1))
    with pytest.raises(ms.GeometryError, match="is a patch"):
        dom.add_patch("q", "p", ms.DiscPatch((0, 0, 0), 0.05))
    with pytest.raises(ms.GeometryError, match="taken"):
        dom.add_patch("p", "membrane", ms.DiscPatch((0, 0, 0), 0.05))
    with pytest.raises(ms.GeometryError, match="no patch named"):
        dom.patch_points("zz", 3)
    with pytest.raises(ms.ParameterError):
        dom.patch_points("p", -1)
    # a hole's face cannot let particles into the hole
    dom.set_boundary("p", "transmit")
    with pytest.raises(ms.GeometryError, match="face of a hole"):
        dom.compile(["Na+"])
    with pytest.raises(ms.ParameterError, match="radius"):
        ms.DiscPatch((0, 0, 0), 0.0)
    with pytest.raises(ms.ParameterError, match="radius"):
        ms.DiscPatch((0, 0, 0), float("nan"))
    with pytest.raises(ms.ParameterError, match="shape"):
        ms.PolygonPatch([(0, 0, 0), (1, 0, 0)])
    with pytest.raises(ms.ParameterError, match="finite"):
        ms.PolygonPatch([(0, 0, 0), (1, 0, 0), (0, np.inf, 0)])
    with pytest.raises(ms.GeometryError, match="collinear"):
        ms.PolygonPatch([(0, 0, 0), (1, 0, 0), (2, 0, 0)])
    with pytest.raises(ms.GeometryError, match="not in one plane"):
        ms.PolygonPatch([(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0.2)])
    with pytest.raises(ms.GeometryError, match="edges cross"):
        ms.PolygonPatch([(math.cos(a), math.sin(a), 0) for a in 2 * math.pi / 5 * np.array([0, 2, 4, 1, 3])])
    with pytest.raises(ms.ParameterError, match="shape"):
        ms.TrianglePatch(np.zeros((2, 3)))
    mesh = ms.Mesh(_cube_poly(0.4), name="m")
    with pytest.raises(ms.ParameterError, match="exactly one"):
        ms.TrianglePatch.from_mesh(mesh)
    with pytest.raises(ms.GeometryError, match="no triangle"):
        ms.TrianglePatch.from_mesh(mesh, where=ms.Sphere((5, 5, 5), 0.1))
    with pytest.raises(ms.ParameterError, match="indices"):
        ms.TrianglePatch.from_mesh(mesh, cells=[0, 99])
    d = ms.Domain(ms.Sphere((0, 0, 0), 1.0, name="s"))
    with pytest.raises(ms.GeometryError, match="a vertex is"):
        d.add_patch("t", "s", ms.TrianglePatch.from_mesh(mesh, cells=[0]))


def test_surface_benchmark_runs_and_patched_planes_keep_the_fold_path():
    """``microsyn bench --only surfaces`` (quick): both cases report their throughput and ratio;
    next to a plane with a small disc patch most boundary steps are still folds (the fold ball is
    kept clear of the patch), not general resolutions."""
    from microsyn.bench import surface_benchmarks

    rows = {r["case"]: r for r in surface_benchmarks(quick=True)}
    assert set(rows) == {"membrane_plane", "patched_plane"}
    for r in rows.values():
        assert r["particle_steps_per_s"] > 0 and r["ratio_vs_hole_plane"] > 0
    p = rows["patched_plane"]["paths"]
    assert p["folds"] > 3 * p["resolved"]
