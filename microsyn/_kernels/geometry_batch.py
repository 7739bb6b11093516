"""Batch geometry kernels over many points (signed distances, inside tests)."""
from __future__ import annotations

import numba as nb

from ..config import JIT_PARALLEL
from .boundaries import INSIDE_TOL, inside_domain
from .geometry import prim_sdf


@nb.njit(**JIT_PARALLEL)
def sdf_points(kind, par, sdf, mesh_meta, pts, out):
    """out[i] = min over primitives of the signed distance [um] of pts[i] (one primitive: exact)."""
    for i in nb.prange(pts.shape[0]):
        best = 1e300
        for p in range(kind.shape[0]):
            d = prim_sdf(kind, par, sdf, mesh_meta, p, pts[i, 0], pts[i, 1], pts[i, 2])
            if d < best:
                best = d
        out[i] = best


@nb.njit(**JIT_PARALLEL)
def inside_points(s, kind, role, active, par, sdf, mesh_meta, pts, out):
    """out[i] = 1 where pts[i] is inside the domain of species ``s``."""
    for i in nb.prange(pts.shape[0]):
        out[i] = 1 if inside_domain(s, pts[i, 0], pts[i, 1], pts[i, 2], kind, role, active, par, sdf,
                                    mesh_meta, INSIDE_TOL) else 0
