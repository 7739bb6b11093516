"""Camera presets and camera paths.

A camera path is a function of the movie's progress ``u`` in [0, 1] (frame k of n has
u = k / (n - 1)) returning a :class:`CameraState`; so a movie's framing is planned, not accidental,
and it is the same whatever the simulation's time step. Distances are in um.

Example
-------
>>> cam = Zoom(focal=(0, 0, 0), start_distance=0.02, end_distance=5.0)
>>> round(cam(0.5).distance, 3)   # log-spaced: the geometric mean halfway
0.316
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError, check_positive, check_vector3

#: directions from the focal point to the camera, and the view-up vector, per preset
PRESETS = {
    "oblique": ((0.55, -0.80, 0.40), (0.0, 0.0, 1.0)),
    "side": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
    "top": ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
}


@dataclass
class CameraState:
    """Where the camera is: position and focal point [um], view-up, vertical view angle [deg]."""

    position: np.ndarray
    focal_point: np.ndarray
    view_up: np.ndarray
    view_angle: float = 30.0

    @property
    def distance(self) -> float:
        return float(np.linalg.norm(self.position - self.focal_point))

    def um_per_px(self, height_px: int) -> float:
        """Length [um] of one pixel at the focal point (for scale bars)."""
        return 2.0 * self.distance * math.tan(math.radians(self.view_angle) / 2.0) / height_px

    def apply(self, plotter) -> None:
        plotter.camera_position = [tuple(map(float, self.position)), tuple(map(float, self.focal_point)),
                                   tuple(map(float, self.view_up))]
        plotter.camera.view_angle = float(self.view_angle)


def _unit(v, name="direction"):
    v = check_vector3(name, v)
    n = float(np.linalg.norm(v))
    if n == 0:
        raise ParameterError(f"{name} must be a non-zero vector")
    return v / n


def _ease(u):
    """Smooth start and stop (cubic smoothstep)."""
    u = min(1.0, max(0.0, float(u)))
    return u * u * (3.0 - 2.0 * u)


def preset(name: str, focal=(0.0, 0.0, 0.0), distance: float = 1.0, view_angle: float = 30.0) -> CameraState:
    """A camera ``distance`` [um] from ``focal`` looking from a preset direction."""
    if name not in PRESETS:
        raise ParameterError(f"unknown camera preset {name!r}; choose one of {sorted(PRESETS)}")
    d, up = PRESETS[name]
    f = check_vector3("focal", focal)
    dist = check_positive("distance [um]", distance)
    return CameraState(f + dist * _unit(d), f, np.asarray(up, float), view_angle)


class Static:
    """The same camera on every frame (a preset name, or a direction vector)."""

    def __init__(self, view="oblique", focal=(0.0, 0.0, 0.0), distance: float = 1.0, view_angle: float = 30.0):
        if isinstance(view, str):
            self.state = preset(view, focal, distance, view_angle)
        else:
            f = check_vector3("focal", focal)
            self.state = CameraState(f + check_positive("distance", distance) * _unit(view), f,
                                     np.array([0.0, 0.0, 1.0]), view_angle)

    def __call__(self, u: float) -> CameraState:
        return self.state


class Orbit:
    """Circle around the vertical axis through ``focal`` at ``elevation_deg`` above the horizon.

    ``degrees`` of azimuth over the movie, starting at ``start_deg`` (0 = looking along +y).
    """

    def __init__(self, focal=(0.0, 0.0, 0.0), distance: float = 1.0, elevation_deg: float = 25.0,
                 degrees: float = 360.0, start_deg: float = -35.0, view_angle: float = 30.0):
        self.focal = check_vector3("focal", focal)
        self.distance = check_positive("distance [um]", distance)
        self.elev = math.radians(float(elevation_deg))
        self.degrees = float(degrees)
        self.start = float(start_deg)
        self.view_angle = float(view_angle)

    def __call__(self, u: float) -> CameraState:
        az = math.radians(self.start + self.degrees * float(u))
        d = np.array([math.sin(az) * math.cos(self.elev), -math.cos(az) * math.cos(self.elev), math.sin(self.elev)])
        return CameraState(self.focal + self.distance * d, self.focal.copy(), np.array([0.0, 0.0, 1.0]),
                           self.view_angle)


class Zoom:
    """Pull back (or push in) from ``start_distance`` to ``end_distance`` [um] along a direction.

    Distance is interpolated logarithmically with eased ends, so going from the pore (tens of
    nm) to the dendrite (micrometres) spends equal time per factor of ten. ``hold`` is the fraction
    of the movie held still at each end. The focal point may move from ``focal`` to ``end_focal``.
    """

    def __init__(self, focal=(0.0, 0.0, 0.0), start_distance: float = 0.05, end_distance: float = 5.0,
                 view="oblique", end_focal=None, hold: float = 0.1, view_angle: float = 30.0):
        self.focal = check_vector3("focal", focal)
        self.end_focal = self.focal if end_focal is None else check_vector3("end_focal", end_focal)
        self.d0 = check_positive("start_distance [um]", start_distance)
        self.d1 = check_positive("end_distance [um]", end_distance)
        if isinstance(view, str):
            if view not in PRESETS:
                raise ParameterError(f"unknown camera preset {view!r}; choose one of {sorted(PRESETS)}")
            d, up = PRESETS[view]
        else:
            d, up = view, (0.0, 0.0, 1.0)
        self.dir = _unit(d)
        self.up = np.asarray(up, float)
        if not 0 <= hold < 0.5:
            raise ParameterError(f"hold must be in [0, 0.5), got {hold}")
        self.hold = float(hold)
        self.view_angle = float(view_angle)

    def __call__(self, u: float) -> CameraState:
        v = _ease((float(u) - self.hold) / (1.0 - 2.0 * self.hold))
        dist = math.exp((1 - v) * math.log(self.d0) + v * math.log(self.d1))
        f = (1 - v) * self.focal + v * self.end_focal
        return CameraState(f + dist * self.dir, f, self.up.copy(), self.view_angle)


def fit_distance(points, focal, direction, view_up, view_angle: float = 30.0, aspect: float = 16 / 9,
                 margin: float = 0.75, quantile: float = 0.99) -> float:
    """The camera distance [um] from ``focal`` along ``direction`` at which the points are in view.

    A point is in view when its offsets across the view are within ``margin`` of the half height
    (vertical, ``view_angle`` [deg]) and of the half width (``aspect`` = width / height) at its
    depth; the ``quantile`` of the points (0.99: a few stray ions may leave) must be. Returns 0
    for no points.
    """
    pts = np.asarray(points, float).reshape(-1, 3)
    if pts.shape[0] == 0:
        return 0.0
    if not 0 < margin <= 1:
        raise ParameterError(f"margin must be in (0, 1], got {margin}")
    d = _unit(direction)
    up = np.asarray(view_up, float)
    up = up - (up @ d) * d
    if not np.any(up):
        raise ParameterError("view_up must not be parallel to the view direction")
    up = up / np.linalg.norm(up)
    right = np.cross(up, d)
    rel = pts - check_vector3("focal", focal)
    t = math.tan(math.radians(float(view_angle)) / 2.0) * float(margin)
    need = rel @ d + np.maximum(np.abs(rel @ up) / t, np.abs(rel @ right) / (t * float(aspect)))
    return float(np.quantile(need, quantile))


class FitZoom:
    """A :class:`Zoom` that pulls back further wherever the ions would leave the view.

    Parameters
    ----------
    zoom : Zoom
        The planned path (focal point, direction, log-spaced distance).
    u : array of float
        Movie progress [0, 1] of each planned frame, increasing.
    points : list of (n, 3) arrays
        What must stay in view in each of those frames [um] (e.g. all ions drawn).
    aspect, margin, quantile
        As in :func:`fit_distance`.

    The distance at each frame is the largest of the zoom's and of the fitted distances of this
    and all earlier frames (a cloud that grows is never cut off, and the camera never moves back
    in); between frames it is interpolated.
    """

    def __init__(self, zoom: Zoom, u, points, aspect: float = 16 / 9, margin: float = 0.75, quantile: float = 0.99):
        self.zoom = zoom
        self.u = np.asarray(u, float)
        if self.u.ndim != 1 or len(points) != self.u.size or self.u.size == 0:
            raise ParameterError("FitZoom needs one point set per progress value u")
        if np.any(np.diff(self.u) < 0):
            raise ParameterError("FitZoom progress values u must increase")
        need = []
        for uk, pk in zip(self.u, points):
            st = zoom(uk)
            need.append(max(st.distance, fit_distance(pk, st.focal_point, zoom.dir, zoom.up, zoom.view_angle, aspect,
                                                      margin, quantile)))
        self.distances = np.maximum.accumulate(np.asarray(need))

    def __call__(self, u: float) -> CameraState:
        st = self.zoom(u)
        dist = max(st.distance, float(np.interp(float(u), self.u, self.distances)))
        return CameraState(st.focal_point + dist * self.zoom.dir, st.focal_point, st.view_up, st.view_angle)


def camera_path(spec, focal=(0.0, 0.0, 0.0), distance: float = 1.0, near: float | None = None, start_focal=None):
    """A camera path from a name (``oblique``, ``side``, ``top``, ``orbit``, ``zoom``) or a callable.

    ``zoom`` goes from ``near`` [um] (default distance / 30) around ``start_focal`` (default
    ``focal``) out to ``distance`` around ``focal``, in the oblique direction; wrap it in
    :class:`FitZoom` to keep the ions in view (:func:`microsyn.render.movie.zoom_to_fit` does).
    """
    if callable(spec):
        return spec
    if spec in PRESETS:
        return Static(spec, focal, distance)
    if spec == "orbit":
        return Orbit(focal, distance)
    if spec == "zoom":
        if start_focal is None:
            return Zoom(focal, near or distance / 30.0, distance)
        return Zoom(start_focal, near or distance / 30.0, distance, end_focal=focal)
    raise ParameterError(f"unknown camera {spec!r}; choose oblique, side, top, orbit or zoom (or give a "
                         f"function u -> CameraState)")
