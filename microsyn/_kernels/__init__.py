"""Numba kernels: arrays and scalars in, arrays out; no Python objects cross this boundary.

Numba's on-disk cache notices edits only to the file that defines a jitted function, not to
the helpers it inlines from other files. The kernels here therefore cache into a folder named
after a hash of all kernel sources and ``config.py`` (under ``MICROSYN_CACHE_DIR``, default
``~/.cache/microsyn``), so an edit anywhere recompiles everything that depends on it. The
global ``numba.config.CACHE_DIR`` is changed only while the kernel modules are defined, then
restored.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

_HERE = Path(__file__).resolve().parent
_SOURCES = sorted(_HERE.glob("*.py")) + [_HERE.parent / "config.py"]
_DIGEST = hashlib.sha1(b"".join(p.read_bytes() for p in _SOURCES) + numba.__version__.encode()).hexdigest()[:16]


def _cache_dir() -> str | None:
    base = Path(os.environ.get("MICROSYN_CACHE_DIR", Path.home() / ".cache" / "microsyn"))
    d = base / f"numba-{_DIGEST}"
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / ".writable"
        probe.touch()
        return str(d)
    except OSError:
        return None  # fall back to Numba's default locations


_previous = numba.config.CACHE_DIR
_dir = _cache_dir()
if _dir is not None:
    numba.config.CACHE_DIR = _dir
try:
    from . import binning, boundaries, brownian, fields, gather, geometry, geometry_batch  # noqa: F401
    from . import clocks, lzf, meshcheck, random, reactions, voxelize, zones  # noqa: F401
finally:
    numba.config.CACHE_DIR = _previous
