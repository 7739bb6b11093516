"""Release sensors as fixed binding sites in a particle simulation: Ca2+ binds by real encounters.

:class:`SensorSites` puts sensors of a :class:`~microsyn.presynaptic.sensors.SensorScheme` at
given positions (on a vesicle, in the active zone) as immobile sites of a
:class:`~microsyn.Simulation`. A sensor's state (Ca2+ ions bound) is its species,
``<prefix>_0`` .. ``<prefix>_n``; each binding step is a reversible pair reaction with the
tracked Ca2+ ions,

    Ca2+ + <prefix>_i <-> <prefix>_(i+1),  k = (n - i) k_on,  k_back = (i + 1) b^i k_off,

so the sensor reads the Ca2+ concentration it actually sits in, by encounters (the reaction
engine's binding radius makes the rate of encounters that bind equal (n - i) k_on [Ca] in a
well-mixed solution, and the reversible pair keeps detailed balance; a bound ion is held by the
site and set free next to it on unbinding). Fusion from state i is a first-order reaction at
``fusion[i]`` into ``<prefix>_fused_i`` (the fused sensor keeps its i ions, so charge is
conserved), with an exact waiting time (the reaction clocks of the particle engine): its time is
the step at which it fused, and :meth:`SensorSites.fused` counts them. The fused sensor, now in
the plasma membrane, lets its ions go one by one at the scheme's unbinding rates (next to the
site).

A sensor's state species carries the charge of its bound ions (valence z i), which the
electrical model does not see (the sites are not ions in the cytoplasm's charge balance; their
Ca2+ entered as current when it came through a channel).
"""
from __future__ import annotations

import numpy as np

from ..errors import GeometryError, ParameterError
from .sensors import SensorScheme


class SensorSites:
    """Sensors of ``scheme`` at ``positions`` (n, 3) [um] in ``sim``, all in state ``state0``
    (default 0 bound), binding ``ion`` (default ``"Ca2+"``, which must be a particle species of
    the simulation). ``prefix`` names their species and reactions.

    With ``refill_per_ms``, each site is a docking site of the readily releasable pool: after a
    fusion the site is free at once (species ``<prefix>_empty``): a new vesicle, its sensor
    empty, docks there at ``refill_per_ms`` [1/ms]
    (:meth:`~microsyn.presynaptic.sensors.SensorScheme.pool_occupancy` is its master equation).
    """

    def __init__(self, sim, scheme: SensorScheme, positions, ion: str = "Ca2+", prefix: str = "sensor",
                 state0: int = 0, refill_per_ms: float | None = None):
        from ..reactions.spec import Reaction
        from ..species import Species

        if not isinstance(scheme, SensorScheme):
            raise ParameterError(f"scheme must be a SensorScheme (e.g. presynaptic.lou_2005()), got {scheme!r}")
        if not isinstance(prefix, str) or not prefix.isidentifier():
            raise ParameterError(f"prefix must be a name of letters, digits and '_', got {prefix!r}")
        if ion not in sim.species:
            raise ParameterError(f"the sensors bind {ion!r}, which is not a particle species of this simulation; "
                                 f"add it first with sim.add_species({ion!r})")
        n = scheme.n_sites
        if not isinstance(state0, (int, np.integer)) or isinstance(state0, bool) or not 0 <= state0 <= n:
            raise ParameterError(f"state0 must be a whole number of bound ions, 0..{n}, got {state0!r}")
        try:
            pos = np.asarray(positions, float).reshape(-1, 3) if np.size(positions) else np.zeros((0, 3))
        except (TypeError, ValueError):
            raise ParameterError(f"sensor positions must be an (n, 3) array of numbers [um], got {positions!r}") from None
        if pos.shape[0] == 0:
            raise ParameterError("give at least one sensor position (n, 3) [um]")
        if not np.all(np.isfinite(pos)):
            raise ParameterError("sensor positions must be finite numbers [um]")
        outside = ~np.asarray(sim.domain.contains(pos), bool)
        if outside.any():  # checked before anything is added, so a failed call leaves no trace
            raise GeometryError(f"sensor position {pos[outside][0].tolist()} um is outside the domain; put the "
                                f"sensors inside it (on a reflecting surface counts as inside)")
        z = sim.species[ion].valence
        self.sim, self.scheme, self.ion, self.prefix = sim, scheme, ion, prefix
        self.states = [f"{prefix}_{i}" for i in range(n + 1)]
        if refill_per_ms is not None:
            from .sensors import _positive

            refill_per_ms = _positive("refill rate [1/ms]", refill_per_ms)
        top = max(i for i, f in enumerate(scheme.fusion) if f > 0.0)
        self.fused_states = [f"{prefix}_fused_{i}" for i in range(top + 1)]
        self.empty = f"{prefix}_empty" if refill_per_ms is not None else None
        for name in self.states + self.fused_states + ([self.empty] if self.empty else []):
            if name in sim.species:
                raise ParameterError(f"species {name!r} exists already; give these sensors another prefix")
        for i, name in enumerate(self.states):
            sim.add_species(Species(name, z * i, 1.0, 1.0), D=0.0)  # D = 0: fixed sites
        for i, name in enumerate(self.fused_states):
            sim.add_species(Species(name, z * i, 1.0, 1.0), D=0.0)
        if self.empty:
            sim.add_species(Species(self.empty, 0, 1.0, 1.0), D=0.0)
        sim.add_sites(self.states[state0], pos)
        self.n = pos.shape[0]
        self.positions = pos.copy()
        self.reactions = []
        for i in range(n):
            self.reactions.append(sim.add_reaction(Reaction(
                f"{ion} + {self.states[i]} <-> {self.states[i + 1]}", rate=scheme.binding_rate(i, 1.0) * 1e3,
                reverse_rate=scheme.unbinding_rate(i + 1))))
        self.fusions = []
        for i, f in enumerate(scheme.fusion):
            if f > 0.0:
                empty = f" + {self.empty}" if self.empty else ""
                self.fusions.append(sim.add_reaction(Reaction(f"{self.states[i]} -> {prefix}_fused_{i}{empty}", rate=f)))
        self.reactions += self.fusions
        self._fusion_logs = [sim.reactions.log(r.name) for r in self.fusions]
        for i in range(1, top + 1):  # the fused sensor, now in the plasma membrane, lets its ions go
            self.reactions.append(sim.add_reaction(Reaction(
                f"{prefix}_fused_{i} -> {prefix}_fused_{i - 1} + {ion}", rate=scheme.unbinding_rate(i))))
        if self.empty:  # a new vesicle, its sensor empty, docks at the free site
            self.reactions.append(sim.add_reaction(Reaction(f"{self.empty} -> {self.states[0]}", rate=refill_per_ms)))
        self.refill_per_ms = refill_per_ms

    def occupancy(self) -> np.ndarray:
        """The number of unfused sensors in each state (0..n ions bound)."""
        return np.array([self.sim.count(s) for s in self.states])

    def fused(self) -> int:
        """The number of fusions so far (with refilling, a site can fuse again)."""
        counts = self.sim.reaction_counts
        return int(sum(counts[r.name] for r in self.fusions))

    def fusion_events(self) -> tuple[np.ndarray, np.ndarray]:
        """(times [ms], sites [um] (n, 3)) of every fusion so far, in time order: the time is the end
        of the particle step in which the sensor fused (resolution: the particle dt)."""
        ev = [e for log in self._fusion_logs for e in log]
        ev.sort(key=lambda e: e[0])
        t = np.array([e[0] for e in ev], float)
        x = np.array([e[1] for e in ev], float).reshape(-1, 3)
        return t, x

    def fusion_times(self) -> np.ndarray:
        """Times [ms] of every fusion so far, in order (see :meth:`fusion_events`)."""
        return self.fusion_events()[0]

    def docked(self) -> int:
        """The number of sites that hold a vesicle (an unfused sensor)."""
        return int(self.occupancy().sum())
