"""Regenerate the meshes shipped with microsyn (run: ``python meshes/make_meshes.py``).

- ``sphere.stl``: a sphere of radius 0.5 um, icosphere subdivided 5 times (20,480 triangles).
- ``spine.ply``: a dendritic spine on a dendrite shaft (non-convex): a shaft of radius 0.4 um and
  length 2.4 um along x, a neck of radius 0.1 um rising 0.6 um along z, and a head of radius
  0.3 um, blended smoothly (polynomial smooth minimum, k = 0.08 um) and triangulated by marching
  cubes, then decimated to about 30,000 triangles. Dimensions follow typical hippocampal spines
  (Harris & Stevens 1989, doi:10.1523/JNEUROSCI.09-08-02982.1989).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def _smin(a, b, k):
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b * (1 - h) + a * h - k * h * (1 - h)


def _capsule_x(p, half_len, r):
    q = np.zeros_like(p)  # nearest point on the axis segment
    q[:, 0] = np.clip(p[:, 0], -half_len, half_len)
    return np.linalg.norm(p - q, axis=1) - r


def spine_sdf(p):
    shaft = _capsule_x(p, 1.0, 0.4)
    # neck: vertical segment from inside the shaft to the head
    a = np.array([0.0, 0.0, 0.2])
    b = np.array([0.0, 0.0, 0.95])
    t = np.clip(((p - a) @ (b - a)) / np.dot(b - a, b - a), 0.0, 1.0)
    neck = np.linalg.norm(p - (a + t[:, None] * (b - a)), axis=1) - 0.1
    head = np.linalg.norm(p - np.array([0.0, 0.0, 1.2]), axis=1) - 0.3
    return _smin(_smin(shaft, neck, 0.08), head, 0.08)


def make_spine(h=0.008, target_triangles=30000):
    import pyvista as pv

    lo = np.array([-1.5, -0.5, -0.5])
    hi = np.array([1.5, 0.5, 1.6])
    dims = np.ceil((hi - lo) / h).astype(int) + 1
    grid = pv.ImageData(dimensions=dims, spacing=(h, h, h), origin=lo)
    grid.point_data["sdf"] = spine_sdf(np.asarray(grid.points))
    surf = grid.contour([0.0], scalars="sdf").triangulate().clean()
    if surf.n_cells > target_triangles:
        surf = surf.decimate(1.0 - target_triangles / surf.n_cells).triangulate()
    surf = surf.clean().compute_normals(auto_orient_normals=True, consistent_normals=True)
    return surf


def make_sphere():
    import pyvista as pv

    return pv.Icosphere(radius=0.5, nsub=5)


if __name__ == "__main__":
    sphere = make_sphere()
    sphere.save(HERE / "sphere.stl")
    spine = make_spine()
    from microsyn.geometry import check_closed_mesh

    check_closed_mesh(sphere, "sphere")
    check_closed_mesh(spine, "spine")
    spine.save(HERE / "spine.ply", binary=True)
    print(f"sphere: {sphere.n_cells} triangles; spine: {spine.n_cells} triangles")
