"""Surface patches: parts of a surface with their own boundary condition per species.

A patch is a named piece of one surface of a :class:`~microsyn.geometry.Domain` (a receptor
patch in the postsynaptic membrane, an active zone on a bouton, a transporter-covered glial
face). Added with :meth:`Domain.add_patch <microsyn.geometry.Domain.add_patch>`, it is a
surface of its own: ``set_boundary`` sets its condition per species (``"reflect"``,
``"absorb"``, ``"partial"`` with a rate, or ``"transmit"`` on the outer boundary), particles
absorbed there are counted under its name, and :meth:`Domain.patch_points` places binding
sites on it. Until a condition is set, a patch takes its surface's.

Three kinds:

- :class:`DiscPatch` ``(center, radius)``: the points of the surface within ``radius`` [um] of
  ``center`` (a disc on a plane, a cap on a sphere, a roughly round region of a mesh);
- :class:`PolygonPatch` ``(vertices)``: a planar polygon on a flat face (a half-space, a box
  face, a cylinder cap);
- :class:`TrianglePatch` ``(triangles)``: a labelled region of a mesh, e.g.
  ``TrianglePatch.from_mesh(mesh, where=ms.Sphere(c, 0.2))``.

Patches of one surface should not overlap; where they do, the one added first wins.

Example
-------
>>> import microsyn as ms
>>> dom = ms.Domain(ms.Sphere((0, 0, 0), 1.0, name="far"),
...                 holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
>>> _ = dom.add_patch("psd", "membrane", ms.DiscPatch((0, 0, 0), 0.15))
>>> _ = dom.set_boundary("psd", "absorb")
>>> dom.boundary("psd"), dom.boundary("membrane")
('absorb', 'reflect')
"""
from __future__ import annotations

import math

import numpy as np

from ._kernels.patches import P_DISC, P_POLYGON, P_TRIANGLES
from .errors import GeometryError, ParameterError, check_positive, check_vector3

#: columns of the patch table
PATCH_COLS = 12
#: how far [um] a polygon's or triangle's vertices may lie off their surface
ON_SURFACE_TOL = 1e-6


class Patch:
    """Base class: a region of one surface. Subclasses give ``kind``, ``rows()`` and ``contains``."""

    kind: int = -1

    def rows(self) -> np.ndarray:
        """The patch's data rows (m, PATCH_COLS) for the kernels' table."""
        return np.zeros((0, PATCH_COLS))

    def bounding_ball(self) -> tuple[np.ndarray, float]:
        """(centre [um], radius [um]) of a ball that holds the patch."""
        raise NotImplementedError

    def contains(self, points) -> np.ndarray:
        """True for surface points (n, 3) [um] that belong to the patch (the kernels' test)."""
        raise NotImplementedError

    def check_on(self, shape, face: str) -> None:
        """Raise GeometryError if the patch does not lie on ``face`` of ``shape``."""

    def sample(self, n: int, rng, shape, face: str) -> np.ndarray:
        """``n`` points [um] uniformly distributed over the patch on ``face`` of ``shape``."""
        raise GeometryError(f"{type(self).__name__}: sampling points on it is not supported")

    def area(self, shape, face: str) -> float:
        """The patch's area [um^2] on ``face`` of ``shape``."""
        raise GeometryError(f"{type(self).__name__}: its area on this surface is not known")


def _finite_array(what: str, values, row_shape: tuple, min_rows: int, shape_text: str) -> np.ndarray:
    """``values`` as a float array of rows of ``row_shape`` (at least ``min_rows``), all finite,
    or a ParameterError that names ``what`` and the expected ``shape_text``."""
    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{what} must be numbers of shape {shape_text}, got {values!r}") from None
    if a.ndim != 1 + len(row_shape) or a.shape[1:] != row_shape or a.shape[0] < min_rows:
        raise ParameterError(f"{what} must have shape {shape_text}, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ParameterError(f"{what} must be finite")
    return a


def _points(points) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    return p[None, :] if p.ndim == 1 else p


def _flat_face(shape, face: str):
    """(point, unit normal) of a flat face, or None for a curved one."""
    from .geometry import Box, Cylinder, HalfSpace

    if isinstance(shape, HalfSpace):
        return shape.point, shape.normal
    if isinstance(shape, Box):
        a, top = _box_face(shape, face)
        n = np.zeros(3)
        n[a] = 1.0
        pt = (shape.hi if top else shape.lo).copy()
        pt = np.where(np.isfinite(pt), pt, 0.0)
        return pt, n
    if isinstance(shape, Cylinder) and face in ("bottom", "top"):
        c = shape.center + (0.5 if face == "top" else -0.5) * shape.length * shape.axis
        return c, shape.axis
    return None


def _box_face(shape, face: str):
    """(axis, is the upper face) of a box face (also a slab's ``lower`` / ``upper``)."""
    i = shape.faces.index(face)
    return i // 2, i % 2 == 1


def _plane_basis(n):
    """Two unit vectors u, v with (u, v, n) orthonormal."""
    a = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(n, a)
    u /= np.linalg.norm(u)
    return u, np.cross(n, u)


class DiscPatch(Patch):
    """The points of a surface within ``radius`` [um] of ``center`` [um] (on the surface): a disc
    on a plane, a spherical cap on a sphere, a round region of a mesh or a cylinder."""

    kind = P_DISC

    def __init__(self, center, radius: float):
        self.center = check_vector3("center", center)
        self.radius = check_positive("radius [um]", radius)

    def bounding_ball(self):
        return self.center, self.radius

    def contains(self, points):
        d = _points(points) - self.center
        return np.einsum("ij,ij->i", d, d) <= self.radius ** 2

    def check_on(self, shape, face):
        d = _face_distance(shape, face, self.center)
        if d > ON_SURFACE_TOL:
            raise GeometryError(
                f"DiscPatch: its centre {self.center.tolist()} is {d:.3g} um from surface "
                f"{_surface_label(shape, face)!r}; put the centre on that surface")

    def _cap_of(self, shape):
        from .geometry import Sphere

        if not isinstance(shape, Sphere):
            return None
        R = shape.radius
        if self.radius >= 2 * R:
            return R, 1.0  # the whole sphere
        return R, 1.0 - self.radius ** 2 / (2.0 * R * R)  # cos of the cap's half-angle

    def area(self, shape, face):
        if _flat_face(shape, face) is not None:
            return math.pi * self.radius ** 2
        cap = self._cap_of(shape)
        if cap is not None:
            R, c = cap
            return 2.0 * math.pi * R * R * (1.0 - (c if self.radius < 2 * R else -1.0))
        return super().area(shape, face)

    def sample(self, n, rng, shape, face):
        flat = _flat_face(shape, face)
        if flat is not None:
            _, nrm = flat
            u, v = _plane_basis(nrm)
            r = self.radius * np.sqrt(rng.random(n))
            t = 2.0 * math.pi * rng.random(n)
            return self.center + r[:, None] * np.cos(t)[:, None] * u + r[:, None] * np.sin(t)[:, None] * v
        cap = self._cap_of(shape)
        if cap is not None:
            R, cmin = cap
            if self.radius >= 2 * R:
                cmin = -1.0
            axis = (self.center - shape.center) / R
            u, v = _plane_basis(axis)
            c = 1.0 - rng.random(n) * (1.0 - cmin)  # uniform in cos over the cap
            s = np.sqrt(np.maximum(1.0 - c * c, 0.0))
            t = 2.0 * math.pi * rng.random(n)
            dirs = c[:, None] * axis + s[:, None] * (np.cos(t)[:, None] * u + np.sin(t)[:, None] * v)
            return shape.center + R * dirs
        return super().sample(n, rng, shape, face)

    def __repr__(self):
        return f"DiscPatch(center={self.center.tolist()}, radius={self.radius:g})"


class PolygonPatch(Patch):
    """A planar polygon (k >= 3 vertices [um], in order, not self-intersecting) on a flat face.

    A surface point belongs to it when its projection onto the polygon's plane lies inside the
    polygon (even-odd rule)."""

    kind = P_POLYGON

    def __init__(self, vertices):
        v = _finite_array("PolygonPatch: vertices", vertices, (3,), 3, "(k >= 3, 3)")
        self.vertices = v
        c = v.mean(axis=0)
        nrm = np.zeros(3)
        for i in range(len(v)):  # Newell's normal
            nrm += np.cross(v[i] - c, v[(i + 1) % len(v)] - c)
        ln = float(np.linalg.norm(nrm))
        size = float(np.max(np.linalg.norm(v - c, axis=1)))
        if ln <= 1e-12 * max(size, 1e-30) ** 2:
            raise GeometryError("PolygonPatch: the vertices are collinear or the polygon has no area")
        self.normal = nrm / ln
        self.origin = c
        off = np.abs((v - c) @ self.normal)
        if off.max() > ON_SURFACE_TOL + 1e-9 * size:
            raise GeometryError(f"PolygonPatch: the vertices are not in one plane (one is {off.max():.3g} um "
                                f"off the plane of the others)")
        self.u, self.v = _plane_basis(self.normal)
        self._uv = np.stack([(v - c) @ self.u, (v - c) @ self.v], axis=1)
        self._size = size
        if _self_intersects(self._uv):
            raise GeometryError("PolygonPatch: the polygon's edges cross; give its vertices in order "
                                "around the boundary")

    def bounding_ball(self):
        return self.origin, self._size

    def rows(self):
        k = len(self._uv)
        out = np.zeros((1 + k, PATCH_COLS))
        out[0, 0:3] = self.origin
        out[0, 3:6] = self.u
        out[0, 6:9] = self.v
        out[1:, 0:2] = self._uv
        return out

    def contains(self, points):
        d = _points(points) - self.origin
        pu = d @ self.u
        pv = d @ self.v
        inside = np.zeros(len(d), bool)
        uv = self._uv
        k = len(uv)
        for i in range(k):
            (u1, v1), (u2, v2) = uv[i], uv[(i + 1) % k]
            cross = (v1 > pv) != (v2 > pv)
            with np.errstate(divide="ignore", invalid="ignore"):
                uc = u1 + (pv - v1) * (u2 - u1) / (v2 - v1)
            inside ^= cross & (pu < uc)
        near = np.einsum("ij,ij->i", d, d) <= self._size ** 2
        return inside & near

    def check_on(self, shape, face):
        flat = _flat_face(shape, face)
        if flat is None:
            raise GeometryError(f"PolygonPatch: surface {_surface_label(shape, face)!r} is curved; a polygon "
                                f"patch needs a flat face (a half-space, a box face or a cylinder cap); "
                                f"use a DiscPatch or a TrianglePatch")
        d = max(_face_distance(shape, face, p) for p in self.vertices)
        if d > ON_SURFACE_TOL:
            raise GeometryError(f"PolygonPatch: a vertex is {d:.3g} um from surface "
                                f"{_surface_label(shape, face)!r}; put the polygon on that face")

    def area(self, shape=None, face=None):
        u, v = self._uv[:, 0], self._uv[:, 1]
        return 0.5 * abs(float(np.dot(u, np.roll(v, -1)) - np.dot(v, np.roll(u, -1))))

    def sample(self, n, rng, shape=None, face=None):
        # fan triangulation is wrong for non-convex polygons: sample by rejection in the bounds
        lo = self._uv.min(axis=0)
        hi = self._uv.max(axis=0)
        out = []
        have = 0
        while have < n:
            m = max(64, 2 * (n - have))
            uv = lo + (hi - lo) * rng.random((m, 2))
            p = self.origin + uv[:, :1] * self.u + uv[:, 1:] * self.v
            p = p[self.contains(p)]
            out.append(p)
            have += len(p)
        return np.concatenate(out)[:n]

    def __repr__(self):
        return f"PolygonPatch({len(self.vertices)} vertices)"


def _self_intersects(uv) -> bool:
    k = len(uv)

    def orient(a, b, c):
        return np.sign((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    for i in range(k):
        a, b = uv[i], uv[(i + 1) % k]
        for j in range(i + 2, k):
            if i == 0 and j == k - 1:
                continue  # adjacent through the closing edge
            c, d = uv[j], uv[(j + 1) % k]
            if (orient(a, b, c) * orient(a, b, d) < 0) and (orient(c, d, a) * orient(c, d, b) < 0):
                return True
    return False


class TrianglePatch(Patch):
    """A region of a mesh given as triangles (m, 3, 3) [um]: a surface point belongs to it when it
    lies on one of them (within 1e-6 um)."""

    kind = P_TRIANGLES

    def __init__(self, triangles):
        t = _finite_array("TrianglePatch: triangles", triangles, (3, 3), 1, "(m >= 1, 3, 3)")
        self.triangles = t
        pts = t.reshape(-1, 3)
        self._center = pts.mean(axis=0)
        self._radius = float(np.max(np.linalg.norm(pts - self._center, axis=1))) + ON_SURFACE_TOL

    @classmethod
    def from_mesh(cls, mesh, where=None, cells=None) -> "TrianglePatch":
        """The triangles of ``mesh`` (a :class:`~microsyn.geometry.Mesh`) whose centroids lie
        inside the shape ``where`` (e.g. a Sphere or a Box), or those with indices ``cells``."""
        tri = mesh._triangles
        if (where is None) == (cells is None):
            raise ParameterError("TrianglePatch.from_mesh: give exactly one of where= (a shape) or cells= (indices)")
        if cells is not None:
            idx = np.asarray(cells)
            if idx.dtype.kind not in "iu" or idx.ndim != 1 or idx.size == 0:
                raise ParameterError("TrianglePatch.from_mesh: cells must be a non-empty list of triangle indices")
            if idx.min() < 0 or idx.max() >= len(tri):
                raise ParameterError(f"TrianglePatch.from_mesh: triangle indices must be in [0, {len(tri)})")
            sel = tri[idx]
        else:
            inside = where.contains(tri.mean(axis=1))
            if not inside.any():
                raise GeometryError(f"TrianglePatch.from_mesh: no triangle of {mesh.name!r} has its centroid "
                                    f"inside {where!r}")
            sel = tri[inside]
        return cls(sel)

    def bounding_ball(self):
        return self._center, self._radius

    def rows(self):
        out = np.zeros((len(self.triangles), PATCH_COLS))
        out[:, 0:9] = self.triangles.reshape(-1, 9)
        return out

    def contains(self, points):
        from ._kernels.patches import triangles_distance2

        p = np.ascontiguousarray(_points(points))
        out = np.empty(len(p))
        triangles_distance2(self.rows(), p, out)
        return out <= ON_SURFACE_TOL ** 2 * (1 + 1e-12)

    def check_on(self, shape, face):
        d = max(_face_distance(shape, face, p) for p in self.triangles.reshape(-1, 3))
        if d > ON_SURFACE_TOL:
            raise GeometryError(f"TrianglePatch: a vertex is {d:.3g} um from surface "
                                f"{_surface_label(shape, face)!r}; take the triangles from that mesh")

    def _areas(self):
        t = self.triangles
        return 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)

    def area(self, shape=None, face=None):
        return float(self._areas().sum())

    def sample(self, n, rng, shape=None, face=None):
        a = self._areas()
        k = rng.choice(len(a), size=n, p=a / a.sum())
        r1 = np.sqrt(rng.random(n))[:, None]
        r2 = rng.random(n)[:, None]
        t = self.triangles[k]
        return (1 - r1) * t[:, 0] + r1 * (1 - r2) * t[:, 1] + r1 * r2 * t[:, 2]

    def __repr__(self):
        return f"TrianglePatch({len(self.triangles)} triangles)"


def _surface_label(shape, face):
    return shape.name if len(shape.faces) == 1 else f"{shape.name}.{face}"


def _face_distance(shape, face: str, point) -> float:
    """Distance [um] from ``point`` to ``face`` of ``shape`` (to the face itself, not its plane)."""
    from .geometry import Box, Cylinder

    p = np.asarray(point, dtype=np.float64)
    if isinstance(shape, Box):
        a, top = _box_face(shape, face)
        plane = shape.hi[a] if top else shape.lo[a]
        q = np.clip(p, shape.lo, shape.hi)
        q[a] = plane
        return float(np.linalg.norm(p - q))
    if isinstance(shape, Cylinder):
        ax = shape.axis
        rel = p - shape.center
        h = float(rel @ ax)
        radial = rel - h * ax
        r = float(np.linalg.norm(radial))
        half = 0.5 * shape.length
        if face == "side":
            return math.hypot(r - shape.radius, max(abs(h) - half, 0.0))
        cap = half if face == "top" else -half
        return math.hypot(h - cap, max(r - shape.radius, 0.0))
    return abs(float(shape.sdf(p[None, :])[0]))


def patch_table(entries) -> np.ndarray:
    """The kernels' patch table from ``entries`` [(parent surface index, own surface index,
    patch)]: row 0 holds the number of patches, then one header row per patch (parent surface,
    kind, own surface, first data row, data rows, bounding centre (3), bounding radius), then
    the data rows."""
    n = len(entries)
    data = [p.rows() for _, _, p in entries]
    head = np.zeros((1 + n, PATCH_COLS))
    head[0, 0] = n
    row = 1 + n
    for j, ((parent, own, p), d) in enumerate(zip(entries, data)):
        c, r = p.bounding_ball()
        head[1 + j, 0:5] = (parent, p.kind, own, row, len(d))
        head[1 + j, 5:8] = c
        head[1 + j, 8] = r
        row += len(d)
    return np.ascontiguousarray(np.concatenate([head] + data)) if data else head
