"""The ``microsyn`` command.

Subcommands:

- ``microsyn bench [--json] [--quick] [--only GROUPS]``: benchmarks (see :mod:`microsyn.bench`).
- ``microsyn demo [NAME] [--out DIR] [--fast]``: list the demos, or run one.
- ``microsyn render RESULTS.h5 --out DIR ...``: render frames and movies from a results file.
- ``microsyn info``: versions, threads, shipped meshes.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from .errors import MicrosynError, ParameterError


def demo_dir() -> Path:
    """The repository's demos/ folder (demos are scripts, run from a checkout)."""
    return Path(__file__).resolve().parent.parent / "demos"


def list_demos() -> dict[str, Path]:
    d = demo_dir()
    if not d.is_dir():
        return {}
    return {p.stem: p for p in sorted(d.glob("[0-9][0-9]_*.py"))}


def _load_demo(name: str):
    demos = list_demos()
    match = [k for k in demos if k == name or k.startswith(name + "_") or k.split("_", 1)[0] == name]
    if len(match) != 1:
        raise ParameterError(f"no single demo matches {name!r}; demos: {list(demos)}")
    path = demos[match[0]]
    spec = importlib.util.spec_from_file_location(f"microsyn_demo_{match[0]}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return match[0], mod


def demo_cli(main, doc: str, file: str, argv=None) -> dict:
    """The command line of a demo script: ``--out DIR`` (default ``out/<demo>``) and ``--fast``;
    runs ``main(out, fast)`` and prints what it returns as JSON."""
    import argparse
    import json

    name = Path(file).stem
    ap = argparse.ArgumentParser(prog=f"{name}.py", description=(doc or name).strip().splitlines()[0])
    ap.add_argument("--out", default=str(Path("out") / name), help="output folder")
    ap.add_argument("--fast", action="store_true", help="small, quick version (seconds)")
    a = ap.parse_args(argv)
    result = main(a.out, fast=a.fast)
    print(json.dumps(result, indent=1, default=str))
    return result


def _demo(argv) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="microsyn demo")
    ap.add_argument("name", nargs="?", help="demo number or name (omit to list)")
    ap.add_argument("--out", default=None, help="output folder (default out/<demo>)")
    ap.add_argument("--fast", action="store_true", help="small, quick version")
    a = ap.parse_args(argv)
    if a.name is None:
        for k, p in list_demos().items():
            doc = ""
            try:
                src = p.read_text()
                doc = src.split('"""')[1].strip().splitlines()[0] if '"""' in src else ""
            except (OSError, IndexError):
                pass
            print(f"{k:32s} {doc}")
        return 0
    name, mod = _load_demo(a.name)
    out = a.out or str(Path("out") / name)
    result = mod.main(out, fast=a.fast)
    for k, v in (result or {}).items():
        print(f"{k}: {v}")
    return 0


def _info(argv) -> int:
    import numba
    import numpy
    import scipy

    from . import __version__
    from .geometry import list_meshes

    print(f"microsyn {__version__}; numpy {numpy.__version__}, scipy {scipy.__version__}, "
          f"numba {numba.__version__}; {numba.get_num_threads()} threads")
    print(f"meshes: {', '.join(list_meshes())}")
    print(f"demos: {', '.join(list_demos())}")
    return 0


def _render(argv) -> int:
    try:
        from .render.cli import main_render
    except ImportError as e:
        raise MicrosynError(f"rendering is not available: {e}") from None
    written = main_render(argv) or {}
    for k, v in written.items():
        print(f"{k}: {v}")
    return 0


COMMANDS = {
    "bench": lambda argv: __import__("microsyn.bench", fromlist=["main"]).main(argv),
    "demo": _demo,
    "render": _render,
    "info": _info,
}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        print(f"microsyn: unknown command {cmd!r}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    try:
        return int(COMMANDS[cmd](rest) or 0)
    except MicrosynError as e:
        print(f"microsyn {cmd}: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
