"""``microsyn render RESULTS.h5 --out DIR``: movies and frames from a results file.

Example
-------
``microsyn render run.h5 --out movie --mp4 run.mp4 --gif --size 720p --fps 25 --camera zoom --vtk``
"""
from __future__ import annotations

import argparse
import os

from ..errors import ParameterError

CAMERAS = ("oblique", "side", "top", "orbit", "zoom")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="microsyn render",
                                 description="Render frames and movies from a microsyn results file (HDF5), "
                                             "headless, without simulating again.")
    ap.add_argument("results", help="results file (.h5) written by microsyn.results.ResultsWriter")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--mp4", metavar="NAME", help="write an H.264 MP4 of this name into --out")
    ap.add_argument("--gif", action="store_true", help="write movie.gif (at most 640 px wide)")
    ap.add_argument("--png", action="store_true", help="write every frame as PNG into OUT/frames/")
    ap.add_argument("--size", default="720p", help="720p, 1080p, 480p, 360p or WIDTHxHEIGHT (default 720p)")
    ap.add_argument("--fps", type=float, default=25.0, help="movie frames per second (default 25)")
    ap.add_argument("--camera", default="oblique", choices=CAMERAS, help="camera preset or path")
    ap.add_argument("--species", nargs="+", help="species to draw (default: all in the file)")
    ap.add_argument("--slow-motion", type=float, metavar="FACTOR",
                    help="movie seconds per simulated second (e.g. 1e5: 1 us of simulation in 0.1 s); default: "
                         "one movie frame per stored frame")
    ap.add_argument("--frames", type=int, metavar="N", help="number of movie frames, evenly spaced in time")
    ap.add_argument("--theme", default="dark", choices=("dark", "white"))
    ap.add_argument("--title", help="title text (default: the file's title attribute)")
    ap.add_argument("--transparent", action="store_true", help="transparent background (PNG only)")
    ap.add_argument("--no-antialias", action="store_true", help="skip 4x multisampling (about 2x faster)")
    ap.add_argument("--vtk", action="store_true", help="also export VTK files and a .pvd series to OUT/vtk")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
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
    if args.mp4:
        from .movie import check_even

        check_even(size)
        if not args.mp4.lower().endswith(".mp4"):
            raise ParameterError(f"--mp4 {args.mp4!r} must end with .mp4")
    if args.transparent and (args.mp4 or args.gif):
        raise ParameterError("--transparent works for PNG frames only; drop it or drop --mp4/--gif")
    if args.fps <= 0:
        raise ParameterError(f"--fps must be positive, got {args.fps}")
    if not (args.mp4 or args.gif or args.png or args.vtk):
        args.png = True
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
            from .movie import Timeline, render_movie
            from .scene import Scene

            title = args.title if args.title is not None else res.attrs.get("title")
            sc = Scene.from_results(res, species=args.species, size=size, theme=args.theme, title=title,
                                    caption=res.attrs.get("caption"), transparent=args.transparent,
                                    antialias=not args.no_antialias)
            try:
                c, d = sc.default_view()
                cam = camera_path(args.camera, c, d)
                t0, t1 = float(res.times_ms[0]), float(res.times_ms[-1])
                tl = None
                if args.slow_motion is not None:
                    tl = Timeline(t0, t1, fps=args.fps, slow_motion=args.slow_motion)
                elif args.frames is not None:
                    tl = Timeline(t0, t1, n_frames=args.frames)
                out.update(render_movie(sc, args.out, timeline=tl, camera=cam, mp4=args.mp4,
                                        gif="movie.gif" if args.gif else None, png=args.png, fps=args.fps,
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
