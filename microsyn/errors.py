"""Exceptions raised by microsyn.

Every bad input raises a specific subclass of :class:`MicrosynError` at the call site, with a
message that says what to change. The parameter errors also derive from :class:`ValueError` so
that generic code catching ``ValueError`` keeps working.
"""
from __future__ import annotations

import math


class MicrosynError(Exception):
    """Base class of all microsyn errors."""


class ParameterError(MicrosynError, ValueError):
    """A parameter is out of range, NaN, infinite, of the wrong shape or inconsistent."""


class UnknownSpeciesError(ParameterError):
    """A species name is not in the species table of the model."""


class GeometryError(ParameterError):
    """A geometry is malformed, or something is placed outside it."""


class MeshError(GeometryError):
    """A triangle mesh cannot be used: unreadable, not closed (watertight) or malformed."""


class TimeStepError(ParameterError):
    """The time step is too large for the geometry or the physics (steps would skip features)."""


class ReactionError(ParameterError):
    """A reaction that cannot be simulated as given: a bad rate, an unknown species, charge not
    conserved, a binding radius too large for the geometry, or a time step too long for it."""


class DomainEscapeError(MicrosynError, RuntimeError):
    """A particle was found outside its domain: a boundary leaked. This is a bug, please report it."""


class ScenarioError(ParameterError):
    """A scenario file is malformed or names something unknown."""


class RenderError(MicrosynError, RuntimeError):
    """Rendering failed (for example, no OpenGL stack is available)."""


class MissingLigandError(ParameterError):
    """A synapse of a ligand-gated channel type was given no ligand (transmitter) time course."""


class CheckpointError(ParameterError):
    """A checkpoint cannot be written or read: not a checkpoint, another format version, another
    kind of object, or an object that cannot be pickled."""


class OffGridTimeError(ParameterError):
    """A time [ms] is not a whole number of time steps (see :mod:`microsyn.events`, "Times on the step grid")."""


class OutputPathError(ParameterError):
    """An output path cannot be created or written (a missing parent that cannot be made, no
    permission, a read-only file system)."""


def refuse_large_dt(msg: str, allow_large_dt: bool, stacklevel: int = 2) -> None:
    """Raise :class:`TimeStepError` with ``msg``, or only warn when the caller passed
    ``allow_large_dt=True``; the messages say which."""
    if allow_large_dt:
        import warnings

        warnings.warn(msg + " (allowed by allow_large_dt=True)", stacklevel=stacklevel + 1)
    else:
        raise TimeStepError(msg + ", or pass allow_large_dt=True to accept it")


def check_positive(name: str, value, *, allow_zero: bool = False, allow_inf: bool = False) -> float:
    """Return ``float(value)`` after checking it is a finite positive number.

    Raises :class:`ParameterError` naming the parameter and what to change.
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number, got {value!r}") from None
    if math.isnan(v):
        raise ParameterError(f"{name} is NaN; give a finite number")
    if math.isinf(v) and not (allow_inf and v > 0):
        raise ParameterError(f"{name} is infinite; give a finite number")
    if v < 0 or (v == 0 and not allow_zero):
        need = "zero or positive" if allow_zero else "positive"
        raise ParameterError(f"{name} must be {need}, got {v!r}")
    return v


def check_finite(name: str, value) -> float:
    """Return ``float(value)`` after checking it is a finite number."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ParameterError(f"{name} must be finite, got {v!r}")
    return v


def check_count(name: str, value, *, allow_zero: bool = True) -> int:
    """Return ``int(value)`` after checking it is a non-negative whole number."""
    if isinstance(value, bool):
        raise ParameterError(f"{name} must be a whole number, got {value!r}")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a whole number, got {value!r}") from None
    if not math.isfinite(f) or f != int(f):
        raise ParameterError(f"{name} must be a whole number, got {value!r}")
    n = int(f)
    if n < 0 or (n == 0 and not allow_zero):
        raise ParameterError(f"{name} must be {'>= 0' if allow_zero else '>= 1'}, got {n}")
    return n


def check_vector3(name: str, value):
    """Return a float64 array of shape (3,) after checking it is three finite numbers."""
    import numpy as np

    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be three numbers (x, y, z) in um, got {value!r}") from None
    if a.shape != (3,):
        raise ParameterError(f"{name} must be three numbers (x, y, z) in um, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ParameterError(f"{name} must be finite, got {a.tolist()}")
    return a
