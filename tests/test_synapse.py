"""Unit tests of microsyn.synapse: placement, co-stepping, bookkeeping, readouts, bad input."""
import numpy as np
import pytest

import microsyn as ms
from microsyn.channels import AMPA, GABA_A, ChannelType
from microsyn.errors import GeometryError, ParameterError
from microsyn.gating import PulseLigand
from microsyn.membrane import MembraneSolver, NoMembraneError, cable
from microsyn.synapse import Synapse, SynapticCoupling, TransmitterParticles, isopotential_epsp


def hemisphere(b=1.0):
    dom = ms.Domain(ms.Sphere((0, 0, 0), b, name="far"), holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    dom.set_boundary("far", "absorb")
    return dom


def always_open(ion="Na+", g=10.0, E=0.0):
    return ChannelType("open", ["C", "O"], [("C", "O", 0.0), ("O", "C", 0.0)], ["O"], g, {ion: 1.0}, E_rev_mV=E,
                       q10=None)


def test_placement_off_membrane_raises_geometry_error():
    solver = MembraneSolver(cable(10.0, 2.0, 1), dt_ms=0.01)
    sim = ms.Simulation(hemisphere(), dt=1e-4, species=["Na+"], seed=1)
    cpl = SynapticCoupling(solver, sim)
    with pytest.raises(GeometryError, match="from the membrane"):
        cpl.add_synapse(Synapse(AMPA(), 1, at=(0, 0, 0.3), node=0, membrane="membrane", ligand=0.0))
    with pytest.raises(GeometryError, match="from the domain's boundary"):
        cpl.add_synapse(Synapse(AMPA(), 1, at=(0, 0, 0.3), node=0, ligand=0.0))
    with pytest.raises(GeometryError, match="normal"):
        cpl.add_synapse(Synapse(AMPA(), 1, at=(0, 0, 0), node=0, normal=(0, 0, -1), ligand=0.0))
    with pytest.raises(NoMembraneError):
        cpl.add_synapse(Synapse(AMPA(), 1, at=(0, 0, 0), node=5, ligand=0.0))
    with pytest.raises(GeometryError, match="no membrane shape"):
        cpl.add_synapse(Synapse(AMPA(), 1, at=(0, 0, 0), node=0, membrane="nope", ligand=0.0))


def test_bad_coupling_parameters():
    solver = MembraneSolver(cable(10.0, 2.0, 1), dt_ms=0.01)
    with pytest.raises(ParameterError, match="must equal the solver"):
        SynapticCoupling(solver, dt_ms=0.02)
    sim = ms.Simulation(hemisphere(), dt=3e-4, species=["Na+"], seed=1)
    with pytest.raises(ParameterError, match="whole number of particle steps"):
        SynapticCoupling(solver, sim)
    with pytest.raises(ParameterError):
        SynapticCoupling(solver, current="both")
    with pytest.raises(ParameterError):
        Synapse(AMPA(), 0, node=0)
    with pytest.raises(ParameterError, match="compartment"):
        Synapse(AMPA(), 1)
    with pytest.raises(ParameterError):
        Synapse(AMPA(), 1, node=0, gating="quantum")


def test_charge_conservation_exact_in_ions_mode_with_particles():
    solver = MembraneSolver(cable(20.0, 2.0, 2), dt_ms=0.01)
    sim = ms.Simulation(hemisphere(0.5), dt=1e-4, species=["Na+"], seed=2)
    cpl = SynapticCoupling(solver, sim)
    syn = cpl.add_synapse(Synapse(AMPA(), 10, at=(0, 0, 0), node=0, ligand=PulseLigand(1.0, 0.05, 0.5)))
    cpl.run(1.0)
    # every emitted ion is in the injected current and vice versa
    assert cpl.charge_injected_e == pytest.approx(syn.charge_in_e, abs=1e-6)
    # Na+ particles: entered = alive + absorbed at the far boundary
    assert syn.ions_in["Na+"] == sim.count("Na+") + sim.absorbed_count(species="Na+")
    assert syn.ions_in["Na+"] > 0 and syn.ions_out["K+"] > 0  # K+ left (counted: no extracellular side)
    tr = syn.trace()
    assert len(tr["time_ms"]) == 100 and tr["V_mV"].max() > -70.0


def test_mean_current_mode_agrees_with_ions_within_poisson_error():
    solver = MembraneSolver(cable(20.0, 2.0, 2), dt_ms=0.01)
    cpl = SynapticCoupling(solver, current="mean", seed=4)
    syn = cpl.add_synapse(Synapse(AMPA(), 20, node=0, ligand=PulseLigand(1.0, 0.0, 1.0)))
    cpl.run(4.0)
    q_ions = syn.charge_in_e
    q_current = cpl.charge_injected_e
    n = sum(syn.ions_in.values()) + sum(syn.ions_out.values())
    assert abs(q_ions - q_current) < 4.0 * np.sqrt(n)


@pytest.mark.filterwarnings("ignore:dt = ")
def test_transmitter_particles_drive_gating():
    glu = ms.Species("glutamate", 0, 0.76, 0.33)
    dom = ms.Domain(ms.Box((-0.5, -0.5, -0.02), (0.5, 0.5, 0.0), name="cleft"))
    sim = ms.Simulation(dom, dt=1e-5, species=["Na+", glu], seed=3, allow_large_dt=True)
    sim.release("glutamate", 3000, at=(0, 0, -0.01))
    lig = TransmitterParticles("glutamate", center=(0, 0, 0), radius_um=0.05, hemisphere_normal=(0, 0, -1))
    solver = MembraneSolver(cable(10.0, 2.0, 1), dt_ms=0.01)
    cpl = SynapticCoupling(solver, sim)
    syn = cpl.add_synapse(Synapse(AMPA(), 50, at=(0, 0, 0), node=0, normal=(0, 0, -1), ligand=lig,
                                  membrane=None))
    cpl.run(0.2)
    assert lig.count > 0 and lig.conc_mM > 0.1
    assert max(syn.trace()["n_open"]) > 0


def test_shell_readouts_and_mean_field_gating():
    solver = MembraneSolver(cable(20.0, 2.0, 2), dt_ms=0.01)
    sim = ms.Simulation(hemisphere(0.5), dt=1e-4, species=["Cl-"], seed=2)
    cpl = SynapticCoupling(solver, sim)
    syn = cpl.add_synapse(Synapse(GABA_A(), 20, at=(0, 0, 0), node=0, gating="mean",
                                  ligand=PulseLigand(1.0, 0.0, 1.0), concentrations={"Cl-": (4.0, 110.0)}))
    rec = sim.add_recorder(syn.shell_recorder("Cl-", 0.5, 5), trigger=0.1)
    cpl.run(0.5)
    counts, conc = syn.shell_counts(sim, "Cl-", [0, 0.1, 0.2, 0.5])
    assert counts.sum() > 0 and conc[0] > conc[-1]
    assert rec.counts.shape[1] == 5
    assert syn.trace()["p_open"].max() > 0.3


def test_nernst_feedback_raises_local_chloride_and_e_cl():
    solver = MembraneSolver(cable(20.0, 2.0, 1), dt_ms=0.01)
    solver.add_voltage_clamp(0, [0.0], [-40.0], g_series_nS=1e4)
    sim = ms.Simulation(hemisphere(0.3), dt=1e-4, species=["Cl-"], seed=2)
    cpl = SynapticCoupling(solver, sim)
    syn = cpl.add_synapse(Synapse(always_open("Cl-", 200.0, None) if False else
                                  ChannelType("clopen", ["C", "O"], [("C", "O", 0.0), ("O", "C", 0.0)], ["O"],
                                              100.0, {"Cl-": 1.0}, q10=None),
                                  10, at=(0, 0, 0), node=0, initial_state="O", nernst_feedback=True,
                                  feedback_radius_um=0.05, concentrations={"Cl-": (1.0, 110.0)}))
    cpl.run(0.5)
    E = syn.trace()["E_rev_mV"]
    assert syn.local_concentrations["Cl-"][0] > 2.0  # loaded above the 1 mM background
    assert E[-1] > E[0] + 5.0  # E_Cl moved up: the driving force shrinks


def test_isopotential_reference_solution():
    t = np.linspace(0, 500, 5001)
    V = isopotential_epsp(t, 1.0, 0.0, 100.0, 5.0, -70.0)
    # steady state: (gL EL + g Es) / (gL + g)
    assert V[-1] == pytest.approx((5.0 * -70.0) / 6.0, abs=1e-3)


def test_start_then_sim_run_advances_the_coupling():
    solver = MembraneSolver(cable(20.0, 2.0, 2), dt_ms=0.01)
    sim = ms.Simulation(hemisphere(0.5), dt=1e-4, species=["Na+"], seed=2)
    cpl = SynapticCoupling(solver, sim)
    syn = cpl.add_synapse(Synapse(AMPA(), 5, at=(0, 0, 0), node=0, ligand=PulseLigand(1.0, 0.0, 1.0)))
    cpl.start()
    sim.run(0.5)
    assert len(syn.trace()["time_ms"]) == 50 and solver.t_ms == pytest.approx(0.5)
    with pytest.raises(ParameterError):
        cpl.add_synapse(Synapse(AMPA(), 1, at=(0, 0, 0), node=0, ligand=0.0))


def test_docstring_examples():
    import doctest

    import microsyn.channels
    import microsyn.gating
    import microsyn.synapse

    for mod in (microsyn.channels, microsyn.gating, microsyn.synapse):
        assert doctest.testmod(mod).failed == 0


def test_emitted_particle_charge_vs_integral_of_expected_current_within_poisson_error():
    """current="mean": the electrical model gets n_open g (V - E); the particles emitted carry the
    same charge within Poisson error (every ion is in the current and vice versa, on average)."""
    solver = MembraneSolver(cable(20.0, 2.0, 2), dt_ms=0.01)
    sim = ms.Simulation(hemisphere(0.5), dt=1e-4, species=["Na+"], seed=9)
    cpl = SynapticCoupling(solver, sim, current="mean")
    syn = cpl.add_synapse(Synapse(AMPA(), 10, at=(0, 0, 0), node=0, ligand=PulseLigand(1.0, 0.0, 1.0)))
    cpl.run(2.0)
    n_na = syn.ions_in["Na+"]
    assert n_na == sim.count("Na+") + sim.absorbed_count(species="Na+")  # all are particles
    n = n_na + syn.ions_out["K+"]
    assert n > 10_000
    assert abs(syn.charge_in_e - cpl.charge_injected_e) < 4.0 * np.sqrt(n)


def test_nmda_mg_block_in_the_coupling():
    from microsyn.channels import NMDA

    def current(V):
        solver = MembraneSolver(cable(10.0, 10.0, 1), dt_ms=0.01, method="be")
        solver.add_voltage_clamp(0, [0.0], [V], g_series_nS=1e5)
        solver.init(V)
        cpl = SynapticCoupling(solver, current="mean")
        syn = cpl.add_synapse(Synapse(NMDA(), 10, node=0, initial_state="O", gating="mean",
                                      ligand=1.0))
        cpl.run(0.1)
        return syn.trace()["I_per_open_channel_pA"][-1], syn

    i70, syn70 = current(-70.0)
    i30, syn30 = current(-30.0)
    ch = NMDA()
    assert i70 == pytest.approx(ch.open_current_pA(-70.0), rel=1e-3)
    # unblocking with depolarisation: -30 mV passes more current than -70 mV despite less drive
    assert abs(i30) > abs(i70)
    assert syn70.ions_in["Ca2+"] > 0 and syn70.ions_in["Na+"] > syn70.ions_in["Ca2+"]


def test_ligand_gated_synapse_without_ligand_raises_missing_ligand_error():
    """Issue 8 item 3: 20 AMPA channels with no ligand used to carry 0 ions for 5 ms and move V by
    1e-9 mV without a word. Reference: the scheme, whose every path to O starts with a binding step
    (rate k L), so with L = 0 no channel can open. Now Synapse refuses; ``ligand=0.0`` says it on
    purpose, and a channel type without binding steps needs no ligand."""
    from microsyn.synapse import MissingLigandError

    assert issubclass(MissingLigandError, ParameterError)
    with pytest.raises(MissingLigandError, match="ligand=PulseLigand"):
        Synapse(AMPA(), 20, node=0)
    with pytest.raises(MissingLigandError):
        Synapse(GABA_A(), 5, node=0, gating="mean")
    # explicit "no transmitter": allowed, and indeed nothing opens (exactly 0 ions)
    cpl = SynapticCoupling(MembraneSolver(cable(20.0, 2.0, 2), dt_ms=0.01), seed=1)
    syn = cpl.add_synapse(Synapse(AMPA(), 20, node=0, ligand=0.0))
    cpl.run(5.0)
    assert syn.ions_in["Na+"] == 0 and syn.trace()["n_open"].max() == 0
    # no binding step in the scheme: no ligand needed
    Synapse(always_open("Na+"), 1, node=0, initial_state="O")


@pytest.mark.parametrize("damp_steps", [2, 0])
def test_channel_opening_does_not_ring_crank_nicolson(damp_steps):
    """A channel opening is a step in the current. Reference: at the injection node of a passive
    cable the response to a step is concave (dV/dt = sum of decaying exponentials with positive
    weights), so the increments of V after the opening must not grow. With damping (backward-Euler
    half steps, as the solver does at clamp onsets) they do not; undamped Crank-Nicolson on this
    stiff cable (1 um compartments, dt = 0.05 ms) zigzags."""
    solver = MembraneSolver(cable(200.0, 0.5, 200), dt_ms=0.05, damp_steps=damp_steps)
    opener = ChannelType("opener", ["C", "O"], [("C", "O", 2.0), ("O", "C", 0.0)], ["O"], 50.0, {"Na+": 1.0},
                         E_rev_mV=0.0, q10=None)
    cpl = SynapticCoupling(solver, current="mean", seed=2)
    syn = cpl.add_synapse(Synapse(opener, 1, node=100))
    cpl.run(5.0)
    tr = syn.trace()
    k = int(np.argmax(tr["n_open"] > 0))
    assert 0 < k < len(tr["n_open"]) - 8, "the channel should open inside the run"
    dV = np.diff(tr["V_mV"][k:k + 10])  # increments from the first full step after the opening
    zigzag = np.any(np.diff(dV) > 1e-9 * np.abs(dV).max())
    assert zigzag == (damp_steps == 0), dV


def _coupled_event(max_window_steps=1000, recorder=False, seed=3):
    solver = MembraneSolver(cable(100.0, 1.0, 20), dt_ms=0.01)
    solver.init(-70.0)
    dom = ms.Domain(ms.Sphere((0, 0, 0), 0.6, name="far"), holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    dom.set_boundary("far", "absorb")
    sim = ms.Simulation(dom, dt=2e-3, species=["Na+"], seed=seed)
    cpl = SynapticCoupling(solver, sim, max_window_steps=max_window_steps)
    syn = cpl.add_synapse(Synapse(AMPA(), 10, at=(0, 0, 0), node=0, membrane="membrane",
                                  ligand=PulseLigand(1.0, 0.1, 0.6)))
    cpl.add_synapse(Synapse(AMPA(), 5, at=(0.2, 0, 0), node=3, membrane="membrane",
                            ligand=PulseLigand(1.0, 0.35, 0.3)))
    probe = cpl.add_voltage_probe(5)
    if recorder:
        sim.add_recorder(ms.Count("Na+"), trigger=0.034)  # off the electrical grid: cuts windows mid-step
    return cpl, syn, probe


def _coupled_state(cpl, syn, probe):
    ids, pos = cpl.sim.ids_and_positions()
    tr = syn.trace()
    return dict(ids=ids, pos=pos, V=cpl.solver.V.copy(), probe=np.asarray(probe.V_mV), time=list(cpl.time_ms),
                charge=cpl.charge_injected_e, ions_in=syn.ions_in, ions_out=syn.ions_out,
                absorbed=dict(cpl.sim.absorbed), **{f"trace_{k}": np.asarray(v) for k, v in tr.items()})


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], np.ndarray):
            assert np.array_equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k


@pytest.mark.parametrize("recorder", [False, True], ids=["plain", "with_recorder"])
def test_coupled_run_in_pieces_equals_one_run_and_windows_change_nothing(recorder):
    """Reference: one cpl.run(a + b) with one electrical step per coupling event
    (max_window_steps=1, the event-by-event semantics). The same run cut into pieces
    (run(a); run(b); run(c)) and with windows of many electrical steps per kernel call give the
    same ions, positions, voltages and synapse traces bit for bit, also with a recorder whose
    times fall inside electrical steps (it cuts the windows)."""
    ref = _coupled_event(max_window_steps=1, recorder=recorder)
    ref[0].run(1.2)
    want = _coupled_state(*ref)
    assert want["trace_n_open"].max() > 0 and len(want["ids"]) > 0 and sum(want["absorbed"].values()) > 0
    one = _coupled_event(recorder=recorder)
    one[0].run(1.2)
    _assert_same(want, _coupled_state(*one))
    parts = _coupled_event(recorder=recorder)
    for d in (0.37, 0.05, 0.78):
        parts[0].run(d)
    _assert_same(want, _coupled_state(*parts))
    # windows did happen: far fewer kernel calls than one per electrical step
    assert ref[0].sim.stats["kernel_calls"] >= 100
    if not recorder:
        assert one[0].sim.stats["kernel_calls"] < 0.2 * ref[0].sim.stats["kernel_calls"]


def _observed(max_window_steps):
    cpl, syn, _ = _coupled_event(max_window_steps=max_window_steps)
    sim = cpl.sim
    seen = []
    sim.schedule(0.25, lambda s: seen.append(("event", s.time, cpl.solver.t_ms, float(cpl.solver.V[0]))))

    class Rec:
        trigger = ms.At([0.502, 0.7])

        def record(self, s):
            seen.append(("recorder", s.time, cpl.solver.t_ms, float(cpl.solver.V[0])))

    sim.add_recorder(Rec())
    cpl.run(0.8)
    return cpl, seen


def test_coupling_windows_stop_at_events_and_recorders():
    """Reference: the event-by-event coupling (max_window_steps=1). A callback event and a
    recorder see the solver's time and voltage exactly as there, although the coupling otherwise
    works many electrical steps ahead of the particles; between runs the solver is at the
    Simulation's time and nothing may run ahead."""
    cpl1, seen1 = _observed(1)
    cpl, seen = _observed(1000)
    assert seen == seen1 and len(seen) == 3
    assert seen[1][1] == pytest.approx(0.502, abs=1e-12) and seen[1][2] == pytest.approx(0.5, abs=1e-12)
    assert cpl.solver.t_ms == pytest.approx(cpl.sim.time, abs=1e-12)
    assert cpl.sim.horizon_step() == cpl.sim.step


def test_coupling_window_parameter_is_checked():
    solver = MembraneSolver(cable(10.0, 2.0, 1), dt_ms=0.01)
    with pytest.raises(ParameterError, match="max_window_steps"):
        SynapticCoupling(solver, max_window_steps=0)


def test_coupled_simulation_run_alone_before_start_is_refused():
    """A Simulation whose synapse coupling has not started has no ion births drawn: running it
    alone raises ParameterError that says to use SynapticCoupling.run or start() (rather than
    silently emitting nothing)."""
    cpl, _, _ = _coupled_event()
    with pytest.raises(ParameterError, match="SynapticCoupling.run"):
        cpl.sim.run(0.1)
    cpl.start()
    cpl.sim.run(0.1)  # after start() the Simulation advances the coupling too
    assert cpl.solver.t_ms == pytest.approx(0.1, abs=1e-12)


def test_channels_on_an_internal_membrane_emit_on_both_sides():
    """A zero-thickness membrane plane z = 0 with the domain on both sides: Na+ entering is
    emitted at the cytoplasmic mouth (z > 0), K+ leaving at the extracellular one (z < 0), and
    each stays on its side."""
    mem = ms.HalfSpace((0, 0, 0), (0, 0, 1), name="mem")  # :in is z > 0, the cytoplasm
    dom = ms.Domain(ms.Sphere((0, 0, 0), 0.5, name="far"), membranes=[mem])
    dom.set_boundary("far", "absorb")
    solver = MembraneSolver(cable(20.0, 2.0, 2), dt_ms=0.01)
    sim = ms.Simulation(dom, dt=1e-4, species=["Na+", "K+"], seed=3)
    cpl = SynapticCoupling(solver, sim)
    na = cpl.add_synapse(Synapse(always_open("Na+", E=50.0), 5, at=(0, 0, 0), node=0, membrane="mem",
                                 initial_state="O"))
    k = cpl.add_synapse(Synapse(always_open("K+", E=-90.0), 5, at=(0.1, 0, 0), node=0, membrane="mem",
                                initial_state="O"))
    cpl.run(0.5)
    assert na.ions_in["Na+"] > 50 and k.ions_out["K+"] > 50
    assert sim.count("K+") + sim.absorbed_count(species="K+") == k.ions_out["K+"]
    assert np.all(sim.positions("Na+")[:, 2] > 0) and np.all(sim.positions("K+")[:, 2] < 0)
    assert sim.absorbed_count("mem:in") == 0 and sim.absorbed_count("mem:out") == 0
