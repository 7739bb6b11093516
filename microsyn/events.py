"""The event queue: exact event times on the integer step grid, named phases for ties.

An *event* is any object with a ``time`` [ms] and an ``apply(sim)`` method, and optionally a
``phase`` (default ``"stimulus"``). Events due at the same step run in phase order
:data:`PHASES` (stimulus, gating, release, bookkeeping), then in the order they were scheduled.

Times on the step grid
----------------------
Time is ``step * dt``, and every time a user gives (event and release times, source windows,
recorder times, intervals and starts, run durations) must lie on that grid: ``t / dt`` within
:data:`GRID_RTOL` (1e-9, relative to ``max(1, t / dt)``) of a whole number ``k``, which is then
the step. A time off the grid raises :class:`OffGridTimeError` naming the two nearest valid
times; nothing is rounded. (Rounding errors of ``k * dt`` computed in floating point are far
below the tolerance.) The one exception is an end condition: ``Simulation.run_until(t)`` stops at
the first step not before ``t``, and ``sim.time`` says the time reached.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import OffGridTimeError, ParameterError

PHASES = ("stimulus", "gating", "release", "bookkeeping")
_PHASE_ORDER = {p: i for i, p in enumerate(PHASES)}

#: a time t [ms] is on the grid of step dt when |t/dt - k| <= GRID_RTOL * max(1, |t/dt|) for a whole k
GRID_RTOL = 1e-9


def _on_grid(x: float):
    r = round(x)
    return int(r) if abs(x - r) <= GRID_RTOL * max(1.0, abs(x)) else None


def grid_step(time_ms: float, dt: float, what: str = "time") -> int:
    """The step index ``k`` with ``k * dt == time_ms`` [ms] (within :data:`GRID_RTOL`).

    Parameters
    ----------
    time_ms : float
        A time [ms] (or a duration or an interval [ms]).
    dt : float
        The time step [ms].
    what : str
        What the time is, named in the error message.

    Raises
    ------
    ParameterError
        If ``time_ms`` is not finite.
    OffGridTimeError
        If ``time_ms`` is not a whole number of steps; the message gives the nearest valid times.
    """
    try:
        t = float(time_ms)
    except (TypeError, ValueError):
        raise ParameterError(f"{what} must be a number [ms], got {time_ms!r}") from None
    if not math.isfinite(t):
        raise ParameterError(f"{what} must be finite, got {time_ms!r} ms")
    x = t / dt
    k = _on_grid(x)
    if k is None:
        lo = math.floor(x)
        raise OffGridTimeError(
            f"{what} = {t!r} ms is not a whole number of time steps of dt = {dt!r} ms (it lies between "
            f"steps {lo} and {lo + 1}); use {lo * dt:.12g} or {(lo + 1) * dt:.12g} ms"
        )
    return k


def time_to_step(time_ms: float, dt: float) -> int:
    """The first step index whose time is not before ``time_ms`` [ms] (an end condition; times at
    which something happens go through :func:`grid_step` instead)."""
    if not math.isfinite(time_ms):
        raise ParameterError(f"time must be finite, got {time_ms!r} ms")
    x = time_ms / dt
    k = _on_grid(x)
    return k if k is not None else int(math.ceil(x))


@dataclass
class CallbackEvent:
    """An event that calls ``func(sim)`` at ``time`` [ms]."""

    time: float
    func: Callable[[Any], None]
    phase: str = "stimulus"

    def apply(self, sim):
        self.func(sim)


@dataclass(order=True)
class _Entry:
    step: int
    phase: int
    seq: int
    event: Any = field(compare=False)


class EventQueue:
    """A priority queue of events keyed by (step, phase, insertion order)."""

    def __init__(self):
        self._heap: list[_Entry] = []
        self._seq = 0  # insertion counter (a plain int: the queue pickles on every Python version)

    def push(self, event, dt: float, current_step: int = 0) -> int:
        """Schedule ``event``; returns its step. Raises if it lies in the past."""
        if not hasattr(event, "apply") or not hasattr(event, "time"):
            raise ParameterError(f"an event needs a 'time' [ms] and an 'apply(sim)' method, got {event!r}")
        phase = getattr(event, "phase", "stimulus")
        if phase not in _PHASE_ORDER:
            raise ParameterError(f"unknown event phase {phase!r}; use one of {PHASES}")
        step = grid_step(event.time, dt, what=f"the time of event {getattr(event, 'name', type(event).__name__)!r}")
        if step < current_step:
            raise ParameterError(
                f"event at {event.time} ms lies before the current time "
                f"({current_step * dt} ms); schedule it at or after now"
            )
        heapq.heappush(self._heap, _Entry(step, _PHASE_ORDER[phase], self._seq, event))
        self._seq += 1
        return step

    def next_step(self) -> float:
        return self._heap[0].step if self._heap else math.inf

    def pop_due(self, step: int) -> list:
        """Remove and return the events due at or before ``step``, in order."""
        out = []
        while self._heap and self._heap[0].step <= step:
            out.append(heapq.heappop(self._heap).event)
        return out

    def __len__(self):
        return len(self._heap)
