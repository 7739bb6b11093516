"""Shared pytest configuration.

Long physics validations are marked ``@pytest.mark.slow`` and run only with ``--validate``.
Numba kernels are compiled on first use and cached on disk (``cache=True``), so the first test
run on a fresh clone spends a minute compiling.
"""
import os

import pytest

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


def pytest_addoption(parser):
    parser.addoption(
        "--validate",
        action="store_true",
        default=False,
        help="also run the long physics validations (marked slow)",
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--validate"):
        return
    skip = pytest.mark.skip(reason="long validation: run with --validate")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
