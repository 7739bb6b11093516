"""Stochastic Hodgkin-Huxley channel populations with exact event times (Gillespie).

Each compartment holds whole numbers of Na+ channels in the 8 states m_i h_j (i = 0..3 open
m-gates, j = 0..1) and K+ channels in the 5 states n_k (k = 0..4 open n-gates) of the kinetic
schemes equivalent to the HH equations (Skaugen & Walloe 1979; Chow & White 1996). Within
each solver step the membrane potential is held at its value at the start of the step, and
the transitions of every channel are sampled with Gillespie's direct method: the time of each
event is exact (not rounded to the step). The conductance handed to the implicit voltage step
is the exact time average of the open-channel count over the step times the unitary
conductance. Open and close events can be recorded with their times.

References
----------
Gillespie D.T. (1977) J. Phys. Chem. 81:2340, doi:10.1021/j100540a008.
Skaugen E. & Walloe L. (1979) Acta Physiol. Scand. 107:343, doi:10.1111/j.1748-1716.1979.tb06486.x.
Chow C.C. & White J.A. (1996) Biophys. J. 71:3013, doi:10.1016/S0006-3495(96)79494-8.
Goldwyn J.H. & Shea-Brown E. (2011) PLoS Comput. Biol. 7:e1002247, doi:10.1371/journal.pcbi.1002247.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from ..config import JIT
from ..errors import ParameterError, check_positive
from .hh import HH1952, _KINETICS, HHParams, _rates, fastest_time_constant_ms

__all__ = ["StochasticHHChannels", "CHANNEL_EVENT_KINDS"]

#: event kinds in :attr:`StochasticHHChannels.events`
CHANNEL_EVENT_KINDS = {1: "Na open", -1: "Na close", 2: "K open", -2: "K close"}

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


@numba.njit(**JIT)
def _uniform(state):
    """splitmix64 -> float in (0, 1]."""
    state[0] = state[0] + _M1
    z = state[0]
    z = (z ^ (z >> _S30)) * _M2
    z = (z ^ (z >> _S27)) * _M3
    z = z ^ (z >> _S31)
    return (float(z >> _S11) + 1.0) * (1.0 / 9007199254740992.0)


@numba.njit(**JIT)
def _ssa_step(kin, vt, phi, t0, dt, V, nodes, na, k, rng, open_na_avg, open_k_avg,
              ev_t, ev_node, ev_kind, ev_count, record):
    """Gillespie over [t0, t0 + dt] at fixed V for every node; fills time-averaged open counts.

    na: (nodes, 8) counts in state i + 4 j (i open m-gates, j open h-gate); open = i 3, j 1 (index 7).
    k: (nodes, 5) counts with k open n-gates; open = index 4.
    Returns the number of recorded events (or -1 when the event buffer overflowed).
    """
    cap = ev_t.size
    nev = ev_count
    prop = np.empty(24)
    for q in range(nodes.size):
        am, bm, ah, bh, an, bn = _rates(kin, V[nodes[q]], vt)
        am *= phi
        bm *= phi
        ah *= phi
        bh *= phi
        an *= phi
        bn *= phi
        t = 0.0
        acc_na = 0.0
        acc_k = 0.0
        while True:
            # propensities: Na m up (i<3), m down (i>0), h up (j=0), h down (j=1); K up, down
            a0 = 0.0
            p = 0
            for j in range(2):
                for i in range(4):
                    c = na[q, i + 4 * j]
                    prop[p] = c * (3 - i) * am
                    prop[p + 1] = c * i * bm
                    prop[p + 2] = c * (ah if j == 0 else bh)
                    a0 += prop[p] + prop[p + 1] + prop[p + 2]
                    p += 3
            # K propensities are computed on the fly below
            ak = 0.0
            for s in range(5):
                ak += k[q, s] * ((4 - s) * an + s * bn)
            a0 += ak
            no = na[q, 7]
            ko = k[q, 4]
            if a0 <= 0.0:
                acc_na += no * (dt - t)
                acc_k += ko * (dt - t)
                break
            tau = -math.log(_uniform(rng)) / a0
            if t + tau >= dt:
                acc_na += no * (dt - t)
                acc_k += ko * (dt - t)
                break
            acc_na += no * tau
            acc_k += ko * tau
            t += tau
            r = _uniform(rng) * a0
            done = False
            p = 0
            for j in range(2):
                for i in range(4):
                    idx = i + 4 * j
                    for e in range(3):
                        w = prop[p + e]
                        if not done and r < w:
                            if e == 0:
                                dest = idx + 1
                            elif e == 1:
                                dest = idx - 1
                            else:
                                dest = idx + 4 if j == 0 else idx - 4
                            na[q, idx] -= 1
                            na[q, dest] += 1
                            if record:
                                kind = 0
                                if dest == 7:
                                    kind = 1
                                elif idx == 7:
                                    kind = -1
                                if kind != 0:
                                    if nev < cap:
                                        ev_t[nev] = t0 + t
                                        ev_node[nev] = nodes[q]
                                        ev_kind[nev] = kind
                                    nev += 1
                            done = True
                        elif not done:
                            r -= w
                    p += 3
            if not done:
                for s in range(5):
                    c = k[q, s]
                    up = c * (4 - s) * an
                    dn = c * s * bn
                    if not done and r < up:
                        k[q, s] -= 1
                        k[q, s + 1] += 1
                        if record and s + 1 == 4:
                            if nev < cap:
                                ev_t[nev] = t0 + t
                                ev_node[nev] = nodes[q]
                                ev_kind[nev] = 2
                            nev += 1
                        done = True
                    elif not done:
                        r -= up
                        if not done and r < dn:
                            k[q, s] -= 1
                            k[q, s - 1] += 1
                            if record and s == 4:
                                if nev < cap:
                                    ev_t[nev] = t0 + t
                                    ev_node[nev] = nodes[q]
                                    ev_kind[nev] = -2
                                nev += 1
                            done = True
                        elif not done:
                            r -= dn
            # (if round-off leaves r just above the last bin, no transition is applied)
        open_na_avg[q] = acc_na / dt
        open_k_avg[q] = acc_k / dt
    return nev


@numba.njit(**JIT)
def _binomial_init(rng, counts_total, probs, out):
    # multinomial draw by sequential conditional binomials (exact, O(total))
    for q in range(counts_total.size):
        for s in range(probs.shape[1]):
            out[q, s] = 0
        for _ in range(counts_total[q]):
            u = _uniform(rng)
            acc = 0.0
            chosen = probs.shape[1] - 1
            for s in range(probs.shape[1]):
                acc += probs[q, s]
                if u <= acc:
                    chosen = s
                    break
            out[q, chosen] += 1


class StochasticHHChannels:
    """Stochastic HH Na+/K+ channel populations on compartments (a solver mechanism).

    Add with ``solver.add_mechanism(StochasticHHChannels(nodes, graph.area_um2[nodes], ...))``
    and set the leak of those compartments yourself (``graph.set_membrane``), or use
    :meth:`for_solver`.

    Parameters
    ----------
    nodes : int array
        Compartments.
    area_um2 : array
        Their membrane areas [um^2].
    params : HHParams
        Kinetics, reversal potentials, temperature and the mean conductance densities.
    na_density_per_um2, k_density_per_um2 : float
        Channel densities [1/um^2] (60 and 18 give unitary conductances of 20 pS with HH1952).
        The number of channels in a compartment is round(density x area).
    seed : int
        Seed of this population's random stream (splitmix64).
    record_events : bool
        Keep every opening and closing with its exact time in :attr:`events`.

    Attributes
    ----------
    n_na, n_k : int arrays
        Channel numbers per compartment.
    gamma_na_nS, gamma_k_nS : float
        Unitary conductances [nS].
    events : dict of arrays
        ``time_ms``, ``node``, ``kind`` (see :data:`CHANNEL_EVENT_KINDS`) when recording.

    Notes
    -----
    Gillespie 1977, doi:10.1021/j100540a008; Skaugen & Walloe 1979,
    doi:10.1111/j.1748-1716.1979.tb06486.x.
    """

    def __init__(self, nodes, area_um2, params: HHParams = HH1952, na_density_per_um2: float = 60.0,
                 k_density_per_um2: float = 18.0, seed: int = 0, record_events: bool = False,
                 event_capacity: int = 200_000):
        self.nodes = np.ascontiguousarray(nodes, dtype=np.int64)
        area = np.asarray(area_um2, float)
        if area.shape != self.nodes.shape:
            raise ParameterError("give one area per node")
        dna = check_positive("na_density_per_um2", na_density_per_um2, allow_zero=True)
        dk = check_positive("k_density_per_um2", k_density_per_um2, allow_zero=True)
        self.params = params
        self.n_na = np.rint(dna * area).astype(np.int64)
        self.n_k = np.rint(dk * area).astype(np.int64)
        if self.n_na.sum() + self.n_k.sum() == 0:
            raise ParameterError("no channels: densities x areas round to zero; raise the densities")
        self.gamma_na_nS = params.gnabar_nS_per_um2 / dna if dna > 0 else 0.0
        self.gamma_k_nS = params.gkbar_nS_per_um2 / dk if dk > 0 else 0.0
        self.na = np.zeros((self.nodes.size, 8), np.int64)
        self.k = np.zeros((self.nodes.size, 5), np.int64)
        self._rng = np.array([np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF)], dtype=np.uint64)
        self._kin = _KINETICS[params.kinetics]
        self.record_events = bool(record_events)
        self._ev_t = np.zeros(int(event_capacity) if record_events else 1)
        self._ev_node = np.zeros(self._ev_t.size, np.int64)
        self._ev_kind = np.zeros(self._ev_t.size, np.int64)
        self._ev_n = 0
        self.open_na = np.zeros(self.nodes.size)
        self.open_k = np.zeros(self.nodes.size)
        self.t_ms = 0.0

    @classmethod
    def for_solver(cls, solver, nodes=None, params: HHParams = HH1952, **kw) -> "StochasticHHChannels":
        """Create on ``solver``'s compartments ``nodes`` (also setting their leak from ``params``)
        and add to the solver."""
        idx = solver.graph.select(nodes, membrane=True)
        mech = solver.add_mechanism(cls(idx, solver.graph.area_um2[idx], params, **kw))  # checks dt first
        solver.graph.set_membrane(idx, g_leak_nS_per_um2=params.gl_nS_per_um2, e_leak_mV=params.el_mV)
        solver._prepared = False
        return mech

    def fastest_time_constant_ms(self, v_lo_mV: float = -100.0, v_hi_mV: float = 60.0) -> float:
        """Fastest gate time constant [ms] over ``v_lo_mV..v_hi_mV`` [mV] (the relaxation time of the
        population mean; the same rates as the deterministic gates). Within a step V is held, so
        the solver bounds dt with it as for :class:`~microsyn.membrane.hh.HHChannels`."""
        return fastest_time_constant_ms(self.params, v_lo_mV, v_hi_mV)

    def init(self, V_mV) -> None:
        """Draw the channel states from their steady-state distribution at V [mV] (multinomial)."""
        V = np.asarray(V_mV)[self.nodes]
        q = self.nodes.size
        pna = np.zeros((q, 8))
        pk = np.zeros((q, 5))
        from math import comb

        for r in range(q):
            am, bm, ah, bh, an, bn = _rates(self._kin, float(V[r]), self.params.vt_mV)
            m, h, n = am / (am + bm), ah / (ah + bh), an / (an + bn)
            for j in range(2):
                for i in range(4):
                    pna[r, i + 4 * j] = comb(3, i) * m ** i * (1 - m) ** (3 - i) * (h if j else 1 - h)
            for s in range(5):
                pk[r, s] = comb(4, s) * n ** s * (1 - n) ** (4 - s)
        _binomial_init(self._rng, self.n_na, pna, self.na)
        _binomial_init(self._rng, self.n_k, pk, self.k)
        self._ev_n = 0
        self.t_ms = 0.0

    def advance(self, V_mV, dt_ms, diag, rhs) -> None:
        """Sample all transitions in [t, t + dt] [ms] exactly at fixed V, then add the time-averaged
        open conductance [nS] into ``diag`` and g*E [pA] into ``rhs``."""
        p = self.params
        n = _ssa_step(self._kin, p.vt_mV, p.phi, self.t_ms, dt_ms, V_mV, self.nodes, self.na, self.k, self._rng,
                      self.open_na, self.open_k, self._ev_t, self._ev_node, self._ev_kind, self._ev_n,
                      self.record_events)
        if self.record_events and n > self._ev_t.size:
            raise ParameterError(f"more than {self._ev_t.size} channel events; pass a larger event_capacity "
                                 f"or record_events=False")
        self._ev_n = n
        gna = self.gamma_na_nS * self.open_na
        gk = self.gamma_k_nS * self.open_k
        np.add.at(diag, self.nodes, gna + gk)
        np.add.at(rhs, self.nodes, gna * p.ena_mV + gk * p.ek_mV)
        self.t_ms += dt_ms

    @property
    def events(self) -> dict:
        """Recorded channel openings/closings: ``time_ms`` [ms], ``node``, ``kind`` (+-1 Na, +-2 K)."""
        n = self._ev_n
        return {"time_ms": self._ev_t[:n].copy(), "node": self._ev_node[:n].copy(), "kind": self._ev_kind[:n].copy()}
