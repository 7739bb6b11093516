"""Voltage-gated Ca2+ channels of presynaptic terminals: published gating schemes with a GHK pore.

Each builder returns a :class:`~microsyn.channels.ChannelType` whose transitions are voltage
dependent (``k exp(V / v_efold)``; no ligand), whose only ion is Ca2+, and whose open pore carries
the absolute Goldman-Hodgkin-Katz current of a single-channel permeability P
(:func:`~microsyn.channels.ghk_current_pA`), at the concentrations on both sides. They are gated
with exact event times at the terminal's voltage by the existing machinery
(:class:`~microsyn.gating.StochasticGating` inside a :class:`~microsyn.synapse.Synapse`), and
each open channel emits Ca2+ particles at its cytoplasmic mouth.

Schemes
-------
- :func:`borst_sakmann_1998`: the P/Q-type current of the calyx of Held as a Hodgkin-Huxley m^2
  gate, alpha_m = 1.78 exp(V / 23.3 mV) /ms, beta_m = 0.140 exp(-V / 15.0 mV) /ms, written as the
  equivalent three-state chain C0 -2a-> C1 -a-> O, O -2b-> C1 -b-> C0 (Borst J.G.G. & Sakmann B.
  1998, J. Physiol. 506:143-157, doi:10.1111/j.1469-7793.1998.143bx.x; recorded at 23-24 C).
- :func:`li_2007`: the five-closed-state schemes of P/Q-, N- and R-type channels of hippocampal
  mossy fibre boutons, C0 <-> C1 <-> C2 <-> C3 <-> C4 <-> O, with a_i = a_i0 exp(V / V_i),
  b_i = b_i0 exp(-V / V_i) for the four voltage-dependent steps and a voltage-independent last
  step (Li L., Bischofberger J. & Jonas P. 2007, J. Neurosci. 27:13420-13429,
  doi:10.1523/JNEUROSCI.1709-07.2007).

Where the numbers come from (stated plainly: the papers' texts were not available here)
-----------------------------------------------------------------------------------------
- Borst & Sakmann 1998: the rates are those of the paper's Fig. 8 legend as implemented in the
  NEURON model CaPCalyx.mod by P.B. Manis (2007), whose header says so; the paper itself was not
  read. Half activation alpha = beta lies at -23.1 mV (that file's m_inf has -23.2 mV, slope
  9.1 mV: consistent).
- Li, Bischofberger & Jonas 2007: the rates are those of ModelDB entry 267617 (files
  ``mfbpqca``, ``mfbnca``, ``mfbrca``, which cite the paper). A second independent transcription
  (a JSON channel library) agrees on every P/Q- and N-type value it shows; for the R-type it gives
  b1 = 0.62 /ms where ModelDB has 60.62 /ms. The ModelDB value is used; the difference changes the
  R-type steady open probability by less than 0.002 (absolute) at every voltage from -80 to
  +60 mV, since a1 = 9911 /ms dominates that step.
- Temperature: Borst & Sakmann recorded at 23-24 C (T_ref = 297.15 K); Li et al.'s recordings
  are taken to be at room temperature, 22 C (not verified). The rates are scaled to the simulated
  temperature with Q10 = 3 (a typical gating Q10, Hille 2001; the published fits give none).
- The single-channel permeability defaults to 1e-12 cm^3/s, chosen so that the unitary current
  at 2 mM external Ca2+ and 37 C is -0.39 pA at 0 mV, -0.17 pA at +20 mV and -0.10 pA at +30 mV:
  within the 0.1-0.3 pA reported near the AP peak (e.g. Bucurenciu et al. 2010, J. Physiol.
  588:4383; Li et al. 2007; values reported, not re-read). Pass your own with
  ``permeability_cm3_per_s=``.

Example
-------
>>> ch = borst_sakmann_1998()
>>> ch.open_states, round(ch.open_current_pA(20.0, {"Ca2+": (5e-5, 2.0)}), 3)
(('O',), -0.167)
"""
from __future__ import annotations

from ..channels import TYPICAL_GATING_Q10, ChannelType, Transition
from ..errors import ParameterError

__all__ = ["borst_sakmann_1998", "li_2007", "DEFAULT_PERMEABILITY_CM3_PER_S", "EXTERNAL_CA_MM", "RESTING_CA_MM",
           "CA_CHANNEL_TYPES"]

#: single-channel Ca2+ permeability [cm^3/s] of the built-in types (see the module docstring)
DEFAULT_PERMEABILITY_CM3_PER_S = 1e-12
#: external [Ca2+] [mM] of the built-in types (a standard 2 mM saline)
EXTERNAL_CA_MM = 2.0
#: resting intracellular [Ca2+] [mM] (50 nM)
RESTING_CA_MM = 5e-5

_BS1998 = ("Borst & Sakmann 1998, J. Physiol. 506:143, Fig. 8 legend (as implemented in CaPCalyx.mod, "
           "P.B. Manis 2007; the paper's text not re-read)")
_LI2007 = ("Li, Bischofberger & Jonas 2007, J. Neurosci. 27:13420 (rates of ModelDB 267617; the paper's "
           "text not re-read)")

# (a_i0 [1/ms], b_i0 [1/ms], V_i [mV]) for the four voltage-dependent steps, then (a5, b5) [1/ms]
_LI_RATES = {
    "P/Q": ([(5.89, 14.99, 62.61), (9.21, 6.63, 33.92), (5.20, 132.80, 135.08), (1823.18, 248.58, 20.86)],
            (247.71, 8.28)),
    "N": ([(4.29, 5.23, 68.75), (5.24, 6.63, 39.53), (4.98, 73.89, 281.62), (772.63, 692.18, 18.46)],
          (615.01, 7.68)),
    "R": ([(9911.36, 60.62, 67.75), (4.88, 21.91, 50.94), (4.00, 51.30, 173.29), (256.41, 116.97, 16.92)],
          (228.83, 1.78)),
}


def _ca_type(name, states, transitions, open_states, reference, T_ref_K, kw):
    P = kw.pop("permeability_cm3_per_s", DEFAULT_PERMEABILITY_CM3_PER_S)
    if isinstance(P, dict):
        perm = P
    else:
        perm = {"Ca2+": P}
    args = dict(name=name, states=states, transitions=transitions, open_states=open_states, conductance_pS=0.0,
                selectivity={"Ca2+": 1.0}, permeability_cm3_per_s=perm, ligand="voltage", reference=reference,
                q10=TYPICAL_GATING_Q10, reference_temperature_K=T_ref_K)
    args.update(kw)
    return ChannelType(**args)


def borst_sakmann_1998(**kw) -> ChannelType:
    """The calyx-of-Held P/Q-type channel of Borst & Sakmann 1998 as a three-state chain (m^2).

    Keywords go to :class:`~microsyn.channels.ChannelType` (e.g. ``temperature_K``,
    ``permeability_cm3_per_s``, ``q10``)."""
    a0, va = 1.78, 23.3
    b0, vb = 0.140, -15.0
    trs = [Transition("C0", "C1", 2 * a0, 0, va), Transition("C1", "O", a0, 0, va),
           Transition("O", "C1", 2 * b0, 0, vb), Transition("C1", "C0", b0, 0, vb)]
    return _ca_type("CaV2.1 (Borst & Sakmann 1998)", ["C0", "C1", "O"], trs, ["O"], _BS1998, 297.15, kw)


def li_2007(kind: str = "P/Q", **kw) -> ChannelType:
    """The P/Q-, N- or R-type channel of mossy fibre boutons (Li, Bischofberger & Jonas 2007):
    ``kind`` is ``"P/Q"``, ``"N"`` or ``"R"``. Keywords as :func:`borst_sakmann_1998`."""
    if kind not in _LI_RATES:
        raise ParameterError(f"kind must be one of {sorted(_LI_RATES)} (the Ca2+ channel types of Li et al. 2007), "
                             f"got {kind!r}")
    steps, (a5, b5) = _LI_RATES[kind]
    states = ["C0", "C1", "C2", "C3", "C4", "O"]
    trs = []
    for i, (a, b, v) in enumerate(steps):
        trs.append(Transition(states[i], states[i + 1], a, 0, v))
        trs.append(Transition(states[i + 1], states[i], b, 0, -v))
    trs += [Transition("C4", "O", a5), Transition("O", "C4", b5)]
    label = {"P/Q": "CaV2.1", "N": "CaV2.2", "R": "CaV2.3"}[kind]
    return _ca_type(f"{label} {kind}-type (Li et al. 2007)", states, trs, ["O"], _LI2007, 295.15, kw)


#: name -> factory of the built-in voltage-gated Ca2+ channel types
CA_CHANNEL_TYPES = {"P/Q (Borst & Sakmann 1998)": borst_sakmann_1998,
                    "P/Q (Li et al. 2007)": lambda **kw: li_2007("P/Q", **kw),
                    "N (Li et al. 2007)": lambda **kw: li_2007("N", **kw),
                    "R (Li et al. 2007)": lambda **kw: li_2007("R", **kw)}
