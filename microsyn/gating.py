"""Gating of ligand-gated channels: stochastic with exact event times, or mean-field (ODE).

Ligand (transmitter) time courses
---------------------------------
A *ligand* is any object with ``conc(t)`` [mM] and ``max_over(t0, t1)`` [mM] (an upper bound of
the concentration over [t0, t1] [ms]) and optionally ``breakpoints()`` (times [ms] where the
time course has kinks or jumps). Built in: :class:`ConstantLigand`, :class:`PulseLigand`
(a square pulse, as Destexhe et al. 1994), :class:`ExponentialLigand` (an instantaneous rise and
exponential clearance), :class:`TabulatedLigand` (piecewise linear). The synapse module adds a
ligand measured from transmitter particles near the receptor.

Rates are those of the channel type at its simulated temperature (``ChannelType.rates`` and
``generator``: the published rates times the type's Q10 factor, see :mod:`microsyn.channels`).

Stochastic gating (:class:`StochasticGating`)
---------------------------------------------
Each channel's transitions occur at exact, continuous times. With a time-varying ligand the
rates are time-dependent, and the next event is sampled by *thinning* (Lewis & Shedler 1979,
doi:10.1002/nav.3800260304): over a window [t0, t1] every channel in state s gets the bound
rate q_s(L_max) (rates grow with L, since each is k L^n with n >= 0), candidate times are drawn
from the Poisson process of the total bound rate, and a candidate in state s at time t is accepted
with probability q_s(L(t)) / q_s(L_max) and then jumps to a destination chosen with the rates at
L(t). This is exact for any ligand time course whose maximum over the window is known (no time
discretisation error). The membrane potential is held constant over each window (the electrical
step when coupled, see :mod:`microsyn.synapse`).

Mean-field gating (:class:`MeanFieldGating`)
--------------------------------------------
The occupancy vector p(t) obeys dp/dt = p Q(L(t), V) (the master equation of one channel; the
expected fraction of an ensemble), integrated with scipy's LSODA between the ligand's
breakpoints (rtol 1e-8).

References
----------
Gillespie D.T. (1977) J. Phys. Chem. 81:2340, doi:10.1021/j100540a008.
Lewis P.A.W. & Shedler G.S. (1979) Naval Res. Logist. Q. 26:403, doi:10.1002/nav.3800260304.
Colquhoun D. & Hawkes A.G. (1981) Proc. R. Soc. B 211:205, doi:10.1098/rspb.1981.0003.
"""
from __future__ import annotations

import math

import numpy as np

from .channels import ChannelType
from .errors import ParameterError, check_count, check_finite, check_positive

__all__ = ["ConstantLigand", "PulseLigand", "ExponentialLigand", "TabulatedLigand", "as_ligand",
           "StochasticGating", "MeanFieldGating"]


# ------------------------------------------------------------------------------ ligands
class ConstantLigand:
    """A constant concentration [mM]."""

    piecewise_constant = True

    def __init__(self, conc_mM: float):
        self.conc_mM = check_positive("ligand concentration [mM]", conc_mM, allow_zero=True)

    def conc(self, t):
        return np.full(np.shape(t), self.conc_mM) if np.ndim(t) else self.conc_mM

    def max_over(self, t0, t1):
        return self.conc_mM

    def breakpoints(self):
        return []


class PulseLigand:
    """A square pulse: ``conc_mM`` [mM] from ``t_on`` for ``duration`` [ms], else 0.

    The classic synaptic glutamate transient is 1 mM for 1 ms (Clements et al. 1992,
    doi:10.1126/science.1360663); shorter, higher pulses (3 mM, 0.3 ms) are closer to the cleft.
    Several pulses can be given as sequences.
    """

    piecewise_constant = True

    def __init__(self, conc_mM=1.0, t_on=0.0, duration=1.0):
        c = np.atleast_1d(np.asarray(conc_mM, float))
        t = np.atleast_1d(np.asarray(t_on, float))
        d = np.atleast_1d(np.asarray(duration, float))
        c, t, d = np.broadcast_arrays(c, t, d)
        if not (np.all(np.isfinite(c)) and np.all(np.isfinite(t)) and np.all(np.isfinite(d))):
            raise ParameterError("pulse concentrations, onsets and durations must be finite")
        if np.any(c < 0) or np.any(d <= 0):
            raise ParameterError("pulse concentrations must be >= 0 mM and durations > 0 ms")
        self.c, self.t_on, self.dur = c.copy(), t.copy(), d.copy()

    def conc(self, t):
        tt = np.asarray(t, float)
        on = (tt[..., None] >= self.t_on) & (tt[..., None] < self.t_on + self.dur)
        out = np.sum(np.where(on, self.c, 0.0), axis=-1)
        return float(out) if out.ndim == 0 else out

    def max_over(self, t0, t1):
        ov = (self.t_on < t1) & (self.t_on + self.dur > t0)
        if not ov.any():
            return 0.0
        # overlapping pulses add: the sum of the overlapping ones bounds it
        return float(self.c[ov].sum())

    def breakpoints(self):
        return sorted(set(self.t_on.tolist() + (self.t_on + self.dur).tolist()))


class ExponentialLigand:
    """Instantaneous rise to ``conc_mM`` at ``t_on``, then exp(-(t - t_on)/tau) clearance.

    Clements 1996 (doi:10.1016/0166-2236(96)10024-2): cleft glutamate ~1-3 mM decaying with
    tau ~ 0.1-1 ms.
    """

    def __init__(self, conc_mM=3.0, t_on=0.0, tau_ms=0.3):
        self.conc_mM = check_positive("conc_mM", conc_mM, allow_zero=True)
        self.t_on = check_finite("t_on [ms]", t_on)
        self.tau = check_positive("tau_ms", tau_ms)

    def conc(self, t):
        tt = np.asarray(t, float)
        out = np.where(tt >= self.t_on, self.conc_mM * np.exp(-np.maximum(tt - self.t_on, 0.0) / self.tau), 0.0)
        return float(out) if out.ndim == 0 else out

    def max_over(self, t0, t1):
        if t1 <= self.t_on:
            return 0.0
        return float(self.conc(max(t0, self.t_on)))

    def breakpoints(self):
        return [self.t_on]


class TabulatedLigand:
    """Piecewise-linear concentration through points (``times_ms``, ``conc_mM``); 0 outside."""

    def __init__(self, times_ms, conc_mM):
        t = np.asarray(times_ms, float)
        c = np.asarray(conc_mM, float)
        if t.ndim != 1 or t.shape != c.shape or t.size < 2 or np.any(np.diff(t) <= 0):
            raise ParameterError("times_ms must increase and match conc_mM in length (>= 2 points)")
        if not (np.all(np.isfinite(c)) and np.all(c >= 0)):
            raise ParameterError("conc_mM must be finite and >= 0")
        self.t, self.c = t, c

    def conc(self, t):
        out = np.interp(np.asarray(t, float), self.t, self.c, left=0.0, right=0.0)
        return float(out) if np.ndim(out) == 0 else out

    def max_over(self, t0, t1):
        inside = (self.t > t0) & (self.t < t1)
        vals = [self.conc(t0), self.conc(t1)] + self.c[inside].tolist()
        return float(max(vals))

    def breakpoints(self):
        return self.t.tolist()


def as_ligand(ligand):
    """A ligand object from a number [mM] (constant) or an object with conc/max_over."""
    if ligand is None:
        return ConstantLigand(0.0)
    if isinstance(ligand, (int, float)):
        return ConstantLigand(float(ligand))
    if not (hasattr(ligand, "conc") and hasattr(ligand, "max_over")):
        raise ParameterError("a ligand needs conc(t) [mM] and max_over(t0, t1) [mM] methods, or give a number [mM]")
    return ligand


# ------------------------------------------------------------------------------ stochastic
class StochasticGating:
    """An ensemble of independent channels of one type, gated with exact event times.

    Parameters
    ----------
    channel : ChannelType
    n_channels : int
        Number of channels (>= 1).
    rng : numpy.random.Generator or int
        Random stream (or a seed).
    initial_state : str, optional
        Every channel's state at the start (default: the type's first state).

    Attributes
    ----------
    states : ndarray (n_channels,)
        Current state index of each channel.
    t : float
        Time [ms] up to which the ensemble has been advanced.
    n_events : int
        Accepted transitions so far.

    Example
    -------
    >>> from microsyn.channels import AMPA
    >>> g = StochasticGating(AMPA(), 100, rng=1)
    >>> tr = g.advance(0.0, 2.0, PulseLigand(1.0, 0.0, 1.0))
    >>> int(g.n_open) >= 0
    True
    """

    def __init__(self, channel: ChannelType, n_channels: int, rng=0, initial_state: str | None = None,
                 t0: float = 0.0):
        if not isinstance(channel, ChannelType):
            raise ParameterError(f"channel must be a ChannelType, got {channel!r}")
        self.channel = channel
        self.n_channels = check_count("n_channels", n_channels, allow_zero=False)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        s0 = channel.index(initial_state) if initial_state is not None else 0
        self.states = np.full(self.n_channels, s0, np.int64)
        self._members = [[] for _ in range(channel.n_states)]
        self._pos = np.zeros(self.n_channels, np.int64)
        for i in range(self.n_channels):
            self._pos[i] = len(self._members[s0])
            self._members[s0].append(i)
        self.t = float(t0)
        self.n_events = 0
        self.n_candidates = 0

    @property
    def counts(self) -> np.ndarray:
        """Channels in each state."""
        return np.array([len(m) for m in self._members])

    @property
    def n_open(self) -> int:
        """Open channels now."""
        return int(sum(len(self._members[i]) for i in np.flatnonzero(self.channel.open_mask)))

    @property
    def open_channels(self) -> np.ndarray:
        """Boolean per channel: open now."""
        return self.channel.open_mask[self.states]

    def _move(self, i, s_from, s_to):
        mem = self._members[s_from]
        p = self._pos[i]
        last = mem[-1]
        mem[p] = last
        self._pos[last] = p
        mem.pop()
        self._pos[i] = len(self._members[s_to])
        self._members[s_to].append(i)
        self.states[i] = s_to

    def advance(self, t0: float, t1: float, ligand, V_mV: float = -70.0, max_window: float | None = None):
        """Advance from ``t0`` to ``t1`` [ms] with the ligand and a constant V [mV].

        Parameters
        ----------
        t0, t1 : float
            Window [ms]; ``t0`` must equal the time reached so far.
        ligand : ligand object or number [mM]
        V_mV : float
            Membrane potential held over the window [mV].
        max_window : float, optional
            Split the window into pieces of at most this length [ms] for tighter rate bounds
            (fewer rejected candidates; the result is exact either way). Default 0.01 ms, and
            at the ligand's breakpoints; piecewise-constant ligands are only cut at breakpoints.

        Returns
        -------
        (times, n_open) : ndarrays
            The open-channel count as a step function on [t0, t1]: ``n_open[j]`` holds from
            ``times[j]`` to ``times[j + 1]`` (or t1); ``times[0] == t0``.
        """
        if abs(t0 - self.t) > 1e-9 * max(1.0, abs(t0)):
            raise ParameterError(f"advance must start where the ensemble is (t = {self.t} ms), got {t0} ms")
        if t1 < t0:
            raise ParameterError(f"t1 ({t1}) must be >= t0 ({t0})")
        lig = as_ligand(ligand)
        ch = self.channel
        cuts = [t0, t1]
        if hasattr(lig, "breakpoints"):
            cuts += [b for b in lig.breakpoints() if t0 < b < t1]
        if not getattr(lig, "piecewise_constant", False):
            piece = max_window if max_window is not None else 0.01
            if piece > 0 and t1 > t0:
                n = int(math.ceil((t1 - t0) / piece - 1e-9))
                cuts += [t0 + (t1 - t0) * k / n for k in range(1, n)]
        cuts = sorted(set(cuts))
        open_mask = ch.open_mask
        times = [t0]
        nopen = [self.n_open]
        rng = self.rng
        cur_open = nopen[0]
        counts = np.fromiter((len(m) for m in self._members), np.float64, ch.n_states)
        for a, b in zip(cuts[:-1], cuts[1:]):
            Lmax = float(lig.max_over(a, b))
            rates_cache, qbar = ch._cached_rates(Lmax, V_mV)
            t = a
            const = getattr(lig, "piecewise_constant", False) or Lmax == 0.0
            while True:
                w = counts * qbar
                lam = w.sum()
                if lam <= 0:
                    break
                t += rng.exponential(1.0 / lam)
                if t >= b:
                    break
                self.n_candidates += 1
                s = int(np.searchsorted(np.cumsum(w), rng.random() * lam, side="right"))
                s = min(s, ch.n_states - 1)
                if const:
                    r_all = rates_cache
                    accept = True
                else:
                    L = float(lig.conc(t))
                    r_all = ch.rates(L, V_mV)
                    q = r_all[ch._out[s]].sum()
                    accept = rng.random() * qbar[s] < q
                if not accept:
                    continue
                outs = ch._out[s]
                r = r_all[outs]
                k = outs[min(int(np.searchsorted(np.cumsum(r), rng.random() * r.sum(), side="right")), len(outs) - 1)]
                dst = int(ch._dst[k])
                mem = self._members[s]
                i = mem[int(rng.integers(len(mem)))]
                self._move(i, s, dst)
                counts[s] -= 1.0
                counts[dst] += 1.0
                self.n_events += 1
                d_open = int(open_mask[dst]) - int(open_mask[s])
                if d_open:
                    cur_open += d_open
                    times.append(t)
                    nopen.append(cur_open)
        self.t = float(t1)
        return np.asarray(times), np.asarray(nopen, np.int64)

    def run(self, t_end: float, ligand, V_mV: float = -70.0, record_dt: float = 0.01):
        """Advance to ``t_end`` [ms] and return (time_ms, n_open, counts) sampled every
        ``record_dt`` [ms] (the state at each sample time)."""
        record_dt = check_positive("record_dt [ms]", record_dt)
        n = int(round((t_end - self.t) / record_dt))
        ts = self.t + record_dt * np.arange(n + 1)
        n_open = np.empty(n + 1, np.int64)
        counts = np.empty((n + 1, self.channel.n_states), np.int64)
        n_open[0] = self.n_open
        counts[0] = self.counts
        for j in range(n):
            self.advance(ts[j], ts[j + 1], ligand, V_mV)
            n_open[j + 1] = self.n_open
            counts[j + 1] = self.counts
        return ts, n_open, counts


# ------------------------------------------------------------------------------ mean field
class MeanFieldGating:
    """Deterministic (expected) occupancy of a channel type: dp/dt = p Q(L(t), V).

    Parameters
    ----------
    channel : ChannelType
    initial_state : str or array, optional
        A state name (all occupancy there) or an occupancy vector; default the first state.

    Example
    -------
    >>> from microsyn.channels import GABA_A
    >>> mf = MeanFieldGating(GABA_A())
    >>> t, p = mf.solve([0, 1, 2], ConstantLigand(1.0))
    >>> bool(p[-1, 1] > 0.9)
    True
    """

    def __init__(self, channel: ChannelType, initial_state=None):
        self.channel = channel
        n = channel.n_states
        if initial_state is None:
            p0 = np.zeros(n)
            p0[0] = 1.0
        elif isinstance(initial_state, str):
            p0 = np.zeros(n)
            p0[channel.index(initial_state)] = 1.0
        else:
            p0 = np.asarray(initial_state, float)
            if p0.shape != (n,) or np.any(p0 < 0) or abs(p0.sum() - 1) > 1e-9:
                raise ParameterError(f"initial occupancy must be {n} values >= 0 summing to 1")
        self.p = p0.copy()
        self.t = 0.0

    def solve(self, times_ms, ligand, V_mV=-70.0, rtol: float = 1e-8, atol: float = 1e-11):
        """Occupancy (n_times, n_states) at ``times_ms`` (increasing, from the current time).

        ``V_mV`` is a number or a function of t [ms]."""
        from scipy.integrate import solve_ivp

        lig = as_ligand(ligand)
        ts = np.asarray(times_ms, float)
        if ts.ndim != 1 or ts.size == 0 or np.any(np.diff(ts) < 0):
            raise ParameterError("times_ms must be a non-empty increasing sequence")
        ch = self.channel
        Vf = V_mV if callable(V_mV) else (lambda t, v=float(V_mV): v)

        def rhs(t, p):
            return p @ ch.generator(float(lig.conc(t)), Vf(t))

        out = np.empty((ts.size, ch.n_states))
        p = self.p.copy()
        t = self.t
        bps = sorted(b for b in getattr(lig, "breakpoints", lambda: [])())
        for j, te in enumerate(ts):
            if te < t - 1e-12:
                raise ParameterError(f"time {te} ms lies before the current time {t} ms")
            stops = [t] + [b for b in bps if t < b < te] + [te]
            for a, b in zip(stops[:-1], stops[1:]):
                if b - a <= 0:
                    continue
                sol = solve_ivp(rhs, (a, b), p, method="LSODA", rtol=rtol, atol=atol,
                                first_step=min(1e-4, (b - a)))
                if not sol.success:
                    raise ParameterError(f"mean-field integration failed: {sol.message}")
                p = sol.y[:, -1]
            t = te
            out[j] = p
        self.p, self.t = p, t
        return ts, out

    def open_probability(self, times_ms, ligand, V_mV=-70.0):
        """Expected open fraction at ``times_ms``."""
        _, occ = self.solve(times_ms, ligand, V_mV)
        return occ[:, self.channel.open_mask].sum(axis=1)
