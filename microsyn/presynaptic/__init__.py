"""The presynaptic terminal (in progress): Ca2+ sensors of vesicle fusion.

:mod:`microsyn.presynaptic.sensors`: release-sensor schemes (Schneggenburger & Neher 2000;
Lou, Scheuss & Schneggenburger 2005; user-defined), driven by a Ca2+ time course as a master
equation or as an exact stochastic ensemble; :mod:`microsyn.presynaptic.sites`: the same
sensors as fixed sites of a particle simulation, bound by Ca2+ particles by real encounters;
:mod:`microsyn.presynaptic.coupling`: release probability against the channel-to-sensor
distance in the linearised buffered nanodomain.
"""
from .sensors import SensorScheme, ca_step, ca_train, lou_2005, schneggenburger_neher_2000
from .coupling import nanodomain_ca_uM, release_probability
from .sites import SensorSites

__all__ = ["SensorScheme", "SensorSites", "ca_step", "ca_train", "nanodomain_ca_uM", "release_probability", "lou_2005", "schneggenburger_neher_2000"]
