"""Frame writers (PNG sequences, MP4, GIF) and the movie loop with a timeline and a camera path.

- PNG: Pillow with fixed settings and no time stamps, so the same image gives the same bytes.
- MP4: H.264 (libx264), yuv420p, through the ffmpeg binary that imageio-ffmpeg ships; width and
  height must be even (yuv420p halves the chroma resolution), checked before anything renders.
- GIF: Pillow, palette-quantized, looping, at the rendered size unless a smaller ``width`` is asked
  for; GIF stores frame delays in whole hundredths of a second, so the frame rate must be 100 / k
  (50, 33.33, 25, 20, ... fps), checked before anything renders.

The movie's clock is decoupled from the simulation's step: a :class:`Timeline` maps movie frame k
to a simulated time, e.g. ``slow_motion=1e5`` shows 1 us of simulation in 0.1 s of movie; frames
replayed from a results file show the last stored frame at or before that time.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import ParameterError, RenderError, check_positive

_PNG_OPTS = dict(optimize=False, compress_level=6)


def write_png(path, img: np.ndarray) -> None:
    """Save an (h, w, 3|4) uint8 image as PNG with deterministic bytes (no time or text chunks)."""
    from PIL import Image

    a = np.ascontiguousarray(img, dtype=np.uint8)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ParameterError(f"image must be (h, w, 3) or (h, w, 4) uint8, got {a.shape}")
    Image.fromarray(a, "RGBA" if a.shape[2] == 4 else "RGB").save(os.fspath(path), format="PNG", **_PNG_OPTS)


def write_frame(writer, img: np.ndarray, out_dir, still: str | None = None, stills: list | None = None) -> None:
    """Write ``img`` to a movie ``writer`` and, when ``still`` names a file, also as the PNG
    ``out_dir/still``, appending its path to ``stills`` (the frames a demo keeps to look at)."""
    writer.write(img)
    if still is not None:
        path = os.path.join(os.fspath(out_dir), still)
        write_png(path, img)
        if stills is not None:
            stills.append(path)


def check_even(size, what="MP4") -> None:
    w, h = size
    if w % 2 or h % 2:
        raise ParameterError(f"{what} (H.264, yuv420p) needs even width and height, got {w}x{h}; use e.g. "
                             f"{w + w % 2}x{h + h % 2} or a preset (720p, 1080p)")


class PNGSequence:
    """Writes ``prefix_000000.png``, ... into a folder."""

    def __init__(self, folder, prefix: str = "frame"):
        from ..results import ensure_output_dir

        self.folder = ensure_output_dir(os.fspath(folder), what="PNG frames")
        self.prefix = prefix
        self.paths: list[str] = []

    def write(self, img: np.ndarray) -> None:
        p = os.path.join(self.folder, f"{self.prefix}_{len(self.paths):06d}.png")
        write_png(p, img)
        self.paths.append(p)

    def close(self) -> None:
        pass


class MP4Writer:
    """H.264 yuv420p MP4 through imageio-ffmpeg.

    Parameters
    ----------
    path : str
    size : (int, int)
        Frame width and height [px], both even.
    fps : float
        Frames per second of the movie.
    crf : int
        x264 constant rate factor (lower is better; 18 to 23 is visually clean).
    """

    def __init__(self, path, size, fps: float = 25.0, crf: int = 20):
        import imageio_ffmpeg

        check_even(size)
        self.path = os.fspath(path)
        self.size = (int(size[0]), int(size[1]))
        self.fps = check_positive("fps", fps)
        from ..results import ensure_output_dir

        ensure_output_dir(os.path.dirname(os.path.abspath(self.path)), what=os.path.basename(self.path))
        self._gen = imageio_ffmpeg.write_frames(
            self.path, self.size, fps=self.fps, codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
            quality=None, bitrate=None, macro_block_size=2, ffmpeg_log_level="error",
            output_params=["-crf", str(int(crf)), "-preset", "medium", "-movflags", "+faststart"])
        self._gen.send(None)
        self.n = 0

    def write(self, img: np.ndarray) -> None:
        a = np.ascontiguousarray(img[:, :, :3], dtype=np.uint8)
        if a.shape[:2] != (self.size[1], self.size[0]):
            raise RenderError(f"frame of {a.shape[1]}x{a.shape[0]} px does not match the movie's {self.size}")
        self._gen.send(a.tobytes())
        self.n += 1

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()
            self._gen = None


def gif_delay_cs(fps: float) -> int:
    """The GIF frame delay [1/100 s] that plays at exactly ``fps``, or a ParameterError.

    GIF delays are whole hundredths of a second and browsers slow delays under 2 cs down to 10 cs,
    so ``fps`` must be 100 / k for an integer k >= 2 (50, 33.33, 25, 20, 16.67, 12.5, 10, ...).
    """
    f = check_positive("fps", fps)
    k = round(100.0 / f)
    if k < 2 or abs(100.0 / f - k) > 1e-6 * k:
        ok = ", ".join(f"{100 / j:.4g}" for j in (2, 3, 4, 5, 8, 10))
        raise ParameterError(f"a GIF cannot play at {f:g} fps: GIF frame delays are whole hundredths of a second "
                             f"(and at least 2); use --fps 100/k, e.g. {ok}, or drop the GIF (the MP4 takes any fps)")
    return int(k)


def gif_size(size, width: int | None = None) -> tuple[int, int]:
    """(width, height) [px] of the GIF of frames of ``size``: the same, or scaled to ``width``."""
    w, h = int(size[0]), int(size[1])
    if width is None:
        return w, h
    gw = int(width)
    if gw != width or not 16 <= gw <= w:
        raise ParameterError(f"GIF width must be a whole number of pixels from 16 to the rendered width {w}, "
                             f"got {width!r}")
    return gw, max(1, int(round(h * gw / w)))


class GIFWriter:
    """Looping GIF through Pillow (frames kept in memory, palette-quantized, written at close).

    Parameters
    ----------
    path : str
    fps : float
        Frames per second, 100 / k (see :func:`gif_delay_cs`); played exactly.
    width : int, optional
        Scale the frames down to this width [px] (height in proportion); default: as rendered.
    """

    def __init__(self, path, fps: float = 25.0, width: int | None = None):
        from ..results import ensure_output_dir

        self.path = os.fspath(path)
        # refuse an unwritable folder now, not after every frame has been rendered
        ensure_output_dir(os.path.dirname(os.path.abspath(self.path)), what=os.path.basename(self.path))
        self.delay_cs = gif_delay_cs(fps)
        self.fps = 100.0 / self.delay_cs
        self.width = None if width is None else int(width)
        self.size: tuple[int, int] | None = None
        self.frames: list = []

    def write(self, img: np.ndarray) -> None:
        from PIL import Image

        im = Image.fromarray(np.ascontiguousarray(img[:, :, :3], dtype=np.uint8), "RGB")
        size = gif_size(im.size, self.width)
        if size != im.size:
            im = im.resize(size, Image.LANCZOS)
        if self.size is None:
            self.size = size
        self.frames.append(im.quantize(colors=255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))

    def close(self) -> None:
        if not self.frames:
            return
        self.frames[0].save(self.path, save_all=True, append_images=self.frames[1:], duration=10 * self.delay_cs,
                            loop=0, optimize=False, disposal=1)
        self.frames = []


class Timeline:
    """Simulated time [ms] of each movie frame.

    Parameters
    ----------
    t_start_ms, t_end_ms : float
        Simulated span [ms].
    n_frames : int, optional
        Frames in the movie (evenly spaced in simulated time).
    fps, slow_motion : float, optional
        Instead of ``n_frames``: movie seconds per simulated second (``slow_motion``) at ``fps``;
        e.g. fps 25, slow_motion 1e5: each frame advances 0.4 us of simulation.
    """

    def __init__(self, t_start_ms: float, t_end_ms: float, n_frames: int | None = None, fps: float = 25.0,
                 slow_motion: float | None = None):
        if not t_end_ms >= t_start_ms:
            raise ParameterError(f"timeline end {t_end_ms} ms is before its start {t_start_ms} ms")
        if slow_motion is not None:
            f = check_positive("slow_motion (movie time / simulated time)", slow_motion)
            dt_ms = 1000.0 / (check_positive("fps", fps) * f)  # simulated ms per movie frame
            n_frames = int(np.floor((t_end_ms - t_start_ms) / dt_ms + 1e-9)) + 1
            if n_frames > 100_000:
                raise ParameterError(f"slow motion {f:g} at {fps:g} fps gives {n_frames} frames; choose a smaller "
                                     f"factor")
            self.times_ms = t_start_ms + dt_ms * np.arange(n_frames)
        else:
            if n_frames is None or int(n_frames) < 1:
                raise ParameterError("give n_frames >= 1 or slow_motion")
            n = int(n_frames)
            self.times_ms = np.linspace(t_start_ms, t_end_ms, n) if n > 1 else np.array([float(t_start_ms)])

    def __len__(self):
        return int(self.times_ms.size)

    def progress(self, k: int) -> float:
        """Movie progress u in [0, 1] of frame k (for camera paths)."""
        n = len(self)
        return k / (n - 1) if n > 1 else 0.0


def _writers_for(size, out_dir, mp4=None, gif=None, png=False, fps=25.0, png_prefix="frame", gif_width=None):
    ws = []
    if mp4:
        ws.append(MP4Writer(os.path.join(out_dir, mp4) if not os.path.isabs(mp4) else mp4, size, fps))
    if gif:
        ws.append(GIFWriter(os.path.join(out_dir, gif) if not os.path.isabs(gif) else gif, fps=fps, width=gif_width))
    if png:
        ws.append(PNGSequence(os.path.join(out_dir, "frames"), png_prefix))
    return ws


def render_movie(scene, out_dir, *, timeline: Timeline | None = None, frames=None, camera=None, mp4=None,
                 gif=None, png=False, fps: float = 25.0, progress: bool = True, keep_png=(),
                 gif_width: int | None = None) -> dict:
    """Render a scene bound to results (:meth:`Scene.from_results`) into MP4 / GIF / PNG files.

    Parameters
    ----------
    scene : Scene
        Bound to a results file.
    out_dir : str
        Output folder.
    timeline : Timeline, optional
        Simulated time per movie frame (default: every stored frame once).
    frames : list of int, optional
        Instead of a timeline: stored frame indices to show in order.
    camera : callable u -> CameraState, optional
        Camera path over the movie (u in [0, 1]); default a fixed oblique view of the data.
    mp4, gif : str, optional
        File names (relative to ``out_dir``) of the movie and GIF; both play at ``fps`` (for a GIF
        it must be 100 / k, see :func:`gif_delay_cs`).
    gif_width : int, optional
        Scale the GIF down to this width [px]; default: the rendered size.
    png : bool
        Also write every frame to ``out_dir/frames/frame_NNNNNN.png``.
    keep_png : iterable of int
        Movie frames also saved as ``out_dir/frame_NNNNNN.png`` (stills for slides).

    Returns
    -------
    dict
        ``mp4``, ``gif``, ``png`` paths, ``n_frames``, ``size`` (rendered [px]), ``fps``,
        ``gif_size`` [px] (with a GIF), ``stills``, ``render_s``.
    """
    import time

    from tqdm.auto import tqdm

    from .camera import Static

    res = scene.source
    if res is None:
        raise RenderError("render_movie needs a scene bound to results (Scene.from_results)")
    if res.n_frames == 0:
        raise ParameterError(f"results file {res.path!r} has no frames to render")
    if mp4:
        check_even(scene.size)
    if gif:
        gif_delay_cs(fps)
        gif_size(scene.size, gif_width)
    from ..results import ensure_output_dir

    out_dir = ensure_output_dir(os.fspath(out_dir), what="the movie")
    if frames is not None:
        idx = [int(i) for i in frames]
        times = [float(res.times_ms[i]) for i in idx]
    else:
        if timeline is None:
            times = [float(t) for t in res.times_ms]
        else:
            times = [float(t) for t in timeline.times_ms]
        idx = [res.index_at(t) for t in times]
    if camera is None:
        c, d = scene.default_view()
        camera = Static("oblique", c, d)
    n = len(idx)
    writers = _writers_for(scene.size, out_dir, mp4, gif, png, fps, gif_width=gif_width)
    keep = set(int(k) for k in keep_png)
    stills = []
    t0 = time.perf_counter()
    cached = None
    try:
        for k in tqdm(range(n), desc="rendering", unit="frame", disable=not progress):
            i = idx[k]
            if cached is None or cached[0] != i:
                cached = (i, res.frame(i, species=getattr(scene, "_draw_species", None)))
            fr = cached[1]
            scene.show_frame(fr)  # the time stamp shows the stored frame's time
            scene.set_camera(camera(k / (n - 1) if n > 1 else 0.0))
            img = scene.render()
            for w in writers:
                w.write(img)
            if k in keep:
                p = os.path.join(out_dir, f"frame_{k:06d}.png")
                write_png(p, img)
                stills.append(p)
    finally:
        for w in writers:
            w.close()
    out = dict(n_frames=n, size=scene.size, fps=fps, stills=stills, render_s=time.perf_counter() - t0)
    for w in writers:
        if isinstance(w, MP4Writer):
            out["mp4"] = w.path
        elif isinstance(w, GIFWriter):
            out["gif"] = w.path
            out["gif_size"] = gif_size(scene.size, gif_width)
        elif isinstance(w, PNGSequence):
            out["png"] = w.paths
    return out


def zoom_to_fit(scene, times_ms, near: float | None = None, hold: float = 0.1, margin: float = 0.75,
                max_points: int = 20000, zoom=None):
    """The ``zoom`` camera of a scene bound to results: from the pore out to the whole data, the ions in view.

    It starts ``near`` [um] (default: the default view's distance / 30) from the first glyph set
    (the channel pore; without glyphs, the centre of the ions of the first frame that has any),
    pulls back log-spaced to the default view (:meth:`Scene.default_view`), and pulls back
    further wherever the drawn ions of the frame shown would leave the view (:class:`FitZoom`).

    Parameters
    ----------
    scene : Scene
        Bound to results (:meth:`Scene.from_results`).
    times_ms : array of float
        Simulated time [ms] of each movie frame (e.g. ``Timeline.times_ms``).
    near : float, optional
        Starting distance [um].
    hold, margin
        As in :class:`Zoom` and :func:`~.camera.fit_distance`.
    max_points : int
        Ions per frame used for the fit (an even subsample).
    zoom : Zoom, optional
        A planned zoom to use instead of the one described above (still kept from cutting off
        the ions).
    """
    from .camera import FitZoom, Zoom

    res = scene.source
    if res is None:
        raise RenderError("zoom_to_fit needs a scene bound to results (Scene.from_results)")
    times = np.asarray(times_ms, float).ravel()
    if times.size == 0:
        raise ParameterError("zoom_to_fit needs at least one frame time")
    c, d = scene.default_view()
    species = getattr(scene, "_draw_species", None) or list(res.species)
    idx = [res.index_at(float(t)) for t in times]
    clouds = {}
    for i in sorted(set(idx)):
        pos = [p for p in res.frame(i, species=species, lattice=False).positions.values() if len(p)]
        a = scene._clip_points(np.concatenate(pos)) if pos else np.zeros((0, 3))
        if a.shape[0] > max_points:  # an even subsample (the fit takes a quantile)
            a = a[np.linspace(0, a.shape[0] - 1, max_points).astype(int)]
        clouds[i] = a
    if zoom is None:
        glyphs = res.glyphs
        if glyphs:
            start = np.asarray(next(iter(glyphs.values()))["positions_um"], float).reshape(-1, 3).mean(0)
        else:
            first = next((clouds[i] for i in idx if len(clouds[i])), None)
            start = first.mean(0) if first is not None else c
        zoom = Zoom(start, near or d / 30.0, d, end_focal=c, hold=hold)
    n = times.size
    u = np.arange(n) / (n - 1) if n > 1 else np.zeros(1)
    return FitZoom(zoom, u, [clouds[i] for i in idx], aspect=scene.w / scene.h, margin=margin)
