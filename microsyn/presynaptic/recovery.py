"""Ca2+-dependent recovery of the readily releasable pool.

After a fusion a docking site is refilled by a new vesicle at a rate k_rec [1/ms]. At several
synapses recovery from depression is faster during and after high-frequency activity, and the
speed-up follows the residual Ca2+: Dittman & Regehr 1998 (J. Neurosci. 18:6147-6162,
climbing fibre to Purkinje cell) and Wang & Kaczmarek 1998 (Nature 394:384-388, calyx of Held).
Dittman, Kreitzer & Regehr 2000 (J. Neurosci. 20:1374-1385) wrote the rate as a saturating
function of a Ca2+-bound site,

    k_rec = k_0 + (k_max - k_0) X / (X + K_D),

where their X is a phenomenological residual-Ca2+ signal in arbitrary units. Here X is a
measured quantity of the simulation: the free [Ca2+] in the bouton, counted from the tracked
Ca2+ ions (number / (volume x 602,214 per um^3 per mM)), so the recovery reads the residual Ca2+
that the channels, buffers and pumps actually leave, and K_D is in uM. The numbers k_0, k_max
and K_D are the user's (no published set in these units exists; the papers' k_0 of a few per
second and speed-ups of up to about ten-fold are the scale).

The rate is updated every ``update_ms`` (default 0.1 ms) and held constant in between; each
docking site's reaction clock integrates it (:meth:`microsyn.reactions.engine.ReactionEngine.set_rate`),
so the refill times are exact for that piecewise-constant rate. With recovery rates of tens per
second, k_rec x 0.1 ms is below 0.01, and the residual Ca2+ changes over milliseconds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ParameterError
from ..units import PARTICLES_PER_UM3_PER_MM

__all__ = ["CaDependentRefill"]


@dataclass(frozen=True)
class CaDependentRefill:
    """k_rec = k0 + (kmax - k0) [Ca] / ([Ca] + K_D), with [Ca] the bouton's free Ca2+ (module
    docstring).

    Parameters
    ----------
    k0_per_ms : float
        Recovery rate at zero Ca2+ [1/ms] (> 0).
    kmax_per_ms : float
        Recovery rate at saturating Ca2+ [1/ms] (>= k0).
    K_d_uM : float
        [Ca2+] of half the speed-up [uM] (> 0).
    update_ms : float
        How often the rate follows the residual Ca2+ [ms] (a whole number of particle steps).
    """

    k0_per_ms: float
    kmax_per_ms: float
    K_d_uM: float
    update_ms: float = 0.1

    def __post_init__(self):
        for name in ("k0_per_ms", "kmax_per_ms", "K_d_uM", "update_ms"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ParameterError(f"CaDependentRefill.{name} must be a finite number > 0, got {v!r}")
        if self.kmax_per_ms < self.k0_per_ms:
            raise ParameterError(f"CaDependentRefill: kmax_per_ms ({self.kmax_per_ms}) must be >= k0_per_ms "
                                 f"({self.k0_per_ms}): Ca2+ speeds recovery up")

    def rate(self, ca_mM: float) -> float:
        """k_rec [1/ms] at free [Ca2+] ``ca_mM`` [mM] (values below 0 count as 0)."""
        c = max(float(ca_mM), 0.0) * 1e3  # uM
        return self.k0_per_ms + (self.kmax_per_ms - self.k0_per_ms) * c / (c + self.K_d_uM)


class _RefillUpdate:
    """The event that sets the refill rate of a terminal's vesicles from its free Ca2+ and
    schedules the next update."""

    phase = "bookkeeping"  # after the sources of the same step (the resting fill at t = 0)

    def __init__(self, terminal, law: CaDependentRefill, reactions, time):
        self.terminal, self.law, self.reactions, self.time = terminal, law, list(reactions), time

    def apply(self, sim):
        T = self.terminal
        volume = 4.0 / 3.0 * math.pi * T.radius_um ** 3
        ca = sim.count("Ca2+") / (volume * PARTICLES_PER_UM3_PER_MM)
        k = self.law.rate(ca)
        for name in self.reactions:
            sim.reactions.set_rate(name, k)
        T.refill_trace.append((float(self.time), ca, k))
        sim.schedule(_RefillUpdate(T, self.law, self.reactions, self.time + self.law.update_ms))


def start(terminal, law, reactions) -> None:
    """Set the rate when the run goes on (the first event, at the current time) and keep it
    following the Ca2+ (every ``law.update_ms``)."""
    from ..events import grid_step

    if not isinstance(law, CaDependentRefill):
        raise ParameterError(f"refill must be a number [1/ms] or a CaDependentRefill, got {law!r}")
    grid_step(law.update_ms, terminal.sim.dt, what="CaDependentRefill.update_ms")
    terminal.sim.schedule(_RefillUpdate(terminal, law, reactions, terminal.sim.time))
