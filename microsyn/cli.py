"""The ``microsyn`` command (see :data:`HELP` for what ``microsyn --help`` prints).

Subcommands:

- ``microsyn bench [--json] [--quick] [--only GROUPS]``: benchmarks (see :mod:`microsyn.bench`).
- ``microsyn demo [NAME] [--out DIR] [--fast]``: list the demos, or run one.
- ``microsyn render RESULTS.h5 --out DIR ...``: render frames and movies from a results file.
- ``microsyn info``: versions, threads, shipped meshes and demos.

Errors in the input (a bad option value, an unwritable output folder, a file that is not a
results file) end the command with a one-line message on stderr and exit status 2.

Demos ship inside the package (``microsyn.demos``, from the repository's ``demos/`` folder), so
``pip install microsyn && microsyn demo 06`` works from a wheel; in a source checkout the
checkout's ``demos/`` folder is used. A demo writes into ``--out`` (default
``./out/<demo name>``, relative to the current folder), never into the installed package.
"""
from __future__ import annotations

import ast
import importlib.util
import sys
import textwrap
from pathlib import Path

from .errors import MicrosynError, ParameterError

#: what ``microsyn``, ``microsyn -h`` and ``microsyn --help`` print (plain text)
HELP = """\
usage: microsyn COMMAND [options]

An event-driven synapse and microscale ion-diffusion simulator.

commands:
  demo [NAME] [--out DIR] [--fast]   list the demos, or run one (e.g. microsyn demo 06)
  render RESULTS.h5 --out DIR ...    render frames and movies from a results file
  bench [--json] [--quick] [--only GROUPS]
                                     benchmarks against plain numpy
  info                               versions, threads, shipped meshes and demos

Run "microsyn COMMAND --help" for the options of a command.
"""


def _checkout_demo_dir() -> Path | None:
    """The ``demos/`` folder of a source checkout this package was imported from, or None."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "demos").is_dir():
        return root / "demos"
    return None


def demo_dir() -> Path | None:
    """The folder holding the demo scripts, or None if there is none.

    In a source checkout (a ``pyproject.toml`` next to the package) its ``demos/`` folder;
    otherwise the installed package data ``microsyn.demos``, found with :mod:`importlib.resources`.
    """
    d = _checkout_demo_dir()
    if d is not None:
        return d
    import importlib.resources

    try:
        res = importlib.resources.files("microsyn.demos")
    except (ModuleNotFoundError, TypeError):
        return None
    for entry in res.iterdir():
        if entry.name[:2].isdigit() and entry.name.endswith(".py"):
            return Path(str(entry)).parent  # installed from a wheel: a real folder in site-packages
    return None


def list_demos() -> dict[str, Path]:
    """Demo name (e.g. ``"06_render_replay"``) -> script path, in order."""
    d = demo_dir()
    if d is None:
        return {}
    return {p.stem: p for p in sorted(d.glob("[0-9][0-9]_*.py"))}


def demo_summary(path) -> str:
    """The first paragraph of a demo's docstring as one line, without its ``Demo NN:`` prefix."""
    try:
        doc = ast.get_docstring(ast.parse(Path(path).read_text(encoding="utf-8"))) or ""
    except (OSError, SyntaxError, UnicodeDecodeError):
        return ""
    first = " ".join(doc.strip().split("\n\n")[0].split())
    head, sep, rest = first.partition(": ")
    if sep and head.lower().startswith("demo"):
        first = rest
    return first[:1].upper() + first[1:]


def _load_demo(name: str):
    demos = list_demos()
    if not demos:
        raise ParameterError("no demos found: the installed package lacks microsyn.demos; reinstall microsyn "
                             "(pip install --force-reinstall microsyn)")
    match = [k for k in demos if k == name or k.startswith(name + "_") or k.split("_", 1)[0] == name]
    if len(match) != 1:
        raise ParameterError(f"no single demo matches {name!r}; give one of {', '.join(demos)} "
                             f"(or its number, e.g. 06)")
    path = demos[match[0]]
    spec = importlib.util.spec_from_file_location(f"microsyn_demo_{match[0]}", path)
    mod = importlib.util.module_from_spec(spec)
    saved = list(sys.path)  # a demo may put its checkout on sys.path to run as a plain script
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path[:] = saved
    return match[0], mod


def plain(value):
    """``value`` with numpy scalars and arrays turned into Python numbers and lists (for printing:
    ``0.5``, not ``np.float64(0.5)``)."""
    import numpy as np

    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_summary(result: dict, out_dir, t_start: float) -> dict:
    """Finish a demo's result: ``runtime_s`` (since ``t_start``, a ``time.perf_counter()``) and
    ``summary_json`` (``out_dir/summary.json``, the result in plain JSON); returns the result."""
    import json
    import os
    import time

    result["summary_json"] = os.path.join(os.fspath(out_dir), "summary.json")
    result["runtime_s"] = time.perf_counter() - t_start
    with open(result["summary_json"], "w", encoding="utf-8") as f:
        json.dump(plain(result), f, indent=1, default=str)
    return result


def print_result(result: dict, file=None) -> None:
    """Print a demo's result dict, one ``key: value`` line each, in plain Python notation."""
    for k, v in plain(result or {}).items():
        print(f"{k}: {v}", file=file or sys.stdout)


def demo_cli(main, doc: str, file: str, argv=None) -> dict:
    """The command line of a demo script: ``--out DIR`` (default ``out/<demo>``) and ``--fast``;
    runs ``main(out, fast)`` and prints what it returns as JSON."""
    import argparse
    import json

    from .results import ensure_output_dir

    name = Path(file).stem
    ap = argparse.ArgumentParser(prog=f"{name}.py", description=demo_summary(file) or name)
    ap.add_argument("--out", default=str(Path("out") / name), help="output folder")
    ap.add_argument("--fast", action="store_true", help="small, quick version (seconds)")
    a = ap.parse_args(argv)
    try:
        ensure_output_dir(a.out, what=f"the output of demo {name}")
    except MicrosynError as e:
        ap.exit(2, f"{name}: {type(e).__name__}: {e}\n")
    result = main(a.out, fast=a.fast)
    print(json.dumps(plain(result), indent=1, default=str))
    return result


def _demo(argv) -> int:
    import argparse
    import shutil

    from .results import ensure_output_dir

    ap = argparse.ArgumentParser(prog="microsyn demo", description="List the demos, or run one.")
    ap.add_argument("name", nargs="?", help="demo number or name (omit to list)")
    ap.add_argument("--out", default=None, help="output folder (default ./out/<demo name>)")
    ap.add_argument("--fast", action="store_true", help="small, quick version")
    a = ap.parse_args(argv)
    if a.name is None:
        demos = list_demos()
        if not demos:
            raise ParameterError("no demos found: the installed package lacks microsyn.demos; reinstall "
                                 "microsyn (pip install --force-reinstall microsyn)")
        width = max(40, shutil.get_terminal_size((100, 24)).columns)
        key_w = max(len(k) for k in demos) + 2
        for k, p in demos.items():
            lines = textwrap.wrap(demo_summary(p), width=max(20, width - key_w)) or [""]
            print(f"{k:{key_w}s}{lines[0]}")
            for line in lines[1:]:
                print(" " * key_w + line)
        return 0
    name, mod = _load_demo(a.name)
    out = a.out or str(Path("out") / name)
    ensure_output_dir(out, what=f"the output of demo {name}")
    print_result(mod.main(out, fast=a.fast))
    return 0


def _info(argv) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="microsyn info", description="Versions, threads, shipped meshes and demos.")
    ap.parse_args(argv)

    import numba
    import numpy
    import scipy

    from . import __version__
    from .geometry import list_meshes

    print(f"microsyn {__version__}; numpy {numpy.__version__}, scipy {scipy.__version__}, "
          f"numba {numba.__version__}; {numba.get_num_threads()} threads")
    print(f"meshes: {', '.join(list_meshes())}")
    print(f"demos: {', '.join(list_demos()) or 'none found'} ({demo_dir() or 'no demo folder'})")
    return 0


def _render(argv) -> int:
    try:
        from .render.cli import main_render
    except ImportError as e:
        raise MicrosynError(f"rendering is not available: {e}") from None
    written = dict(main_render(argv) or {})
    for k, v in written.items():  # a list of frames is summarised, not printed path by path
        if isinstance(v, (list, tuple)) and len(v) > 3:
            written[k] = f"{len(v)} files, {v[0]} ... {v[-1]}"
    print_result(written)
    return 0


COMMANDS = {
    "bench": lambda argv: __import__("microsyn.bench", fromlist=["main"]).main(argv),
    "demo": _demo,
    "render": _render,
    "info": _info,
}


def main(argv=None) -> int:
    """Run the ``microsyn`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit
    status (0 done, 2 bad input: a one-line message on stderr)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(HELP, end="")
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        print(f"microsyn: unknown command {cmd!r}; commands: {', '.join(COMMANDS)} "
              f"(microsyn --help lists them)", file=sys.stderr)
        return 2
    try:
        return int(COMMANDS[cmd](rest) or 0)
    except MicrosynError as e:
        print(f"microsyn {cmd}: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file the command writes or reads failed (disk full, permissions, ...)
        where = f" {e.filename!r}" if getattr(e, "filename", None) else ""
        print(f"microsyn {cmd}: {type(e).__name__}:{where} {e.strerror or e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
