"""Load demo scripts by path (the demos ship as package data ``microsyn.demos``; in a checkout
:func:`microsyn.cli.demo_dir` gives the checkout's ``demos/`` folder)."""
import importlib.util
from pathlib import Path

from microsyn.cli import demo_dir

DEMOS = demo_dir()


def load_demo(stem: str):
    """Import ``demos/<stem>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(f"demo_{stem}", DEMOS / f"{stem}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def load_documented_demo(stem: str):
    """:func:`load_demo`, checking the demo documents its references."""
    mod = load_demo(stem)
    assert mod.__doc__ and "References" in mod.__doc__
    return mod


def figures_exist(res: dict) -> None:
    """Every figure a demo reports exists and is not empty."""
    assert res["figures"]
    for f in res["figures"]:
        assert Path(f).stat().st_size > 10_000
