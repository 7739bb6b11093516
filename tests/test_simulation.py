"""The simulation loop: events, recorders, sources, determinism and bad input."""
import math

import numba
import numpy as np
import pytest

import microsyn as ms
from microsyn.errors import (
    DomainEscapeError,
    GeometryError,
    ParameterError,
    TimeStepError,
    UnknownSpeciesError,
)


def _box_sim(**kw):
    kw.setdefault("seed", 1)
    return ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1), name="box"), dt=1e-5, species=["Na+"], **kw)


def test_events_run_in_phase_order_then_scheduling_order():
    sim = _box_sim()
    log = []

    class Ev:
        def __init__(self, t, phase, tag):
            self.time, self.phase, self.tag = t, phase, tag

        def apply(self, s):
            log.append((round(s.time, 9), self.tag))

    for tag, phase in [("b1", "bookkeeping"), ("s1", "stimulus"), ("r1", "release"), ("g1", "gating"), ("s2", "stimulus")]:
        sim.schedule(Ev(2e-5, phase, tag))
    sim.schedule(Ev(1e-5, "bookkeeping", "early"))
    sim.run(5e-5)
    assert log == [(1e-5, "early"), (2e-5, "s1"), (2e-5, "s2"), (2e-5, "g1"), (2e-5, "r1"), (2e-5, "b1")]


def test_event_time_on_the_grid_maps_to_its_step():
    """Reference: time = step x dt; 3 x 1e-5 computed in floating point is on the grid."""
    sim = _box_sim()
    seen = []
    sim.schedule(3 * 1e-5, lambda s: seen.append(s.step))
    sim.schedule(0.1e-4 + 0.2e-4, lambda s: seen.append(s.step))  # 3.0000000000000004e-05
    sim.run(1e-4)
    assert seen == [3, 3]


def test_off_grid_times_raise_everywhere_with_the_nearest_valid_times():
    """One rule for every time a user gives (events, releases, source windows, recorder times,
    intervals and starts, run durations): a whole number of steps within 1e-9 relative, else
    OffGridTimeError naming the two nearest valid times. Reference: dt = 1e-5 ms, so 2.5e-5 ms lies
    between steps 2 and 3 (2e-05 and 3e-05 ms)."""
    from microsyn.events import GRID_RTOL, OffGridTimeError

    near = r"between steps 2 and 3\); use 2e-05 or 3e-05 ms"
    sim = _box_sim()
    with pytest.raises(OffGridTimeError, match=near):
        sim.schedule(2.5e-5, lambda s: None)
    with pytest.raises(OffGridTimeError, match=near):
        sim.release("Na+", n=10, at=(0.5, 0.5, 0.5), time=2.5e-5)
    with pytest.raises(OffGridTimeError, match="start of flux source.*" + near):
        sim.add_source(ms.FluxSource("Na+", rate=10.0, at=(0.5, 0.5, 0.5), start=2.5e-5))
    with pytest.raises(OffGridTimeError, match="stop of flux source.*" + near):
        sim.add_source(ms.FluxSource("Na+", rate=10.0, at=(0.5, 0.5, 0.5), stop=2.5e-5))
    with pytest.raises(OffGridTimeError, match="trigger interval.*" + near):
        sim.add_recorder(ms.Count("Na+"), trigger=2.5e-5)
    with pytest.raises(OffGridTimeError, match="trigger start.*" + near):
        sim.add_recorder(ms.Count("Na+"), trigger=ms.Every(1e-5, start=2.5e-5))
    with pytest.raises(OffGridTimeError, match="trigger time.*" + near):
        sim.add_recorder(ms.Count("Na+"), trigger=[1e-5, 2.5e-5])
    with pytest.raises(OffGridTimeError, match="run duration.*" + near):
        sim.run(2.5e-5)
    assert sim.step == 0 and len(sim.queue) == 0 and not sim.recorders  # nothing half-added
    # within the tolerance counts as on the grid; just beyond it does not
    sim.run(3e-5 * (1 + 0.5 * GRID_RTOL))
    assert sim.step == 3
    with pytest.raises(OffGridTimeError):
        sim.run(3e-5 * (1 + 10 * GRID_RTOL))
    # an end condition is not a time at which something happens: run_until stops at the first
    # step not before it, and sim.time says where
    sim.run_until(5.5e-5)
    assert sim.step == 6 and sim.time == pytest.approx(6e-5, rel=1e-12)


def test_recorders_see_state_after_events_and_run_on_their_trigger():
    sim = _box_sim()
    sim.release("Na+", n=10, at=(0.5, 0.5, 0.5), time=2e-5)
    c = sim.add_recorder(ms.Count("Na+"), trigger=1e-5)
    sim.run(4e-5)
    np.testing.assert_allclose(c.times_ms, [0, 1e-5, 2e-5, 3e-5, 4e-5])
    assert c.data.tolist() == [0, 0, 10, 10, 10]


def test_past_events_and_bad_triggers_are_refused():
    sim = _box_sim()
    sim.run(1e-4)
    with pytest.raises(ParameterError, match="before the current time"):
        sim.schedule(5e-5, lambda s: None)
    with pytest.raises(ParameterError, match="whole number of time steps"):
        sim.add_recorder(ms.Count("Na+"), trigger=1.5e-5)


def _run_positions(threads, record_every, seed=3, gaussian="table"):
    sim = ms.Simulation(ms.Box((0, 0, 0), (0.5, 0.5, 0.5)), dt=1e-5, species=["Na+", "K+"], seed=seed,
                        threads=threads, gaussian=gaussian)
    sim.add_particles("Na+", np.random.default_rng(0).uniform(0, 0.5, (30000, 3)))
    sim.add_source(ms.FluxSource("K+", rate=2e4, at=(0.25, 0.25, 0.0)))
    if record_every:
        sim.add_recorder(ms.Count("K+"), trigger=record_every)
    sim.run(2e-3)
    ids, pos = sim.ids_and_positions()
    return ids, pos


@pytest.mark.parametrize("gaussian", ["table", "exact"])
def test_seed_gives_identical_results_whatever_threads_and_recorder_schedule(gaussian):
    """Bitwise-identical trajectories for 1 or 2 threads and for different stretch lengths."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 Numba threads")
    ids1, p1 = _run_positions(1, None, gaussian=gaussian)
    ids2, p2 = _run_positions(2, 7e-5, gaussian=gaussian)
    assert np.array_equal(ids1, ids2)
    assert np.array_equal(p1, p2)
    _, p3 = _run_positions(2, None, seed=4, gaussian=gaussian)
    assert not np.array_equal(p1, p3)


def test_flux_source_emits_poisson_numbers_at_its_rate():
    """Mean emitted count = rate x duration within 4 SE (Poisson)."""
    sim = _box_sim()
    sim.add_source(ms.FluxSource("Na+", rate=5000.0, at=(0.5, 0.5, 0.0), start=1e-4, stop=2.1e-3))
    sim.run(3e-3)
    expected = 5000.0 * 2e-3
    assert abs(sim.count("Na+") - expected) < 4 * math.sqrt(expected)


def test_flux_source_from_current():
    src = ms.FluxSource.from_current("Na+", current_pA=-0.7, valence=1, at=(0, 0, 0))
    assert src.rate == pytest.approx(0.7 * 6241.509, rel=1e-6)


def test_uniform_fill_places_expected_count_inside():
    sim = ms.Simulation(ms.Sphere((0, 0, 0), 0.2), dt=1e-6, species=["Ca2+"], seed=2)
    sim.fill("Ca2+", conc_mM=0.01)
    sim.run(0)
    expected = 0.01 * 4 / 3 * math.pi * 0.2**3 * 602214.076
    assert abs(sim.count("Ca2+") - expected) < 0.02 * expected + 2
    assert np.all(np.linalg.norm(sim.positions("Ca2+"), axis=1) <= 0.2)


def test_time_step_too_large_for_geometry_is_refused_or_warned():
    cleft = ms.Slab(0.0, 0.02, half_width=0.5)
    sim = ms.Simulation(cleft, dt=1e-3, species=["Na+"])
    sim.add_particles("Na+", [(0, 0, 0.01)])
    with pytest.raises(TimeStepError, match="use dt <="):
        sim.run(1e-3)
    sim2 = ms.Simulation(cleft, dt=1e-3, species=["Na+"], allow_large_dt=True)
    sim2.add_particles("Na+", [(0, 0, 0.01)])
    with pytest.warns(UserWarning, match="allow_large_dt"):
        sim2.run(1e-3)


def test_D_zero_means_immobile_particles():
    """D = 0 is allowed on purpose (fixed binding sites): such particles never move."""
    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-6, species=["Na+"], D={"Na+": 0.0}, seed=1)
    pts = np.random.default_rng(0).uniform(0, 1, (100, 3))
    sim.add_particles("Na+", pts)
    sim.run(1e-4)
    np.testing.assert_array_equal(sim.positions("Na+"), pts)


@pytest.mark.parametrize("kw", [
    {"dt": 0}, {"dt": -1e-6}, {"dt": float("nan")}, {"dt": float("inf")},
    {"dt": 1e-6, "seed": -3}, {"dt": 1e-6, "gaussian": "box-muller"},
    {"dt": 1e-6, "D": {"Na+": -1.0}}, {"dt": 1e-6, "D": {"Na+": float("nan")}},
    {"dt": 1e-6, "threads": 0},
])
def test_bad_simulation_parameters(kw):
    with pytest.raises(ParameterError):
        ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), species=["Na+"], **kw)


def test_unknown_species_and_sources_outside():
    sim = _box_sim()
    with pytest.raises(UnknownSpeciesError, match="unknown species"):
        sim.add_particles("Xe+", [(0.5, 0.5, 0.5)])
    with pytest.raises(GeometryError, match="outside the domain"):
        sim.add_particles("Na+", [(2.0, 0.5, 0.5)])
    with pytest.raises(GeometryError, match="outside the domain"):
        sim.release("Na+", n=10, at=(0.5, 0.5, -0.1))
    with pytest.raises(GeometryError, match="outside the domain"):
        sim.add_source(ms.FluxSource("Na+", rate=10, at=(0.5, 1.5, 0.5)))
    with pytest.raises(ParameterError):
        sim.release("Na+", n=-5, at=(0.5, 0.5, 0.5))
    with pytest.raises(ParameterError):
        sim.release("Na+", n=2.5, at=(0.5, 0.5, 0.5))
    with pytest.raises(ParameterError):
        ms.FluxSource("Na+", rate=float("nan"), at=(0, 0, 0))
    with pytest.raises(ParameterError):
        sim.add_particles("Na+", [(0.5, float("nan"), 0.5)])


def test_escape_check_raises_on_a_leaked_particle():
    sim = _box_sim()
    sim.add_particles("Na+", [(0.5, 0.5, 0.5)])
    sim.particles._x[0] = 3.0  # simulate a leak
    with pytest.raises(DomainEscapeError, match="outside the domain"):
        sim.assert_no_escapes()


def test_absorbed_particles_are_booked_per_surface_and_species():
    inf = math.inf
    dom = ms.Domain(ms.Box((-inf, -inf, 0.0), (inf, inf, 1.0), name="slab"))
    dom.set_boundary("slab.zmin", "absorb").set_boundary("slab.zmax", "transmit")
    sim = ms.Simulation(dom, dt=1e-4, species=["Na+"], D={"Na+": 1.0}, seed=1)
    sim.add_particles("Na+", np.tile([0, 0, 0.5], (2000, 1)))
    sim.run(2.0)
    a = sim.absorbed_count("slab.zmin")
    t = sim.transmitted.get(("slab.zmax", "Na+"), 0)
    assert a + t + sim.count("Na+") == 2000
    assert abs(a - t) < 4 * math.sqrt(2000 * 0.25)  # symmetric start: equal odds


def test_species_table_and_user_species():
    glu = ms.Species("glutamate", valence=-1, D_water=0.76, D_cytoplasm=0.33, c_in=10.0)
    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-6, species=[glu, "Ca2+"])
    assert sim.D("glutamate") == 0.33
    assert sim.D("Ca2+") == pytest.approx(0.223)
    with pytest.raises(ParameterError):
        ms.Species("bad", valence=1, D_water=-1.0, D_cytoplasm=0.1)
    with pytest.raises(ParameterError):
        ms.Species("bad", valence=0.5, D_water=1.0, D_cytoplasm=0.1)
    with pytest.raises(ParameterError):
        ms.Species("bad", valence=1, D_water=1.0, D_cytoplasm=0.1, c_in=float("nan"))


def test_units_table():
    u = ms.units
    assert u.PARTICLES_PER_UM3_PER_MM == pytest.approx(602214.076)
    assert u.CHARGES_PER_MS_PER_PA == pytest.approx(6241.509, rel=1e-6)
    assert u.thermal_voltage(310.15) == pytest.approx(26.727, abs=1e-3)
    assert u.current_to_ion_rate(-0.7, 1) == pytest.approx(-4369.06, rel=1e-5)
    with pytest.raises(ParameterError):
        u.thermal_voltage(-1)


# ---------------------------------------------------------------------------- progress bar (item 20)
def _progress_run(progress, capsys=None):
    sim = ms.Simulation(ms.Box((0, 0, 0), (0.5, 0.5, 0.5)), dt=1e-5, species=["Na+", "K+"], seed=5)
    sim.add_particles("Na+", np.random.default_rng(1).uniform(0, 0.5, (3000, 3)))
    sim.add_source(ms.FluxSource("K+", rate=2e4, at=(0.25, 0.25, 0.0)))
    c = sim.add_recorder(ms.Count("K+"), trigger=5e-4)
    sim.run(3e-3, progress=progress)
    ids, pos = sim.ids_and_positions()
    return ids, pos, c.data, dict(sim.stats)


def test_progress_bar_never_changes_results(capsys, monkeypatch):
    """Reference: the same run without a bar, bitwise. The bar cuts the run into stretches of at
    least MIN_STEPS steps (forced to 7 here to cut it often)."""
    from microsyn.simulation import _Progress

    monkeypatch.setattr(_Progress, "MIN_STEPS", 7)
    monkeypatch.setattr(_Progress, "TARGET_S", 1e-9)  # as short as allowed: many stretches
    monkeypatch.setattr(_Progress, "DELAY_S", 0.0)
    monkeypatch.setattr(_Progress, "REDRAW_S", 0.0)
    ids0, pos0, c0, st0 = _progress_run(False)
    assert capsys.readouterr().err == ""
    ids1, pos1, c1, st1 = _progress_run(True)
    err = capsys.readouterr().err
    assert np.array_equal(ids0, ids1) and np.array_equal(pos0, pos1) and np.array_equal(c0, c1)
    physical = ("reflections", "rejected_steps", "ended")  # slow_steps/resolved count work per stretch
    assert {k: st0[k] for k in physical} == {k: st1[k] for k in physical}
    # what the bar shows: simulated time of the total, particles alive
    assert "microsyn run" in err and "t = 0.003/0.003 ms" in err
    n_end = len(ids1)
    assert "3,000 particles]" in err and f"{n_end:,} particles]" in err and n_end > 3000


def test_progress_bar_is_off_when_stderr_is_not_a_terminal_or_when_asked(capsys, monkeypatch):
    from microsyn.simulation import _Progress, _progress_wanted

    monkeypatch.setattr(_Progress, "DELAY_S", 0.0)
    _progress_run(None)  # pytest's captured stderr is not a terminal
    assert capsys.readouterr().err == ""

    class Tty:
        def isatty(self):
            return True

        def write(self, s):
            pass

        def flush(self):
            pass

    monkeypatch.setattr("sys.stderr", Tty())
    monkeypatch.delenv("MICROSYN_PROGRESS", raising=False)
    assert _progress_wanted(None) is True
    assert _progress_wanted(False) is False
    monkeypatch.setenv("MICROSYN_PROGRESS", "0")
    assert _progress_wanted(None) is False
    assert _progress_wanted(True) is True


# ---------------------------------------------------------------------------- checkpoints (item 21)
def _checkpoint_sim():
    dom = ms.Domain(ms.Sphere((0, 0, 0), 0.6, name="far"),
                    holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    dom.set_boundary("far", "absorb")
    sim = ms.Simulation(dom, dt=1e-5, species=["Na+", "K+"], seed=11)
    sim.add_particles("Na+", np.random.default_rng(2).uniform(-0.3, 0.3, (2000, 3)) * [1, 1, 0] + [0, 0, 0.2])
    sim.add_source(ms.FluxSource("K+", rate=3e4, at=(0.0, 0.0, 0.0), start=2e-4, stop=1.5e-3))
    sim.release("Na+", n=50, at=(0.1, 0.0, 0.1), time=1.2e-3)
    prof = sim.add_recorder(ms.RadialProfile("K+", center=(0, 0, 0), r_max=0.5, n_bins=5,
                                             hemisphere_normal=(0, 0, 1)), trigger=2e-4)
    return sim, prof


def test_simulation_checkpoint_resumes_bitwise(tmp_path):
    """Reference: one uninterrupted run(a + b) against run(a); save; load; run(b), bitwise: ids,
    positions, absorbed counts, records, stats (a pending release and a flux source across the
    checkpoint)."""
    a, b = 8e-4, 1.2e-3
    ref, ref_prof = _checkpoint_sim()
    ref.run(a + b)
    sim, _ = _checkpoint_sim()
    sim.run(a)
    path = sim.save(tmp_path / "sub" / "run.ckpt")
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["run.ckpt"]  # no temporary file left
    back = ms.Simulation.load(path)
    back.run(b)
    for (i0, p0), (i1, p1) in [(ref.ids_and_positions(), back.ids_and_positions())]:
        assert np.array_equal(i0, i1) and np.array_equal(p0, p1)
    assert back.absorbed == ref.absorbed and back.stats == ref.stats and back.step == ref.step
    prof = next(r for r in back.recorders if isinstance(r, ms.RadialProfile))
    assert np.array_equal(prof.counts, ref_prof.counts) and prof.times_ms == ref_prof.times_ms


def test_checkpoint_errors_are_specific(tmp_path):
    from microsyn.checkpoint import FORMAT_VERSION, MAGIC, CheckpointError

    sim, _ = _checkpoint_sim()
    with pytest.raises(CheckpointError, match="does not exist"):
        ms.Simulation.load(tmp_path / "nope.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a microsyn checkpoint"):
        ms.Simulation.load(tmp_path / "junk.ckpt")
    (tmp_path / "v9.ckpt").write_bytes(MAGIC + b'{"format_version": 9, "kind": "Simulation"}\n')
    with pytest.raises(CheckpointError, match=f"version 9.*reads version {FORMAT_VERSION}"):
        ms.Simulation.load(tmp_path / "v9.ckpt")
    path = sim.save(tmp_path / "ok.ckpt")
    with pytest.raises(CheckpointError, match="holds a 'Simulation', not a SynapticCoupling"):
        ms.SynapticCoupling.load(path)
    data = (tmp_path / "ok.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="damaged"):
        ms.Simulation.load(tmp_path / "cut.ckpt")
    sim.schedule(5e-5, lambda s: None)  # a lambda cannot be pickled
    with pytest.raises(CheckpointError, match="module-level functions"):
        sim.save(tmp_path / "lambda.ckpt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.ckpt", "junk.ckpt", "ok.ckpt", "v9.ckpt"]


def test_checkpoint_module_example_runs():
    import doctest

    import microsyn.checkpoint

    assert doctest.testmod(microsyn.checkpoint).failed == 0


def _coupled(with_sim: bool):
    from microsyn.channels import AMPA
    from microsyn.gating import PulseLigand
    from microsyn.membrane import MembraneSolver, cable
    from microsyn.synapse import Synapse, SynapticCoupling

    solver = MembraneSolver(cable(20.0, 2.0, 2), dt_ms=0.01)
    sim = None
    if with_sim:
        dom = ms.Domain(ms.Sphere((0, 0, 0), 0.5, name="far"),
                        holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
        dom.set_boundary("far", "absorb")
        sim = ms.Simulation(dom, dt=1e-4, species=["Na+"], seed=2)
    cpl = SynapticCoupling(solver, sim, seed=7)
    syn = cpl.add_synapse(Synapse(AMPA(), 10, at=(0, 0, 0), node=0, ligand=PulseLigand(1.0, 0.05, 0.5)))
    probe = cpl.add_voltage_probe(1)
    return cpl, syn, probe


@pytest.mark.parametrize("with_sim", [True, False], ids=["with_particles", "ions_counted"])
def test_synaptic_coupling_checkpoint_resumes_bitwise(tmp_path, with_sim):
    """Reference: one uninterrupted cpl.run(a + b) against run(a); save; load; run(b), bitwise:
    voltages, synapse traces (open channels, currents), injected charge, ion positions."""
    a, b = 0.3, 0.4
    ref, ref_syn, ref_probe = _coupled(with_sim)
    ref.run(a + b)
    cpl, _, _ = _coupled(with_sim)
    cpl.run(a)
    back = ms.SynapticCoupling.load(cpl.save(tmp_path / "cpl.ckpt"))
    back.run(b)
    syn = back.synapses[0]
    assert back.time_ms == ref.time_ms and back.charge_injected_e == ref.charge_injected_e
    assert np.array_equal(back.solver.V, ref.solver.V)
    t_ref, t = ref_syn.trace(), syn.trace()
    assert set(t) == set(t_ref)
    for k in t_ref:
        assert np.array_equal(np.asarray(t[k]), np.asarray(t_ref[k])), k
    assert max(t["n_open"]) > 0
    probe = back.solver.probes[ref.solver.probes.index(ref_probe)]
    assert np.array_equal(probe.time_ms, ref_probe.time_ms) and np.array_equal(probe.V_mV, ref_probe.V_mV)
    if with_sim:
        i0, p0 = ref.sim.ids_and_positions()
        i1, p1 = back.sim.ids_and_positions()
        assert np.array_equal(i0, i1) and np.array_equal(p0, p1) and len(i1) > 0
        assert back.sim.absorbed == ref.sim.absorbed


def test_coupling_progress_bar_never_changes_results(capsys, monkeypatch):
    """Reference: the same coupled runs without a bar, bitwise (with a Simulation the bar is the
    Simulation's; without one it counts electrical steps and shows open channels)."""
    from microsyn.simulation import _Progress

    monkeypatch.setattr(_Progress, "DELAY_S", 0.0)
    monkeypatch.setattr(_Progress, "REDRAW_S", 0.0)
    monkeypatch.setattr(_Progress, "MIN_STEPS", 3)
    monkeypatch.setattr(_Progress, "TARGET_S", 1e-9)
    for with_sim, shown in [(True, " particles]"), (False, " channels open]")]:
        runs = []
        for progress in (False, True):
            cpl, syn, _ = _coupled(with_sim)
            cpl.run(0.3, progress=progress)
            runs.append((np.array(syn.trace()["V_mV"]), np.array(syn.trace()["n_open"]), cpl.charge_injected_e,
                         cpl.sim.ids_and_positions()[1] if with_sim else None))
            err = capsys.readouterr().err
            assert (shown in err and "t = 0.3/0.3 ms" in err) if progress else err == ""
        (v0, o0, q0, p0), (v1, o1, q1, p1) = runs
        assert np.array_equal(v0, v1) and np.array_equal(o0, o1) and q0 == q1
        if with_sim:
            assert np.array_equal(p0, p1)


def test_checkpoint_holds_no_itertools_objects():
    """Pickling itertools objects is deprecated (Python 3.12) and gone in 3.14: the event queue's
    counter must be plain data for checkpoints to load on newer Pythons. Reference: the pickle
    stream names no itertools class."""
    import pickle

    sim, _ = _checkpoint_sim()
    sim.schedule(5e-5, _noop)
    sim.run(1e-4)
    assert b"itertools" not in pickle.dumps(sim, protocol=5)
    back = pickle.loads(pickle.dumps(sim.queue))
    assert back._seq == sim.queue._seq > 0


def _noop(sim):
    pass
