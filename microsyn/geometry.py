"""Geometry: analytic shapes, closed triangle meshes, domains and their boundary conditions.

A :class:`Domain` is a union of *solids* minus a union of *holes*; particles live inside it.
Shapes: :class:`HalfSpace` (a membrane plane), :class:`Box` (axis-aligned; bounds may be
infinite), :class:`Slab` (a synaptic cleft between two planes), :class:`Sphere`,
:class:`Cylinder` and :class:`Mesh` (a closed triangle mesh whose triangles are the boundary,
with a signed distance lattice for fast bounds). ``a | b`` makes a union, ``a - b`` cuts ``b`` out of ``a``.

Every shape has named faces (a box: ``xmin`` .. ``zmax``; a cylinder: ``side``, ``bottom``,
``top``; others one face). A surface is named ``"<shape name>.<face>"``, or just
``"<shape name>"`` for one-face shapes. Each surface has, per species, a boundary condition:
``"reflect"`` (specular, the default), ``"absorb"`` (with the Brownian-bridge correction) or
``"transmit"`` (no barrier; crossing the domain's boundary this way leaves the simulation).

Example
-------
>>> import microsyn as ms
>>> cyto = ms.Box((-1, -1, 0), (1, 1, 1), name="cyto")   # membrane at z = 0
>>> dom = ms.Domain(cyto)
>>> _ = dom.set_boundary("cyto.zmax", "absorb")         # open space above
>>> dom.contains([(0, 0, 0.5), (0, 0, -0.1)]).tolist()
[True, False]
"""
from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ._kernels import geometry as _kg
from .errors import (
    GeometryError,
    MeshError,
    ParameterError,
    check_finite,
    check_positive,
    check_vector3,
)

BOUNDARY_CODES = {"reflect": 0, "absorb": 1, "transmit": 2, "partial": 3}

_name_counter = itertools.count()


def _auto_name(prefix: str) -> str:
    return f"{prefix}{next(_name_counter)}"


class Shape:
    """Base class of shapes. Subclasses define ``kind``, ``faces``, ``params`` and SDFs."""

    kind: int = -1
    faces: tuple[str, ...] = ("surface",)

    def __init__(self, name: str | None):
        if name is not None and (not isinstance(name, str) or not name or "." in name):
            raise ParameterError(f"a shape name must be a non-empty string without '.', got {name!r}")
        self.name = name or _auto_name(type(self).__name__.lower())

    # --- composition -----------------------------------------------------------
    def __or__(self, other) -> "Domain":
        return Domain(self) | other

    def __sub__(self, other) -> "Domain":
        return Domain(self) - other

    # --- queries -----------------------------------------------------------------
    def params(self) -> np.ndarray:
        raise NotImplementedError

    def sdf(self, points) -> np.ndarray:
        """Signed distance [um] of points (n, 3) to the shape's surface; negative inside."""
        pts = _as_points(points)
        kind = np.array([self.kind], np.int64)
        par = self.params()[None, :]
        sdf, meta = self._mesh_arrays()
        return _sdf_many(kind, par, sdf, meta, pts)

    def contains(self, points) -> np.ndarray:
        return self.sdf(points) <= 0.0

    def surface_names(self) -> list[str]:
        if len(self.faces) == 1:
            return [self.name]
        return [f"{self.name}.{f}" for f in self.faces]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounds (lo, hi) [um]; infinite where the shape is unbounded."""
        raise NotImplementedError

    def smallest_feature(self) -> float:
        """The smallest length [um] a step must resolve (e.g. a cleft's width)."""
        return math.inf

    def volume(self) -> float:
        return math.inf

    def _mesh_arrays(self):
        return np.zeros(1, np.float32), np.zeros((0, 8))

    def to_polydata(self):
        """The surface as a pyvista.PolyData (for rendering and membrane graphs)."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


def _as_points(points) -> np.ndarray:
    try:
        p = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"points must be numbers of shape (n, 3) in um, got {points!r}") from None
    if p.ndim == 1:
        p = p[None, :]
    if p.ndim != 2 or p.shape[1] != 3:
        raise ParameterError(f"points must have shape (n, 3), got {p.shape}")
    return p


def _sdf_many(kind, par, sdf, meta, pts):
    out = np.empty(pts.shape[0])
    _sdf_kernel(kind, par, sdf, meta, pts, out)
    return out


def _sdf_kernel(kind, par, sdf, meta, pts, out):
    from ._kernels.geometry_batch import sdf_points

    sdf_points(kind, par, sdf, meta, np.ascontiguousarray(pts), out)


class HalfSpace(Shape):
    """The half-space on the side of a plane that ``normal`` points to.

    Parameters
    ----------
    point : 3 floats
        A point on the plane [um].
    normal : 3 floats
        Direction into the half-space (need not be unit length).
    name : str
        Surface name (default ``"membrane"``-like auto name).

    Example
    -------
    >>> HalfSpace((0, 0, 0), (0, 0, 1)).contains([(0, 0, 1.0)]).tolist()   # z >= 0
    [True]
    """

    kind = _kg.K_HALFSPACE
    faces = ("plane",)

    def __init__(self, point=(0.0, 0.0, 0.0), normal=(0.0, 0.0, 1.0), name: str | None = None):
        super().__init__(name)
        self.point = check_vector3("point", point)
        n = check_vector3("normal", normal)
        ln = float(np.linalg.norm(n))
        if ln == 0.0:
            raise GeometryError("normal must be a non-zero vector")
        self.normal = n / ln  # into the domain

    def params(self):
        p = np.zeros(_kg.N_PAR)
        p[0:3] = self.point
        p[3:6] = -self.normal  # kernels store the outward normal
        return p

    def bounds(self):
        lo = np.full(3, -np.inf)
        hi = np.full(3, np.inf)
        for a in range(3):
            if np.allclose(np.abs(self.normal[a]), 1.0):
                if self.normal[a] > 0:
                    lo[a] = self.point[a]
                else:
                    hi[a] = self.point[a]
        return lo, hi

    def to_polydata(self, size: float = 2.0):
        import pyvista as pv

        return pv.Plane(center=self.point, direction=self.normal, i_size=size, j_size=size)


class Box(Shape):
    """An axis-aligned box ``lo <= x <= hi`` [um]; any bound may be +-inf.

    Faces: ``xmin``, ``xmax``, ``ymin``, ``ymax``, ``zmin``, ``zmax``.
    """

    kind = _kg.K_BOX
    faces = ("xmin", "xmax", "ymin", "ymax", "zmin", "zmax")

    def __init__(self, lo, hi, name: str | None = None):
        super().__init__(name)
        lo_a = np.asarray(lo, dtype=np.float64)
        hi_a = np.asarray(hi, dtype=np.float64)
        if lo_a.shape != (3,) or hi_a.shape != (3,):
            raise GeometryError(f"box corners must be three numbers each, got {lo!r} and {hi!r}")
        if np.any(np.isnan(lo_a)) or np.any(np.isnan(hi_a)):
            raise GeometryError(f"box corners contain NaN: lo={lo_a.tolist()}, hi={hi_a.tolist()}")
        if np.any(hi_a - lo_a <= 0):
            raise GeometryError(
                f"box needs hi > lo on every axis [um], got lo={lo_a.tolist()}, hi={hi_a.tolist()}"
            )
        self.lo = lo_a
        self.hi = hi_a

    def params(self):
        p = np.zeros(_kg.N_PAR)
        p[0:3] = self.lo
        p[3:6] = self.hi
        return p

    def bounds(self):
        return self.lo.copy(), self.hi.copy()

    def smallest_feature(self):
        return float(np.min(self.hi - self.lo))

    def volume(self):
        return float(np.prod(self.hi - self.lo))

    def to_polydata(self):
        import pyvista as pv

        lo = np.where(np.isfinite(self.lo), self.lo, -1e3)
        hi = np.where(np.isfinite(self.hi), self.hi, 1e3)
        return pv.Box(bounds=(lo[0], hi[0], lo[1], hi[1], lo[2], hi[2])).triangulate()


class Slab(Box):
    """The region between two parallel planes ``z_lo <= z <= z_hi`` (e.g. a synaptic cleft).

    Parameters
    ----------
    z_lo, z_hi : float
        Heights of the lower and upper planes [um], ``z_lo < z_hi``.
    half_width : float
        Lateral half-width [um]: the slab spans ``-half_width <= x, y <= half_width``
        (default: unbounded).
    name : str, optional

    Faces are named ``lower`` and ``upper`` (the planes) plus ``xmin``.. ``ymax`` when
    ``half_width`` bounds the slab laterally. For a box with other lateral bounds use
    :class:`Box`.

    Example
    -------
    >>> Slab(-0.005, 0.0, half_width=2.0).bounds()[0].tolist()   # a 5 nm membrane, 4 um wide
    [-2.0, -2.0, -0.005]
    """

    def __init__(self, z_lo: float, z_hi: float, half_width: float = math.inf, name: str | None = None):
        for label, v in (("z_lo", z_lo), ("z_hi", z_hi)):
            if np.ndim(v) != 0:
                raise GeometryError(
                    f"Slab takes two heights and a half-width, Slab(z_lo, z_hi, half_width=...) "
                    f"[um], but {label} is {v!r}; for corners lo and hi use Box(lo, hi), e.g. "
                    f"Box((-2, -2, -0.005), (2, 2, 0)), or Slab(-0.005, 0.0, half_width=2.0)"
                )
        try:
            z_lo = check_finite("Slab z_lo [um]", z_lo)
            z_hi = check_finite("Slab z_hi [um]", z_hi)
            w = check_positive("Slab half_width [um]", half_width, allow_inf=True)
        except ParameterError as e:
            raise GeometryError(f"{e}; call Slab(z_lo, z_hi, half_width=...)") from None
        if not z_hi > z_lo:
            raise GeometryError(f"Slab needs z_lo < z_hi [um], got z_lo={z_lo!r}, z_hi={z_hi!r}; "
                                f"swap them")
        super().__init__((-w, -w, z_lo), (w, w, z_hi), name=name)
        self.faces = ("xmin", "xmax", "ymin", "ymax", "lower", "upper")


class Sphere(Shape):
    """A ball of ``radius`` [um] around ``center`` [um]."""

    kind = _kg.K_SPHERE
    faces = ("surface",)

    def __init__(self, center=(0.0, 0.0, 0.0), radius: float = 1.0, name: str | None = None):
        super().__init__(name)
        self.center = check_vector3("center", center)
        try:
            self.radius = check_positive("sphere radius [um]", radius)
        except ParameterError as e:
            raise GeometryError(str(e)) from None

    def params(self):
        p = np.zeros(_kg.N_PAR)
        p[0:3] = self.center
        p[3] = self.radius
        return p

    def bounds(self):
        return self.center - self.radius, self.center + self.radius

    def smallest_feature(self):
        return self.radius

    def volume(self):
        return 4.0 / 3.0 * math.pi * self.radius**3

    def to_polydata(self):
        import pyvista as pv

        return pv.Sphere(radius=self.radius, center=self.center, theta_resolution=64, phi_resolution=64)


class Cylinder(Shape):
    """A capped cylinder of ``radius`` and ``length`` [um] centred on ``center`` along ``axis``.

    Faces: ``side``, ``bottom`` (the cap at -axis) and ``top``.
    """

    kind = _kg.K_CYLINDER
    faces = ("side", "bottom", "top")

    def __init__(self, center=(0.0, 0.0, 0.0), radius: float = 1.0, length: float = 1.0,
                 axis=(0.0, 0.0, 1.0), name: str | None = None):
        super().__init__(name)
        self.center = check_vector3("center", center)
        try:
            self.radius = check_positive("cylinder radius [um]", radius)
            self.length = check_positive("cylinder length [um]", length)
        except ParameterError as e:
            raise GeometryError(str(e)) from None
        a = check_vector3("axis", axis)
        la = float(np.linalg.norm(a))
        if la == 0:
            raise GeometryError("cylinder axis must be a non-zero vector")
        self.axis = a / la

    def params(self):
        p = np.zeros(_kg.N_PAR)
        p[0:3] = self.center - 0.5 * self.length * self.axis
        p[3:6] = self.axis
        p[6] = self.radius
        p[7] = self.length
        return p

    def bounds(self):
        ends = np.array([self.center - 0.5 * self.length * self.axis, self.center + 0.5 * self.length * self.axis])
        ext = self.radius * np.sqrt(np.clip(1.0 - self.axis**2, 0.0, 1.0))
        return ends.min(0) - ext, ends.max(0) + ext

    def smallest_feature(self):
        return min(self.radius, self.length)

    def volume(self):
        return math.pi * self.radius**2 * self.length

    def to_polydata(self):
        import pyvista as pv

        return pv.Cylinder(center=self.center, direction=self.axis, radius=self.radius,
                           height=self.length, resolution=96, capping=True).triangulate()


# ---------------------------------------------------------------------------------------------
# meshes

MESH_SUFFIXES = (".stl", ".obj", ".ply", ".vtk", ".vtp")


def mesh_dir() -> Path:
    """Folder of the meshes shipped with microsyn (package data ``microsyn.meshes``)."""
    try:  # installed: the repository's meshes/ ships as the subpackage microsyn.meshes
        from . import meshes  # noqa: PLC0415

        return Path(meshes.__file__).parent
    except ImportError:  # running from a source checkout without installing
        return Path(__file__).resolve().parent.parent / "meshes"


def list_meshes() -> list[str]:
    """Names of the shipped meshes (file stems)."""
    return sorted(p.stem for p in mesh_dir().iterdir() if p.suffix.lower() in MESH_SUFFIXES)


_STL_HINT = "export the mesh again as STL, or as OBJ, PLY or VTK"


def _check_stl_file(path: Path, label: str) -> None:
    """Raise :class:`MeshError` unless ``path`` looks like a binary or an ASCII STL file.

    Binary: an 80-byte header, a triangle count N and 50 bytes per triangle (84 + 50 N bytes).
    ASCII: text starting with ``solid`` and holding ``facet`` and ``vertex`` records.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if size >= 84:
        n_tri = int.from_bytes(head[80:84], "little")
        if n_tri > 0 and size >= 84 + 50 * n_tri:
            return  # binary
    try:
        text = head.decode("ascii").lower()
    except UnicodeDecodeError:
        text = None
    if text is not None and text.lstrip().startswith("solid") and "facet" in text and "vertex" in text:
        return  # ASCII
    if size >= 84:
        why = (f"as binary STL its header announces {int.from_bytes(head[80:84], 'little')} "
               f"triangles (84 + 50 bytes each) but the file has {size} bytes, and it is not an "
               f"ASCII STL (text starting with 'solid' with 'facet' and 'vertex' lines)")
    else:
        why = (f"{size} bytes is shorter than a binary STL header, and it is not an ASCII STL "
               f"(text starting with 'solid' with 'facet' and 'vertex' lines)")
    raise MeshError(f"{label}: could not be read as STL (binary or ASCII): {why}; {_STL_HINT}")


def _read_quietly(path: Path):
    """``pyvista.read`` with VTK's error and warning output switched off for the call (a reader
    that fails reports through the exception or an empty result instead)."""
    import warnings

    import pyvista as pv
    from vtkmodules.vtkCommonCore import vtkObject

    shown = vtkObject.GetGlobalWarningDisplay()
    vtkObject.GlobalWarningDisplayOff()
    try:
        with warnings.catch_warnings():  # VTK warns before failing; we raise MeshError instead
            warnings.simplefilter("ignore")
            return pv.read(str(path))
    finally:
        vtkObject.SetGlobalWarningDisplay(shown)


def load_mesh(source):
    """Read a closed triangle mesh from a path, a shipped mesh name or a pyvista.PolyData.

    Returns a triangulated, cleaned ``pyvista.PolyData``. Raises :class:`MeshError` if the file
    is missing or unreadable, or holds no triangles.
    """
    import pyvista as pv

    if isinstance(source, pv.DataSet):
        poly = source if isinstance(source, pv.PolyData) else source.extract_surface()
        label = "the given mesh"
    else:
        path = Path(os.fspath(source))
        label = str(path)
        if not path.exists():
            candidates = [mesh_dir() / (path.name + s) for s in MESH_SUFFIXES] + [mesh_dir() / path.name]
            found = [c for c in candidates if c.exists()]
            if not found:
                raise MeshError(
                    f"no mesh file {str(path)!r} and no shipped mesh of that name; shipped: "
                    f"{list_meshes()}; formats: {', '.join(MESH_SUFFIXES)}"
                )
            path = found[0]
            label = path.name
        if path.suffix.lower() not in MESH_SUFFIXES:
            raise MeshError(f"{label}: unsupported mesh format {path.suffix!r}; use one of {MESH_SUFFIXES}")
        is_stl = path.suffix.lower() == ".stl"
        if is_stl:
            _check_stl_file(path, label)
        try:
            data = _read_quietly(path)
        except Exception as e:  # noqa: BLE001 (reader errors vary by format)
            if is_stl:
                raise MeshError(f"{label}: could not be read as STL (binary or ASCII): {e}; "
                                f"{_STL_HINT}") from None
            raise MeshError(f"{label}: cannot read the mesh ({e})") from None
        poly = data if isinstance(data, pv.PolyData) else data.extract_surface()
        if is_stl and (poly.n_points == 0 or poly.n_cells == 0):
            raise MeshError(f"{label}: could not be read as STL (binary or ASCII): the reader "
                            f"found no triangles; {_STL_HINT}")
    if poly.n_points == 0 or poly.n_cells == 0:
        raise MeshError(f"{label}: the mesh has no triangles")
    if not np.all(np.isfinite(poly.points)):
        raise MeshError(f"{label}: the mesh has NaN or infinite vertex coordinates")
    poly = poly.triangulate().clean(tolerance=0.0)
    return poly


def check_closed_mesh(poly, label: str = "mesh") -> None:
    """Raise :class:`MeshError` unless the mesh is one closed (watertight), manifold,
    consistently oriented surface that does not intersect itself.

    Checks, each with a message saying how to repair the mesh: triangles only, no degenerate
    triangles, every edge in exactly two triangles (watertight and manifold), every edge run
    in opposite directions by its two triangles (orientation), and no two triangles crossing
    (:func:`find_self_intersections`; overlapping parts would make the parity inside test
    count their overlap as outside). The crossing test is bucketed on a grid, so its cost grows
    about linearly with the number of triangles.
    """
    faces = poly.faces.reshape(-1, 4) if poly.n_cells else np.zeros((0, 4), int)
    if faces.size == 0 or np.any(faces[:, 0] != 3):
        raise MeshError(f"{label}: the mesh must consist of triangles")
    tri = faces[:, 1:]
    if np.any(tri[:, 0] == tri[:, 1]) or np.any(tri[:, 1] == tri[:, 2]) or np.any(tri[:, 0] == tri[:, 2]):
        raise MeshError(f"{label}: the mesh has degenerate triangles (repeated vertices); clean it")
    edges = np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    n_open = int(np.sum(counts == 1))
    n_nonmanifold = int(np.sum(counts > 2))
    if n_open:
        raise MeshError(
            f"{label}: the mesh is not watertight ({n_open} open edges); close its holes "
            f"(e.g. pyvista's fill_holes or a mesh repair tool) before using it as a boundary"
        )
    if n_nonmanifold:
        raise MeshError(
            f"{label}: the mesh is not manifold ({n_nonmanifold} edges shared by more than two "
            f"triangles, as where two closed surfaces were joined along an edge); merge the parts "
            f"into one surface with a boolean union (e.g. pyvista's a.boolean_union(b), Blender's "
            f"Boolean modifier or MeshFix) or remove the extra triangles"
        )
    # consistent orientation: every directed edge once (its neighbour runs it backwards)
    directed = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
    _, dcounts = np.unique(directed, axis=0, return_counts=True)
    n_flipped = int(np.sum(dcounts > 1))
    if n_flipped:
        raise MeshError(
            f"{label}: the triangles are not consistently oriented ({n_flipped} edges run the same "
            f"way in both of their triangles); reorient them, e.g. with pyvista's "
            f"compute_normals(consistent_normals=True, auto_orient_normals=True) or MeshLab's "
            f"'Re-Orient all faces coherently'"
        )
    n_cross, pairs = find_self_intersections(poly)
    if n_cross:
        a, b = (int(v) for v in pairs[0])
        where = [round(float(v), 4) for v in poly.points[tri[a]].astype(float).mean(axis=0)]
        raise MeshError(
            f"{label}: the surface intersects itself ({n_cross} pairs of triangles cross, e.g. "
            f"triangles {a} and {b} near {where} um), as when two overlapping closed surfaces are "
            f"saved in one file; the inside/outside test would then count the overlap as outside. "
            f"Merge the parts into one surface with a boolean union (e.g. pyvista's "
            f"a.boolean_union(b), Blender's Boolean modifier, or MeshFix / MeshLab) and load the "
            f"result"
        )
    if poly.volume <= 0:
        raise MeshError(f"{label}: the mesh encloses no volume")


def find_self_intersections(poly, max_report: int = 16):
    """Pairs of triangles of a triangulated ``pyvista.PolyData`` that cross each other.

    Triangles sharing a vertex and coplanar contacts are not counted (see
    :mod:`microsyn._kernels.meshcheck`). Returns (number of crossing pairs, up to
    ``max_report`` pairs as an (k, 2) array of triangle indices).
    """
    from ._kernels.meshcheck import self_intersections

    faces = np.ascontiguousarray(poly.faces.reshape(-1, 4)[:, 1:], dtype=np.int64)
    tri = np.ascontiguousarray(poly.points[faces], dtype=np.float64)
    out = np.zeros((max_report, 2), np.int64)
    if len(faces) < 2:
        return 0, out[:0]
    lo = tri.min(axis=(0, 1))
    hi = tri.max(axis=(0, 1))
    ext = tri.max(axis=1) - tri.min(axis=1)
    # cells about twice a typical triangle, at most ~4 million of them
    h = max(2.0 * float(np.median(ext.max(axis=1))), float(np.max(hi - lo)) / 160.0, 1e-12)
    dims = np.maximum(np.ceil((hi - lo) / h).astype(np.int64), 1)
    n = int(self_intersections(tri, faces, lo, h, int(dims[0]), int(dims[1]), int(dims[2]), out))
    return n, out[: min(n, max_report)]


def _outward_triangles(poly) -> np.ndarray:
    """Triangle vertices (m, 3, 3) [um], wound so that (b - a) x (c - a) points outwards."""
    faces = poly.faces.reshape(-1, 4)[:, 1:]
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    if len(np.unique(directed, axis=0)) != len(directed):  # inconsistent winding: make it so
        fixed = poly.compute_normals(cell_normals=True, point_normals=False, consistent_normals=True,
                                     auto_orient_normals=True, split_vertices=False)
        faces = fixed.faces.reshape(-1, 4)[:, 1:]
        poly = fixed
    tri = np.ascontiguousarray(poly.points[faces], dtype=np.float64)
    signed_volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0
    if signed_volume < 0.0:
        tri = np.ascontiguousarray(tri[:, [0, 2, 1]])
    return tri


class Mesh(Shape):
    """A closed triangle mesh: its triangles are the boundary (a lattice speeds up the tests).

    Parameters
    ----------
    source : path, shipped mesh name, or pyvista.PolyData
        STL/OBJ/PLY/VTK/VTP file, or a name from :func:`list_meshes`.
    voxel_size : float, optional
        Lattice spacing [um]. Default: 1/96 of the largest extent.
    scale : float
        Factor applied to the vertex coordinates (e.g. 1e-3 for a mesh in nm).
    name : str, optional

    Notes
    -----
    The boundary is the triangles themselves. A lattice of spacing ``voxel_size`` holds, per
    node, the exact distance to the triangles within 3 voxels of the surface and a rigorous
    lower bound beyond (from a distance transform of the band), signed by scanline parity; it
    gives every point a lower bound on its distance to the triangles (the free-flight radius of
    the stepping kernels). Per lattice cell a list of the triangles that may cross it is kept;
    steps that may reach the surface are tested exactly against the triangles of the cells
    they pass (Moller-Trumbore) and reflected in the plane of the triangle they hit. Inside
    tests near the surface (``contains``, fills, releases, the end of every such step) use
    ray parity against the cell's triangles, and ``sdf`` is the exact distance to the nearest
    triangle within the band (the lattice's lower bound beyond).
    """

    kind = _kg.K_MESH
    faces = ("surface",)

    def __init__(self, source, voxel_size: float | None = None, scale: float = 1.0, name: str | None = None):
        is_path = isinstance(source, (str, os.PathLike))
        super().__init__(name or (Path(os.fspath(source)).stem if is_path else None))
        label = str(source) if is_path else self.name
        scale = check_positive("scale", scale)
        poly = load_mesh(source)
        if scale != 1.0:
            poly = poly.scale(scale, inplace=False)
        check_closed_mesh(poly, label=label)
        self.polydata = poly
        lo = np.array(poly.bounds[0::2])
        hi = np.array(poly.bounds[1::2])
        ext = hi - lo
        if voxel_size is None:
            h = float(ext.max()) / 96.0
        else:
            h = check_positive("voxel_size [um]", voxel_size)
        n_est = np.prod(np.ceil(ext / h) + 8)
        if n_est > 6e7:
            raise MeshError(
                f"{self.name}: voxel_size {h:g} um would need {n_est:.3g} lattice nodes; "
                f"use a voxel_size of at least {float(ext.max()) / 300:.3g} um"
            )
        self.voxel_size = h
        self._voxelize(poly, lo, hi, h)

    def _voxelize(self, poly, lo, hi, h):
        from scipy import ndimage

        from ._kernels.voxelize import band_distance, cell_triangles, inside_labels

        pad = 4
        # an irrational offset keeps lattice columns off vertices and edges of round meshes
        jitter = np.array([0.1234567891, 0.2718281828, 0.1414213562]) * h
        origin = lo - pad * h - jitter
        dims = (np.ceil((hi - origin) / h).astype(np.int64) + pad + 1)
        nx, ny, nz = (int(d) for d in dims)
        tri = _outward_triangles(poly)
        labels, odd = inside_labels(tri, origin, h, nx, ny, nz)
        if odd > 0:
            raise MeshError(
                f"{self.name}: {odd} lattice rays cross the surface an odd number of times; the "
                f"mesh has self-intersections or gaps smaller than a voxel"
            )
        band = _kg.BAND_VOXELS * h
        dband = band_distance(tri, origin, h, nx, ny, nz, band)
        inside = labels.astype(bool)
        # far field, a lower bound on the distance d to the triangles. For a node p beyond the
        # band with nearest surface point s, the point x on [s, p] at r = band - h sqrt(3)/2
        # from s has d(x) = r, and the node n nearest to x (|n - x| <= h sqrt(3)/2) has
        # d(n) <= band, so n is a band node and d(p) = r + |p - x| >= dist(p, band nodes) +
        # band - h sqrt(3); and every node outside the band is at least `band` away
        in_band = dband <= band
        d_band = ndimage.distance_transform_edt(~in_band) * h
        far = np.maximum(d_band + band - math.sqrt(3.0) * h, band)
        dist = np.where(in_band, dband, far)
        phi = np.where(inside, -dist, dist)
        self.labels = labels
        self.origin = origin
        self.dims = (nx, ny, nz)
        # float32, rounded towards zero so that |phi| stays a lower bound where it is exact
        phi32 = phi.astype(np.float32)
        over = np.abs(phi32.astype(np.float64)) > np.abs(phi)
        phi32[over] = np.nextafter(phi32[over], np.float32(0.0))
        self._sdf = np.ascontiguousarray(phi32.ravel())
        if not inside.any():
            raise MeshError(f"{self.name}: no lattice node is inside the mesh; use a smaller voxel_size")
        # thinnest part: twice the smallest ridge (local maximum) of the inside distance,
        # estimated by the distance transform beyond the band (one voxel subtracted)
        d_in = ndimage.distance_transform_edt(inside) * h
        depth = np.where(inside, np.where(in_band, dband, np.maximum(d_in - h, band)), 0.0)
        ridge = inside & (depth >= ndimage.maximum_filter(depth, size=3)) & (depth > 0.5 * h)
        self._feature = 2.0 * float(depth[ridge].min()) if ridge.any() else 2.0 * h
        self._volume = float(poly.volume)
        # the exact surface: triangles (vertices and outward unit normals, two rows of 8 each)
        # and per lattice cell the triangles that may intersect it (CSR)
        self._triangles = tri
        nrm = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
        rows = np.zeros((2 * len(tri), 8))
        rows[0::2, 0:8] = tri.reshape(-1, 9)[:, 0:8]
        rows[1::2, 0] = tri[:, 2, 2]
        rows[1::2, 1:4] = nrm
        start, idx = cell_triangles(tri, origin, h, nx, ny, nz)
        flat = np.concatenate([start, idx]).astype(np.float64)
        flat = np.concatenate([flat, np.zeros((-flat.size) % 8)])
        self._n_cell_entries = int(start.size)
        self._data = np.concatenate([rows, flat.reshape(-1, 8)])

    def _par(self, mesh_index: int, row0: int) -> np.ndarray:
        """Kernel parameters when this mesh's header is row ``mesh_index`` of ``mesh_meta`` and
        its data start at row ``row0``: mesh index, first triangle row, flat positions of the
        cell starts and of the cell triangle lists, triangle count."""
        p = np.zeros(_kg.N_PAR)
        n_tri = len(self._triangles)
        p[0] = mesh_index
        p[1] = row0
        p[2] = (row0 + 2 * n_tri) * 8
        p[3] = p[2] + self._n_cell_entries
        p[4] = n_tri
        return p

    def params(self):
        return self._par(0, 1)  # as laid out by _mesh_arrays

    def _header(self) -> np.ndarray:
        meta = np.zeros(8)
        meta[0:3] = self.origin
        meta[3] = self.voxel_size
        meta[4:7] = self.dims
        meta[7] = 0
        return meta

    def _mesh_arrays(self):
        """(distances, mesh_meta) of this mesh alone: the header row, then its data rows."""
        return self._sdf, np.concatenate([self._header()[None, :], self._data])

    def bounds(self):
        b = self.polydata.bounds
        return np.array(b[0::2]), np.array(b[1::2])

    def smallest_feature(self):
        return self._feature

    def volume(self):
        return self._volume

    def to_polydata(self):
        return self.polydata

    @property
    def distance_lattice(self) -> np.ndarray:
        """The node distances [um], shape ``dims`` (node (i, j, k) at origin + h (i, j, k)):
        exact distance to the triangles within 3 voxels, a lower bound beyond; negative inside."""
        n = int(np.prod(self.dims))
        return self._sdf[:n].reshape(self.dims)

    @property
    def n_triangles(self) -> int:
        return int(self.polydata.n_cells)


# ---------------------------------------------------------------------------------------------
# domains


@dataclass
class CompiledGeometry:
    """Arrays the kernels take (see :mod:`microsyn._kernels.geometry`)."""

    kind: np.ndarray
    role: np.ndarray
    active: np.ndarray  # (n_species, n_prim) int8
    par: np.ndarray
    face_base: np.ndarray  # (n_prim + 1,)
    sdf: np.ndarray
    mesh_meta: np.ndarray
    bc: np.ndarray  # (n_species, n_surfaces) float64 boundary codes (BC_PARTIAL + P: see _kernels.boundaries)
    has_absorb: np.ndarray  # (n_species,) int8
    surface_names: list
    #: (n_species, n_surfaces) adsorption rate constants kappa [um/ms] of partially absorbing faces
    kappa: np.ndarray | None = None
    #: the patch table (see :mod:`microsyn._kernels.patches`)
    patches: np.ndarray | None = None
    #: (n_surfaces,) True for faces that carry patches (their codes are stored as -1 - code)
    patched: np.ndarray | None = None

    def with_partial_probabilities(self, sigma, dt: float) -> "CompiledGeometry":
        """A copy whose partially absorbing faces carry their absorption probability per hit,
        P = kappa sqrt(pi dt / D) = kappa sqrt(2 pi) dt / sigma for species steps of rms
        ``sigma`` = sqrt(2 D dt) per axis [um] and step ``dt`` [ms]; ``bc`` = BC_PARTIAL + P. Raises TimeStepError
        when P > 0.1 (the formula holds for small P)."""
        if self.kappa is None or not np.any(self.kappa > 0):
            return self
        dt = float(dt)
        from dataclasses import replace

        from .errors import TimeStepError

        bc = _flip_patched(self.bc, self.patched)
        for si, fi in zip(*np.nonzero(self.kappa > 0)):
            s = float(sigma[si])
            P = 0.0 if s == 0.0 else float(self.kappa[si, fi]) * math.sqrt(2.0 * math.pi) * dt / s
            if P > 0.1:
                raise TimeStepError(
                    f"surface {self.surface_names[fi]!r}: its adsorption rate {self.kappa[si, fi]:g} um/ms "
                    f"gives an absorption probability of {P:.3g} per hit at dt = {dt:g} ms (must be "
                    f"<= 0.1 for the Robin boundary to hold); use dt <= {dt * (0.1 / P) ** 2:.3g} ms")
            bc[si, fi] = 3.0 + P
        out = replace(self, bc=_flip_patched(bc, self.patched))
        out.__dict__.pop("_digest", None)
        return out

    def kernel_args(self):
        return (self.kind, self.role, self.active, self.par, self.face_base, self.sdf, self.mesh_meta, self.bc,
                self.patches)

    @property
    def digest(self) -> str:
        """A hash of the arrays (equal for equal geometry, also across a checkpoint)."""
        d = self.__dict__.get("_digest")
        if d is None:
            import hashlib

            h = hashlib.blake2b(digest_size=16)
            for a in self.kernel_args():
                h.update(str(a.dtype).encode() + str(a.shape).encode())
                h.update(np.ascontiguousarray(a).tobytes())
            d = self.__dict__["_digest"] = h.hexdigest()
        return d


def _flip_patched(bc, patched):
    """A copy of ``bc`` with the codes of patched faces mapped c -> -1 - c: this stores them for
    the kernels (see :mod:`microsyn._kernels.patches`) and, applied again, restores them."""
    out = bc.copy()
    if patched is not None and patched.any():
        out[:, :patched.size][:, patched] = -1.0 - out[:, :patched.size][:, patched]
    return out


class Domain:
    """A union of solid shapes minus a union of holes, with boundary conditions per surface.

    Parameters
    ----------
    *solids : Shape
        Shapes whose union is the domain.
    holes : sequence of Shape
        Shapes cut out of it (obstacles, vesicles, the other side of a membrane).
    membranes : sequence of Shape
        Internal surfaces of zero thickness (a cell membrane between cytoplasm and extracellular
        space): the domain continues on both sides, and each particle stays on its side. Each
        face has two surfaces, ``"<face>:in"`` (inside the shape) and ``"<face>:out"``, with their
        own condition per species; ``"transmit"`` there lets particles through. Default:
        reflecting on both sides.

    Example
    -------
    >>> import microsyn as ms
    >>> hemi = ms.Domain(ms.Sphere((0, 0, 0), 2.0, name="far"),
    ...                  holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    >>> _ = hemi.set_boundary("far", "absorb")  # open space beyond 2 um
    >>> hemi.contains([(0, 0, 1), (0, 0, -1)]).tolist()
    [True, False]
    """

    def __init__(self, *solids: Shape, holes: Sequence[Shape] = (), membranes: Sequence[Shape] = ()):
        if not solids:
            raise GeometryError("a domain needs at least one solid shape")
        self.solids: list[Shape] = []
        self.holes: list[Shape] = []
        self.membranes: list[Shape] = []
        self._bc: dict[tuple[str, str | None], str] = {}
        #: patch name -> (surface name, Patch), in the order added (see :mod:`microsyn.patches`)
        self.patches: dict = {}
        for s in solids:
            self._add(s, self.solids)
        for h in holes:
            self._add(h, self.holes)
        for m in membranes:
            self.add_membrane(m)

    def add_membrane(self, shape: Shape) -> "Domain":
        """Add an internal membrane of zero thickness (see the class docstring)."""
        self._add(shape, self.membranes)
        return self

    def membrane_side(self, membrane: str, side: str):
        """The region (a Domain) of this domain on one side (``"in"`` or ``"out"``) of a
        membrane, for ``fill(..., region=...)`` and counts."""
        shp = {m.name: m for m in self.membranes}.get(membrane)
        if shp is None:
            raise GeometryError(f"no membrane named {membrane!r}; membranes: {[m.name for m in self.membranes]}")
        if side == "in":
            return Domain(shp)
        if side == "out":
            return Domain(*self.solids, holes=list(self.holes) + [shp])
        raise ParameterError(f"side must be 'in' or 'out', got {side!r}")

    def _add(self, shape, where):
        if isinstance(shape, Domain):
            raise GeometryError("combine shapes, not domains: use Domain(a, b, holes=[c])")
        if not isinstance(shape, Shape):
            raise GeometryError(f"expected a microsyn shape, got {shape!r}")
        if shape.name in {s.name for s in self.shapes}:
            raise GeometryError(f"two shapes named {shape.name!r}; give each shape its own name")
        where.append(shape)

    def __or__(self, other):
        d = self.copy()
        if isinstance(other, Domain):
            for s in other.solids:
                d._add(s, d.solids)
            for h in other.holes:
                d._add(h, d.holes)
            for m in other.membranes:
                d.add_membrane(m)
            for name, (surf, patch) in other.patches.items():
                d.add_patch(name, surf, patch)
            d._bc.update(other._bc)
        else:
            d._add(other, d.solids)
        return d

    def __sub__(self, other):
        d = self.copy()
        if isinstance(other, Domain):
            raise GeometryError("subtract shapes, not domains")
        d._add(other, d.holes)
        return d

    def copy(self):
        d = Domain.__new__(Domain)
        d.solids = list(self.solids)
        d.holes = list(self.holes)
        d.membranes = list(self.membranes)
        d._bc = dict(self._bc)
        d.patches = dict(self.patches)
        return d

    @property
    def shapes(self) -> list[Shape]:
        return self.solids + self.holes + self.membranes

    @staticmethod
    def _names_of(shape: Shape, membrane: bool) -> list[str]:
        """A shape's surface names; a membrane's are its faces' inner sides, then outer sides."""
        names = shape.surface_names()
        if not membrane:
            return names
        return [f"{n}:in" for n in names] + [f"{n}:out" for n in names]

    def surface_names(self) -> list[str]:
        """Every face's name, then every patch's (in the order added)."""
        return self.face_names() + list(self.patches)

    def face_names(self) -> list[str]:
        """The names of the shapes' faces (``"<shape>.<face>"``, or ``"<shape>"`` for one face;
        a membrane's faces have two sides, ``":in"`` and ``":out"``)."""
        mem = {id(m) for m in self.membranes}
        return [n for s in self.shapes for n in self._names_of(s, id(s) in mem)]

    def _face(self, surface: str):
        """(shape, face) of a face name (not a membrane's)."""
        for m in self.membranes:
            if surface.split(":")[0] in m.surface_names():
                raise GeometryError(f"{surface!r} is a membrane's surface; patches on membranes are not supported")
        for shp in self.solids + self.holes:
            for f, n in zip(shp.faces, shp.surface_names()):
                if n == surface:
                    return shp, f
        raise GeometryError(f"no face named {surface!r}; faces: {self.face_names()}")

    def add_patch(self, name: str, surface: str, patch) -> "Domain":
        """Make a named patch of a surface (see :mod:`microsyn.patches`).

        Parameters
        ----------
        name : str
            The patch's surface name (for ``set_boundary``, ``absorbed_count``, ``patch_points``).
        surface : str
            The face it lies on (``"membrane"``, ``"box.zmax"``, ``"cyl.side"``...).
        patch : DiscPatch, PolygonPatch or TrianglePatch
            Its shape; it must lie on that face (checked to 1e-6 um).

        Until ``set_boundary`` is called for the patch, it has its surface's condition.
        """
        from .patches import Patch

        if not isinstance(name, str) or not name or "." in name or name in ("*", "all"):
            raise ParameterError(f"a patch name must be a non-empty string without '.', got {name!r}")
        if name in self.surface_names() or name in {s.name for s in self.shapes}:
            raise GeometryError(f"the name {name!r} is taken by a surface or shape; give the patch its own name")
        if not isinstance(patch, Patch):
            raise GeometryError(f"expected a DiscPatch, PolygonPatch or TrianglePatch, got {patch!r}")
        if surface in self.patches:
            raise GeometryError(f"{surface!r} is a patch; a patch lies on a face: one of {self.face_names()}")
        shp, face = self._face(surface)
        patch.check_on(shp, face)
        self.patches[name] = (surface, patch)
        return self

    def patch_area(self, name: str) -> float:
        """The area [um^2] of a patch."""
        surf, patch = self._patch(name)
        return patch.area(*self._face(surf))

    def patch_points(self, name: str, n: int, seed: int = 0) -> np.ndarray:
        """``n`` points [um] uniformly distributed over a patch (e.g. receptor sites for
        ``Simulation.add_sites``), from a generator seeded with ``seed``."""
        from .errors import check_count

        n = check_count("n", n)
        surf, patch = self._patch(name)
        return patch.sample(n, np.random.default_rng(seed), *self._face(surf))

    def _patch(self, name):
        if name not in self.patches:
            raise GeometryError(f"no patch named {name!r}; patches: {list(self.patches)}")
        return self.patches[name]

    def _match_surfaces(self, pattern: str) -> list[str]:
        names = self.surface_names()
        if pattern in names:
            return [pattern]
        shape_names = {s.name: s for s in self.shapes}
        if pattern in shape_names:
            shp = shape_names[pattern]
            return self._names_of(shp, any(shp is m for m in self.membranes))
        if f"{pattern}:in" in names:  # a membrane face: both sides
            return [f"{pattern}:in", f"{pattern}:out"]
        if pattern in ("*", "all"):
            return names
        raise GeometryError(f"no surface named {pattern!r}; surfaces: {names}")

    def set_boundary(self, surface: str, condition: str, species: str | Iterable[str] | None = None,
                     rate: float | None = None) -> "Domain":
        """Set the boundary condition of a surface (or all faces of a shape, or ``"*"``).

        Parameters
        ----------
        surface : str
            ``"box.zmax"``, a shape name for all its faces, or ``"*"``.
        condition : {"reflect", "absorb", "transmit", "partial"}
            ``"partial"``: a reactive surface that adsorbs at rate ``rate`` [um/ms] (the Robin
            condition D dc/dn = rate * c; Erban & Chapman 2007, doi:10.1088/1478-3975/4/1/003):
            each hit absorbs with probability rate * sqrt(pi dt / D), else reflects.
        species : str or list of str, optional
            Only for these species (default: all).
        rate : float, optional
            Adsorption rate constant kappa [um/ms] of a ``"partial"`` surface (1 um/ms = 0.1 cm/s).
        """
        if condition not in BOUNDARY_CODES:
            raise ParameterError(f"boundary condition must be one of {list(BOUNDARY_CODES)}, got {condition!r}")
        if condition == "partial":
            if rate is None:
                raise ParameterError("a 'partial' boundary needs its adsorption rate: rate=kappa [um/ms]")
            rate = check_positive("adsorption rate [um/ms]", rate)
        elif rate is not None:
            raise ParameterError(f"rate= is for a 'partial' boundary only, not {condition!r}")
        targets = self._match_surfaces(surface)
        sp_list = [None] if species is None else ([species] if isinstance(species, str) else list(species))
        for name in targets:
            for sp in sp_list:
                self._bc[(name, sp)] = condition if rate is None else ("partial", rate)
        return self

    def boundary(self, surface: str, species: str | None = None) -> str:
        """The boundary condition of a surface for a species."""
        if surface not in self.surface_names():
            raise GeometryError(f"no surface named {surface!r}; surfaces: {self.surface_names()}")
        return self._condition(surface, species)[0]

    def _condition(self, surface, species):
        """(condition, rate) of a surface for a species; a patch without its own condition
        has its face's."""
        v = self._bc.get((surface, species)) if species is not None else None
        if v is None:
            v = self._bc.get((surface, None))
        if v is None:
            if surface in self.patches:
                return self._condition(self.patches[surface][0], species)
            v = "reflect"
        return (v, 0.0) if isinstance(v, str) else (v[0], float(v[1]))

    def adsorption_rate(self, surface: str, species: str | None = None) -> float:
        """The adsorption rate constant kappa [um/ms] of a ``"partial"`` surface (0 otherwise)."""
        self.boundary(surface, species)  # checks the name
        return self._condition(surface, species)[1]

    # --- geometry queries ---------------------------------------------------------
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounds (lo, hi) [um] of the union of solids (may be infinite)."""
        los, his = zip(*(s.bounds() for s in self.solids))
        return np.min(los, axis=0), np.max(his, axis=0)

    def smallest_feature(self) -> float:
        """Smallest feature [um] of any shape (the time-step check uses it)."""
        return min(s.smallest_feature() for s in self.shapes)

    def compile_key(self, species_names: Sequence[str]) -> tuple:
        """A value that changes whenever :meth:`compile` would give other arrays: the species
        order, the boundary conditions and every shape's identity and parameters."""
        return (tuple(species_names), tuple(sorted(self._bc.items(), key=repr)),
                tuple((id(s), s.params().tobytes()) for s in self.shapes),
                tuple((n, surf, id(p)) for n, (surf, p) in self.patches.items()))

    def compile(self, species_names: Sequence[str]) -> CompiledGeometry:
        """Arrays for the kernels, for the given species order."""
        shapes = self.shapes
        n = len(shapes)
        kind = np.array([s.kind for s in shapes], np.int64)
        from ._kernels.boundaries import MAX_MEMBRANES

        if self.membranes and n > MAX_MEMBRANES:  # a membrane's side is bit p (its shape's index) of an int64
            raise GeometryError(f"a domain with membranes may have at most {MAX_MEMBRANES} shapes in all, "
                                f"not {n}; merge shapes (e.g. into a Mesh)")
        role = np.array([0] * len(self.solids) + [1] * len(self.holes) + [2] * len(self.membranes), np.int64)
        par = np.zeros((n, _kg.N_PAR))
        sdf_parts = []
        metas = []
        datas = []
        offset = 0
        meshes = [s for s in shapes if isinstance(s, Mesh)]
        row = len(meshes)  # mesh_meta: one header row per mesh, then the meshes' data rows
        for p, s in enumerate(shapes):
            par[p] = s.params()
            if isinstance(s, Mesh):
                meta = s._header()
                meta[7] = offset
                par[p] = s._par(len(metas), row)
                sdf_parts.append(s._sdf)
                metas.append(meta)
                datas.append(s._data)
                offset += s._sdf.size
                row += len(s._data)
        sdf = np.concatenate(sdf_parts).astype(np.float32) if sdf_parts else np.zeros(1, np.float32)
        mesh_meta = np.ascontiguousarray(np.concatenate([np.array(metas)] + datas)) if metas \
            else np.zeros((0, 8))
        face_base = np.zeros(n + 1, np.int64)
        names = []
        for p, s in enumerate(shapes):
            own = self._names_of(s, role[p] == 2)
            face_base[p + 1] = face_base[p] + len(own)
            names.extend(own)
        n_faces = len(names)
        names.extend(self.patches)
        ns = len(species_names)
        bc = np.zeros((max(ns, 1), len(names)), np.float64)
        kappa = np.zeros((max(ns, 1), len(names)), np.float64)
        for si, sp in enumerate(species_names):
            for k, name in enumerate(names):
                bc[si, k] = BOUNDARY_CODES[self.boundary(name, sp)]
                kappa[si, k] = self.adsorption_rate(name, sp)
        active = np.ones((max(ns, 1), n), np.int8)
        for p, s in enumerate(shapes):
            if role[p] == 2:  # a membrane that lets a species through on every side is absent for it
                codes = bc[:, face_base[p]:face_base[p + 1]]
                for si in range(bc.shape[0]):
                    if (codes[si] == BOUNDARY_CODES["transmit"]).all():
                        active[si, p] = 0
            if role[p] == 1:
                codes = bc[:, face_base[p]:face_base[p + 1]]
                for si in range(bc.shape[0]):
                    t = codes[si] == BOUNDARY_CODES["transmit"]
                    if t.all():
                        active[si, p] = 0
                    elif t.any():
                        raise GeometryError(
                            f"hole {s.name!r}: for species {species_names[si]!r} some faces transmit "
                            f"and others do not; a hole must be all 'transmit' (absent) or none"
                        )
        patched = np.zeros(n_faces, bool)
        entries = []
        prim_of = np.repeat(np.arange(n), np.diff(face_base))
        for j, (pname, (surf, patch)) in enumerate(self.patches.items()):
            fi = names.index(surf)
            patched[fi] = True
            entries.append((fi, n_faces + j, patch))
            if role[prim_of[fi]] == 1:
                for si, sp in enumerate(species_names):
                    if bc[si, n_faces + j] == BOUNDARY_CODES["transmit"]:
                        raise GeometryError(
                            f"patch {pname!r} transmits {sp!r}, but it lies on {surf!r}, a face of a hole: a "
                            f"hole's face cannot let particles into the hole; use 'absorb' or 'partial'")
                    if not active[si, prim_of[fi]]:
                        raise GeometryError(
                            f"patch {pname!r} lies on {surf!r}, a face of a hole that is absent for {sp!r} "
                            f"(all its faces transmit); give that species another condition on the hole")
        has_absorb = np.array([(bc[si] == 1).any() for si in range(bc.shape[0])], np.int8)
        from .patches import patch_table

        return CompiledGeometry(kind, role, active, par, face_base, sdf, mesh_meta,
                                _flip_patched(bc, patched), has_absorb, names, kappa,
                                patch_table(entries), patched)

    def sdf(self, points, species: str | None = None) -> np.ndarray:
        """Signed distance [um] to the domain boundary for a species (negative inside).

        For unions and differences this is the min/max combination of the shapes' distances:
        exact in sign, and a bound on the distance.
        """
        pts = _as_points(points)
        cg = self.compile([species or "_"])
        d_solid = np.full(pts.shape[0], np.inf)
        d_hole = np.full(pts.shape[0], -np.inf)
        for p in range(len(self.shapes)):
            d = _sdf_many(cg.kind[p:p + 1], cg.par[p:p + 1], cg.sdf, cg.mesh_meta, pts)
            if cg.role[p] == 0:
                d_solid = np.minimum(d_solid, d)
            elif cg.role[p] == 1 and cg.active[0, p]:
                d_hole = np.maximum(d_hole, -d)
        return np.maximum(d_solid, d_hole)

    def contains(self, points, species: str | None = None) -> np.ndarray:
        """True where points (n, 3) [um] are inside the domain (for ``species``)."""
        return self.sdf(points, species) <= 0.0

    def drawn_surfaces(self) -> dict:
        """{name: shape} of the surfaces a picture shows by default: the holes (a membrane cut
        out of the domain, vesicles) and the internal membranes."""
        return {h.name: h for h in self.holes + self.membranes}

    def barrier_membranes(self, species: str | None = None) -> list[Shape]:
        """The membranes that keep ``species`` on its side (not transmitting on every side)."""
        out = []
        for m in self.membranes:
            sides = self._names_of(m, True)
            if not all(self.boundary(n, species) == "transmit" for n in sides):
                out.append(m)
        return out

    def same_side(self, a, b, species: str | None = None) -> np.ndarray:
        """True where points ``a`` and ``b`` (n, 3) [um] are on the same side of every membrane
        that ``species`` cannot cross (always True without membranes)."""
        a = _as_points(a)
        b = _as_points(b)
        ok = np.ones(a.shape[0], bool)
        for m in self.barrier_membranes(species):
            ok &= (m.sdf(a) <= 0.0) == (m.sdf(b) <= 0.0)
        return ok

    def __repr__(self):
        mem = f", membranes={self.membranes!r}" if self.membranes else ""
        return f"Domain(solids={self.solids!r}, holes={self.holes!r}{mem})"


def as_domain(geometry) -> Domain:
    """Accept a Shape or a Domain; return a Domain."""
    if isinstance(geometry, Domain):
        return geometry
    if isinstance(geometry, Shape):
        return Domain(geometry)
    raise GeometryError(f"expected a microsyn Shape or Domain, got {type(geometry).__name__}")
