"""The presynaptic terminal: Ca2+ channel types, the bouton, site windows, bad input.

References: the GHK current equation (Goldman 1943; Hodgkin & Katz 1949); the equivalence of a
Hodgkin-Huxley m^2 gate and its three-state chain (Hodgkin & Huxley 1952; Hille 2001 ch. 2);
Borst & Sakmann 1998 (the presynaptic Ca2+ current flows mostly during the AP's repolarisation).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import microsyn as ms
from microsyn.channels import ghk_current_pA
from microsyn.errors import GeometryError, ParameterError
from microsyn.gating import MeanFieldGating
from microsyn.presynaptic import (CA_CHANNEL_TYPES, SensorSites, Terminal, borst_sakmann_1998, li_2007,
                                  regular_train, schneggenburger_neher_2000, spike_train)
from microsyn.units import CHARGES_PER_MS_PER_PA, FARADAY_C_PER_MOL


# ------------------------------------------------------------------ channel types
def test_ghk_current_closed_form_at_zero_and_far_negative():
    """GHK (Hodgkin & Katz 1949): at V = 0 the current is -P z F (c_out - c_in) (the limit), and at
    -150 mV with no Ca2+ inside it is P z^2 F^2 V / (RT) c_out e^{-u} / (1 - e^{-u}), written out
    here with math only; both to 1e-9 relative."""
    from microsyn.units import thermal_voltage

    P = 1e-12
    i0 = float(ghk_current_pA(0.0, 2, 1e-4, 2.0, P))
    assert i0 == pytest.approx(-P * 2 * FARADAY_C_PER_MOL * (2.0 - 1e-4) * 1e6, rel=1e-9)
    V, z, c_out = -150.0, 2, 2.0
    u = z * V / thermal_voltage(310.15)
    expected = P * FARADAY_C_PER_MOL * 1e6 * z * u * (-c_out * math.exp(-u)) / (1.0 - math.exp(-u))
    assert float(ghk_current_pA(V, z, 0.0, c_out, P)) == pytest.approx(expected, rel=1e-9)
    assert expected < 0  # inward


@pytest.mark.parametrize("name", sorted(CA_CHANNEL_TYPES))
def test_unitary_current_in_published_range_near_ap_peak(name):
    """Tolerance: the 0.1-0.3 pA reported at 2 mM external Ca2+ near the AP peak (+10 to +30 mV)
    holds for every built-in type; outward current is impossible below the reversal."""
    ch = CA_CHANNEL_TYPES[name]()
    conc = {"Ca2+": (5e-5, 2.0)}
    for V in (10.0, 20.0, 30.0):
        i = ch.open_current_pA(V, conc)
        assert -0.3 <= i <= -0.1, (V, i)
    assert ch.open_current_pA(-80.0, conc) < ch.open_current_pA(0.0, conc) < 0.0


def test_borst_sakmann_chain_is_an_m_squared_gate():
    """Hodgkin-Huxley equivalence: the chain's open probability after a voltage step is m(t)^2 with
    m(t) = m_inf + (m_0 - m_inf) exp(-t / tau_m), alpha = 1.78 e^{V/23.3}, beta = 0.14 e^{-V/15}
    (times the Q10 factor), to 1e-6."""
    ch = borst_sakmann_1998()
    q = ch.rate_factor
    a = lambda V: q * 1.78 * math.exp(V / 23.3)  # noqa: E731
    b = lambda V: q * 0.140 * math.exp(-V / 15.0)  # noqa: E731
    V0, V1 = -80.0, 10.0
    m0 = a(V0) / (a(V0) + b(V0))
    p0 = np.array([(1 - m0) ** 2, 2 * m0 * (1 - m0), m0 ** 2])
    mf = MeanFieldGating(ch)
    mf.p = p0.copy()
    ts = np.linspace(0.05, 1.0, 8)
    _, occ = mf.solve(ts, 0.0, V1)
    minf, tau = a(V1) / (a(V1) + b(V1)), 1.0 / (a(V1) + b(V1))
    m = minf + (m0 - minf) * np.exp(-ts / tau)
    np.testing.assert_allclose(occ[:, ch.index("O")], m ** 2, rtol=1e-6, atol=1e-9)


def test_li_2007_types_activate_at_high_voltage_only():
    """High-voltage activated (Li et al. 2007; Hille 2001): steady open probability below 1 % at
    -40 mV and above 50 % at +10 mV for P/Q, N and R."""
    for kind in ("P/Q", "N", "R"):
        ch = li_2007(kind)
        O = ch.index("O")
        assert ch.equilibrium(0.0, -40.0)[O] < 0.01
        assert ch.equilibrium(0.0, 10.0)[O] > 0.5
    with pytest.raises(ParameterError, match="P/Q"):
        li_2007("L")


def test_permeability_bad_input():
    with pytest.raises(Exception, match="permeability"):
        borst_sakmann_1998(permeability_cm3_per_s=-1e-12)
    with pytest.raises(Exception, match="not in the selectivity"):
        borst_sakmann_1998(permeability_cm3_per_s={"Na+": 1e-12})


# ------------------------------------------------------------------ trains
def test_spike_trains_checked():
    assert np.allclose(regular_train(50.0, 3, 1.0), [1.0, 21.0, 41.0])
    with pytest.raises(ParameterError, match="increase"):
        spike_train([5.0, 3.0])
    with pytest.raises(ParameterError, match="refractory"):
        spike_train([1.0, 1.5])
    with pytest.raises(ParameterError, match="finite"):
        spike_train([1.0, float("nan")])
    with pytest.raises(ParameterError, match="frequency"):
        regular_train(1000.0, 3)


# ------------------------------------------------------------------ site windows
def _site_sim(windows, seed=4, n=1500):
    R = 0.2
    sim = ms.Simulation(ms.Domain(ms.Sphere((0, 0, 0), R, name="b")), dt=5e-5, seed=seed)
    sim.add_species("Ca2+", D=0.22)
    rng = np.random.default_rng(1)
    p = rng.normal(size=(n, 3))
    p = 0.3 * R * p / np.linalg.norm(p, axis=1)[:, None] * rng.uniform(0, 1, (n, 1)) ** (1 / 3) + [0, 0, -0.1]
    sim.add_particles("Ca2+", p)
    th = np.arange(8)
    S = SensorSites(sim, schneggenburger_neher_2000(), np.c_[0.02 * np.cos(th), 0.02 * np.sin(th), np.full(8, -0.1)],
                    refill_per_ms=2.0)
    # a saturable pump on the wall, and a field buffer (the Ca2+ ions' clocks run in the windows)
    from microsyn.reactions.buffers import ca_buffer
    from microsyn.species import Species

    sim.add_species(Species("pump", 0, 1, 1), D=0.0)
    sim.add_species(Species("Capump", 2, 1, 1), D=0.0)
    sim.add_species(Species("Cax", 2, 1, 1), D=0.0)
    v = rng.normal(size=(40, 3))
    sim.add_sites("pump", (1 - 1e-9) * R * v / np.linalg.norm(v, axis=1)[:, None])
    sim.add_reaction(ms.Reaction("Ca2+ + pump <-> Capump", rate=2000.0, reverse_rate=1.0))
    sim.add_reaction(ms.Reaction("Capump -> pump + Cax", rate=5.0))
    buf = ca_buffer("EGTA")
    sim.use_field_lattice(voxel_size=0.05, lo=(-R, -R, -R), hi=(R, R, R))
    sim.add_species(buf.free, kind="field")
    sim.add_species(buf.bound, kind="field")
    sim.fill(buf.free.name, 2.0)
    sim.add_reaction(buf.reaction)
    sim.reactions.site_windows = windows
    return sim, S


def _state(sim):
    ps = sim.particles
    o = np.argsort(ps.pid)
    return (np.c_[ps.x, ps.y, ps.z][o], ps.pid[o], ps.species[o], dict(sim.reaction_counts),
            sim.fields.concentration(sim.fields.names[1]).copy())


def test_site_windows_equal_the_per_step_pass_bitwise():
    """Windows with zone stops (every pair joins a particle and a fixed site) give the per-step
    pass's result bit for bit: positions, ids, species, reaction counts and fields; and a run cut
    into pieces equals one run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, Sa = _site_sim(False)
        a.run(800 * 5e-5)
        b, Sb = _site_sim(True)
        b.run(800 * 5e-5)
        c, Sc = _site_sim(True)
        c.run(300 * 5e-5)
        c.run(500 * 5e-5)
    sa, sb, sc = _state(a), _state(b), _state(c)
    assert sum(v for k, v in sa[3].items()) > 20  # something happened: bindings, pumping, buffering
    assert sa[3]["Capump -> pump + Cax"] > 0 and sa[3]["Ca2+ + pump <-> Capump"] > 0
    for x, y in ((sa, sb), (sa, sc)):
        np.testing.assert_array_equal(x[0], y[0])
        np.testing.assert_array_equal(x[1], y[1])
        np.testing.assert_array_equal(x[2], y[2])
        assert x[3] == y[3]
        np.testing.assert_array_equal(x[4], y[4])
    np.testing.assert_array_equal(Sa.fusion_times(), Sb.fusion_times())
    assert b.stats["kernel_calls"] < a.stats["kernel_calls"] / 3


# ------------------------------------------------------------------ the terminal
@pytest.fixture(scope="module")
def small_run():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        T = Terminal(radius_um=0.3, active_zone_radius_um=0.1, spike_times_ms=(0.1,), seed=3)
        T.add_channels(li_2007("P/Q"), [(0.0, 0.0), (0.02, 0.0), (0.0, 0.02), (-0.02, -0.01)])
        T.add_vesicles([(0.03, 0.03), (-0.04, 0.0)], schneggenburger_neher_2000())
        T.add_buffer("EGTA", 0.1)
        T.run(1.6)
    return T


def test_terminal_ap_opens_channels_and_ca_current_follows_repolarisation(small_run):
    """Borst & Sakmann 1998: the AP's Ca2+ current peaks after the AP peak (during the
    repolarisation, when the driving force grows while the channels are still open)."""
    T = small_run
    tv, V = T.voltage()
    t, I, n_open = T.ca_current()
    assert V.max() > 20.0  # an AP reached the bouton
    assert n_open.max() >= 2
    assert I.min() < 0.0
    assert t[np.argmin(I)] > tv[np.argmax(V)]


def test_terminal_ca_ions_are_the_current(small_run):
    """Charge conservation (current="ions"): the Ca2+ ions that came in are the charge of the
    injected Ca2+ current, -sum(I dt) * 6241.5 / 2, exactly."""
    T = small_run
    t, I, _ = T.ca_current()
    dt = T.coupling.dt_ms
    assert T.ca_entered() > 50
    assert round(-float(np.sum(I)) * dt * CHARGES_PER_MS_PER_PA / 2) == T.ca_entered()


def test_terminal_bad_input():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        T = Terminal(radius_um=0.3, active_zone_radius_um=0.1, spike_times_ms=(0.1,))
    with pytest.raises(GeometryError, match="off the active zone"):
        T.add_channels(li_2007(), [(0.2, 0.0)])
    T.add_channels(li_2007(), [(0.0, 0.0)])
    with pytest.raises(GeometryError, match="inside the channel"):
        T.add_vesicles([(0.002, 0.0)], schneggenburger_neher_2000())
    with pytest.raises(ParameterError, match="voltage-gated Ca2"):
        T.add_channels(ms.channels.AMPA(), [(0.01, 0.01)])
    with pytest.raises(ParameterError, match="refill"):
        T.add_vesicles([(0.05, 0.0)], schneggenburger_neher_2000(), refill_per_ms=-1.0)
    with pytest.raises(GeometryError, match="smaller than the bouton"):
        Terminal(radius_um=0.3, active_zone_radius_um=0.4)
    with pytest.raises(ParameterError, match="increase"):
        Terminal(spike_times_ms=(5.0, 1.0))
    with pytest.raises(ParameterError, match="drive"):
        Terminal(drive="magic")


def test_terminal_release_readouts(small_run):
    """Every fusion is a release event with its time, contact point on the active zone and
    transmitter count (the sensor has no basal fusion, so every one follows the spike)."""
    T = small_run
    ev = T.release_events()
    fus = T.fusion_times()
    assert len(ev) == fus.size
    assert T.release_per_spike().tolist() == [fus.size]
    for t, p, n in ev:
        assert n == 3000
        assert abs(np.linalg.norm(p) - T.radius_um) < 1e-9 and p[2] < 0  # on the zone's membrane
    with pytest.raises(ParameterError, match="two spikes"):
        T.paired_pulse_ratio()
    with pytest.raises(ParameterError, match="whole number"):
        T.add_vesicles([(0.05, 0.05)], schneggenburger_neher_2000(), transmitter_per_vesicle=-3)


def test_terminal_ap_clamp_follows_its_waveform():
    """drive="clamp": the bouton's voltage follows the prescribed AP (a stiff clamp, backward
    Euler): its peak within 1 mV of the table's, at the table's time after the spike (one
    electrical step)."""
    t_ap = np.linspace(0.0, 1.0, 101)
    V_ap = -70.0 + 100.0 * np.exp(-((t_ap - 0.3) / 0.1) ** 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        T = Terminal(radius_um=0.3, active_zone_radius_um=0.1, spike_times_ms=(0.2,), drive="clamp",
                     ap_table=(t_ap, V_ap), seed=2)
        T.add_channels(borst_sakmann_1998(), [(0.0, 0.0)])
        T.run(1.0)
    tv, V = T.voltage()
    assert abs(V.max() - V_ap.max()) < 1.0
    assert abs(tv[np.argmax(V)] - 0.5) <= 0.011
    assert V[0] == pytest.approx(-70.0, abs=0.5)
    with pytest.raises(ParameterError, match="ap_table"):
        Terminal(drive="clamp", ap_table=([0.0, 1.0], [1.0]))


def test_terminal_fixed_buffer_as_immobile_fields():
    """A fixed (immobile, D = 0) buffer as lattice fields: the fields take steps for their
    reactions only (no diffusion limit), mass is conserved (ions in = free + bound + at the
    sensors), and the buffer takes up ions."""
    from microsyn.reactions.buffers import CaBuffer
    from microsyn.reactions.spec import Reaction
    from microsyn.species import Species

    free = Species("Fix", -2, 0.1, 0.1)
    bound = Species("CaFix", 0, 0.1, 0.1)
    fixed = CaBuffer(free, bound, Reaction("Ca2+ + Fix <-> CaFix", rate=100.0, reverse_rate=1.0), k_on=100.0,
                     k_off=1.0, K_d_mM=0.01, reference="a test buffer")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        T = Terminal(radius_um=0.3, active_zone_radius_um=0.1, spike_times_ms=(0.1,), seed=5, resting_ions=False)
        T.add_channels(li_2007("P/Q"), [(0.0, 0.0), (0.02, 0.0)])
        T.add_buffer(fixed, 1.0, fixed=True)
        T.run(1.2)
    f = T.sim.fields
    assert f.max_stable_dt() == math.inf  # nothing diffuses
    bound_n = float(f.concentration("CaFix").sum() / f.molecule_mM)
    assert abs(bound_n - round(bound_n)) < 1e-6  # whole molecules (mass conserved to round-off)
    assert T.ca_entered() > 20
    assert T.sim.reaction_counts["Ca2+ + Fix <-> CaFix"] > 0 and round(bound_n) > 0
    assert T.sim.count("Ca2+") + round(bound_n) == T.ca_entered()


def test_builders_and_pumps():
    """The builders make what their docstrings say; pumps sit on the membrane outside the zone at
    their density (Poisson number, within 4 SD), and take up Ca2+ ions."""
    from microsyn.presynaptic import calyx_active_zone, poisson_train, small_hippocampal_bouton

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = small_hippocampal_bouton(spike_times_ms=(0.1,))
        c = calyx_active_zone()
    assert (b.radius_um, b.active_zone_radius_um, len(b.channels), b.vesicles[0].n) == (0.3, 0.11, 10, 7)
    assert (c.radius_um, c.active_zone_radius_um, len(c.channels), c.vesicles[0].n) == (1.0, 0.2, 20, 10)
    d = b.coupling_distances_um()
    assert d.shape == (7, 10) and d.min() > 0.015  # every vesicle about 20 nm outside the cluster
    area = 4 * math.pi * 0.3 ** 2 - math.pi * 0.11 ** 2
    n = b.add_pump(density_per_um2=200.0)
    assert abs(n - 200.0 * area) < 4 * math.sqrt(200.0 * area)
    pumps = b.sim.positions("pump")
    assert np.allclose(np.linalg.norm(pumps, axis=1), 0.3, atol=1e-6)
    assert np.all(np.linalg.norm(pumps - (0, 0, -0.3), axis=1) > 0.11)
    with pytest.raises(ParameterError, match="pumps already"):
        b.add_pump()
    b.sim.fill("Ca2+", 0.05)  # 50 uM of ions [mM], to see the pumps bind
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b.run(0.3)
    assert b.sim.reaction_counts["Ca2+ + pump <-> Capump"] > 0
    t = poisson_train(50.0, 200.0, seed=3)
    assert np.all(np.diff(t) >= 2.0) and 3 <= t.size <= 20


def test_implicit_and_explicit_buffer_fields_give_the_same_nanodomain_binding():
    """The terminal's default implicit field step (backward Euler, D dt / h^2 = 1) against the
    explicit one (0.9 of the FTCS limit) through one AP clamp at 5 channels with 1 mM EGTA on
    20 nm voxels, same seed: the Ca2+ that came in is the same (the channels do not see the
    fields), and the Ca-bound EGTA and the free ions left after 1.5 ms agree within 2 % (the
    schemes differ by O(dt) in how fast the buffer refills near the channels; measured: equal
    to 0.1 molecule)."""
    out = {}
    for scheme in ("explicit", "implicit"):
        T = Terminal(radius_um=0.3, active_zone_radius_um=0.1, spike_times_ms=(0.1,), drive="clamp",
                     field_scheme=scheme, seed=5)
        T.add_channels(borst_sakmann_1998(), [(0, 0), (0.02, 0), (0, 0.02), (-0.02, 0), (0, -0.02)])
        T.add_buffer("EGTA", 1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            T.run(1.5, progress=False)
        out[scheme] = (T.ca_entered(), T.sim.fields.total_molecules("CaEGTA"), T.sim.count("Ca2+"),
                       T.sim.reactions.field_schedule()[0])
    ex, im = out["explicit"], out["implicit"]
    assert ex[0] == im[0] > 500
    assert im[1] == pytest.approx(ex[1], rel=0.02) and ex[1] > 200
    assert im[2] == pytest.approx(ex[2], rel=0.02)
    assert im[3] > 5 * ex[3]  # the implicit field steps are over 5 times longer
    with pytest.raises(ParameterError, match="field_scheme"):
        Terminal(radius_um=0.3, active_zone_radius_um=0.1, field_scheme="spectral")
