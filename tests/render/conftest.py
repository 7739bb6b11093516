"""Fixtures of the render tests: a GL probe (skip outside CI, fail in CI) and a tiny results file."""
import os

import pytest

from ._helpers import make_results

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


@pytest.fixture(scope="session")
def gl():
    """Require a working off-screen GL stack: skip with the reason outside CI, fail in CI."""
    from microsyn.render.headless import gl_available

    ok, reason = gl_available()
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"render tests must run in CI, but {reason}")
        pytest.skip(f"no off-screen OpenGL here: {reason}")
    return True


@pytest.fixture(scope="session")
def tiny_results(tmp_path_factory):
    path = tmp_path_factory.mktemp("res") / "tiny.h5"
    sim, w = make_results(str(path))
    return str(path)
