"""Validation: the direction of each ion and the sign of the potential change it causes.

Reference (Nernst; Hille 2001, ch. 1 and 14): from rest (-70 mV), an open channel moves ion i
down its electrochemical gradient: a cation enters (depolarises) when V < E_i and leaves
(hyperpolarises) when V > E_i; an anion enters (hyperpolarises) when V > E_i and leaves
(depolarises) when V < E_i. Standard concentrations (mM, in/out): Na+ 12/145 (E = +66.6 mV),
K+ 140/5 (-89.1), Ca2+ 1e-4/2 (GHK), Cl- 4/110 (-88.6) or 30/110 (-34.7).
Exact signs; no tolerance.
"""
import pytest

import microsyn as ms
from microsyn.channels import CA_PERMEABLE, GABA_A, GIRK, ChannelType
from microsyn.membrane import MembraneSolver, cable
from microsyn.synapse import Synapse, SynapticCoupling

REST = -70.0


def _open(ion, g=20.0):
    return ChannelType(f"open-{ion}", ["C", "O"], [("C", "O", 0.0), ("O", "C", 0.0)], ["O"], g, {ion: 1.0},
                       q10=None)


CASES = [
    # (label, channel, concentrations, ion, expected direction, expected sign of dV)
    ("Na+ entry", _open("Na+"), None, "Na+", "in", +1),
    ("K+ exit (GIRK)", GIRK(conductance_pS=20.0), None, "K+", "out", -1),
    ("Cl- entry (GABA_A, low [Cl-]i)", GABA_A(), {"Cl-": (4.0, 110.0)}, "Cl-", "in", -1),
    ("Cl- exit (GABA_A, high [Cl-]i)", GABA_A(), {"Cl-": (30.0, 110.0)}, "Cl-", "out", +1),
    ("Ca2+ entry (GHK)", CA_PERMEABLE(conductance_pS=20.0), None, "Ca2+", "in", +1),
]


@pytest.mark.parametrize("label,channel,conc,ion,direction,sign", CASES, ids=[c[0] for c in CASES])
def test_ion_direction_and_sign_of_potential_change(label, channel, conc, ion, direction, sign):
    solver = MembraneSolver(cable(20.0, 5.0, 1), dt_ms=0.01)
    solver.init(REST)
    cpl = SynapticCoupling(solver, seed=1)
    syn = cpl.add_synapse(Synapse(channel, 5, node=0, initial_state="O", concentrations=conc, ligand=0.0))
    cpl.run(2.0)
    dV = syn.trace()["V_mV"][-1] - REST
    moved_in, moved_out = syn.ions_in[ion], syn.ions_out[ion]
    if direction == "in":
        assert moved_in > 0 and moved_out == 0, (moved_in, moved_out)
    else:
        assert moved_out > 0 and moved_in == 0, (moved_in, moved_out)
    assert dV * sign > 0.05, dV


def test_k_exit_as_particles_on_the_extracellular_side():
    """A domain holding both sides of a 5 nm membrane: K+ particles appear below it (outside)."""
    dom = ms.Domain(ms.Box((-0.3, -0.3, -0.3), (0.3, 0.3, 0.3), name="box"),
                    holes=[ms.Slab(-0.005, 0.0, name="membrane")])
    dom.set_boundary("box", "absorb")
    sim = ms.Simulation(dom, dt=2.5e-7, species=["K+"], seed=2)
    solver = MembraneSolver(cable(20.0, 5.0, 1), dt_ms=0.005)
    solver.init(REST)
    cpl = SynapticCoupling(solver, sim)
    syn = cpl.add_synapse(Synapse(GIRK(conductance_pS=50.0), 20, at=(0, 0, 0), node=0, initial_state="O",
                                  membrane="membrane", membrane_thickness_um=0.005, ligand=0.0))
    cpl.run(0.02)
    pos = sim.positions("K+")
    assert syn.ions_out["K+"] > 50 and syn.extracellular_in_domain
    assert pos.shape[0] > 0 and (pos[:, 2] < -0.005).all()
    assert syn.trace()["V_mV"][-1] < REST
