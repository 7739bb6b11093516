"""Unit tests of microsyn.channels and microsyn.gating: schemes, currents, bad input."""
import math

import numpy as np
import pytest

from microsyn.channels import (AMPA, CA_PERMEABLE, GABA_A, GIRK, NMDA, ChannelSpecError, ChannelType,
                               InvalidGeneratorError, MgBlock, NegativeConductanceError, NegativeRateError,
                               SelectivityError, TemperatureSpecError, UnknownIonError, chord_fractions,
                               q10_factor)
from microsyn.errors import ParameterError, UnknownSpeciesError
from microsyn.gating import (ConstantLigand, ExponentialLigand, MeanFieldGating, PulseLigand, StochasticGating,
                             TabulatedLigand)


def test_builtins_construct_and_generators_are_valid():
    for make in (AMPA, NMDA, GABA_A, GIRK, CA_PERMEABLE):
        ch = make()
        for L in (0.0, 1.0):
            Q = ch.generator(L, -70.0)
            assert np.allclose(Q.sum(axis=1), 0.0, atol=1e-12)
            off = Q - np.diag(np.diag(Q))
            assert np.all(off >= 0)


def test_ampa_jonas_scheme_has_seven_states_and_reverses_at_zero():
    ch = AMPA()
    assert ch.n_states == 7 and ch.open_states == ("O",)
    assert abs(ch.reversal_mV()) < 1e-9
    # 10 pS at -70 mV: -0.70 pA; Na+ enters, K+ leaves
    assert ch.open_current_pA(-70.0) == pytest.approx(-0.70, abs=1e-12)
    flux = ch.ion_flux_per_ms(-70.0)
    assert flux["Na+"] < 0 < flux["K+"]
    # net charge per ms = 0.70 pA * 6241.5
    assert -(flux["Na+"] + flux["K+"]) == pytest.approx(0.70 * 6241.509, rel=1e-6)


def test_nmda_mg_block_jahr_stevens_and_ca_fraction():
    ch = NMDA()
    # B(V) = 1/(1 + 1/3.57 exp(-0.062 V))
    for V in (-80.0, -40.0, 0.0, 20.0):
        assert ch.block(V) == pytest.approx(1.0 / (1.0 + math.exp(-0.062 * V) / 3.57), rel=1e-12)
    I = ch.ion_currents_pA(-70.0)
    assert I["Ca2+"] / sum(I.values()) == pytest.approx(0.10, abs=1e-9)
    assert abs(ch.reversal_mV()) < 1e-6
    assert NMDA(mg_mM=0.0).block(-70.0) == 1.0


def test_gaba_girk_ca_reversals():
    assert GABA_A().reversal_mV() == pytest.approx(-73.62, abs=0.05)  # Nernst Cl- 7/110 mM at 37 C
    assert GIRK().reversal_mV() == pytest.approx(-89.06, abs=0.05)
    assert CA_PERMEABLE().open_current_pA(-70.0) < 0
    # Cl- loading moves E_Cl up
    assert GABA_A().reversal_mV({"Cl-": (20.0, 110.0)}) > -50.0


def test_fixed_reversal_single_ion_channel():
    ch = ChannelType("na", ["C", "O"], [("C", "O", 1.0, 1), ("O", "C", 1.0)], ["O"], 10.0, {"Na+": 1.0},
                     E_rev_mV=0.0, q10=None)
    assert ch.ion_flux_per_ms(-70.0)["Na+"] == pytest.approx(-0.7 * 6241.509, rel=1e-6)


def test_from_matrix_and_equilibrium():
    Q = [[-2.0, 2.0], [0.5, -0.5]]
    ch = ChannelType.from_matrix("m", ["C", "O"], Q, ["O"], 5.0, {"K+": 1.0}, q10=None)
    p = ch.equilibrium(0.0)
    assert p == pytest.approx([0.2, 0.8])
    chl = ChannelType.from_matrix("m2", ["C", "O"], np.zeros((2, 2)), ["O"], 5.0, {"K+": 1.0},
                                  ligand_Q=[[-3.0, 3.0], [0.0, 0.0]], q10=None)
    assert chl.exit_rates(2.0)[0] == pytest.approx(6.0)


def test_chord_fractions():
    f = chord_fractions(["Na+", "K+"], 0.0)
    assert f["Na+"] == pytest.approx(0.5721, abs=1e-3)
    with pytest.raises(ParameterError):
        chord_fractions(["Na+", "K+"], 100.0)


# ------------------------------------------------------------------ bad input
def test_unknown_ion_in_selectivity():
    with pytest.raises(UnknownIonError, match="unknown ion 'Zn2\\+'"):
        ChannelType("x", ["C", "O"], [("C", "O", 1.0)], ["O"], 10.0, {"Zn2+": 1.0})
    assert issubclass(UnknownIonError, UnknownSpeciesError)


def test_negative_conductance_and_rates():
    with pytest.raises(NegativeConductanceError, match=">= 0"):
        ChannelType("x", ["C", "O"], [("C", "O", 1.0)], ["O"], -5.0, {"Na+": 1.0})
    with pytest.raises(NegativeRateError, match="must be finite and >= 0"):
        ChannelType("x", ["C", "O"], [("C", "O", -1.0)], ["O"], 5.0, {"Na+": 1.0})
    with pytest.raises(NegativeRateError):
        ChannelType("x", ["C", "O"], [("C", "O", float("nan"))], ["O"], 5.0, {"Na+": 1.0})
    with pytest.raises(NegativeRateError):
        AMPA(conductance_pS=10.0, transitions=[("C0", "C1", -4.59, 1)])


def test_invalid_generator_rows():
    with pytest.raises(InvalidGeneratorError, match="sums to"):
        ChannelType.from_matrix("bad", ["C", "O"], [[-1.0, 2.0], [0.5, -0.5]], ["O"], 5.0, {"K+": 1.0})
    with pytest.raises(InvalidGeneratorError, match="negative"):
        ChannelType.from_matrix("bad", ["C", "O"], [[1.0, -1.0], [0.5, -0.5]], ["O"], 5.0, {"K+": 1.0})
    with pytest.raises(InvalidGeneratorError, match="2x2"):
        ChannelType.from_matrix("bad", ["C", "O"], [[0.0]], ["O"], 5.0, {"K+": 1.0})
    with pytest.raises(InvalidGeneratorError):
        ChannelType("x", ["C", "O"], [("C", "C", 1.0)], ["O"], 5.0, {"Na+": 1.0})


def test_malformed_schemes_and_selectivity():
    with pytest.raises(ChannelSpecError, match="unknown state"):
        ChannelType("x", ["C", "O"], [("C", "Q", 1.0)], ["O"], 5.0, {"Na+": 1.0})
    with pytest.raises(ChannelSpecError, match="open state"):
        ChannelType("x", ["C", "O"], [("C", "O", 1.0)], ["X"], 5.0, {"Na+": 1.0})
    with pytest.raises(SelectivityError, match="sum to"):
        ChannelType("x", ["C", "O"], [("C", "O", 1.0)], ["O"], 5.0, {"Na+": 0.5, "K+": 0.2})
    with pytest.raises(SelectivityError):
        ChannelType("x", ["C", "O"], [("C", "O", 1.0)], ["O"], 5.0, {"Na+": -1.0, "K+": 2.0})
    with pytest.raises(ChannelSpecError):
        ChannelType("x", ["C", "C"], [("C", "C", 1.0)], ["C"], 5.0, {"Na+": 1.0})
    with pytest.raises(ChannelSpecError):
        MgBlock(mg_mM=-1.0)
    assert issubclass(ChannelSpecError, ParameterError)


# ------------------------------------------------------------------ gating
def test_ligands():
    p = PulseLigand(1.0, 1.0, 0.5)
    assert p.conc(1.2) == 1.0 and p.conc(1.6) == 0.0 and p.max_over(0.0, 1.1) == 1.0 and p.max_over(2, 3) == 0.0
    e = ExponentialLigand(3.0, 0.0, 0.5)
    assert e.max_over(0.5, 1.0) == pytest.approx(3.0 * math.exp(-1.0))
    tl = TabulatedLigand([0, 1, 2], [0, 2, 0])
    assert tl.max_over(0.2, 1.5) == 2.0 and tl.conc(0.5) == 1.0
    with pytest.raises(ParameterError):
        PulseLigand(-1.0)


def test_two_state_stochastic_matches_exponential_relaxation():
    # C <-> O with constant ligand: p_open(t) = p_inf (1 - exp(-t (a + b)))
    # (Destexhe et al. 1994 rates at 22 C, scaled to the simulated 37 C by Q10 = 3: both sides scaled)
    ch = GABA_A()
    assert ch.rate_factor == pytest.approx(3.0 ** 1.5, rel=1e-12)
    g = StochasticGating(ch, 4000, rng=5)
    ts, n_open, _ = g.run(1.0, ConstantLigand(0.1), record_dt=0.1)
    a, b = 5.0 * 0.1 * ch.rate_factor, 0.18 * ch.rate_factor
    p = a / (a + b) * (1 - np.exp(-(a + b) * ts))
    sd = np.sqrt(p * (1 - p) / 4000) + 1e-9
    assert np.max(np.abs(n_open / 4000 - p) / sd) < 4.5


def test_stochastic_advance_returns_step_function_and_thinning_is_exact_in_mean():
    ch = AMPA()
    g = StochasticGating(ch, 500, rng=2)
    times, n_open = g.advance(0.0, 0.5, ExponentialLigand(3.0, 0.0, 0.2))
    assert times[0] == 0.0 and np.all(np.diff(times) >= 0) and n_open[-1] == g.n_open
    assert g.counts.sum() == 500
    with pytest.raises(ParameterError):
        g.advance(0.2, 0.6, 1.0)


def test_mean_field_probabilities_sum_to_one():
    mf = MeanFieldGating(NMDA())
    _, occ = mf.solve(np.linspace(0, 20, 11), PulseLigand(1.0, 0.0, 1.0))
    assert np.allclose(occ.sum(axis=1), 1.0, atol=1e-7)
    assert occ[:, 3].max() > 0.1


def test_ca_current_follows_ghk_shape_and_matches_chord_at_reference():
    from microsyn.membrane import ghk_current_density

    ch = CA_PERMEABLE()
    V = np.array([-90.0, -70.0, -30.0, 0.0, 40.0])
    I = np.array([ch.open_current_pA(v) for v in V])
    ghk = np.array([ghk_current_density(1.0, 2, 1e-4, 2.0, v) for v in V])
    assert np.allclose(I / ghk, (I / ghk)[0], rtol=1e-9)  # proportional to the GHK current
    E_ca = ch.nernst_mV()["Ca2+"]
    assert ch.open_current_pA(-70.0) == pytest.approx(ch.g_nS * (-70.0 - E_ca), rel=1e-12)
    assert np.all(I < 0)  # Ca2+ enters at all these potentials (E_Ca ~ +132 mV)


def test_voltage_dependent_rates():
    ch = ChannelType("vd", ["C", "O"], [("C", "O", 1.0, 0, 25.0), ("O", "C", 1.0, 0, -25.0)], ["O"], 5.0,
                     {"K+": 1.0}, q10=None)
    r = ch.rates(0.0, 25.0)
    assert r[0] == pytest.approx(math.e) and r[1] == pytest.approx(1 / math.e)
    assert ch.equilibrium(0.0, 0.0)[1] == pytest.approx(0.5)
    with pytest.raises(ChannelSpecError):
        ChannelType("vd", ["C", "O"], [("C", "O", 1.0, 0, 0.0)], ["O"], 5.0, {"K+": 1.0})


def test_ampa_jonas_scheme_obeys_detailed_balance_on_its_cycles():
    """Microscopic reversibility (no energy input): around each cycle of the Jonas 1993 scheme the
    product of rates one way equals the product the other way (ligand factors cancel). The
    published rates satisfy it to 0.6 %; tolerance 1 %. (A rate transcribed in 1/s as 1/ms
    breaks it by 1000x.)"""
    from microsyn.channels import AMPA

    ch = AMPA()
    k = {}
    for tr in ch.transitions:
        k[(tr.src, tr.dst)] = tr.k

    def cycle_ratio(states):
        fwd = bwd = 1.0
        for a, b in zip(states, states[1:] + states[:1]):
            fwd *= k[(a, b)]
            bwd *= k[(b, a)]
        return fwd / bwd

    assert abs(cycle_ratio(["C1", "C2", "C4", "C3"]) - 1.0) < 0.01
    assert abs(cycle_ratio(["C2", "O", "C5", "C4"]) - 1.0) < 0.01


# ------------------------------------------------------------------ temperature (issue 8 item 7)
def test_q10_scales_builtin_rates_from_their_reference_temperature():
    """Reference: k(T) = k(T_ref) q10^((T - T_ref)/10) with the documented T_ref and Q10 of each
    built-in type (AMPA 22 C, 2.4; NMDA, GABA_A 22 C, 3; GIRK, Ca-permeable 37 C, 3); rtol 1e-12."""
    table = {"AMPA": (295.15, 2.4), "NMDA": (295.15, 3.0), "GABA_A": (295.15, 3.0), "GIRK": (310.15, 3.0),
             "Ca-permeable": (310.15, 3.0)}
    for make in (AMPA, NMDA, GABA_A, GIRK, CA_PERMEABLE):
        ch = make()
        T_ref, q = table[ch.name]
        assert ch.temperature_K == 310.15 and ch.reference_temperature_K == T_ref and ch.q10 == q
        k_tab = np.array([t.k for t in ch.transitions])  # published values, at T_ref
        for T in (295.15, 303.15, 310.15):
            c = ch.at_temperature(T)
            f = q ** ((T - T_ref) / 10.0)
            assert c.rate_factor == pytest.approx(f, rel=1e-12)
            r = c.rates(1.0, -70.0)  # L = 1 mM: binding rates equal their k
            assert np.allclose(r, k_tab * f, rtol=1e-12)
            Q = c.generator(1.0)
            assert np.allclose(Q, ch.at_temperature(T_ref).generator(1.0) * f, rtol=1e-12)
            assert c.g_nS == ch.g_nS  # q10_conductance = 1 for the built-ins
    # AMPA at 37 C runs 2.4^1.5 = 3.72 times faster than the 22 C table
    assert AMPA().rate_factor == pytest.approx(3.718, abs=1e-3)
    assert q10_factor(3.0, 295.15, 305.15) == pytest.approx(3.0, rel=1e-12)


def test_q10_conductance_scales_g_and_the_open_current():
    """Reference: g(T) = g(T_ref) q10_g^((T - T_ref)/10); the open current scales with it (rtol 1e-12)."""
    ch = AMPA(q10_conductance=1.5)
    f = 1.5 ** 1.5
    assert ch.g_nS == pytest.approx(0.010 * f, rel=1e-12)
    assert ch.open_current_pA(-70.0) == pytest.approx(-0.70 * f, rel=1e-9)
    assert ch.at_temperature(295.15).g_nS == pytest.approx(0.010, rel=1e-12)


def test_gating_uses_the_temperature_scaled_rates():
    """Reference: closing of an open two-state channel with no ligand, p_open(t) = exp(-b f t) with
    b = 0.18 /ms (GABA_A, 22 C) and f = 3^1.5 at 37 C; mean field within 1e-6, the stochastic
    ensemble (4000 channels, seed 3) within 4.5 binomial standard errors."""
    ts = np.linspace(0.0, 3.0, 7)
    for T in (295.15, 310.15):
        ch = GABA_A(temperature_K=T)
        b = 0.18 * 3.0 ** ((T - 295.15) / 10.0)
        _, occ = MeanFieldGating(ch, initial_state="O").solve(ts, 0.0)
        assert np.allclose(occ[:, 1], np.exp(-b * ts), atol=1e-6)
        g = StochasticGating(ch, 4000, rng=3, initial_state="O")
        _, n_open, _ = g.run(3.0, 0.0, record_dt=0.5)
        p = np.exp(-b * ts)
        sd = np.sqrt(p * (1 - p) / 4000) + 1e-9
        assert np.max(np.abs(n_open / 4000 - p) / sd) < 4.5


def test_user_defined_type_must_state_its_temperature_scaling():
    """Issue 8 item 7: a user type gives q10 and reference_temperature_K, or q10=None explicitly."""
    args = ("x", ["C", "O"], [("C", "O", 1.0, 1), ("O", "C", 1.0)], ["O"], 10.0, {"Na+": 1.0})
    with pytest.raises(TemperatureSpecError, match="q10=None"):
        ChannelType(*args)
    with pytest.raises(TemperatureSpecError, match="reference_temperature_K"):
        ChannelType(*args, q10=3.0)
    with pytest.raises(TemperatureSpecError, match="not Celsius"):
        ChannelType(*args, q10=3.0, reference_temperature_K=22.0)
    with pytest.raises(TemperatureSpecError):
        ChannelType(*args, q10=-2.0, reference_temperature_K=295.15)
    with pytest.raises(TemperatureSpecError, match="no temperature scaling"):
        ChannelType(*args, q10=None, reference_temperature_K=295.15)
    assert issubclass(TemperatureSpecError, ChannelSpecError)
    none = ChannelType(*args, q10=None)
    assert none.rate_factor == 1.0 and none.at_temperature(295.15).rates(1.0)[0] == 1.0
    ok = ChannelType(*args, q10=2.0, reference_temperature_K=300.15)
    assert ok.rates(1.0)[0] == pytest.approx(2.0, rel=1e-12)  # 310.15 K is 10 K above
    assert ok.with_(conductance_pS=5.0).q10 == 2.0  # with_ keeps the scaling
