"""2D annotations: time stamps in physical units, scale bars with round lengths, inset traces.

The scale bar and the inset are drawn into the rendered image with numpy (the inset is a small
matplotlib Agg figure, drawn once and blitted with a moving cursor each frame), so they cost a
few milliseconds and are pixel-exact; text goes through VTK's text actors in :mod:`.scene`.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError

MU = "\u00b5"

#: time units: (name, ms per unit)
_TIME_UNITS = (("ns", 1e-6), (MU + "s", 1e-3), ("ms", 1.0), ("s", 1e3))


def time_unit(t_max_ms: float) -> tuple[str, float]:
    """The unit (name, ms per unit) in which ``t_max_ms`` [ms] reads as 1 to 1000."""
    t = abs(float(t_max_ms))
    for name, scale in _TIME_UNITS:
        if t < 1000.0 * scale:
            return name, scale
    return _TIME_UNITS[-1]


class TimeFormatter:
    """Formats times [ms] in one unit and width for a whole movie (no jumping digits).

    Example
    -------
    >>> TimeFormatter(0.05)(0.0123)
    't = 12.3 \u00b5s'
    """

    def __init__(self, t_max_ms: float, step_ms: float | None = None, prefix: str = "t = "):
        self.unit, self.scale = time_unit(t_max_ms if t_max_ms > 0 else 1.0)
        top = max(abs(t_max_ms) / self.scale, 1e-12)
        if step_ms is None:
            self.decimals = 2 if top < 10 else (1 if top < 100 else 0)
        else:
            s = step_ms / self.scale
            self.decimals = int(min(4, max(0, math.ceil(-math.log10(s)) if s > 0 else 2)))
        self.width = len(f"{top:.{self.decimals}f}")
        self.prefix = prefix

    def __call__(self, t_ms: float) -> str:
        return f"{self.prefix}{t_ms / self.scale:{self.width}.{self.decimals}f} {self.unit}"


def format_time(t_ms: float, t_max_ms: float | None = None) -> str:
    """``t = 12.30 us`` style label of ``t_ms`` [ms] in a unit chosen from ``t_max_ms``."""
    return TimeFormatter(t_ms if t_max_ms is None else t_max_ms)(t_ms)


def nice_length(x_um: float) -> float:
    """The largest 1-2-5 length [um] not above ``x_um``."""
    if not (x_um > 0 and math.isfinite(x_um)):
        raise ParameterError(f"length must be positive and finite, got {x_um!r}")
    p = 10.0 ** math.floor(math.log10(x_um))
    for m in (5.0, 2.0, 1.0):
        if m * p <= x_um * (1 + 1e-9):
            return m * p
    return p


def format_length(um: float) -> str:
    """``500 nm``, ``2 um``, ``1 mm`` (a round label for a length [um])."""
    if um < 1e-3:
        return f"{um * 1e4:g} \u00c5"
    if um < 1.0:
        return f"{um * 1e3:.3g} nm"
    if um < 1000.0:
        return f"{um:.3g} {MU}m"
    return f"{um / 1000:.3g} mm"


def scale_bar_length(um_per_px: float, width_px: int, fraction: float = 0.15) -> tuple[float, int]:
    """A round bar length [um] near ``fraction`` of the image width and its length in pixels."""
    L = nice_length(fraction * width_px * um_per_px)
    return L, int(round(L / um_per_px))


def draw_rect(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, color) -> None:
    """Fill pixels [y0:y1, x0:x1] (top-left origin) with an RGB(A) colour, in place."""
    h, w = img.shape[:2]
    x0, x1 = max(0, x0), min(w, x1)
    y0, y1 = max(0, y0), min(h, y1)
    if x1 > x0 and y1 > y0:
        c = np.asarray(color, np.uint8)
        img[y0:y1, x0:x1, : c.size] = c[: img.shape[2]]
        if img.shape[2] == 4 and c.size == 3:
            img[y0:y1, x0:x1, 3] = 255


def composite(img: np.ndarray, rgba: np.ndarray, x0: int, y0: int) -> None:
    """Alpha-blend an RGBA uint8 overlay into ``img`` (RGB or RGBA) at top-left (x0, y0), in place."""
    h, w = rgba.shape[:2]
    H, W = img.shape[:2]
    if x0 < 0 or y0 < 0 or x0 + w > W or y0 + h > H:
        raise ParameterError(f"overlay of {w}x{h} px at ({x0}, {y0}) does not fit in a {W}x{H} image")
    region = img[y0:y0 + h, x0:x0 + w]
    a = rgba[:, :, 3:4].astype(np.uint16)
    region[:, :, :3] = ((rgba[:, :, :3].astype(np.uint16) * a + region[:, :, :3].astype(np.uint16) * (255 - a)
                         + 127) // 255).astype(np.uint8)
    if img.shape[2] == 4:
        region[:, :, 3] = np.maximum(region[:, :, 3], rgba[:, :, 3])


class InsetPlot:
    """A small plot of traces (e.g. V(t) [mV], optionally a current [pA]) with a moving cursor.

    Parameters
    ----------
    traces : list of dict(time_ms, values, label, units, color)
        Curves; those with ``units`` other than the first's go to a right-hand axis.
    size_px : (int, int)
        Width and height [px].
    dark : bool
        Light text on a translucent dark panel (else dark on light).
    title : str, optional
    t_range_ms : (float, float), optional
        x range [ms] (default: the traces' range); shown in the unit of :class:`TimeFormatter`.
    """

    def __init__(self, traces, size_px=(400, 200), dark=True, title=None, t_range_ms=None, font_px=13):
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        if not traces:
            raise ParameterError("an inset needs at least one trace")
        self.w, self.h = int(size_px[0]), int(size_px[1])
        dpi = 100.0
        fg = "#e8eef7" if dark else "#1b1f24"
        panel = (0.04, 0.07, 0.14, 0.92) if dark else (1, 1, 1, 0.92)
        fig = Figure(figsize=(self.w / dpi, self.h / dpi), dpi=dpi)
        fig.patch.set_facecolor(panel)
        canvas = FigureCanvasAgg(fig)
        fs = font_px * 72.0 / dpi
        t0 = min(float(np.min(tr["time_ms"])) for tr in traces)
        t1 = max(float(np.max(tr["time_ms"])) for tr in traces)
        if t_range_ms is not None:
            t0, t1 = t_range_ms
        self.tf = TimeFormatter(t1)
        sc = self.tf.scale
        one_row = sum(len(tr.get("label", "")) + 4 for tr in traces) * font_px * 0.6 < 0.9 * self.w
        top = 0.82 if one_row else 0.86 - 0.1 * len(traces)
        ax = fig.add_axes((0.16, 0.22, 0.66 if len({tr.get("units", "") for tr in traces}) > 1 else 0.78, top - 0.22))
        ax.set_facecolor((0, 0, 0, 0))
        axes = {traces[0].get("units", "")}
        ax2 = None
        default_colors = ["#ffb000", "#8ecae6", "#e76f51", "#90be6d"]
        for k, tr in enumerate(traces):
            units = tr.get("units", "")
            a = ax
            if units not in axes:
                if ax2 is None:
                    ax2 = ax.twinx()
                a = ax2
            a.plot(np.asarray(tr["time_ms"]) / sc, tr["values"], color=tr.get("color", default_colors[k % 4]),
                   lw=1.6, label=tr.get("label", ""))
        for a in [ax] + ([ax2] if ax2 is not None else []):
            a.margins(y=0.12)
        ax.set_xlim(t0 / sc, t1 / sc)
        ax.set_xlabel(f"time [{self.tf.unit}]", color=fg, fontsize=fs, labelpad=1)
        ax.set_ylabel(f"[{traces[0].get('units', '')}]", color=fg, fontsize=fs, labelpad=2)
        for a in [ax] + ([ax2] if ax2 is not None else []):
            a.tick_params(colors=fg, labelsize=fs * 0.9, length=3, pad=1)
            for sp in a.spines.values():
                sp.set_color(fg)
                sp.set_alpha(0.6)
        if ax2 is not None:
            u2 = [tr.get("units", "") for tr in traces if tr.get("units", "") != traces[0].get("units", "")][0]
            ax2.set_ylabel(f"[{u2}]", color=fg, fontsize=fs, labelpad=2)
        lines = ax.get_lines() + (ax2.get_lines() if ax2 is not None else [])
        labels = [ln.get_label() for ln in lines]
        if self.w >= 220 and any(lab and not lab.startswith("_") for lab in labels):
            fig.legend(lines, labels, loc="upper center", bbox_to_anchor=(0.5, 0.995), ncol=len(lines) if one_row else 1,
                       fontsize=fs * 0.9, frameon=False, handlelength=1.2, labelcolor=fg, columnspacing=1.0)
        if title and not (self.w >= 220 and any(lab and not lab.startswith("_") for lab in labels)):
            fig.text(0.5, 0.97, title, ha="center", va="top", color=fg, fontsize=fs * 1.05)
        self.fig, self.canvas, self.ax, self.ax2 = fig, canvas, ax, ax2
        canvas.draw()
        self._bg = canvas.copy_from_bbox(fig.bbox)
        self._cursor = ax.axvline(t0 / sc, color=fg, lw=1.2, alpha=0.9, animated=True)
        self._dots = []
        for k, tr in enumerate(traces):
            a = ax if tr.get("units", "") == traces[0].get("units", "") else ax2
            (dot,) = a.plot([], [], "o", ms=5, color=tr.get("color", default_colors[k % 4]), mec=fg, mew=0.6,
                            animated=True)
            self._dots.append((dot, np.asarray(tr["time_ms"], float), np.asarray(tr["values"], float), a))

    def image(self, t_ms: float) -> np.ndarray:
        """The inset as an (h, w, 4) uint8 RGBA array with the cursor at ``t_ms`` [ms]."""
        sc = self.tf.scale
        self.canvas.restore_region(self._bg)
        self._cursor.set_xdata([t_ms / sc, t_ms / sc])
        self.ax.draw_artist(self._cursor)
        for dot, t, v, a in self._dots:
            if t[0] <= t_ms <= t[-1]:
                dot.set_data([t_ms / sc], [float(np.interp(t_ms, t, v))])
                a.draw_artist(dot)
        self.canvas.blit(self.fig.bbox)
        buf = np.asarray(self.canvas.buffer_rgba())
        return np.array(buf[: self.h, : self.w], dtype=np.uint8)
