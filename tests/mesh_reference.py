"""Independent slow reference for the exact mesh tests: ray parity in numpy.

Written separately from the kernels (no lattice, no cell lists): a point is inside a closed
triangle mesh when a ray from it crosses the triangles an odd number of times (Moller-Trumbore
in float64, vectorised over all triangles). The ray's direction is irrational, so it passes
through no edge or vertex of a mesh with round coordinates.
"""
from __future__ import annotations

import numpy as np

RAY = np.array([0.8018934, 0.5326101, 0.2709871])
RAY = RAY / np.linalg.norm(RAY)


def triangles(mesh) -> np.ndarray:
    """Vertices (m, 3, 3) [um] of a microsyn Mesh's triangles, from its pyvista surface."""
    faces = mesh.polydata.faces.reshape(-1, 4)[:, 1:]
    return np.asarray(mesh.polydata.points, dtype=np.float64)[faces]


def inside_by_ray_parity(tri: np.ndarray, pts: np.ndarray, chunk: int = 64) -> np.ndarray:
    """True where pts (n, 3) [um] are inside the closed mesh ``tri`` (ray parity, no tolerance)."""
    a = tri[:, 0]
    e1 = tri[:, 1] - a
    e2 = tri[:, 2] - a
    pvec = np.cross(RAY, e2)
    det = np.einsum("ij,ij->i", e1, pvec)
    ok = det != 0.0
    a, e1, e2, pvec, det = a[ok], e1[ok], e2[ok], pvec[ok], det[ok]
    inv = 1.0 / det
    out = np.zeros(len(pts), bool)
    for s in range(0, len(pts), chunk):
        p = pts[s:s + chunk]
        sv = p[:, None, :] - a[None, :, :]
        u = np.einsum("nij,ij->ni", sv, pvec) * inv
        q = np.cross(sv, e1[None, :, :])
        v = (q @ RAY) * inv
        t = np.einsum("nij,ij->ni", q, e2) * inv
        hit = (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
        out[s:s + chunk] = (hit.sum(axis=1) % 2) == 1
    return out


def outside_points(mesh, pts: np.ndarray, near: float) -> np.ndarray:
    """Indices of pts outside the true triangles: ray parity for every point within ``near``
    [um] of the surface (VTK's implicit distance picks them), the implicit distance's sign for
    the rest (unambiguous that far away)."""
    import pyvista as pv

    d = pv.PolyData(pts).compute_implicit_distance(mesh.polydata)["implicit_distance"]
    close = np.abs(d) < near
    bad_far = np.flatnonzero(~close & (d > 0))
    idx = np.flatnonzero(close)
    ins = inside_by_ray_parity(triangles(mesh), pts[idx])
    return np.sort(np.concatenate([bad_far, idx[~ins]]))
