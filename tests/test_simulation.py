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


def test_event_time_maps_to_first_step_not_before_it():
    sim = _box_sim()
    seen = []
    sim.schedule(2.5e-5, lambda s: seen.append(s.step))
    sim.run(1e-4)
    assert seen == [3]


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
    with pytest.raises(ParameterError, match="whole number of steps"):
        sim.add_recorder(ms.Count("Na+"), trigger=1.5e-5)
        sim.run(1e-5)


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


@pytest.mark.parametrize("kw", [
    {"dt": 0}, {"dt": -1e-6}, {"dt": float("nan")}, {"dt": float("inf")},
    {"dt": 1e-6, "seed": -3}, {"dt": 1e-6, "gaussian": "box-muller"},
    {"dt": 1e-6, "D": {"Na+": -1.0}}, {"dt": 1e-6, "D": {"Na+": float("nan")}},
    {"dt": 1e-6, "D": {"Na+": 0.0}}, {"dt": 1e-6, "threads": 0},
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
