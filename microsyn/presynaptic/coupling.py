"""Channel-to-sensor coupling in the linearised buffered nanodomain (the deterministic mode).

While one Ca2+ channel of current i is open, a sensor at distance r from it sees, after a
sub-microsecond rise, the linearised (excess-buffer) steady [Ca2+] of a point source on a
reflecting membrane (Neher 1986; Naraghi & Neher 1997):

    [Ca](r) = [Ca]_rest + sigma / (2 pi D r) exp(-r / lambda),  lambda = sqrt(D / (k_on [B]_free)),

with sigma the ions entering per unit time (i / 2e) and [B]_free the free buffer at rest
([B]_total K_d / (K_d + [Ca]_rest)); after the channel closes, the nanodomain collapses within
microseconds and [Ca2+] is back at rest (the residual, global Ca2+ is left out).
:func:`release_probability` drives a sensor scheme with that [Ca](t) and gives the
probability that its vesicle fuses: the quantity behind the EGTA-versus-BAPTA test of
nanodomain coupling (Adler et al. 1991; Bucurenciu et al. 2008): a slow buffer (EGTA) cannot
capture Ca2+ within 10-20 nm of the channel, a fast one (BAPTA) can.

The particle engine resolves the same nanodomain without the approximations (the buffer not in
excess near the channel, the rise and collapse, the encounters of the ions with the sensor's
sites): :class:`~microsyn.presynaptic.sites.SensorSites` with a
:class:`~microsyn.sources.FluxSource` and a buffer as a lattice field.
"""
from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..reactions.buffers import CaBuffer, excess_buffer_profile
from ..units import current_to_ion_rate
from .sensors import SensorScheme, _positive


def nanodomain_ca_uM(distance_um, current_pA: float, buffer: CaBuffer | None = None, buffer_mM: float = 0.0,
                     D_Ca: float = 0.22, ca_rest_uM: float = 0.05):
    """The linearised steady [Ca2+] [uM] at ``distance_um`` from one open channel of
    ``current_pA`` (magnitude) on a reflecting membrane, with ``buffer_mM`` of ``buffer`` (total;
    its free part at rest is used) or none."""
    i = _positive("channel current [pA]", abs(float(current_pA)) if np.isscalar(current_pA) else current_pA,
                  allow_zero=True)
    b_mM = _positive("buffer concentration [mM]", buffer_mM, allow_zero=True)
    if b_mM > 0.0 and not isinstance(buffer, CaBuffer):
        raise ParameterError("give the buffer (e.g. microsyn.reactions.ca_buffer('EGTA')) with buffer_mM > 0")
    rest_mM = _positive("resting [Ca2+] [uM]", ca_rest_uM, allow_zero=True) * 1e-3
    k_on = buffer.k_on if b_mM > 0.0 else 0.0
    free = b_mM * buffer.K_d_mM / (buffer.K_d_mM + rest_mM) if b_mM > 0.0 else 0.0
    c = excess_buffer_profile(distance_um, current_to_ion_rate(i, 2), D_Ca, k_on, free, rest_mM)
    return np.asarray(c) * 1e3


def release_probability(scheme: SensorScheme, distance_um: float, current_pA: float = 0.2, open_ms: float = 0.5,
                        buffer: CaBuffer | None = None, buffer_mM: float = 0.0, D_Ca: float = 0.22,
                        ca_rest_uM: float = 0.05, after_ms: float = 2.0, dt_ms: float = 1e-3) -> float:
    """The probability that a vesicle whose sensor sits ``distance_um`` [um] from one channel
    fuses while the channel is open for ``open_ms`` and within ``after_ms`` after (module
    docstring). The sensor starts at its binding equilibrium at rest."""
    if not isinstance(scheme, SensorScheme):
        raise ParameterError(f"scheme must be a SensorScheme, got {scheme!r}")
    r = _positive("distance from the channel [um]", distance_um)
    t_open = _positive("open time [ms]", open_ms)
    t_after = _positive("time after closing [ms]", after_ms, allow_zero=True)
    c_open = float(nanodomain_ca_uM(r, current_pA, buffer, buffer_mM, D_Ca, ca_rest_uM))
    rest = float(ca_rest_uM)

    def ca(t):
        return c_open if t < t_open else rest

    _, _, _, fused = scheme.occupancy(ca, t_open + t_after, dt_ms=dt_ms, ca_rest_uM=rest)
    return float(fused[-1])
