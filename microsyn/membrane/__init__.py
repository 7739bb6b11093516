"""The membrane electrical model: compartment graphs, an implicit solver, reversal potentials,
Hodgkin-Huxley channels and stochastic channel populations.

The membrane voltage in microsyn comes from this electrical model, not from where tracked ions
wander. Base units: um, ms, mM, mV, pA, pF, nS; resistivity in ohm cm.

- :mod:`.reversal`: :func:`nernst`, :func:`ghk_voltage`, :func:`ghk_current_density`,
  :func:`resting_potential` (with the 3:2 Na+/K+ pump), :func:`mullins_noda_potential`.
- :mod:`.graph`: :class:`CompartmentGraph` and builders :func:`cable`, :func:`branched`,
  :func:`neuron_morphology`, :func:`myelinated_axon`, :func:`from_swc`, :func:`sheet`,
  :func:`graph_from_surface`.
- :mod:`.solver`: :class:`MembraneSolver` (backward Euler / Crank-Nicolson; Hines on trees,
  scipy.sparse LU otherwise), current clamps and waveforms, conductance sources and alpha
  synapses, voltage clamps, probes, :func:`spike_times`.
- :mod:`.hh`: :data:`HH1952` and :data:`MAMMALIAN` parameter sets, :class:`HHChannels`.
- :mod:`.stochastic`: :class:`StochasticHHChannels` (Gillespie, exact event times).
- :mod:`.protocols`: thresholds, paired pulses, f-I curves, conduction velocities.
- :mod:`.bench`: :func:`~microsyn.membrane.bench.run_benchmarks`.

Example
-------
>>> from microsyn.membrane import HH1952, MembraneSolver, cable, spike_times
>>> s = MembraneSolver(cable(5000.0, 2.0, 200), dt_ms=0.025)
>>> hh = s.insert_hh(params=HH1952)
>>> s.init(-65.0)
>>> _ = s.add_current_clamp(0, amp_pA=500.0, delay_ms=1.0, duration_ms=1.0)
>>> p = s.add_probe(point_um=(2500.0, 0.0, 0.0))
>>> s.run(20.0)
>>> len(spike_times(p.time_ms, p.V_mV))
1
"""
from .graph import (DEFAULT_CM_PF_PER_UM2, DEFAULT_E_LEAK_MV, DEFAULT_G_LEAK_NS_PER_UM2, DEFAULT_RA_OHM_CM,
                    CompartmentGraph, DisconnectedGraphError, NoMembraneError, Section, branched, cable,
                    from_swc, graph_from_surface, myelinated_axon, neuron_morphology, sheet)
from .hh import HH1952, MAMMALIAN, HHChannels, HHParams, fastest_time_constant_ms, hh_rates, hh_steady_state
from .reversal import (DEFAULT_PERMEABILITY_RATIOS, RestingPotential, ghk_current_density, ghk_voltage,
                       mullins_noda_potential, nernst, nernst_species, resting_potential)
from .stochastic import CHANNEL_EVENT_KINDS, StochasticHHChannels
from .solver import (AlphaSynapse, ConductanceSource, CurrentClamp, CurrentWaveform, MembraneSolver, Probe,
                     VoltageClamp, hines_order, spike_times)

__all__ = [
    "CompartmentGraph", "DisconnectedGraphError", "NoMembraneError", "Section", "branched", "cable", "from_swc",
    "graph_from_surface", "myelinated_axon", "neuron_morphology", "sheet", "DEFAULT_CM_PF_PER_UM2",
    "DEFAULT_E_LEAK_MV", "DEFAULT_G_LEAK_NS_PER_UM2", "DEFAULT_RA_OHM_CM",
    "HH1952", "MAMMALIAN", "HHChannels", "HHParams", "hh_rates", "hh_steady_state", "fastest_time_constant_ms",
    "DEFAULT_PERMEABILITY_RATIOS", "RestingPotential", "ghk_current_density", "ghk_voltage",
    "mullins_noda_potential", "nernst", "nernst_species", "resting_potential",
    "AlphaSynapse", "ConductanceSource", "CurrentClamp", "CurrentWaveform", "MembraneSolver", "Probe",
    "VoltageClamp", "hines_order", "spike_times", "StochasticHHChannels", "CHANNEL_EVENT_KINDS",
]
