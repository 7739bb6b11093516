"""Patches on curved, flat and meshed surfaces against exact harmonic measures.

A particle that starts at the centre of a convex body whose whole surface absorbs ends on a
patch with the probability of the patch's harmonic measure seen from the centre. Where symmetry
fixes that measure it is exact:

- a cap of half-angle theta on a sphere: its area fraction (1 - cos theta) / 2 (the harmonic
  measure of a ball from its centre is uniform; Kellogg 1929, "Foundations of Potential
  Theory", ch. IX); the same holds when the whole sphere is *partially* absorbing at one rate
  (the absorption point is still uniform by symmetry);
- a quarter of one face of a cube, seen from the cube's centre: 1/24 (the 24 quarters of the six
  faces are images of each other under the cube's symmetries that fix the centre);
- one face of a cube given as a mesh, as a TrianglePatch of its two triangles: 1/6.

Tolerances are 4 binomial standard errors. The start is the exact centre, so every path
samples the geometry near the patch only through diffusion.
"""
import math

import numpy as np
import pytest

import microsyn as ms
from test_absorbing_targets_capacitance import _run_until_all_ended

D = 1.0  # um^2/ms


def _share(dom, start, n, dt, patch, seed):
    sim = ms.Simulation(dom, dt=dt, species=["Na+"], D={"Na+": D}, seed=seed)
    sim.add_particles("Na+", np.tile(np.asarray(start, float), (n, 1)))
    _run_until_all_ended(sim, 0.002)
    assert sim.absorbed_count() == n
    return sim.absorbed_count(patch) / n


def _check(p, theory, n, what):
    se = math.sqrt(theory * (1 - theory) / n)
    assert abs(p - theory) < 4 * se, f"{what}: {p:.5f} vs {theory:.5f} (4 SE = {4 * se:.5f})"


R = 0.1  # [um]


@pytest.mark.parametrize("condition", ["absorb", "partial"])
def test_cap_on_a_sphere_gets_its_area_fraction(condition):
    """A cap of chord radius 0.08 um (half-angle 47 degrees) on a sphere of radius 0.1 um that
    absorbs (or partially absorbs, P = 0.05 per hit) everywhere: share (1 - cos theta) / 2 =
    0.160, 20,000 particles, rms step R/20."""
    dom = ms.Domain(ms.Sphere((0, 0, 0), R, name="s"))
    dom.add_patch("cap", "s", ms.DiscPatch((0, 0, R), 0.08))
    dt = (R / 20) ** 2 / (2 * D)
    if condition == "absorb":
        dom.set_boundary("s", "absorb")
    else:
        kappa = 0.05 / math.sqrt(math.pi * dt / D)
        dom.set_boundary("s", "partial", rate=kappa)
    cos_t = 1 - 0.08 ** 2 / (2 * R * R)
    n = 20_000
    _check(_share(dom, (0, 0, 0), n, dt, "cap", seed=21), (1 - cos_t) / 2, n, f"cap, {condition}")


def test_quarter_of_a_cube_face_gets_one_twenty_fourth():
    """A square PolygonPatch covering a quarter of the top face of an absorbing cube of side
    0.2 um: share 1/24, 30,000 particles, rms step s/30."""
    s = 0.2
    dom = ms.Domain(ms.Box((0, 0, 0), (s, s, s), name="cube"))
    dom.add_patch("q", "cube.zmax", ms.PolygonPatch([(0, 0, s), (s / 2, 0, s), (s / 2, s / 2, s), (0, s / 2, s)]))
    dom.set_boundary("cube", "absorb")
    n = 30_000
    _check(_share(dom, (s / 2, s / 2, s / 2), n, (s / 30) ** 2 / (2 * D), "q", seed=22), 1 / 24, n, "quarter face")


def test_triangle_patch_on_a_mesh_cube_gets_one_sixth():
    """The two triangles of the top face of a cube mesh (side 0.2 um) as a TrianglePatch, the
    mesh absorbing everywhere: share 1/6, 20,000 particles, rms step s/30 (voxel s/16, so the
    bridge margin of 4.5 rms steps lies in the lattice's exact band)."""
    import pyvista as pv

    s = 0.2
    # a lattice coarse enough that its exact-distance band (3 voxels) covers the bridge margin
    mesh = ms.Mesh(pv.Cube(x_length=s, y_length=s, z_length=s).triangulate(), voxel_size=s / 16, name="m")
    tp = ms.TrianglePatch.from_mesh(mesh, where=ms.Box((-1, -1, 0.09), (1, 1, 1)))
    assert len(tp.triangles) == 2
    dom = ms.Domain(mesh)
    dom.add_patch("top", "m", tp)
    dom.set_boundary("m", "absorb")
    n = 20_000
    _check(_share(dom, (0, 0, 0), n, (s / 30) ** 2 / (2 * D), "top", seed=23), 1 / 6, n, "mesh face")


def test_fine_mesh_lattice_with_a_patch_warns():
    """The same cube at the default lattice (s/96): the margin exceeds the exact band, and the
    simulation says so (with the voxel size that would do)."""
    import pyvista as pv

    s = 0.2
    mesh = ms.Mesh(pv.Cube(x_length=s, y_length=s, z_length=s).triangulate(), name="m")
    dom = ms.Domain(mesh)
    dom.add_patch("top", "m", ms.TrianglePatch.from_mesh(mesh, where=ms.Box((-1, -1, 0.09), (1, 1, 1))))
    dom.set_boundary("m", "absorb")
    with pytest.warns(UserWarning, match="voxel_size >="):
        sim = ms.Simulation(dom, dt=(s / 30) ** 2 / (2 * D), species=["Na+"], D={"Na+": D}, seed=1)
        sim.add_particles("Na+", np.zeros((10, 3)))
        sim.run(5 * sim.dt)
