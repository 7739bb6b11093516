"""Hodgkin-Huxley voltage-gated Na+ and K+ channels (deterministic gates).

Two parameter sets:

- :data:`HH1952`: the squid giant axon of Hodgkin & Huxley (1952) in the modern convention
  (absolute potentials, rest -65 mV, outward current positive), the same equations as NEURON's
  ``hh`` mechanism: g_Na = 120, g_K = 36, g_L = 0.3 mS/cm^2, E_Na = +50, E_K = -77,
  E_L = -54.3 mV, rates multiplied by the temperature factor 3^((T - 6.3 C)/10).
- :data:`MAMMALIAN`: a mammalian cortical teaching set built on the Traub-Miles kinetics of the
  "minimal" models of Pospischil et al. (2008), without their slow M-current, with V_T, g_Na and
  g_K re-tuned by us for the teaching targets: V_T = -65 mV, g_Na = 25, g_K = 30,
  g_L = 0.1 mS/cm^2, E_Na = +50, E_K = -90, E_L = -70 mV, 36 C. Measured: rest -70.0 mV,
  instantaneous-depolarization threshold near -56 mV, peak near +38 mV, afterhyperpolarization
  near -83 mV, a continuous (type I) f-I curve from about 1 uA/cm^2.

Currents: I_Na = g_Na m^3 h (V - E_Na), I_K = g_K n^4 (V - E_K); each gate x obeys
dx/dt = phi (alpha_x(V) (1 - x) - beta_x(V) x) with phi = q10^((T - T_ref)/10), integrated
exactly for V held over the step (exponential Euler, as NEURON's ``cnexp``).

References
----------
Hodgkin A.L. & Huxley A.F. (1952) J. Physiol. 117:500, doi:10.1113/jphysiol.1952.sp004764.
Traub R.D. & Miles R. (1991) Neuronal Networks of the Hippocampus, Cambridge Univ. Press,
doi:10.1017/CBO9780511895401.
Pospischil M. et al. (2008) Biol. Cybern. 99:427, doi:10.1007/s00422-008-0263-8.
Hines M.L. & Carnevale N.T. (1997) Neural Comput. 9:1179, doi:10.1162/neco.1997.9.6.1179.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numba
import numpy as np

from ..config import JIT
from ..errors import ParameterError, check_finite, check_positive

__all__ = ["HHParams", "HH1952", "MAMMALIAN", "HHChannels", "hh_rates", "hh_steady_state",
           "fastest_time_constant_ms"]

_KINETICS = {"hh1952": 0, "traub": 1}


@dataclass(frozen=True)
class HHParams:
    """Parameters of Hodgkin-Huxley-type Na+/K+ channels and their leak.

    Parameters
    ----------
    gnabar_nS_per_um2 : float
        Peak Na+ conductance density [nS/um^2] (1.2 = 120 mS/cm^2).
    gkbar_nS_per_um2 : float
        Peak K+ conductance density [nS/um^2].
    gl_nS_per_um2 : float
        Leak conductance density [nS/um^2].
    ena_mV, ek_mV, el_mV : float
        Reversal potentials [mV].
    temperature_C : float
        Temperature [C].
    reference_temperature_C : float
        Temperature at which the rates are defined [C].
    q10 : float
        Temperature coefficient of the rates.
    kinetics : str
        ``"hh1952"`` (Hodgkin & Huxley 1952) or ``"traub"`` (Traub & Miles 1991 with ``vt_mV``).
    vt_mV : float
        Threshold-setting offset V_T of the Traub kinetics [mV].
    """

    gnabar_nS_per_um2: float = 1.2
    gkbar_nS_per_um2: float = 0.36
    gl_nS_per_um2: float = 0.003
    ena_mV: float = 50.0
    ek_mV: float = -77.0
    el_mV: float = -54.3
    temperature_C: float = 6.3
    reference_temperature_C: float = 6.3
    q10: float = 3.0
    kinetics: str = "hh1952"
    vt_mV: float = -56.2

    def __post_init__(self):
        for name in ("gnabar_nS_per_um2", "gkbar_nS_per_um2", "gl_nS_per_um2"):
            check_positive(name, getattr(self, name), allow_zero=True)
        for name in ("ena_mV", "ek_mV", "el_mV", "temperature_C", "reference_temperature_C", "vt_mV"):
            check_finite(name, getattr(self, name))
        check_positive("q10", self.q10)
        if self.kinetics not in _KINETICS:
            raise ParameterError(f"kinetics must be one of {list(_KINETICS)}, got {self.kinetics!r}")

    @property
    def phi(self) -> float:
        """Rate factor q10^((T - T_ref)/10) (3^((T - 6.3)/10) for HH1952)."""
        return self.q10 ** ((self.temperature_C - self.reference_temperature_C) / 10.0)

    def at(self, temperature_C: float) -> "HHParams":
        """The same channels at another temperature [C]."""
        return replace(self, temperature_C=check_finite("temperature_C", temperature_C))

    def with_(self, **kw) -> "HHParams":
        """A copy with some fields changed."""
        return replace(self, **kw)


#: Hodgkin & Huxley 1952 squid axon, modern convention (rest -65 mV), 6.3 C.
#: E_L = -54.3 mV as in HH 1952 (10.613 mV above rest); NEURON's hh uses -54.3 as well.
HH1952 = HHParams()

#: Mammalian teaching set (Traub-Miles kinetics as in Pospischil et al. 2008, re-tuned), 36 C.
MAMMALIAN = HHParams(gnabar_nS_per_um2=0.25, gkbar_nS_per_um2=0.3, gl_nS_per_um2=0.001, ena_mV=50.0,
                     ek_mV=-90.0, el_mV=-70.0, temperature_C=36.0, reference_temperature_C=36.0,
                     q10=3.0, kinetics="traub", vt_mV=-65.0)


@numba.njit(**JIT)
def _vtrap(x, y):
    # x / (exp(x/y) - 1), continuous at x = 0
    u = x / y
    if abs(u) < 1e-6:
        return y * (1.0 - u / 2.0)
    return x / (math.exp(u) - 1.0)


@numba.njit(**JIT)
def _rates(kin, v, vt):
    if kin == 0:
        am = 0.1 * _vtrap(-(v + 40.0), 10.0)
        bm = 4.0 * math.exp(-(v + 65.0) / 18.0)
        ah = 0.07 * math.exp(-(v + 65.0) / 20.0)
        bh = 1.0 / (math.exp(-(v + 35.0) / 10.0) + 1.0)
        an = 0.01 * _vtrap(-(v + 55.0), 10.0)
        bn = 0.125 * math.exp(-(v + 65.0) / 80.0)
    else:
        u = v - vt
        am = 0.32 * _vtrap(-(u - 13.0), 4.0)
        bm = 0.28 * _vtrap(u - 40.0, 5.0)
        ah = 0.128 * math.exp(-(u - 17.0) / 18.0)
        bh = 4.0 / (1.0 + math.exp(-(u - 40.0) / 5.0))
        an = 0.032 * _vtrap(-(u - 15.0), 5.0)
        bn = 0.5 * math.exp(-(u - 10.0) / 40.0)
    return am, bm, ah, bh, an, bn


@numba.njit(**JIT)
def _hh_init(kin, vt, V, nodes, m, h, n):
    for k in range(nodes.size):
        am, bm, ah, bh, an, bn = _rates(kin, V[nodes[k]], vt)
        m[k] = am / (am + bm)
        h[k] = ah / (ah + bh)
        n[k] = an / (an + bn)


@numba.njit(**JIT)
def _hh_advance(kin, vt, phi, dt, V, nodes, m, h, n, gna_nS, gk_nS, ena, ek, diag, rhs, kfac):
    """Advance gates by dt at fixed V, then add g and g*E (times kfac) into diag and rhs."""
    for k in range(nodes.size):
        i = nodes[k]
        am, bm, ah, bh, an, bn = _rates(kin, V[i], vt)
        s = (am + bm) * phi
        m[k] = am / (am + bm) + (m[k] - am / (am + bm)) * math.exp(-dt * s)
        s = (ah + bh) * phi
        h[k] = ah / (ah + bh) + (h[k] - ah / (ah + bh)) * math.exp(-dt * s)
        s = (an + bn) * phi
        n[k] = an / (an + bn) + (n[k] - an / (an + bn)) * math.exp(-dt * s)
        gn = gna_nS[k] * m[k] * m[k] * m[k] * h[k]
        n2 = n[k] * n[k]
        gkk = gk_nS[k] * n2 * n2
        diag[i] += gn + gkk
        rhs[i] += gn * ena + gkk * ek


@numba.njit(**JIT)
def _hh_table(kin, vt, phi, dt, vmin, dv, nrow):
    """Rows: m_inf, m_decay, h_inf, h_decay, n_inf, n_decay at V = vmin + i dv."""
    tab = np.empty((nrow, 6))
    for i in range(nrow):
        am, bm, ah, bh, an, bn = _rates(kin, vmin + i * dv, vt)
        tab[i, 0] = am / (am + bm)
        tab[i, 1] = math.exp(-dt * phi * (am + bm))
        tab[i, 2] = ah / (ah + bh)
        tab[i, 3] = math.exp(-dt * phi * (ah + bh))
        tab[i, 4] = an / (an + bn)
        tab[i, 5] = math.exp(-dt * phi * (an + bn))
    return tab


@numba.njit(**JIT)
def _hh_advance_table(tab, vmin, inv_dv, kin, vt, phi, dt, V, nodes, m, h, n, gna_nS, gk_nS, ena, ek, diag, rhs):
    """As _hh_advance, with the rates linearly interpolated in a table (exact outside it)."""
    nrow = tab.shape[0]
    for k in range(nodes.size):
        i = nodes[k]
        x = (V[i] - vmin) * inv_dv
        if x >= 0.0 and x < nrow - 1:
            j = int(x)
            f = x - j
            g = 1.0 - f
            minf = g * tab[j, 0] + f * tab[j + 1, 0]
            mdec = g * tab[j, 1] + f * tab[j + 1, 1]
            hinf = g * tab[j, 2] + f * tab[j + 1, 2]
            hdec = g * tab[j, 3] + f * tab[j + 1, 3]
            ninf = g * tab[j, 4] + f * tab[j + 1, 4]
            ndec = g * tab[j, 5] + f * tab[j + 1, 5]
        else:
            am, bm, ah, bh, an, bn = _rates(kin, V[i], vt)
            minf = am / (am + bm)
            mdec = math.exp(-dt * phi * (am + bm))
            hinf = ah / (ah + bh)
            hdec = math.exp(-dt * phi * (ah + bh))
            ninf = an / (an + bn)
            ndec = math.exp(-dt * phi * (an + bn))
        m[k] = minf + (m[k] - minf) * mdec
        h[k] = hinf + (h[k] - hinf) * hdec
        n[k] = ninf + (n[k] - ninf) * ndec
        gn = gna_nS[k] * m[k] * m[k] * m[k] * h[k]
        n2 = n[k] * n[k]
        gkk = gk_nS[k] * n2 * n2
        diag[i] += gn + gkk
        rhs[i] += gn * ena + gkk * ek


#: rate table range and spacing [mV] (linear interpolation; relative error about 1e-6 in the gates)
TABLE_VMIN_MV, TABLE_VMAX_MV, TABLE_DV_MV = -200.0, 200.0, 0.02


def hh_rates(V_mV, params: HHParams = HH1952):
    """Opening and closing rates [1/ms] of the m, h, n gates at potential(s) V [mV].

    Returns
    -------
    dict
        ``alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n`` (arrays, including the temperature
        factor ``params.phi``).
    """
    V = np.atleast_1d(np.asarray(V_mV, float))
    out = np.array([_rates(_KINETICS[params.kinetics], float(v), params.vt_mV) for v in V]).T * params.phi
    return dict(zip(["alpha_m", "beta_m", "alpha_h", "beta_h", "alpha_n", "beta_n"], out))


def hh_steady_state(V_mV, params: HHParams = HH1952):
    """Steady-state gates m_inf, h_inf, n_inf and time constants tau_m, tau_h, tau_n [ms] at V [mV]."""
    r = hh_rates(V_mV, params)
    res = {}
    for g in "mhn":
        a, b = r[f"alpha_{g}"], r[f"beta_{g}"]
        res[f"{g}_inf"] = a / (a + b)
        res[f"tau_{g}"] = 1.0 / (a + b)
    return res


def fastest_time_constant_ms(params: HHParams = HH1952, v_lo_mV: float = -100.0, v_hi_mV: float = 60.0,
                             dv_mV: float = 0.1) -> float:
    """Smallest time constant 1 / (phi (alpha + beta)) [ms] of the m, h and n gates over a
    voltage range, at the temperature of ``params``.

    Parameters
    ----------
    params : HHParams
        Kinetics and temperature.
    v_lo_mV, v_hi_mV : float
        Voltage range [mV] (default -100..+60, the physiological range).
    dv_mV : float
        Grid spacing of the scan [mV].

    Returns
    -------
    float
        The fastest gate's time constant [ms] (for HH1952 at 6.3 C: tau_m at -100 mV, 0.036 ms).

    Example
    -------
    >>> round(fastest_time_constant_ms(HH1952), 4)
    0.0357
    """
    lo, hi = check_finite("v_lo_mV", v_lo_mV), check_finite("v_hi_mV", v_hi_mV)
    if not hi > lo:
        raise ParameterError(f"v_hi_mV ({hi}) must exceed v_lo_mV ({lo})")
    return _fastest_tau(params, lo, hi, check_positive("dv_mV", dv_mV))


@lru_cache(maxsize=256)
def _fastest_tau(params, lo, hi, dv):
    n = int(math.ceil((hi - lo) / dv)) + 1
    ss = hh_steady_state(np.linspace(lo, hi, n), params)
    return float(min(ss["tau_m"].min(), ss["tau_h"].min(), ss["tau_n"].min()))


class HHChannels:
    """Hodgkin-Huxley Na+ and K+ channels on a set of compartments (a solver mechanism).

    Create through :meth:`microsyn.membrane.MembraneSolver.insert_hh`, which also sets the
    compartments' leak to ``params.gl_nS_per_um2`` / ``params.el_mV``.

    Parameters
    ----------
    nodes : int array
        Compartments that carry the channels.
    area_um2 : array
        Their membrane areas [um^2].
    params : HHParams
        Channel densities, reversal potentials, temperature and kinetics.
    use_table : bool
        Interpolate the rates in a fine table (faster; V differs by about 1e-3 mV on upstrokes).

    Attributes
    ----------
    m, h, n : ndarray
        Gate states of each compartment (dimensionless, 0..1).

    Notes
    -----
    Hodgkin & Huxley 1952, doi:10.1113/jphysiol.1952.sp004764.
    """

    def __init__(self, nodes, area_um2, params: HHParams = HH1952, use_table: bool = True):
        self.nodes = np.ascontiguousarray(nodes, dtype=np.int64)
        if len(set(self.nodes.tolist())) != self.nodes.size:
            raise ParameterError("HH channels were given the same compartment twice; give unique nodes")
        self.params = params
        area = np.asarray(area_um2, float)
        self.gna_nS = params.gnabar_nS_per_um2 * area
        self.gk_nS = params.gkbar_nS_per_um2 * area
        k = self.nodes.size
        self.m, self.h, self.n = np.zeros(k), np.zeros(k), np.zeros(k)
        self._kin = _KINETICS[params.kinetics]
        self.use_table = bool(use_table)
        self._table = None
        self._table_dt = None

    def fastest_time_constant_ms(self, v_lo_mV: float = -100.0, v_hi_mV: float = 60.0) -> float:
        """Fastest gate time constant [ms] over ``v_lo_mV..v_hi_mV`` [mV] at this mechanism's
        temperature (see :func:`fastest_time_constant_ms`); the solver bounds dt with it."""
        return fastest_time_constant_ms(self.params, v_lo_mV, v_hi_mV)

    def init(self, V_mV: np.ndarray) -> None:
        """Set every gate to its steady state at the compartments' potentials [mV]."""
        _hh_init(self._kin, self.params.vt_mV, V_mV, self.nodes, self.m, self.h, self.n)

    def advance(self, V_mV, dt_ms, diag, rhs) -> None:
        """Advance the gates by dt [ms] at V [mV], then add conductances [nS] into ``diag`` and
        g*E [pA] into ``rhs`` (the linearised ionic current of the implicit step).

        With ``use_table`` (default) the steady states and the decay factors exp(-dt/tau) come
        from a table over -200..+200 mV every 0.02 mV, linearly interpolated (as NEURON's
        ``usetable``, which uses 1 mV steps); outside it they are computed exactly."""
        p = self.params
        if not self.use_table:
            _hh_advance(self._kin, p.vt_mV, p.phi, dt_ms, V_mV, self.nodes, self.m, self.h, self.n,
                        self.gna_nS, self.gk_nS, p.ena_mV, p.ek_mV, diag, rhs, 1.0)
            return
        if self._table is None or self._table_dt != dt_ms:
            nrow = int(round((TABLE_VMAX_MV - TABLE_VMIN_MV) / TABLE_DV_MV)) + 1
            self._table = _hh_table(self._kin, p.vt_mV, p.phi, dt_ms, TABLE_VMIN_MV, TABLE_DV_MV, nrow)
            self._table_dt = dt_ms
        _hh_advance_table(self._table, TABLE_VMIN_MV, 1.0 / TABLE_DV_MV, self._kin, p.vt_mV, p.phi, dt_ms, V_mV,
                          self.nodes, self.m, self.h, self.n, self.gna_nS, self.gk_nS, p.ena_mV, p.ek_mV, diag, rhs)

    def currents_pA(self, V_mV):
        """Na+ and K+ currents [pA] (outward positive) of each compartment at V [mV]."""
        v = np.asarray(V_mV)[self.nodes]
        p = self.params
        ina = self.gna_nS * self.m ** 3 * self.h * (v - p.ena_mV)
        ik = self.gk_nS * self.n ** 4 * (v - p.ek_mV)
        return ina, ik
