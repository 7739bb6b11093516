"""The presynaptic terminal: Ca2+ channels, the bouton, buffers, pumps, release sensors and trains.

:mod:`microsyn.presynaptic.ca_channels`: voltage-gated Ca2+ channel types (Borst & Sakmann 1998;
Li, Bischofberger & Jonas 2007) with a GHK pore; :mod:`microsyn.presynaptic.terminal`: the bouton
(:class:`Terminal`, :func:`small_hippocampal_bouton`, :func:`calyx_active_zone`) on the particle
engine, the electrical model and the channel machinery; :mod:`microsyn.presynaptic.sensors`:
release-sensor schemes (Schneggenburger & Neher 2000; Lou, Scheuss & Schneggenburger 2005;
user-defined), driven by a Ca2+ time course as a master equation or as an exact stochastic
ensemble; :mod:`microsyn.presynaptic.sites`: the same sensors as fixed sites of a particle
simulation, bound by Ca2+ particles by real encounters; :mod:`microsyn.presynaptic.coupling`:
release probability against the channel-to-sensor distance in the linearised buffered
nanodomain; :mod:`microsyn.presynaptic.trains`: spike trains;
:mod:`microsyn.presynaptic.recovery`: refilling of the pool that follows the residual Ca2+.
"""
from .ca_channels import CA_CHANNEL_TYPES, borst_sakmann_1998, li_2007
from .coupling import nanodomain_ca_uM, release_probability
from .recovery import CaDependentRefill
from .sensors import SensorScheme, ca_step, ca_train, lou_2005, schneggenburger_neher_2000
from .sites import SensorSites
from .terminal import Terminal, axon_ap_waveform, calyx_active_zone, small_hippocampal_bouton
from .trains import poisson_train, regular_train, spike_train

__all__ = ["CA_CHANNEL_TYPES", "CaDependentRefill", "SensorScheme", "SensorSites", "Terminal", "axon_ap_waveform", "borst_sakmann_1998",
           "ca_step", "ca_train", "calyx_active_zone", "li_2007", "lou_2005", "nanodomain_ca_uM", "poisson_train",
           "regular_train", "release_probability", "schneggenburger_neher_2000", "small_hippocampal_bouton",
           "spike_train"]
