"""Frame writers (PNG sequences, MP4, GIF) and the movie loop with a timeline and a camera path.

- PNG: Pillow with fixed settings and no time stamps, so the same image gives the same bytes.
- MP4: H.264 (libx264), yuv420p, through the ffmpeg binary that imageio-ffmpeg ships; width and
  height must be even (yuv420p halves the chroma resolution), checked before anything renders.
- GIF: Pillow, frames scaled to at most ``max_width`` px and palette-quantized, looping.

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


def check_even(size, what="MP4") -> None:
    w, h = size
    if w % 2 or h % 2:
        raise ParameterError(f"{what} (H.264, yuv420p) needs even width and height, got {w}x{h}; use e.g. "
                             f"{w + w % 2}x{h + h % 2} or a preset (720p, 1080p)")


class PNGSequence:
    """Writes ``prefix_000000.png``, ... into a folder."""

    def __init__(self, folder, prefix: str = "frame"):
        self.folder = os.fspath(folder)
        os.makedirs(self.folder, exist_ok=True)
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
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
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


class GIFWriter:
    """Looping GIF through Pillow (frames kept in memory, palette-quantized, written at close)."""

    def __init__(self, path, fps: float = 15.0, max_width: int = 640):
        self.path = os.fspath(path)
        self.fps = check_positive("fps", fps)
        self.max_width = int(max_width)
        self.frames: list = []

    def write(self, img: np.ndarray) -> None:
        from PIL import Image

        im = Image.fromarray(np.ascontiguousarray(img[:, :, :3], dtype=np.uint8), "RGB")
        if im.width > self.max_width:
            h = int(round(im.height * self.max_width / im.width))
            im = im.resize((self.max_width, h), Image.LANCZOS)
        self.frames.append(im.quantize(colors=255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))

    def close(self) -> None:
        if not self.frames:
            return
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        dur = int(round(1000.0 / self.fps))
        self.frames[0].save(self.path, save_all=True, append_images=self.frames[1:], duration=dur, loop=0,
                            optimize=False, disposal=1)
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


def _writers_for(size, out_dir, mp4=None, gif=None, png=False, fps=25.0, png_prefix="frame"):
    ws = []
    if mp4:
        ws.append(MP4Writer(os.path.join(out_dir, mp4) if not os.path.isabs(mp4) else mp4, size, fps))
    if gif:
        ws.append(GIFWriter(os.path.join(out_dir, gif) if not os.path.isabs(gif) else gif, fps=min(fps, 20.0)))
    if png:
        ws.append(PNGSequence(os.path.join(out_dir, "frames"), png_prefix))
    return ws


def render_movie(scene, out_dir, *, timeline: Timeline | None = None, frames=None, camera=None, mp4=None,
                 gif=None, png=False, fps: float = 25.0, progress: bool = True, keep_png=()) -> dict:
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
        File names (relative to ``out_dir``) of the movie and GIF.
    png : bool
        Also write every frame to ``out_dir/frames/frame_NNNNNN.png``.
    keep_png : iterable of int
        Movie frames also saved as ``out_dir/frame_NNNNNN.png`` (stills for slides).

    Returns
    -------
    dict
        ``mp4``, ``gif``, ``png`` paths, ``n_frames``, ``size``, ``fps``, ``stills``, ``render_s``.
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
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
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
    writers = _writers_for(scene.size, out_dir, mp4, gif, png, fps)
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
        elif isinstance(w, PNGSequence):
            out["png"] = w.paths
    return out
