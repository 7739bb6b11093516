"""Checkpoints: save a running simulation to a file and continue it later, bitwise identically.

:meth:`microsyn.Simulation.save` / :meth:`~microsyn.Simulation.load` and
:meth:`microsyn.SynapticCoupling.save` / :meth:`~microsyn.SynapticCoupling.load` use this module.
A checkpoint holds the whole object graph (particles, the step clock, pending events, sources,
recorders with what they recorded so far, the states of the named random streams; for a
coupling also its membrane solver, synapses and Simulation), so the continuation of a loaded
object equals the run that was never stopped, bit for bit: ``run(a + b)`` gives the same
particles, voltages and records as ``run(a); save(path); load(path); run(b)``. (Every random
number is either counter-based, keyed by seed, particle id and step, or drawn from a numpy
generator whose state is stored.)

File format (version 1)
-----------------------
::

    line 1   b"microsyn-checkpoint\\n"
    line 2   JSON header and b"\\n": {"format_version": 1, "kind": "Simulation",
             "microsyn_version": "0.1.0", "python": "3.11.7", "numpy": "..."}
    rest     the object, pickled (protocol 5)

The payload is a pickle: load only checkpoints you trust, with the same microsyn version (the
header is checked first; a file of another format version is refused). Files are written
atomically: a temporary file in the target folder is written, flushed to disk and renamed over
the target, so a crash never leaves a half-written checkpoint under the target name.

Example
-------
>>> import microsyn as ms, tempfile, os
>>> sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-5, species=["Na+"], seed=1)
>>> _ = sim.release("Na+", n=100, at=(0.5, 0.5, 0.5))
>>> _ = sim.run(1e-4)
>>> path = sim.save(os.path.join(tempfile.mkdtemp(), "run.ckpt"))
>>> again = ms.Simulation.load(path)
>>> _ = again.run(1e-4); _ = sim.run(1e-4)
>>> bool((again.positions() == sim.positions()).all())
True
"""
from __future__ import annotations

import json
import os
import pickle
import platform
import tempfile

from .errors import CheckpointError

MAGIC = b"microsyn-checkpoint\n"
FORMAT_VERSION = 1


def _header(kind: str) -> dict:
    import numpy

    from . import __version__

    return {"format_version": FORMAT_VERSION, "kind": kind, "microsyn_version": __version__,
            "python": platform.python_version(), "numpy": numpy.__version__}


def save(obj, path) -> str:
    """Write ``obj`` as a checkpoint to ``path`` atomically; returns the path (a str).

    Raises
    ------
    OutputPathError
        If the folder cannot be created or written.
    CheckpointError
        If ``obj`` holds something that cannot be pickled (e.g. a lambda or a local function as
        a callback or recorder function: use a module-level function instead).
    """
    from .results import ensure_output_dir

    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    ensure_output_dir(folder, what=f"checkpoint {path!r}")
    kind = type(obj).__name__
    try:
        payload = pickle.dumps(obj, protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        raise CheckpointError(f"cannot checkpoint this {kind}: {e}; callbacks and recorder functions must be "
                              f"module-level functions (not lambdas or local functions) to be saved") from None
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC)
            f.write(json.dumps(_header(kind)).encode() + b"\n")
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def read_header(path) -> dict:
    """The JSON header of a checkpoint file (without unpickling it).

    Raises
    ------
    CheckpointError
        If ``path`` does not exist or is not a microsyn checkpoint.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist; give a file written by save()")
    with open(path, "rb") as f:
        magic = f.read(len(MAGIC))
        line = f.readline(100_000)
    if magic != MAGIC:
        raise CheckpointError(f"{path!r} is not a microsyn checkpoint (it does not start with {MAGIC!r}); "
                              f"give a file written by Simulation.save or SynapticCoupling.save")
    try:
        head = json.loads(line)
    except ValueError:
        raise CheckpointError(f"{path!r}: the checkpoint header is damaged; save the checkpoint again") from None
    return head


def load(path, cls):
    """Read a checkpoint of an object of class ``cls`` from ``path``.

    Raises
    ------
    CheckpointError
        If the file is not a checkpoint, has another format version, holds another kind of
        object, or cannot be unpickled (damaged, or written by an incompatible version).
    """
    path = os.fspath(path)
    head = read_header(path)
    if head.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path!r} is a checkpoint of format version {head.get('format_version')!r}; "
                              f"this microsyn reads version {FORMAT_VERSION} (saved by microsyn "
                              f"{head.get('microsyn_version')!r}): load it with that version")
    if head.get("kind") != cls.__name__:
        raise CheckpointError(f"{path!r} holds a {head.get('kind')!r}, not a {cls.__name__}; load it with "
                              f"{head.get('kind')}.load")
    with open(path, "rb") as f:
        f.read(len(MAGIC))
        f.readline(100_000)
        try:
            obj = pickle.load(f)
        except Exception as e:  # a truncated or foreign payload
            raise CheckpointError(f"{path!r}: cannot read the checkpoint ({type(e).__name__}: {e}); it is damaged "
                                  f"or was written by an incompatible microsyn") from None
    if not isinstance(obj, cls):
        raise CheckpointError(f"{path!r} holds a {type(obj).__name__}, not a {cls.__name__}")
    return obj
