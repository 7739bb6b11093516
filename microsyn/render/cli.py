"""``microsyn render RESULTS.h5 --out DIR``: movies and frames from a results file.

What it writes (all into ``--out``; nothing else, and each path is printed):

- ``--mp4 [NAME]``: an H.264 MP4 (default name ``movie.mp4``) at the rendered size, at ``--fps``.
- ``--gif [NAME]``: a looping GIF (default ``movie.gif``) at the rendered size, at ``--fps``
  (which must then be 100 / k: 50, 33.33, 25, 20, ...); ``--gif-width PX`` scales it down.
- ``--png``: every frame as ``frames/frame_NNNNNN.png`` at the rendered size.
- ``--vtk``: VTK files and a .pvd series in ``vtk/`` for ParaView.
- none of these: ``movie.mp4`` and the PNG frames (only the frames with ``--transparent``).

Example
-------
``microsyn render run.h5 --out movie --mp4 --gif --png --size 720p --fps 25 --camera zoom --vtk``
"""
from __future__ import annotations

import argparse
import os

from ..errors import ParameterError

CAMERAS = ("oblique", "side", "top", "orbit", "zoom")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="microsyn render",
                                 description="Render frames and movies from a microsyn results file (HDF5), "
                                             "headless, without simulating again. Every output is at the rendered "
                                             "--size unless --gif-width asks for a smaller GIF. With none of --mp4, "
                                             "--gif, --png, --vtk: writes OUT/movie.mp4 and OUT/frames/*.png (only the PNGs "
                                             "with --transparent).")
    ap.add_argument("results", help="results file (.h5) written by microsyn.results.ResultsWriter")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--mp4", nargs="?", const="movie.mp4", metavar="NAME",
                    help="write an H.264 MP4 into --out (default name movie.mp4), at --size and --fps")
    ap.add_argument("--gif", nargs="?", const="movie.gif", metavar="NAME",
                    help="write a looping GIF into --out (default name movie.gif), at --size (or --gif-width) and "
                         "--fps, which must be 100/k for a GIF (50, 33.33, 25, 20, ...)")
    ap.add_argument("--gif-width", type=int, metavar="PX",
                    help="scale the GIF down to this width (height in proportion); default: the rendered width")
    ap.add_argument("--png", action="store_true", help="write every frame as PNG into OUT/frames/, at --size")
    ap.add_argument("--size", default="720p", help="rendered size: 720p, 1080p, 480p, 360p or WIDTHxHEIGHT "
                                                   "(default 720p)")
    ap.add_argument("--fps", type=float, default=25.0, help="movie frames per second (default 25)")
    ap.add_argument("--camera", default="oblique", choices=CAMERAS,
                    help="camera: a fixed view (oblique, side, top), an orbit around the data, or a zoom from the "
                         "channel pore (the first glyph; without glyphs, the first ions) out to the whole data that "
                         "keeps the ions in view (default oblique)")
    ap.add_argument("--species", nargs="+", help="species to draw (default: all in the file)")
    ap.add_argument("--slow-motion", type=float, metavar="FACTOR",
                    help="movie seconds per simulated second (e.g. 1e5: 1 us of simulation in 0.1 s); default: "
                         "one movie frame per stored frame")
    ap.add_argument("--frames", type=int, metavar="N", help="number of movie frames, evenly spaced in time")
    ap.add_argument("--theme", default="dark", choices=("dark", "white"))
    ap.add_argument("--title", help="title text (default: the file's title attribute)")
    ap.add_argument("--caption", help="caption text at the bottom left (default: the file's caption attribute)")
    ap.add_argument("--transparent", action="store_true",
                    help="transparent background (PNG frames only: not with --mp4 or --gif)")
    ap.add_argument("--no-antialias", action="store_true", help="skip 4x multisampling (about 2x faster)")
    ap.add_argument("--vtk", action="store_true", help="export VTK files and a .pvd series to OUT/vtk (for ParaView)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar and no plan printed before rendering")
    return ap


def main_render(argv=None) -> dict:
    """Run ``microsyn render`` with ``argv`` (list of str); returns what was written.

    Raises :class:`~microsyn.errors.ParameterError` for bad input (missing or foreign file, bad size,
    odd dimensions for MP4, unknown species) and :class:`~microsyn.errors.RenderError` when no GL
    stack is available.
    """
    args = build_parser().parse_args(argv)
    from ..results import ResultsFile, ensure_output_dir
    from .scene import parse_size

    size = parse_size(args.size)
    if not (args.mp4 or args.gif or args.png or args.vtk):
        args.png = True
        if not args.transparent:  # movies have no alpha channel
            args.mp4 = "movie.mp4"
    if args.mp4:
        from .movie import check_even

        check_even(size)
        if not args.mp4.lower().endswith(".mp4"):
            raise ParameterError(f"--mp4 {args.mp4!r} must end with .mp4")
    if args.transparent and (args.mp4 or args.gif):
        raise ParameterError("--transparent works for PNG frames only; drop it or drop --mp4/--gif")
    if args.fps <= 0:
        raise ParameterError(f"--fps must be positive, got {args.fps}")
    if args.gif_width is not None and not args.gif:
        raise ParameterError("--gif-width sizes the GIF; add --gif or drop --gif-width")
    if args.gif:
        from .movie import gif_delay_cs, gif_size

        if not args.gif.lower().endswith(".gif"):
            raise ParameterError(f"--gif {args.gif!r} must end with .gif")
        gif_delay_cs(args.fps)
        gif_size(size, args.gif_width)
    res = ResultsFile(args.results)
    try:
        if res.n_frames == 0:
            raise ParameterError(f"results file {args.results!r} has no frames; run the simulation with the "
                                 f"ResultsWriter attached")
        if args.species:
            for s in args.species:
                if s not in res.species:
                    raise ParameterError(f"--species {s!r} is not in {args.results!r}; it has {res.species}")
        ensure_output_dir(args.out, what="rendered frames and movies")
        out = {}
        if args.mp4 or args.gif or args.png:
            from .camera import camera_path
            from .movie import Timeline, gif_size, render_movie, zoom_to_fit
            from .scene import Scene

            attrs = res.attrs
            title = args.title if args.title is not None else attrs.get("title")
            caption = args.caption if args.caption is not None else attrs.get("caption")
            sc = Scene.from_results(res, species=args.species, size=size, theme=args.theme, title=title,
                                    caption=caption, transparent=args.transparent,
                                    antialias=not args.no_antialias)
            try:
                c, d = sc.default_view()
                t0, t1 = float(res.times_ms[0]), float(res.times_ms[-1])
                tl = None  # every stored frame once
                if args.slow_motion is not None:
                    tl = Timeline(t0, t1, fps=args.fps, slow_motion=args.slow_motion)
                elif args.frames is not None:
                    tl = Timeline(t0, t1, n_frames=args.frames)
                times = res.times_ms if tl is None else tl.times_ms
                cam = zoom_to_fit(sc, times) if args.camera == "zoom" else camera_path(args.camera, c, d)
                if not args.quiet:
                    what = [f"{os.path.join(args.out, args.mp4)} ({size[0]}x{size[1]}, {args.fps:g} fps)"] \
                        if args.mp4 else []
                    if args.gif:
                        gw, gh = gif_size(size, args.gif_width)
                        what.append(f"{os.path.join(args.out, args.gif)} ({gw}x{gh}"
                                    f"{', scaled down from the rendered size' if (gw, gh) != size else ''}, "
                                    f"{args.fps:g} fps)")
                    if args.png:
                        what.append(f"{os.path.join(args.out, 'frames')}/frame_NNNNNN.png ({size[0]}x{size[1]})")
                    print(f"rendering {len(times)} frames at {size[0]}x{size[1]} px with the {args.camera} camera "
                          f"into: " + "; ".join(what))
                out.update(render_movie(sc, args.out, timeline=tl, camera=cam, mp4=args.mp4, gif=args.gif,
                                        png=args.png, fps=args.fps, gif_width=args.gif_width,
                                        progress=not args.quiet))
            finally:
                sc.close()
        if args.vtk:
            from ..export_vtk import export_results

            out["pvd"] = export_results(res, os.path.join(args.out, "vtk"), species=args.species)
        return out
    finally:
        res.close()


def _cli(argv=None):
    out = main_render(argv)
    for k, v in out.items():
        if k == "png":
            v = f"{len(v)} files, first {v[0]}" if v else "none"
        print(f"{k:>10}: {v}")


if __name__ == "__main__":
    _cli()
