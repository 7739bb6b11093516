"""Release sensors as fixed sites bound by Ca2+ particles, against their master equation.

Reference: the sensor's master equation (microsyn.presynaptic.sensors, itself checked against
closed forms) driven by the free [Ca2+](t) the particle run had (recorded every 0.1 ms: the
sites take up Ca2+ as they bind it); the fused count at 1, 2 and 3 ms within 4 binomial
standard errors of 200 sensors (fixed seed).
"""
import math

import numpy as np
import pytest

import microsyn as ms
from microsyn.errors import ParameterError
from microsyn.presynaptic import SensorSites, lou_2005, schneggenburger_neher_2000
from microsyn.units import PARTICLES_PER_UM3_PER_MM


def test_sensor_sites_fuse_as_the_master_equation_of_the_calcium_they_meet():
    """Schneggenburger & Neher 2000 sensors at 200 random places in a 1 um box with 20 uM free
    Ca2+ particles (12,044 ions, D = 0.22 um^2/ms, dt = 0.5 us): binding by encounters, five
    sites, fusion with exact waiting times."""
    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=5e-4, species=["Ca2+"], seed=3)
    n_ca = int(round(20e-3 * PARTICLES_PER_UM3_PER_MM))
    rng = np.random.default_rng(1)
    sim.add_particles("Ca2+", rng.uniform(0, 1, (n_ca, 3)))
    scheme = schneggenburger_neher_2000()
    sensors = SensorSites(sim, scheme, rng.uniform(0.05, 0.95, (200, 3)))
    ts, free, fused = [0.0], [n_ca], [0]
    for _ in range(30):
        sim.run(0.1)
        ts.append(sim.time)
        free.append(sim.count("Ca2+"))
        fused.append(sensors.fused())
    # every ion is free, bound to an unfused sensor or held by a fused one
    bound = sum(i * sim.count(s) for i, s in enumerate(sensors.states))
    held = sum(int(s.rsplit("_", 1)[1]) * sim.count(s) for s in sensors.fused_states)
    assert free[-1] + bound + held == n_ca
    cc = np.array(free) / PARTICLES_PER_UM3_PER_MM * 1e3  # uM in the 1 um^3 box

    def ca(t):
        return float(np.interp(t, ts, cc))

    t, _, _, f = scheme.occupancy(ca, 3.0, dt_ms=1e-3, p0=np.eye(6)[0])
    for when in (1.0, 2.0, 3.0):
        p = float(np.interp(when, t, f))
        got = fused[int(round(when / 0.1))]
        assert abs(got - 200 * p) < 4 * math.sqrt(200 * p * (1 - p)), (when, got, 200 * p)
    assert fused[-1] > 50


def test_sensor_sites_refuse_bad_input_with_what_to_change():
    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-4, species=["Ca2+"], seed=1)
    with pytest.raises(ParameterError, match="SensorScheme"):
        SensorSites(sim, "lou", [[0.5, 0.5, 0.5]])
    with pytest.raises(ParameterError, match="add_species"):
        SensorSites(sim, lou_2005(), [[0.5, 0.5, 0.5]], ion="Mg2+")
    with pytest.raises(ParameterError, match="prefix"):
        SensorSites(sim, lou_2005(), [[0.5, 0.5, 0.5]], prefix="a b")
    with pytest.raises(ParameterError, match="state0"):
        SensorSites(sim, lou_2005(), [[0.5, 0.5, 0.5]], state0=6)
    with pytest.raises(ParameterError, match="at least one"):
        SensorSites(sim, lou_2005(), np.zeros((0, 3)))
    with pytest.raises(ms.GeometryError, match="outside the domain"):
        SensorSites(sim, lou_2005(), [[2.0, 0.5, 0.5]])
    with pytest.raises(ParameterError, match="finite"):
        SensorSites(sim, lou_2005(), [[np.nan, 0.5, 0.5]])
    assert [s.name for s in sim.species] == ["Ca2+"]  # a refused call adds nothing
    SensorSites(sim, lou_2005(), [[0.5, 0.5, 0.5]])
    with pytest.raises(ParameterError, match="another prefix"):
        SensorSites(sim, lou_2005(), [[0.4, 0.5, 0.5]])


def test_docking_sites_refill_after_fusion_as_the_pool_master_equation():
    """100 docking sites with Schneggenburger & Neher 2000 sensors among 50 uM Ca2+ particles,
    refilled at 0.5 /ms: the sites holding a vesicle and the fusions so far at 1-4 ms within 4
    binomial SE (Poisson SE for the fusions) of the pool's master equation at the run's free
    [Ca2+]; every ion is free, bound or held by a fused sensor (exactly)."""
    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=4e-4, species=["Ca2+"], seed=5)
    n_ca = int(round(50e-3 * PARTICLES_PER_UM3_PER_MM))
    rng = np.random.default_rng(2)
    sim.add_particles("Ca2+", rng.uniform(0, 1, (n_ca, 3)))
    scheme = schneggenburger_neher_2000()
    sites = SensorSites(sim, scheme, rng.uniform(0.05, 0.95, (100, 3)), refill_per_ms=0.5)
    ts, free, docked, fused = [0.0], [n_ca], [100], [0]
    for _ in range(40):
        sim.run(0.1)
        ts.append(sim.time)
        free.append(sim.count("Ca2+"))
        docked.append(sites.docked())
        fused.append(sites.fused())
    ions = sim.count("Ca2+") + sum(i * sim.count(s) for i, s in enumerate(sites.states)) + \
        sum(i * sim.count(s) for i, s in enumerate(sites.fused_states))
    assert ions == n_ca
    cc = np.array(free) / PARTICLES_PER_UM3_PER_MM * 1e3
    t, d, _, rel = scheme.pool_occupancy(lambda tt: float(np.interp(tt, ts, cc)), 4.0, 0.5, dt_ms=1e-3,
                                         ca_rest_uM=0.0)
    for when in (1.0, 2.0, 3.0, 4.0):
        k = int(round(when / 0.1))
        p = float(np.interp(when, t, d))
        assert abs(docked[k] - 100 * p) < 4 * math.sqrt(100 * p * (1 - p)), (when, docked[k], 100 * p)
        m = 100 * float(np.interp(when, t, rel))
        assert abs(fused[k] - m) < 4 * math.sqrt(m), (when, fused[k], m)
    assert fused[-1] > 150  # sites fused more than once
