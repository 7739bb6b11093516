"""PyVista scenes of ions, membranes, isosurfaces, glyphs and annotations, rendered off screen.

A :class:`Scene` owns one off-screen plotter of a fixed size. Static parts (membrane surfaces,
glyphs, inset traces) are added once; per-frame parts (ions, isosurfaces, slices, voltages, time)
are updated in place by :meth:`Scene.show_frame`, and :meth:`Scene.render` returns the image.
Build one from saved results with :meth:`Scene.from_results` or from a running simulation with
:meth:`Scene.from_simulation`: both give frames as :class:`microsyn.results.Frame`.

Conventions: lengths [um], times [ms], concentrations [mM], voltages [mV]. Ion colours: Na+ gold,
K+ violet, Cl- green, Ca2+ cyan (:data:`SPECIES_COLORS`). Isosurfaces are contoured from the
lattice field after a Gaussian smoothing of one voxel (counts of discrete ions are noisy); say so
in a caption when the exact level matters.

Example
-------
>>> from microsyn.render import Scene            # doctest: +SKIP
>>> sc = Scene.from_results("run.h5", size=(640, 360), title="Na+ entry")   # doctest: +SKIP
>>> img = sc.render_frame(10)                   # (360, 640, 3) uint8             # doctest: +SKIP
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError, RenderError, UnknownSpeciesError
from . import headless

headless.configure()

import pyvista as pv  # noqa: E402

from .annotations import InsetPlot, TimeFormatter, composite, draw_rect, format_length, scale_bar_length  # noqa: E402
from .camera import CameraState, preset  # noqa: E402
from .fonts import apply_font, text_size_px  # noqa: E402

#: species -> colour (hex)
SPECIES_COLORS = {
    "Na+": "#ffb000",    # gold
    "K+": "#a66cff",     # violet
    "Cl-": "#3ddc84",    # green
    "Ca2+": "#22d3ee",   # cyan
    "Mg2+": "#f4a3c0",
    "H+": "#ff6b6b",
}
_FALLBACK = ["#ff8c42", "#f15bb5", "#9ef01a", "#00bbf9", "#fee440", "#e0e0e0"]

THEMES = {
    "dark": dict(background="#0b1224", text="#ffffff", subtle="#c8d3e6", membrane="#4f74a8", bar=(255, 255, 255)),
    "white": dict(background="#ffffff", text="#111111", subtle="#333333", membrane="#7d9cc7", bar=(17, 17, 17)),
}

GLYPH_STYLES = {
    "channel": dict(color="#ff3b5c", shape="cylinder"),
    "receptor": dict(color="#ff9f1c", shape="cone"),
    "vesicle": dict(color="#e9ecef", shape="sphere"),
}

SIZE_PRESETS = {"360p": (640, 360), "480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}


def species_color(name: str, k: int = 0) -> str:
    """The display colour of a species (hex)."""
    return SPECIES_COLORS.get(name, _FALLBACK[k % len(_FALLBACK)])


def parse_size(size) -> tuple[int, int]:
    """(width, height) [px] from ``"720p"``, ``"1080p"``, ``"WxH"`` or a pair."""
    if isinstance(size, str):
        s = size.strip().lower()
        if s in SIZE_PRESETS:
            return SIZE_PRESETS[s]
        parts = s.replace("*", "x").split("x")
        if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
            w, h = int(parts[0]), int(parts[1])
        else:
            raise ParameterError(f"size {size!r} is not understood; use 720p, 1080p, 360p, 480p or WIDTHxHEIGHT "
                                 f"in pixels, e.g. 1280x720")
    else:
        try:
            w, h = (int(v) for v in size)
        except (TypeError, ValueError):
            raise ParameterError(f"size must be (width, height) in pixels or a preset name, got {size!r}") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise ParameterError(f"size {w}x{h} px is out of range; use 16..8192 pixels per side")
    return w, h


def _nearest_map(points, nodes):
    from scipy.spatial import cKDTree

    return cKDTree(nodes).query(points)[1]


def _surface_polydata(surface):
    if isinstance(surface, pv.DataSet):
        return surface.extract_surface() if not isinstance(surface, pv.PolyData) else surface
    if isinstance(surface, tuple) and len(surface) == 2:
        pts, tri = surface
        tri = np.asarray(tri, np.int64).reshape(-1, 3)
        faces = np.hstack([np.full((len(tri), 1), 3, np.int64), tri]).ravel()
        return pv.PolyData(np.asarray(pts, float), faces)
    if hasattr(surface, "to_polydata"):
        return surface.to_polydata()
    raise ParameterError(f"cannot draw {surface!r}: give a pyvista mesh, a microsyn shape or (points, triangles)")


class Scene:
    """An off-screen PyVista scene with ions, surfaces, isosurfaces, glyphs and annotations.

    Parameters
    ----------
    size : str or (int, int)
        ``"720p"`` (1280x720), ``"1080p"``, ``"WxH"`` or (width, height) [px].
    theme : {"dark", "white"}
        Background and text colours.
    title, caption : str, optional
        Text at the top centre and at the bottom left.
    transparent : bool
        Render with a transparent background (RGBA images; for PNG).
    antialias : bool
        4x multisampling (about doubles the cost of a software-rendered frame).
    ion_style : {"spheres", "points"}
        Shaded sprites or flat squares (fastest).
    point_size : float, optional
        Ion size [px] (default 2.5 px at 720p, scaled with the height).
    t_max_ms : float, optional
        Longest time shown, to choose the time stamp's unit (ns, us, ms).
    scale_bar : bool
        Draw a scale bar with a round length, measured at the camera's focal point.
    legend : bool
        Legend of the ion species drawn in the present frame (a species with no ions is left
        out) and of the glyphs.
    """

    def __init__(self, size="720p", theme: str = "dark", title: str | None = None, caption: str | None = None,
                 transparent: bool = False, antialias: bool = True, ion_style: str = "spheres",
                 point_size: float | None = None, t_max_ms: float | None = None, scale_bar: bool = True,
                 legend: bool = True):
        self.w, self.h = parse_size(size)
        if theme not in THEMES:
            raise ParameterError(f"theme must be one of {sorted(THEMES)}, got {theme!r}")
        if ion_style not in ("spheres", "points"):
            raise ParameterError(f"ion_style must be 'spheres' or 'points', got {ion_style!r}")
        headless.require_gl()
        self.theme = THEMES[theme]
        self.theme_name = theme
        self.transparent = bool(transparent)
        self.ion_style = ion_style
        self.point_size = float(point_size) if point_size else max(2.0, 2.5 * self.h / 720.0)
        self.show_scale_bar = bool(scale_bar)
        self.show_legend = bool(legend)
        pv.OFF_SCREEN = True
        p = pv.Plotter(off_screen=True, window_size=(self.w, self.h))
        p.set_background(self.theme["background"])
        # 4x MSAA, set before the first render. FXAA blurs 2-px ions into faint smudges, and VTK's
        # order-independent transparency renders translucent layers into a single-sample buffer,
        # which silently drops MSAA for the whole frame on EGL; without OIT, the few translucent
        # layers (membrane, isosurfaces) blend in draw order, which is fine for nested shells.
        p.ren_win.SetMultiSamples(4 if antialias else 0)
        p.renderer.SetUseOIT(False)
        self.p = p
        self.tf = TimeFormatter(t_max_ms if t_max_ms else 1.0)
        self._species_order: list[str] = []
        self._ion_actors: dict = {}
        self._surfaces: dict = {}      # name -> dict(mesh, actor, node_map)
        self._iso_names: set = set()
        self._slices: list = []
        self._slice_names: set = set()
        self._clip = None
        self._glyph_labels: list = []
        self._inset = None
        self._inset_pos = None
        self._camera: CameraState | None = None
        self._time_ms = None
        self._voltage_clim = None
        self._has_vbar = False
        self.iso_opacity = 0.3
        self._legend_extra: list = []
        self._drawn: set = set()          # species with ions drawn in the present frame
        self._legend_key = None
        self.source = None
        if title:
            self.text("title", title, self.w / 2, self.h - 0.018 * self.h, self.fit_font(title, 30, 0.76 * self.w),
                      justify="center", valign="top")
        self._title_px = self.fit_font(title, 30, 0.76 * self.w) if title else 0
        self._caption_font = self.fit_font(caption, 18, 0.64 * self.w) if caption else self.font(18)
        if caption:
            self.text("caption", caption, 0.015 * self.w, 0.015 * self.h, self._caption_font,
                      color=self.theme["subtle"])
        self._caption_lines = caption.count("\n") + 1 if caption else 0

    # ------------------------------------------------------------------ helpers
    def font(self, size_at_720: float) -> int:
        """Font size scaled to the image (sizes are chosen for 1280x720)."""
        return max(6, int(round(size_at_720 * min(self.h / 720.0, self.w / 1280.0))))

    def fit_font(self, text: str, size_at_720: float, max_width_px: float) -> int:
        """:meth:`font`, made smaller if the longest line of ``text`` would be wider than ``max_width_px``
        (measured in the font it is drawn with; 6 px at the least)."""
        size = self.font(size_at_720)
        while size > 6 and text_size_px(text, size)[0] > max_width_px:
            size -= 1
        return size

    def text(self, name: str, text: str, x: float, y: float, size_px: int, color=None, justify: str = "left",
             valign: str = "bottom", mono: bool = False):
        """A 2D text at pixel (x, y) from the lower left, ``size_px`` tall (exactly; no auto-scaling).

        Drawn in DejaVu Sans (``mono``: DejaVu Sans Mono), which has real square brackets; see
        :mod:`.fonts`.
        """
        act = self.p.add_text(text, position=(int(x), int(y)), font_size=size_px, color=color or self.theme["text"],
                              name=name, render=False)
        tp = apply_font(act.GetTextProperty(), mono=mono)
        tp.SetFontSize(int(size_px))
        {"left": tp.SetJustificationToLeft, "center": tp.SetJustificationToCentered,
         "right": tp.SetJustificationToRight}[justify]()
        {"bottom": tp.SetVerticalJustificationToBottom, "top": tp.SetVerticalJustificationToTop,
         "center": tp.SetVerticalJustificationToCentered}[valign]()
        return act

    @property
    def size(self) -> tuple[int, int]:
        return self.w, self.h

    def _clip_points(self, pos):
        if self._clip is None or pos.shape[0] == 0:
            return pos
        n, o = self._clip
        return pos[(pos - o) @ n <= 0.0]

    def _clip_mesh(self, mesh):
        if self._clip is None or mesh.n_points == 0:
            return mesh
        n, o = self._clip
        return mesh.clip(normal=-n, origin=o)

    # ------------------------------------------------------------------ layers
    def set_clip(self, normal=None, origin=(0.0, 0.0, 0.0)) -> None:
        """Cut away everything on the side of the plane that ``normal`` points to (None: no clip).

        Applies to ions, isosurfaces and slices from the next frame, and to surfaces added after.
        """
        if normal is None:
            self._clip = None
            return
        n = np.asarray(normal, float)
        if n.shape != (3,) or not np.any(n):
            raise ParameterError("clip normal must be three numbers, not all zero")
        self._clip = (n / np.linalg.norm(n), np.asarray(origin, float))

    def set_species(self, names) -> None:
        """Fix the order (and so the colours) of the ion species.

        The legend lists only the species drawn in the present frame (see :meth:`legend_labels`).
        """
        self._species_order = list(names)
        self._update_legend()

    def legend_labels(self) -> list:
        """The legend's entries, [label, colour]: the species with ions drawn in the present frame
        (after clipping), in species order, then the glyphs; a species with no ions is left out."""
        return ([[s, species_color(s, k)] for k, s in enumerate(self._species_order) if s in self._drawn]
                + self._legend_extra)

    def _update_legend(self):
        if not self.show_legend:
            return
        labels = self.legend_labels()
        key = tuple((str(a), str(b)) for a, b in labels)
        if key == self._legend_key:
            return
        self._legend_key = key
        if not labels:
            self.p.remove_legend(render=False)
            return
        n = len(labels)
        fpx = self.font(22)
        # the box is sized to the measured text (VTK scales the entries to fill the box), so a
        # single short entry is not stretched past the image's edge
        text_w = max(text_size_px(str(lab[0]), fpx)[0] for lab in labels)
        hpx = fpx * 1.35 * n + 6
        wpx = text_w + 1.8 * fpx + 12
        wf, hf = min(0.4, wpx / self.w), min(0.5, hpx / self.h)
        self.p.add_legend(labels=labels, bcolor=self.theme["background"], border=False, loc="upper right",
                          size=(wf, hf), name="legend", face="circle", background_opacity=0.6)
        leg = self.p.legend
        if leg is not None:
            apply_font(leg.GetEntryTextProperty()).SetColor(pv.Color(self.theme["text"]).float_rgb)
            margin = 0.012 * self.h
            leg.SetPosition(1.0 - wf - margin / self.w, 1.0 - hf - margin / self.h)

    def set_ions(self, positions: dict) -> None:
        """Ion positions [um] per species (dict name -> (n, 3)); species not given are hidden.

        The legend follows: it lists the species that have ions drawn (after clipping).
        """
        for s in positions:
            if s not in self._species_order:
                self._species_order.append(s)
        drawn = set()
        for k, s in enumerate(self._species_order):
            pos = positions.get(s)
            act = self._ion_actors.get(s)
            if pos is not None and len(pos):
                pos = self._clip_points(np.asarray(pos, np.float32).reshape(-1, 3))
            if pos is None or len(pos) == 0:
                if act is not None:
                    act.visibility = False
                continue
            drawn.add(s)
            cloud = pv.PolyData(np.ascontiguousarray(pos))
            if act is None:
                act = self.p.add_mesh(cloud, color=species_color(s, k), style="points", point_size=self.point_size,
                                      render_points_as_spheres=self.ion_style == "spheres", ambient=0.35,
                                      diffuse=0.8, specular=0.3, name=f"ions:{s}", reset_camera=False, render=False)
                self._ion_actors[s] = act
            else:
                act.mapper.SetInputData(cloud)
            act.visibility = True
        self._drawn = drawn
        self._update_legend()

    def add_surface(self, name: str, surface, color=None, opacity: float = 0.55, nodes_um=None,
                    clim=None, cmap: str = "coolwarm", show_edges: bool = False) -> None:
        """A membrane or mesh (pyvista mesh, microsyn shape, or (points, triangles)) [um].

        With ``nodes_um`` (compartment centres of the electrical model), :meth:`set_voltage` colours
        it by the voltage of the nearest compartment, with a colour bar ``V [mV]`` (limits ``clim``).
        """
        mesh = self._clip_mesh(_surface_polydata(surface).copy())
        entry = dict(mesh=mesh, node_map=None)
        kw = dict(opacity=float(opacity), smooth_shading=False, ambient=0.25, specular=0.2, name=f"surface:{name}",
                  reset_camera=False, render=False, show_edges=show_edges, edge_color="#8aa4c8")
        if nodes_um is not None and mesh.n_points:
            entry["node_map"] = _nearest_map(mesh.points, np.asarray(nodes_um, float))
            mesh.point_data["V_mV"] = np.zeros(mesh.n_points)
            lo, hi = clim if clim is not None else (-70.0, -50.0)
            self._voltage_clim = (float(lo), float(hi))
            entry["actor"] = self.p.add_mesh(mesh, scalars="V_mV", cmap=cmap, clim=self._voltage_clim,
                                             show_scalar_bar=False, **kw)
            if not self._has_vbar:
                self._has_vbar = True
                bar = self.p.add_scalar_bar(title="", mapper=entry["actor"].mapper, vertical=True, n_labels=5,
                                            fmt="%.0f" if self._voltage_clim[1] - self._voltage_clim[0] >= 8
                                            else "%.1f", color=self.theme["text"], title_font_size=self.font(20),
                                            label_font_size=self.font(20), position_x=0.90, position_y=0.30,
                                            width=0.05, height=0.36, unconstrained_font_size=True)
                apply_font(bar.GetLabelTextProperty())
                apply_font(bar.GetTitleTextProperty())
                self.text("V_bar_title", "V [mV]", 0.925 * self.w, 0.695 * self.h, self.font(22), justify="center")
        else:
            entry["actor"] = self.p.add_mesh(mesh, color=color or self.theme["membrane"], **kw)
        self._surfaces[name] = entry

    def set_voltage(self, V_mV) -> None:
        """Colour the voltage-mapped surfaces by the compartment voltages ``V_mV`` [mV]."""
        if V_mV is None:
            return
        V = np.asarray(V_mV, float)
        for e in self._surfaces.values():
            if e["node_map"] is not None:
                if V.size <= e["node_map"].max():
                    raise ParameterError(f"{V.size} voltages given but the surface maps to node {e['node_map'].max()}")
                e["mesh"].point_data["V_mV"] = V[e["node_map"]]

    def set_isosurface(self, name: str, field, lo_um, spacing_um, values, color="#ffffff", opacity: float = 0.3,
                       smooth_voxels: float = 1.0) -> None:
        """Contours of a lattice ``field`` (nx, ny, nz; voxel values) at ``values``.

        ``lo_um`` and ``spacing_um`` place the voxels [um]; the field is smoothed by a Gaussian of
        ``smooth_voxels`` voxels before contouring (0: none).
        """
        f = np.asarray(field, float)
        if f.ndim != 3:
            raise ParameterError(f"isosurface field must be 3D (nx, ny, nz), got shape {f.shape}")
        if smooth_voxels > 0:
            from scipy.ndimage import gaussian_filter

            f = gaussian_filter(f, smooth_voxels, mode="nearest")
        sp = np.asarray(spacing_um, float)
        grid = pv.ImageData(dimensions=f.shape, spacing=sp, origin=np.asarray(lo_um, float) + sp / 2)
        grid.point_data["v"] = f.ravel(order="F")
        vals = [float(v) for v in np.atleast_1d(values) if f.min() < v < f.max()]
        iso = grid.contour(vals, scalars="v") if vals else pv.PolyData()
        if iso.n_points and float(np.max(np.ptp(iso.points, axis=0))) < 16.0 * float(sp.max()):
            iso = self._refine_contour(f, np.asarray(lo_um, float), sp, iso, vals)
        if iso.n_points and smooth_voxels > 0:
            iso = iso.smooth_taubin(n_iter=20, pass_band=0.05)  # rounds off the voxel facets
        iso = self._clip_mesh(iso)
        self._iso_names.add(name)
        if iso.n_points and float(np.max(np.ptp(iso.points, axis=0))) < 4.0 * float(sp.max()):
            iso = pv.PolyData()  # a blob of a few voxels says nothing (and looks faceted): leave it out
        if iso.n_points == 0:
            self.p.remove_actor(f"iso:{name}", render=False)
            return
        self.p.add_mesh(iso, color=color, opacity=opacity, smooth_shading=True, specular=0.5, ambient=0.2,
                        name=f"iso:{name}", reset_camera=False, render=False)

    @staticmethod
    def _refine_contour(f, lo, sp, iso, vals, factor: int = 4):
        """Contour a small surface again on a cubic-interpolated grid ``factor`` times finer, cropped
        to the surface: a dome a few voxels across is otherwise a faceted polyhedron."""
        from scipy.ndimage import zoom

        b = np.asarray(iso.bounds, float).reshape(3, 2)
        i0 = np.maximum(0, np.floor((b[:, 0] - lo) / sp - 0.5).astype(int) - 2)
        i1 = np.minimum(np.array(f.shape), np.ceil((b[:, 1] - lo) / sp - 0.5).astype(int) + 3)
        sub = f[i0[0]:i1[0], i0[1]:i1[1], i0[2]:i1[2]]
        if min(sub.shape) < 2:
            return iso
        fine = zoom(sub, factor, order=3, mode="nearest", grid_mode=False)
        fsp = sp * (np.array(sub.shape) - 1) / (np.array(fine.shape) - 1)
        g = pv.ImageData(dimensions=fine.shape, spacing=fsp, origin=lo + sp / 2 + i0 * sp)
        g.point_data["v"] = fine.ravel(order="F")
        out = g.contour(vals, scalars="v")
        return out if out.n_points else iso

    def add_slice(self, field_name: str, normal="y", origin=(0.0, 0.0, 0.0), cmap: str = "magma", clim=None,
                  title: str | None = None) -> None:
        """Show a lattice field (``"conc_mM:Na+"`` or ``"charge"``) on a plane through ``origin``.

        Updated by :meth:`show_frame` with each frame's lattice.
        """
        self._slices.append(dict(field=field_name, normal=normal, origin=tuple(origin), cmap=cmap, clim=clim,
                                 title=title or field_name))

    def set_slice(self, k: int, field, lo_um, spacing_um) -> None:
        s = self._slices[k]
        f = np.asarray(field, float)
        sp = np.asarray(spacing_um, float)
        grid = pv.ImageData(dimensions=np.array(f.shape) + 1, spacing=sp, origin=np.asarray(lo_um, float))
        grid.cell_data["v"] = f.ravel(order="F")
        sl = grid.slice(normal=s["normal"], origin=s["origin"])
        sl = self._clip_mesh(sl)
        clim = s["clim"] or (0.0, max(float(f.max()), 1e-12))
        nm = f"slice:{k}"
        if sl.n_points == 0:
            self.p.remove_actor(nm, render=False)
            return
        first = nm not in self._slice_names
        self.p.add_mesh(sl, scalars="v", cmap=s["cmap"], clim=clim, opacity=0.85, name=nm, reset_camera=False,
                        render=False, show_scalar_bar=first, lighting=False,
                        scalar_bar_args=dict(title=s["title"], color=self.theme["text"], vertical=True,
                                             position_x=0.02, position_y=0.3, width=0.035, height=0.35,
                                             title_font_size=self.font(20), label_font_size=self.font(18),
                                             unconstrained_font_size=True))
        if first and s["title"] in self.p.scalar_bars:
            bar = self.p.scalar_bars[s["title"]]
            apply_font(bar.GetLabelTextProperty())
            apply_font(bar.GetTitleTextProperty())
        self._slice_names.add(nm)

    def add_glyphs(self, kind: str, positions_um, size_um: float, color=None, label: str | None = None) -> None:
        """Channels (cylinders), receptors (cones) or vesicles (spheres) at ``positions_um`` (n, 3)."""
        st = GLYPH_STYLES.get(kind, dict(color="#ffffff", shape="sphere"))
        pos = np.asarray(positions_um, float).reshape(-1, 3)
        if pos.shape[0] == 0:
            return
        r = float(size_um) / 2.0
        shape = st["shape"]
        if shape == "cylinder":  # a pore: a ring through the membrane, open in the middle
            h = 0.9 * r
            geom = pv.Disc(center=(0, 0, -0.6 * h), inner=0.45 * r, outer=r, normal=(0, 0, 1), r_res=1, c_res=48)
            geom = geom.extrude((0, 0, h), capping=True).triangulate()
        elif shape == "cone":
            geom = pv.Cone(radius=r, height=2 * r, direction=(0, 0, 1), resolution=32)
        else:
            geom = pv.Sphere(radius=r, theta_resolution=24, phi_resolution=24)
        pts = pv.PolyData(pos)
        g = pts.glyph(geom=geom, orient=False, scale=False)
        col = color or st["color"]
        self.p.add_mesh(g, color=col, ambient=0.35, specular=0.4, opacity=0.55 if kind == "vesicle" else 1.0,
                        name=f"glyph:{kind}", reset_camera=False, render=False)
        self._legend_extra.append([label or kind, col])
        self._update_legend()

    def set_inset(self, inset: InsetPlot | None, position: str = "lower_right") -> None:
        """An :class:`~.annotations.InsetPlot` drawn into each frame, its cursor at the frame's time."""
        self._inset = inset
        if inset is None:
            return
        if inset.w > self.w or inset.h > self.h:
            raise ParameterError(f"inset of {inset.w}x{inset.h} px does not fit a {self.w}x{self.h} frame")
        m = int(0.015 * self.h)
        if position == "lower_right":
            self._inset_pos = (self.w - inset.w - m, self.h - inset.h - m)
        elif position == "upper_left":
            self._inset_pos = (m, m + self.font(40))
        else:
            raise ParameterError("inset position must be 'lower_right' or 'upper_left'")

    def set_time(self, t_ms: float) -> None:
        """The time stamp [ms] (shown in the unit chosen from ``t_max_ms``)."""
        self._time_ms = float(t_ms)
        self.text("time", self.tf(t_ms), 0.02 * self.w, self.h - 0.03 * self.h - self._title_px * 1.25, self.font(34),
                  mono=True, valign="top")

    def set_camera(self, state: CameraState) -> None:
        self._camera = state
        state.apply(self.p)

    # ------------------------------------------------------------------ rendering
    def _scale_bar(self):
        """Set the label; return (x0, y0, length_px) of the bar in top-left pixel coordinates."""
        cam = self._camera
        if cam is None:
            pos = np.array(self.p.camera.position)
            foc = np.array(self.p.camera.focal_point)
            cam = CameraState(pos, foc, np.array(self.p.camera.up), self.p.camera.view_angle)
        L, npx = scale_bar_length(cam.um_per_px(self.h), self.w, 0.12)
        x0 = int(0.03 * self.w)
        y_base = int(0.015 * self.h) + self._caption_lines * int(self._caption_font * 1.2) + int(0.03 * self.h)
        self.text("bar_label", format_length(L), x0 + npx / 2, y_base + 0.012 * self.h, self.font(24),
                  justify="center")
        return x0, self.h - y_base, npx

    def render(self) -> np.ndarray:
        """Render and return the image: (h, w, 3) uint8, or (h, w, 4) with a transparent background."""
        bar = self._scale_bar() if self.show_scale_bar else None
        self.p.reset_camera_clipping_range()
        self.p.render()
        img = self.p.screenshot(return_img=True, transparent_background=self.transparent)
        if img is None or img.shape[:2] != (self.h, self.w):
            raise RenderError(f"the renderer returned an image of shape {None if img is None else img.shape}, "
                              f"expected ({self.h}, {self.w})")
        img = np.ascontiguousarray(img)
        if bar is not None:
            x0, y, npx = bar
            th = max(2, int(round(0.006 * self.h)))
            draw_rect(img, x0, y - th, x0 + npx, y, self.theme["bar"])
        if self._inset is not None:
            composite(img, self._inset.image(self._time_ms if self._time_ms is not None else 0.0), *self._inset_pos)
        return img

    def screenshot(self, path) -> np.ndarray:
        """Render and save a PNG (deterministic bytes; see :mod:`.movie`)."""
        from .movie import write_png

        img = self.render()
        write_png(path, img)
        return img

    def close(self) -> None:
        """Release the renderer (and the results file, if the scene opened it)."""
        self.p.close()
        if getattr(self, "_owns_source", False) and self.source is not None:
            self.source.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ data sources
    @classmethod
    def from_results(cls, results, species=None, iso: str | float | None = "auto", iso_species=None,
                     iso_fraction: float = 0.2, charge_iso: float | None = None, voltage_clim=None,
                     inset: bool | list = True, glyph_size_um: float | None = None, surface_opacity: float = 0.5,
                     **kw) -> "Scene":
        """A scene bound to a results file (path or :class:`~microsyn.results.ResultsFile`).

        Parameters
        ----------
        species : list of str, optional
            Species to draw (default all in the file).
        iso : "auto", float [mM] or None
            Isosurface level of each species' concentration: ``"auto"`` is ``iso_fraction`` of the
            run's largest smoothed voxel concentration (sampled on up to 8 frames; one level for the
            whole movie, so the surface grows and shrinks with the ions); None: no isosurface.
        charge_iso : float, optional
            Also contour the charge density at this level [e/um^3].
        voltage_clim : (float, float), optional
            Colour-bar limits [mV] (default: the run's voltage range).
        inset : bool or list of trace names
            Inset plot of the file's traces (V [mV] and current [pA]) with a cursor.
        **kw
            Passed to :class:`Scene` (size, theme, title, caption, ...).
        """
        from ..results import ResultsFile

        res = results if isinstance(results, ResultsFile) else ResultsFile(results)
        names = list(species) if species else list(res.species)
        for s in names:
            if s not in res.species:
                raise UnknownSpeciesError(f"species {s!r} is not in {res.path!r}; it has {res.species}")
        kw.setdefault("t_max_ms", float(res.times_ms[-1]) if res.n_frames else 1.0)
        try:
            sc = cls(**kw)
        except Exception:
            if res is not results:
                res.close()
            raise
        sc.source = res
        sc._owns_source = res is not results
        sc.set_species(names)
        sc._draw_species = names
        nodes = res.membrane_nodes_um
        clim = voltage_clim
        if nodes is not None and clim is None:
            vr = res.voltage_range_mV()
            if vr is not None:
                lo, hi = vr
                pad = max(0.5, 0.05 * (hi - lo))
                clim = (math.floor(lo - pad), math.ceil(hi + pad))
        for name, (pts, tri) in res.surfaces.items():
            sc.add_surface(name, (pts, tri), nodes_um=nodes, clim=clim, opacity=surface_opacity)
        bounds = sc._data_bounds(res)
        extent = float(np.max(bounds[1] - bounds[0])) if bounds is not None else 1.0
        for kind, g in res.glyphs.items():
            sc.add_glyphs(kind, g["positions_um"], glyph_size_um or 0.03 * extent, label=g["label"])
        sc._iso_levels = {}
        if res.has_lattice and iso is not None and res.n_frames:
            peaks: dict = {}
            if iso == "auto":
                # a fraction of the largest smoothed peak (the raw peak is one voxel) over up to 8 frames
                from scipy.ndimage import gaussian_filter

                for i in np.unique(np.linspace(0, res.n_frames - 1, min(8, res.n_frames)).astype(int)):
                    for s, c in res.frame(int(i), species=[]).conc_mM.items():
                        peaks[s] = max(peaks.get(s, 0.0), float(gaussian_filter(c, 1.0, mode="nearest").max()))
            for s in (iso_species or names):
                if iso == "auto":
                    m = peaks.get(s, 0.0)
                    if m > 0:
                        sc._iso_levels[s] = iso_fraction * m
                else:
                    sc._iso_levels[s] = float(iso)
        sc._charge_iso = charge_iso
        traces = res.traces
        if inset and traces:
            pick = sorted(traces, key=lambda n: traces[n]["units"] != "mV") if inset is True else list(inset)
            chosen = []
            for k, n in enumerate(pick[:3]):
                if n not in traces:
                    raise ParameterError(f"trace {n!r} is not in {res.path!r}; it has {list(traces)}")
                chosen.append(dict(traces[n], color=["#ffb000", "#8ecae6", "#e76f51"][k]))
            t_rng = (float(res.times_ms[0]), float(res.times_ms[-1])) if res.n_frames > 1 else None
            sc.set_inset(InsetPlot(chosen, size_px=(int(0.3 * sc.w), int(0.27 * sc.h)), dark=sc.theme_name == "dark",
                                   t_range_ms=t_rng, font_px=max(8, int(12 * sc.h / 720))))
        sc._bounds = bounds
        return sc

    @staticmethod
    def _data_bounds(res):
        """(lo, hi) [um] of what there is to see: lattice, else ions of the last frame, else surfaces."""
        lg = res.lattice_geometry
        if lg is not None:
            return np.asarray(lg["lo_um"], float), np.asarray(lg["hi_um"], float)
        if res.n_frames:
            fr = res.frame(res.n_frames - 1, lattice=False)
            allp = [p for p in fr.positions.values() if len(p)]
            if allp:
                a = np.concatenate(allp)
                return a.min(0), a.max(0)
        s = res.surfaces
        if s:
            a = np.concatenate([p for p, _ in s.values()])
            return a.min(0), a.max(0)
        return None

    def default_view(self):
        """(focal point [um], distance [um]) that frames the data of the bound results."""
        b = getattr(self, "_bounds", None)
        if b is None:
            return np.zeros(3), 1.0
        lo, hi = b
        c = 0.5 * (lo + hi)
        r = 0.5 * float(np.linalg.norm(hi - lo))
        return c, max(r, 1e-6) / math.tan(math.radians(15.0)) * 0.95

    def show_frame(self, frame) -> None:
        """Update ions, isosurfaces, slices, voltages and the time stamp from a
        :class:`~microsyn.results.Frame`."""
        names = getattr(self, "_draw_species", None) or list(frame.positions)
        self.set_ions({s: frame.positions.get(s, np.zeros((0, 3))) for s in names})
        lg = self.source.lattice_geometry if self.source is not None and hasattr(self.source, "lattice_geometry") \
            else getattr(self, "_lattice_geometry", None)
        if lg is not None:
            for k, (s, level) in enumerate(getattr(self, "_iso_levels", {}).items()):
                if s in frame.conc_mM:
                    base = pv.Color(species_color(s, self._species_order.index(s) if s in self._species_order else k))
                    w_ = 0.7 if self.theme_name == "dark" else 0.0  # lighter than the ions on dark: stands out
                    tint = tuple((1 - w_) * c + w_ for c in base.float_rgb)
                    self.set_isosurface(s, frame.conc_mM[s], lg["lo_um"], lg["spacing_um"], level, color=tint,
                                        opacity=self.iso_opacity)
            if getattr(self, "_charge_iso", None) is not None and frame.charge_e_per_um3 is not None:
                self.set_isosurface("charge", frame.charge_e_per_um3, lg["lo_um"], lg["spacing_um"],
                                    self._charge_iso, color="#ff5d8f", opacity=0.2)
            for k, s in enumerate(self._slices):
                fld = s["field"]
                arr = frame.charge_e_per_um3 if fld == "charge" else frame.conc_mM.get(fld.split(":", 1)[-1])
                if arr is not None:
                    self.set_slice(k, arr, lg["lo_um"], lg["spacing_um"])
        self.set_voltage(frame.V_mV)
        self.set_time(frame.time_ms)

    def render_frame(self, index: int, camera: CameraState | None = None) -> np.ndarray:
        """Show frame ``index`` of the bound results (with ``camera``) and render it."""
        if self.source is None:
            raise RenderError("this scene is not bound to results; use Scene.from_results or show_frame()")
        self.show_frame(self.source.frame(index))
        if camera is None and self._camera is None:
            c, d = self.default_view()
            camera = preset("oblique", c, d)
        if camera is not None:
            self.set_camera(camera)
        return self.render()

    @classmethod
    def from_simulation(cls, sim, lattice=None, surfaces=None, membrane=None, voltage=None, iso_mM=None,
                        voltage_clim=(-70.0, -50.0), **kw) -> "Scene":
        """A scene that draws a running :class:`~microsyn.Simulation`; call :meth:`show_simulation`.

        ``surfaces`` (dict name -> surface; default the domain's holes, planes 2 um wide),
        ``membrane`` (a MembraneSolver or graph: colours surfaces by its ``V``) or ``voltage``
        (callable sim -> V [mV] per node), ``lattice`` with ``iso_mM`` (dict species -> level [mM]).
        """
        from ..results import _surface_arrays

        sc = cls(**kw)
        sc.sim = sim
        sc._lattice = lattice
        sc._membrane = membrane
        sc._voltage_fn = voltage
        sc._iso_levels = dict(iso_mM or {})
        sc._charge_iso = None
        if lattice is not None:
            sc._lattice_geometry = dict(lo_um=lattice.lo, hi_um=lattice.hi, spacing_um=lattice.spacing,
                                        shape=np.array(lattice.shape))
        graph = getattr(membrane, "graph", membrane)
        nodes = None if graph is None else graph.xyz_um
        if surfaces is None:
            surfaces = sim.domain.drawn_surfaces()
        for name, s in surfaces.items():
            sc.add_surface(name, _surface_arrays(s), nodes_um=nodes if (voltage or membrane) else None,
                           clim=voltage_clim)
        sc.set_species(sim.species.names)
        return sc

    def show_simulation(self) -> None:
        """Update the scene from the bound simulation's present state."""
        from ..results import Frame

        sim = self.sim
        fr = Frame(index=-1, time_ms=sim.time)
        for s in sim.species.names:
            fr.positions[s] = sim.positions(s)
        if self._lattice is not None:
            for s in self._iso_levels:
                fr.conc_mM[s] = self._lattice.concentration_mM(sim, s)
        if self._voltage_fn is not None:
            fr.V_mV = self._voltage_fn(sim)
        elif self._membrane is not None and hasattr(self._membrane, "V"):
            fr.V_mV = self._membrane.V
        self.show_frame(fr)
