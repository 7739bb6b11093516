"""Reactions: particles that bind, unbind and react, fixed binding sites and lattice fields.

Modules
-------
spec
    :class:`Reaction`: a reaction as chemistry (reactants, products, rates in base units),
    parsed from text such as ``"Ca2+ + BAPTA <-> CaBAPTA"``.
binding
    The Brownian-dynamics reaction scheme for two tracked partners: the binding radius and the
    reaction probability per step that make the simulated rate equal the given rate constant.
fields
    Lattice fields: abundant species kept as concentrations on voxels, beside the particles.
engine
    The reaction pass of :class:`~microsyn.simulation.Simulation`.
"""
from .spec import RATE_UNITS, Reaction  # noqa: E402
from .buffers import BUFFERS, CaBuffer, ca_buffer, excess_buffer_profile, length_constant  # noqa: E402
from .binding import BindingParameters, binding_parameters, simulated_pair_rate, unbinding_probability  # noqa: E402
from .fields import FieldSet  # noqa: E402
from .engine import REACTED, ReactionEngine  # noqa: E402

__all__ = ["BUFFERS", "BindingParameters", "CaBuffer", "FieldSet", "RATE_UNITS", "REACTED", "Reaction",
           "ReactionEngine", "binding_parameters", "ca_buffer", "excess_buffer_profile", "length_constant",
           "simulated_pair_rate", "unbinding_probability"]
