"""The event queue: exact event times on the integer step grid, named phases for ties.

An *event* is any object with a ``time`` [ms] and an ``apply(sim)`` method, and optionally a
``phase`` (default ``"stimulus"``). Events due at the same step run in phase order
:data:`PHASES` (stimulus, gating, release, bookkeeping), then in the order they were scheduled.

An event at time t takes effect at step ``ceil(t / dt)`` (t within 1e-9 of a step boundary
counts as on it), i.e. at the first step boundary not before t: the state a writer sees at a
time never includes an event scheduled after it.
"""
from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import ParameterError

PHASES = ("stimulus", "gating", "release", "bookkeeping")
_PHASE_ORDER = {p: i for i, p in enumerate(PHASES)}


def time_to_step(time_ms: float, dt: float) -> int:
    """The first step index whose time is not before ``time_ms`` [ms]."""
    if not math.isfinite(time_ms):
        raise ParameterError(f"event time must be finite, got {time_ms!r} ms")
    x = time_ms / dt
    r = round(x)
    if abs(x - r) <= 1e-9 * max(1.0, abs(x)):
        return int(r)
    return int(math.ceil(x))


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
        self._seq = itertools.count()

    def push(self, event, dt: float, current_step: int = 0) -> int:
        """Schedule ``event``; returns its step. Raises if it lies in the past."""
        if not hasattr(event, "apply") or not hasattr(event, "time"):
            raise ParameterError(f"an event needs a 'time' [ms] and an 'apply(sim)' method, got {event!r}")
        phase = getattr(event, "phase", "stimulus")
        if phase not in _PHASE_ORDER:
            raise ParameterError(f"unknown event phase {phase!r}; use one of {PHASES}")
        step = time_to_step(float(event.time), dt)
        if step < current_step:
            raise ParameterError(
                f"event at {event.time} ms lies before the current time "
                f"({current_step * dt} ms); schedule it at or after now"
            )
        heapq.heappush(self._heap, _Entry(step, _PHASE_ORDER[phase], next(self._seq), event))
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
