"""Validation: EPSP amplitude and summation against an isopotential analytic model.

Reference (Rall 1967, doi:10.1152/jn.1967.30.5.1138; Koch 1999, ch. 1): a single isopotential
compartment, C dV/dt = -g_L (V - E_L) - g_syn(t) (V - E_syn), solved exactly for g_syn piecewise
constant (:func:`microsyn.synapse.isopotential_epsp`), with g_syn(t) = N g_unit p_open(t) from the
mean-field Jonas 1993 AMPA scheme (E_syn = 0 mV, the chord reversal of its Na+/K+ selectivity).

The coupled simulation (channels on the membrane, ions counted, current injected into the
membrane solver at 10 us steps, V explicit over a step) must give the same EPSP:
- mean-field gating, expected current: peak amplitude within 1 %, the whole trace within 0.05 mV;
- temporal summation (two pulses 3 ms apart) and spatial summation (two synapses together, a
  sublinear sum because the driving force shrinks): peaks within 1 % of the analytic model;
- stochastic gating with ion-carried current (shot noise): 400 channels, peak within 10 %.
"""
import numpy as np

from microsyn.channels import AMPA
from microsyn.gating import MeanFieldGating, PulseLigand
from microsyn.membrane import MembraneSolver, cable
from microsyn.synapse import Synapse, SynapticCoupling, isopotential_epsp

DT = 0.01
T_END = 15.0


def _cell():
    # one compartment: area pi 20 um x 20 um = 1257 um^2, C = 12.6 pF, g_L = 0.63 nS (tau 20 ms)
    solver = MembraneSolver(cable(20.0, 20.0, 1), dt_ms=DT)
    solver.init(-70.0)
    return solver


def _analytic(ligand, n_channels):
    ch = AMPA()
    ts = np.arange(0.0, T_END + 1e-9, DT)
    sub = np.arange(0.0, T_END + 1e-9, DT / 4)
    _, occ = MeanFieldGating(ch).solve(sub, ligand)
    po = occ[:, ch.open_mask].sum(axis=1)
    g = n_channels * ch.g_nS * po
    solver = _cell()
    C = solver.graph.capacitance_pF[0]
    gl = solver.graph.g_leak_nS[0]
    g_mid = np.r_[0.5 * (g[:-1] + g[1:]), 0.0]  # g held on each sub-interval at its mean
    V = isopotential_epsp(sub, g_mid, 0.0, C, gl, -70.0)
    return ts, np.interp(ts, sub, V)


def _simulated(ligands, n_channels, gating="mean", current="mean", seed=0):
    solver = _cell()
    cpl = SynapticCoupling(solver, current=current, seed=seed)
    syns = [cpl.add_synapse(Synapse(AMPA(), n_channels, node=0, ligand=lig, gating=gating)) for lig in ligands]
    cpl.run(T_END)
    tr = syns[0].trace()
    return np.r_[0.0, tr["time_ms"]], np.r_[-70.0, tr["V_mV"]]


def test_single_epsp_matches_isopotential_model():
    lig = PulseLigand(1.0, 0.5, 1.0)
    ts, Va = _analytic(lig, 100)
    t, V = _simulated([lig], 100)
    amp_a, amp = Va.max() + 70.0, V.max() + 70.0
    print(f"EPSP peak: simulated {amp:.4f} mV, analytic {amp_a:.4f} mV")
    assert 1.0 < amp_a < 10.0
    assert abs(amp / amp_a - 1) < 0.01
    assert np.max(np.abs(V - np.interp(t, ts, Va))) < 0.05


def test_temporal_and_spatial_summation_match_isopotential_model():
    two = PulseLigand([1.0, 1.0], [0.5, 3.5], [1.0, 1.0])
    ts, Va = _analytic(two, 100)
    _, V = _simulated([two], 100)
    assert abs((V.max() + 70) / (Va.max() + 70) - 1) < 0.01
    one = PulseLigand(1.0, 0.5, 1.0)
    _, V1 = _analytic(one, 100)
    ts2, Va2 = _analytic(one, 200)  # two identical synapses at once = twice the conductance
    _, V2 = _simulated([one, one], 100)
    assert abs((V2.max() + 70) / (Va2.max() + 70) - 1) < 0.01
    # sublinear: less than twice one EPSP (driving force), more than one
    assert (V1.max() + 70) < (V2.max() + 70) < 2 * (V1.max() + 70)
    # temporal summation: the second EPSP rides on the first
    assert Va.max() > V1.max()


def test_stochastic_gating_with_ion_current_gives_the_same_epsp_on_average():
    lig = PulseLigand(1.0, 0.5, 1.0)
    ts, Va = _analytic(lig, 400)
    _, V = _simulated([lig], 400, gating="stochastic", current="ions", seed=3)
    assert abs((V.max() + 70) / (Va.max() + 70) - 1) < 0.10
