"""The presynaptic terminal: a bouton with an active zone, Ca2+ channels, buffers, pumps and sensors.

A :class:`Terminal` joins the three engines of microsyn on one clock:

- **particles**: the bouton's cytoplasm is a sphere of radius ``radius_um`` (centre at the origin)
  in a :class:`~microsyn.Simulation`; its membrane is reflecting for Ca2+, except where pumps
  take it up. The active zone is the cap of the sphere within ``active_zone_radius_um`` of its
  south pole (0, 0, -R) (``Terminal.active_zone``, a :class:`~microsyn.patches.DiscPatch`, not
  added to the domain: it reflects Ca2+ like the rest of the membrane). Points on it are given by
  their (x, y) [um] in the plane of the zone (:meth:`Terminal.az_point`).
- **voltage**: the bouton is the last compartment of an electrical model
  (:mod:`microsyn.membrane`). With ``drive="axon"`` (default) it sits at the end of an
  unmyelinated axon with Hodgkin-Huxley channels (the mammalian teaching set
  :data:`~microsyn.membrane.hh.MAMMALIAN`, 36 C) and a brief current pulse at the axon's far end
  starts each spike: the AP propagates into the bouton (rest -70 mV, peak about +35 mV, half
  width about 0.46 ms at the bouton with the defaults). With ``drive="clamp"`` the bouton follows
  a prescribed waveform (an AP clamp, as in Borst & Sakmann 1998): ``ap_table=(t_ms, V_mV)`` for
  one AP, repeated at each spike time (default: the axon drive's own AP, recorded once).
- **channels**: voltage-gated Ca2+ channels (:mod:`microsyn.presynaptic.ca_channels`) placed
  singly at given points of the active zone, each a one-channel
  :class:`~microsyn.synapse.Synapse` on the bouton's compartment, gated with exact event times at
  the bouton's voltage; an open channel emits Ca2+ particles at its cytoplasmic mouth (1 nm
  inside) and its GHK current is the current of the electrical model.

Ca2+ handling: ``add_buffer`` puts a chelator (EGTA, BAPTA) or a Ca2+-binding protein
(calbindin-D28k, parvalbumin with its Mg2+ competition; :mod:`microsyn.reactions.buffers`) in the
cytoplasm as lattice fields (the free forms and, by default, the bound forms; a chelator's
Ca-bound form can be tracked particles instead); ``add_pump`` puts saturable pumps on the
membrane outside the active zone as fixed sites (``Ca2+ + pump <-> Capump -> pump`` with the
extruded ion kept as an immobile counted species, so charge is conserved); the resting [Ca2+]
(50 nM) is put in as particles at the start.
Vesicles: ``add_vesicles`` docks vesicles at points of the active zone, each with a release
sensor (:class:`~microsyn.presynaptic.sites.SensorSites`) a few nm above the membrane: Ca2+
ions bind it by real encounters, and fusion happens at an exact step, logged with its time.

Builders: :func:`small_hippocampal_bouton`, :func:`calyx_active_zone`.

Example
-------
>>> from microsyn.presynaptic import Terminal, li_2007
>>> t = Terminal(radius_um=0.3, active_zone_radius_um=0.1, spike_times_ms=(0.1,))
>>> chans = t.add_channels(li_2007("P/Q"), [(0.0, 0.0), (0.02, 0.0)])
>>> round(float(t.az_point(0.0, 0.0)[2]), 3)
-0.3
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import GeometryError, ParameterError, check_positive
from .ca_channels import EXTERNAL_CA_MM, RESTING_CA_MM
from .trains import spike_train

__all__ = ["Terminal", "small_hippocampal_bouton", "calyx_active_zone", "CHANNEL_RADIUS_UM", "GLUTAMATE_PER_VESICLE",
           "axon_ap_waveform"]

#: the radius [um] of a Ca2+ channel's pore complex (CaV2 channels are about 10 nm across): a
#: sensor cannot sit closer to a channel's axis than this
CHANNEL_RADIUS_UM = 0.005
#: D of free Ca2+ in cytoplasm [um^2/ms] (Allbritton, Meyer & Stryer 1992, Science 258:1812)
D_CA_CYTOPLASM = 0.22
#: glutamate molecules released by one vesicle (within the 2,000-4,000 commonly quoted, e.g.
#: Clements 1996, Trends Neurosci. 19:163; not re-read here)
GLUTAMATE_PER_VESICLE = 3000


def _axon_graph(radius_um, axon_length_um, axon_diameter_um, n_axon):
    from ..membrane.graph import CompartmentGraph, cable

    ax = cable(axon_length_um, axon_diameter_um, n_axon, origin_um=(-axon_length_um - radius_um, 0.0, 0.0))
    dx = axon_length_um / n_axon
    area = np.r_[ax.area_um2, 4.0 * math.pi * radius_um ** 2]
    edges = np.r_[ax.edges, [[n_axon - 1, n_axon]]]
    # the axon's last node to the bouton's centre: half a segment of axon (the sphere's own
    # resistance is negligible)
    g = np.r_[ax.g_axial_nS, 2.0 * _segment_g(axon_diameter_um, dx)]
    return CompartmentGraph(area, edges, g, xyz_um=np.r_[ax.xyz_um, [[0.0, 0.0, 0.0]]],
                            labels=["axon"] * n_axon + ["bouton"], diameter_um=np.r_[ax.diameter_um, 2 * radius_um],
                            edge_length_um=np.r_[ax.edge_length_um, dx / 2 + radius_um])


def _segment_g(d, dx):
    """Axial conductance [nS] of a cylinder of diameter d and length dx [um] at 100 ohm cm (the
    cable's default resistivity)."""
    from ..membrane.graph import DEFAULT_RA_OHM_CM, _rho

    return math.pi * d * d / 4.0 / (_rho(DEFAULT_RA_OHM_CM) * dx)


def axon_ap_waveform(radius_um: float = 0.5, axon_length_um: float = 60.0, axon_diameter_um: float = 0.4,
                     stimulus_pA: float = 150.0, stimulus_ms: float = 0.2, dt_ms: float = 0.01):
    """One AP at the bouton of the ``drive="axon"`` model (no Ca2+ channels): (t [ms] from the AP
    peak minus 1 ms, V [mV]) over 5 ms, for an AP clamp."""
    from ..membrane import MembraneSolver
    from ..membrane.hh import MAMMALIAN

    g = _axon_graph(radius_um, axon_length_um, axon_diameter_um, 30)
    s = MembraneSolver(g, dt_ms=dt_ms)
    s.insert_hh(params=MAMMALIAN)
    s.init(MAMMALIAN.el_mV)
    s.settle(50.0)
    s.add_current_clamp(0, stimulus_pA, 1.0, stimulus_ms)
    p = s.add_probe(g.n - 1)
    s.run(8.0)
    t, V = np.asarray(p.time_ms), np.asarray(p.V_mV)
    k = int(np.argmax(V))
    sel = (t >= t[k] - 1.0) & (t <= t[k] + 4.0)
    return t[sel] - t[sel][0], V[sel]


class Terminal:
    """A presynaptic bouton (see the module docstring).

    Parameters
    ----------
    radius_um : float
        Bouton radius [um] (the cytoplasm is a sphere about the origin).
    active_zone_radius_um : float
        Radius [um] of the active zone, a cap about the south pole (0, 0, -R).
    spike_times_ms : sequence of float
        When each spike starts: the stimulus time at the axon's far end (``drive="axon"``; the AP
        reaches the bouton about 0.5 ms later with the defaults) or the start of each prescribed
        waveform (``drive="clamp"``). Checked by :func:`~microsyn.presynaptic.trains.spike_train`.
    drive : {"axon", "clamp"}
    ap_table : (t_ms, V_mV), optional
        The prescribed AP for ``drive="clamp"`` (default :func:`axon_ap_waveform`); before and
        after it the bouton is held at its first value.
    dt_ms : float
        Particle step [ms] (default 5e-5: a Ca2+ rms step of 4.7 nm per axis).
    electrical_dt_ms : float
        Electrical step [ms], a whole number of particle steps.
    ca_out_mM, ca_rest_mM : float
        External and resting internal [Ca2+] [mM] (2 mM, 50 nM).
    D_ca : float
        Ca2+ diffusion coefficient [um^2/ms] (0.22, Allbritton et al. 1992).
    resting_ions : bool
        Fill the cytoplasm with the resting [Ca2+] as particles at the start.
    axon_length_um, axon_diameter_um, stimulus_pA, stimulus_ms :
        The axon drive: its length and diameter, and the current pulse at its far end.
    field_scheme : {"implicit", "explicit"}
        Time stepping of the buffers' lattice fields (:mod:`microsyn.reactions.fields`). The
        default, backward Euler at D dt / h^2 = 1, steps 6.7 times less often than the explicit
        scheme's stability limit allows on 50 nm voxels; through one AP at the calyx-like
        zone both give the same Ca-bound EGTA within the trials' spread (measured).
    seed : int
    """

    def __init__(self, radius_um: float = 0.5, active_zone_radius_um: float = 0.15, *, spike_times_ms=(0.2,),
                 drive: str = "axon", ap_table=None, dt_ms: float = 5e-5, electrical_dt_ms: float = 0.01,
                 ca_out_mM: float = EXTERNAL_CA_MM, ca_rest_mM: float = RESTING_CA_MM, D_ca: float = D_CA_CYTOPLASM,
                 resting_ions: bool = True, axon_length_um: float = 60.0, axon_diameter_um: float = 0.4,
                 stimulus_pA: float = 150.0, stimulus_ms: float = 0.2, field_scheme: str = "implicit",
                 seed: int = 0):
        import microsyn as ms

        from ..membrane import MembraneSolver
        from ..membrane.hh import MAMMALIAN
        from ..synapse import SynapticCoupling

        R = check_positive("radius_um (bouton radius)", radius_um)
        a = check_positive("active_zone_radius_um", active_zone_radius_um)
        if a >= R:
            raise GeometryError(f"the active zone's radius ({a} um) must be smaller than the bouton's ({R} um)")
        if drive not in ("axon", "clamp"):
            raise ParameterError(f"drive must be 'axon' (an HH axon fires into the bouton) or 'clamp' (a prescribed "
                                 f"AP waveform), got {drive!r}")
        self.radius_um, self.active_zone_radius_um = R, a
        self.spike_times_ms = spike_train(spike_times_ms)
        self.ca_out_mM = check_positive("ca_out_mM", ca_out_mM)
        self.ca_rest_mM = check_positive("ca_rest_mM", ca_rest_mM)
        self.drive = drive
        from ..reactions.fields import SCHEMES

        if field_scheme not in SCHEMES:
            raise ParameterError(f"field_scheme must be one of {SCHEMES}, got {field_scheme!r}")
        self.field_scheme = field_scheme
        # particles
        self.domain = ms.Domain(ms.Sphere((0.0, 0.0, 0.0), R, name="bouton"))
        # the active zone (not a patch of the domain: its membrane reflects Ca2+ like the rest,
        # and an unpatched sphere keeps the kernels' fast container-sphere path)
        self.active_zone = ms.DiscPatch((0.0, 0.0, -R), a)
        self.sim = ms.Simulation(self.domain, dt=dt_ms, seed=seed)
        from ..config import PARALLEL_MIN_WORK

        # a bouton's windows (a few thousand ions, tens of steps) gain from two threads (measured
        # 1.6 times faster on 2 cores); results do not depend on it
        self.sim.parallel_min_work = PARALLEL_MIN_WORK
        self.sim.add_species("Ca2+", D=check_positive("D_ca [um^2/ms]", D_ca))
        if resting_ions:
            self.sim.fill("Ca2+", self.ca_rest_mM)
        # voltage
        if drive == "axon":
            n_axon = 30
            graph = _axon_graph(R, check_positive("axon_length_um", axon_length_um),
                                check_positive("axon_diameter_um", axon_diameter_um), n_axon)
            self.solver = MembraneSolver(graph, dt_ms=electrical_dt_ms)
            self.solver.insert_hh(params=MAMMALIAN)
            self.solver.init(MAMMALIAN.el_mV)
            self.solver.settle(50.0)
            amp = check_positive("stimulus_pA", stimulus_pA)
            dur = check_positive("stimulus_ms", stimulus_ms)
            for t in self.spike_times_ms:
                self.solver.add_current_clamp(0, amp, float(t), dur)
        else:
            from ..membrane.graph import CompartmentGraph

            t_ap, V_ap = axon_ap_waveform(R) if ap_table is None else (np.asarray(ap_table[0], float),
                                                                        np.asarray(ap_table[1], float))
            if t_ap.ndim != 1 or t_ap.shape != V_ap.shape or t_ap.size < 2 or np.any(np.diff(t_ap) <= 0) \
                    or not np.all(np.isfinite(V_ap)):
                raise ParameterError("ap_table must be (t_ms, V_mV): two equal 1-D arrays, t increasing, V finite")
            graph = CompartmentGraph([4.0 * math.pi * R * R], np.zeros((0, 2), int), [], labels=["bouton"],
                                     xyz_um=np.zeros((1, 3)), diameter_um=[2 * R])
            self.solver = MembraneSolver(graph, dt_ms=electrical_dt_ms, method="be")
            self.solver.init(float(V_ap[0]))
            T = float(self.spike_times_ms[-1] + t_ap[-1]) + electrical_dt_ms
            grid = np.arange(0.0, T + electrical_dt_ms, electrical_dt_ms)
            Vc = np.full(grid.size, float(V_ap[0]))
            for t0 in self.spike_times_ms:
                inside = (grid + 0.5 * electrical_dt_ms >= t0) & (grid + 0.5 * electrical_dt_ms <= t0 + t_ap[-1])
                Vc[inside] = np.interp(grid[inside] + 0.5 * electrical_dt_ms - t0, t_ap, V_ap)
            self.ap_table = (t_ap, V_ap)
            self.solver.add_voltage_clamp(0, grid, Vc)
        self.node = self.solver.graph.n - 1
        self.V_probe = self.solver.add_probe(self.node, name="bouton")
        self.coupling = SynapticCoupling(self.solver, self.sim, dt_ms=electrical_dt_ms)
        self.channels: list = []
        self.vesicles: list = []
        self.buffers: list = []
        self.pumps = None
        #: (time [ms], free [Ca2+] in the bouton [mM], refill rate [1/ms]) at each update of a
        #: Ca2+-dependent refill (:class:`~microsyn.presynaptic.recovery.CaDependentRefill`)
        self.refill_trace: list = []

    # ---------------------------------------------------------------- places
    def az_point(self, x_um: float, y_um: float) -> np.ndarray:
        """The point [um] of the active zone under (x, y) in its plane (on the sphere)."""
        R, a = self.radius_um, self.active_zone_radius_um
        x, y = float(x_um), float(y_um)
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ParameterError(f"active-zone coordinates must be finite numbers [um], got ({x_um!r}, {y_um!r})")
        p = np.array([x, y, -math.sqrt(max(R * R - x * x - y * y, 0.0))])
        if np.linalg.norm(p - (0.0, 0.0, -R)) > a * (1 + 1e-9) or x * x + y * y >= R * R:
            raise GeometryError(
                f"({x:g}, {y:g}) um is off the active zone, which lies within {a:g} um of its centre (0, 0); "
                f"place channels and vesicles on it (or give the Terminal a larger active_zone_radius_um)")
        return p

    def _xy(self, xy, what):
        try:
            arr = np.asarray(xy, float).reshape(-1, 2)
        except (TypeError, ValueError):
            raise ParameterError(f"{what} positions must be (n, 2) active-zone coordinates (x, y) [um], got {xy!r}") from None
        if arr.shape[0] == 0:
            raise ParameterError(f"give at least one {what} position (x, y) [um]")
        return arr

    def _check_distances(self, contact_pts, pore_pts):
        """Refuse a vesicle whose contact point on the membrane lies within a channel's radius of
        its axis (the coupling distance cannot be smaller than the channel itself)."""
        if len(contact_pts) == 0 or len(pore_pts) == 0:
            return
        d = np.linalg.norm(np.asarray(contact_pts)[:, None, :] - np.asarray(pore_pts)[None, :, :], axis=2)
        if d.min() < CHANNEL_RADIUS_UM:
            i, j = np.unravel_index(int(np.argmin(d)), d.shape)
            raise GeometryError(
                f"a vesicle would touch the membrane {d[i, j] * 1e3:.2f} nm from a Ca2+ channel's axis, inside the "
                f"channel (its radius is {CHANNEL_RADIUS_UM * 1e3:g} nm); put every vesicle at least "
                f"{CHANNEL_RADIUS_UM * 1e3:g} nm from every channel")

    # ---------------------------------------------------------------- parts
    def add_channels(self, channel, xy_um, prefix: str | None = None) -> list:
        """Voltage-gated Ca2+ channels of type ``channel`` at active-zone points ``xy_um`` (n, 2)
        [um], one channel each; returns their :class:`~microsyn.synapse.Synapse` objects."""
        from ..channels import ChannelType
        from ..synapse import Synapse

        if not isinstance(channel, ChannelType) or set(channel.ions) != {"Ca2+"} or channel.is_ligand_gated:
            raise ParameterError(f"channel must be a voltage-gated Ca2+ channel type (presynaptic.borst_sakmann_1998(), "
                                 f"presynaptic.li_2007(...)), got {channel!r}")
        xy = self._xy(xy_um, "channel")
        pts = np.array([self.az_point(x, y) for x, y in xy])
        self._check_distances([c for ves in self.vesicles for c in ves.contacts], pts)
        prefix = prefix or f"CaV{len(self.channels)}_"
        out = []
        for k, p in enumerate(pts):
            syn = Synapse(channel, 1, at=p, node=self.node, normal=-p / np.linalg.norm(p), ligand=0.0,
                          concentrations={"Ca2+": (self.ca_rest_mM, self.ca_out_mM)}, name=f"{prefix}{k}")
            out.append(self.coupling.add_synapse(syn))
        self.channels.extend(out)
        return out

    def add_vesicles(self, xy_um, scheme, refill_per_ms=None, sensor_height_um: float = 0.005,
                     prefix: str | None = None, transmitter_per_vesicle: int = GLUTAMATE_PER_VESICLE):
        """Docked vesicles at active-zone points ``xy_um`` (n, 2) [um], each with a release sensor of
        ``scheme`` (:mod:`microsyn.presynaptic.sensors`) ``sensor_height_um`` above the membrane
        (default 5 nm: the sensor sits where the vesicle touches the membrane). With
        ``refill_per_ms`` [1/ms] a site is refilled after fusion (a new vesicle docks there at
        that rate: the readily releasable pool, site by site); with a
        :class:`~microsyn.presynaptic.recovery.CaDependentRefill` the rate follows the bouton's
        residual free Ca2+ (:attr:`refill_trace` records it). Each fusion releases
        ``transmitter_per_vesicle`` molecules (default :data:`GLUTAMATE_PER_VESICLE`), recorded
        with its time and place (:meth:`release_events`). Returns the
        :class:`~microsyn.presynaptic.sites.SensorSites`."""
        from .sites import SensorSites

        if isinstance(transmitter_per_vesicle, bool) or not isinstance(transmitter_per_vesicle, (int, np.integer)) \
                or transmitter_per_vesicle < 0:
            raise ParameterError(f"transmitter_per_vesicle must be a whole number >= 0 (glutamate: 2,000-4,000), "
                                 f"got {transmitter_per_vesicle!r}")
        h = check_positive("sensor_height_um", sensor_height_um)
        if h >= self.radius_um:
            raise GeometryError(f"sensor_height_um ({h}) must be well below the bouton radius ({self.radius_um} um)")
        xy = self._xy(xy_um, "vesicle")
        contacts = np.array([self.az_point(x, y) for x, y in xy])
        self._check_distances(contacts, [c.at for c in self.channels])
        pts = contacts - h * contacts / np.linalg.norm(contacts, axis=1)[:, None]
        from .recovery import CaDependentRefill, start

        law = refill_per_ms if isinstance(refill_per_ms, CaDependentRefill) else None
        if law is None and refill_per_ms is not None and (isinstance(refill_per_ms, bool)
                                                          or not isinstance(refill_per_ms, (int, float, np.number))):
            raise ParameterError(f"refill_per_ms must be a refill rate [1/ms] or a presynaptic.CaDependentRefill, "
                                 f"got {refill_per_ms!r}")
        sites = SensorSites(self.sim, scheme, pts, prefix=prefix or f"ves{len(self.vesicles)}",
                            refill_per_ms=law.rate(self.ca_rest_mM) if law else refill_per_ms)
        if law is not None:
            start(self, law, [sites.reactions[-1].name])
        sites.contacts = contacts  # where each vesicle touches the membrane [um]
        sites.transmitter_per_vesicle = int(transmitter_per_vesicle)
        self.vesicles.append(sites)
        return sites

    def add_buffer(self, buffer, conc_mM: float, bound: str = "field", voxel_um: float | None = None,
                   fixed: bool = False, mg_mM: float | None = None):
        """A Ca2+ chelator or Ca2+-binding protein at ``conc_mM`` total [mM] (of molecules) in the
        cytoplasm; returns it.

        ``buffer`` is a published name (``"EGTA"``, ``"BAPTA"``, ``"calbindin"``,
        ``"parvalbumin"``; :func:`~microsyn.reactions.buffers.published_buffer`), a
        :class:`~microsyn.reactions.buffers.CaBuffer` (one site) or a
        :class:`~microsyn.reactions.buffers.BufferProtein` (several kinds of independent sites).
        The lattice's voxels are ``voxel_um`` (default R/20, within 20-50 nm). ``fixed=True`` makes
        every form of the buffer immobile (D = 0: a fixed endogenous buffer; its fields then step
        for their reactions only).

        A chelator (one site): its free form is a lattice field, its Ca-bound form a field too
        (``bound="field"``, default: each binding takes the ion into the lattice, each unbinding
        puts one back as a particle) or tracked particles (``bound="particles"``: every complex is
        drawn and followed, at the cost of stepping them). The free form starts at its equilibrium
        with the resting [Ca2+]; the bound form starts empty (its resting share, [Ca]_rest /
        (K_d + [Ca]_rest) of the total, is left out: 0.04 % for BAPTA, 42 % for EGTA; the free
        form alone sets the buffering).

        A protein: each kind of site is a site population of ``n * conc_mM`` sites (n per
        molecule: calbindin 2 high- and 2 medium-affinity, parvalbumin 2), every form of it a
        lattice field (``bound="particles"`` is refused). Every form starts at its equilibrium with
        the resting [Ca2+] and, for parvalbumin, with free Mg2+ at ``mg_mM`` (default 0.59 mM),
        which is added as a uniform lattice field ``"Mg2+"`` competing for the same sites
        (``Mg2+ + PV <-> MgPV``; Mg2+ keeps its own D even with ``fixed=True``). The bound forms'
        resting shares are put in: with 50 nM Ca2+, 17 % of calbindin's high- and 11 % of its
        medium-affinity sites hold Ca2+, and 22 % of parvalbumin's sites hold Ca2+ and 74 % Mg2+.

        Raises
        ------
        UnknownSpeciesError
            An unknown buffer name (the message lists the published ones).
        ParameterError
            A concentration that is not a finite number > 0 (``mg_mM`` >= 0), ``bound`` other than
            ``"field"`` or ``"particles"``, ``bound="particles"`` or a protein already in this
            terminal for a protein, ``mg_mM`` for a buffer without Mg2+ sites, a ``"Mg2+"`` field
            already present that is not uniform or not at ``mg_mM`` (without ``mg_mM`` a uniform
            one's level is used), or ``voxel_um`` after the first buffer.
        """
        from ..reactions.buffers import BufferProtein, CaBuffer, published_buffer

        if bound not in ("field", "particles"):
            raise ParameterError(f"bound must be 'field' or 'particles', got {bound!r}")
        buf = buffer if isinstance(buffer, (CaBuffer, BufferProtein)) else published_buffer(buffer)
        B = check_positive("buffer concentration [mM]", conc_mM)
        protein = isinstance(buf, BufferProtein)
        ions = buf.ions if protein else {}
        if protein:
            if bound != "field":
                raise ParameterError(
                    f"{buf.name}: bound='particles' is for one-site chelators; every form of a protein's "
                    f"sites is a lattice field: leave bound out (or give bound='field')")
            if any(isinstance(b, BufferProtein) and b.name == buf.name for b, _ in self.buffers):
                raise ParameterError(f"{buf.name} is in this terminal already; add it once, with its total "
                                     f"concentration")
        if mg_mM is not None:
            if "Mg2+" not in ions:
                raise ParameterError(f"{getattr(buf, 'name', None) or buf.free.name} has no Mg2+ sites; "
                                     f"drop mg_mM (it is for parvalbumin)")
            ions["Mg2+"] = check_positive("mg_mM (free [Mg2+] [mM])", mg_mM, allow_zero=True)
        sim = self.sim
        existing = set()
        for ion in list(ions):
            if sim.fields is not None and ion in sim.fields.names:  # e.g. put in by the user: keep it
                f = sim.fields
                have = f.concentration(ion)[f.live[f.index(ion)]]
                level = float(have.mean())
                if not np.allclose(have, level, rtol=1e-9, atol=0.0):
                    raise ParameterError(
                        f"a {ion!r} field is in this terminal already and is not uniform ({float(have.min()):g} "
                        f"to {float(have.max()):g} mM); the resting state needs one level: set it with "
                        f"T.sim.fill({ion!r}, c) first")
                if mg_mM is not None and not math.isclose(ions[ion], level, rel_tol=1e-9):
                    raise ParameterError(
                        f"a {ion!r} field is in this terminal already, at {level:g} mM, not at mg_mM={ions[ion]:g}; "
                        f"leave mg_mM out to use its level")
                ions[ion] = level
                existing.add(ion)
        R = self.radius_um
        if sim.fields is None:
            h = min(0.05, max(0.02, R / 20.0)) if voxel_um is None else check_positive("voxel_um", voxel_um)
            sim.use_field_lattice(voxel_size=h, lo=(-R, -R, -R), hi=(R, R, R), scheme=self.field_scheme)
        elif voxel_um is not None:
            raise ParameterError("the field lattice is set by the first buffer; leave voxel_um out for later ones")
        D = 0.0 if fixed else None
        if not protein:
            sim.add_species(buf.free, D=D, kind="field")
            sim.add_species(buf.bound, D=D, kind=bound)
            free = B * buf.K_d_mM / (buf.K_d_mM + self.ca_rest_mM)
            sim.fill(buf.free.name, free)
            sim.add_reaction(buf.reaction)
            self.buffers.append((buf, B))
            return buf
        ion_species = {c.ion.name: c.ion for c in buf.competitors}
        for sp in buf.species:
            sim.add_species(sp, D=None if sp.name in ion_species else D, kind="field")
        for ion, value in ions.items():
            if ion not in existing:
                sim.fill(ion, value)
        for name, value in buf.equilibrium(B, self.ca_rest_mM, ions).items():
            sim.fill(name, value)
        for r in buf.reactions:
            sim.add_reaction(r)
        self.buffers.append((buf, B))
        return buf

    def add_pump(self, density_per_um2: float = 180.0, k_on_per_mM_ms: float = 150.0, k_off_per_ms: float = 0.015,
                 k_cat_per_ms: float = 0.012, seed: int = 1):
        """Saturable Ca2+ pumps (PMCA-like) at ``density_per_um2`` on the membrane outside the active
        zone, as fixed sites: Ca2+ + pump <-> Capump (k_on [1/(mM ms)], k_off [1/ms]), Capump ->
        pump + Ca_extruded (k_cat [1/ms]); K_m = (k_off + k_cat) / k_on = 0.18 uM with the defaults.
        The defaults are illustrative PMCA values (k_on 1.5e8 /M/s, k_off 15 /s, k_cat 12 /s,
        180 /um^2, as tabulated in published spine models; their primary source was not checked
        here). Returns the number of pumps."""
        from ..reactions.spec import Reaction
        from ..species import Species

        if self.pumps is not None:
            raise ParameterError("this terminal has pumps already")
        dens = check_positive("pump density [1/um^2]", density_per_um2)
        R, a = self.radius_um, self.active_zone_radius_um
        # area of the sphere outside the cap within chord distance a of the south pole: 4 pi R^2 - pi a^2
        area = 4.0 * math.pi * R * R - math.pi * a * a
        rng = np.random.default_rng(seed)
        n = int(rng.poisson(dens * area))
        pts = []
        while len(pts) < n:
            v = rng.normal(size=(2 * n + 8, 3))
            v = (1.0 - 1e-9) * R * v / np.linalg.norm(v, axis=1)[:, None]  # on the membrane (rounding: inside)
            v = v[np.linalg.norm(v - (0.0, 0.0, -R), axis=1) > a]
            pts.extend(v[: n - len(pts)])
        sim = self.sim
        sim.add_species(Species("pump", 0, 1.0, 1.0), D=0.0)
        sim.add_species(Species("Capump", 2, 1.0, 1.0), D=0.0)
        sim.add_species(Species("Ca_extruded", 2, 1.0, 1.0), D=0.0)
        if n:
            sim.add_sites("pump", np.array(pts))
        sim.add_reaction(Reaction("Ca2+ + pump <-> Capump", rate=check_positive("k_on", k_on_per_mM_ms),
                                  reverse_rate=check_positive("k_off", k_off_per_ms)))
        sim.add_reaction(Reaction("Capump -> pump + Ca_extruded", rate=check_positive("k_cat", k_cat_per_ms)))
        self.pumps = n
        return n

    # ---------------------------------------------------------------- running and readouts
    def run(self, duration_ms: float, progress: bool | None = None) -> "Terminal":
        """Advance the voltage, channels, particles and reactions by ``duration_ms`` [ms]."""
        self.coupling.run(duration_ms, progress=progress)
        return self

    @property
    def time_ms(self) -> float:
        return self.sim.time

    def voltage(self) -> tuple[np.ndarray, np.ndarray]:
        """(t [ms], V [mV]) at the bouton, every electrical step."""
        return np.asarray(self.V_probe.time_ms), np.asarray(self.V_probe.V_mV)

    def ca_current(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(t [ms], I_Ca [pA] (inward negative), open channels) summed over the channels, per
        electrical step."""
        if not self.channels:
            raise ParameterError("this terminal has no Ca2+ channels; add_channels first")
        tr = [c.trace() for c in self.channels]
        return tr[0]["time_ms"], np.sum([t["I_pA"] for t in tr], axis=0), np.sum([t["n_open"] for t in tr], axis=0)

    def ca_entered(self) -> int:
        """Ca2+ ions that came in through the channels so far."""
        return int(sum(c.ions_in["Ca2+"] for c in self.channels))

    def fusion_times(self) -> np.ndarray:
        """Times [ms] of every fusion of every vesicle group so far, in order."""
        ts = [v.fusion_times() for v in self.vesicles]
        return np.sort(np.concatenate(ts)) if ts else np.zeros(0)

    def release_events(self) -> list[tuple[float, np.ndarray, int]]:
        """Every fusion so far as (time [ms], the point [um] where the vesicle touches the
        membrane, transmitter molecules released), in time order."""
        out = []
        for v in self.vesicles:
            ts, sites = v.fusion_events()
            for t, p in zip(ts, sites):
                k = int(np.argmin(np.linalg.norm(v.positions - p, axis=1)))
                out.append((float(t), v.contacts[k].copy(), v.transmitter_per_vesicle))
        out.sort(key=lambda e: e[0])
        return out

    def release_per_spike(self) -> np.ndarray:
        """Fusions after each spike of the train, counted from its stimulus to the next one's (the
        last to now); fusions before the first spike (spontaneous) are left out."""
        fus = self.fusion_times()
        edges = np.r_[self.spike_times_ms, np.inf]
        return np.array([int(np.count_nonzero((fus >= a) & (fus < b))) for a, b in zip(edges[:-1], edges[1:])])

    def paired_pulse_ratio(self) -> float:
        """Release after the second spike over release after the first (NaN if the first released
        nothing); needs a train of at least two spikes."""
        r = self.release_per_spike()
        if r.size < 2:
            raise ParameterError("the paired-pulse ratio needs at least two spikes (spike_times_ms)")
        return float(r[1] / r[0]) if r[0] else float("nan")

    def coupling_distances_um(self) -> np.ndarray:
        """(vesicles, channels) distances [um] from each sensor to each channel's pore."""
        s = np.array([p for v in self.vesicles for p in v.positions]).reshape(-1, 3)
        c = np.array([ch.at for ch in self.channels]).reshape(-1, 3)
        return np.linalg.norm(s[:, None, :] - c[None, :, :], axis=2)


def _disc_points(n, radius, rng):
    r = radius * np.sqrt(rng.uniform(size=n))
    th = rng.uniform(0, 2 * math.pi, n)
    return np.c_[r * np.cos(th), r * np.sin(th)]


def small_hippocampal_bouton(n_channels: int = 10, n_vesicles: int = 7, coupling_nm: float = 20.0, scheme=None,
                             seed: int = 0, **kw) -> Terminal:
    """A small hippocampal (CA3-CA1) bouton: radius 0.3 um (volume 0.11 um^3), an active zone of
    radius 0.11 um (0.04 um^2; bouton and zone sizes as commonly quoted from Schikorski & Stevens
    1997, J. Neurosci. 17:5858, not re-read), ``n_channels`` P/Q-type channels (Li et al. 2007) in a
    cluster of radius 30 nm at the zone's centre, and ``n_vesicles`` docked vesicles on a ring
    ``coupling_nm`` outside the cluster's edge, with the Schneggenburger & Neher 2000 sensor
    (default ``scheme``). Other keywords go to :class:`Terminal`."""
    from .ca_channels import li_2007
    from .sensors import schneggenburger_neher_2000

    kw.setdefault("radius_um", 0.3)
    kw.setdefault("active_zone_radius_um", 0.11)
    term = Terminal(seed=seed, **kw)
    rng = np.random.default_rng(seed)
    term.add_channels(li_2007("P/Q"), _disc_points(n_channels, 0.03, rng))
    ring = 0.03 + coupling_nm * 1e-3
    th = 2 * math.pi * np.arange(n_vesicles) / n_vesicles
    term.add_vesicles(np.c_[ring * np.cos(th), ring * np.sin(th)], scheme or schneggenburger_neher_2000())
    return term


def calyx_active_zone(n_channels: int = 20, n_vesicles: int = 10, coupling_nm: float = 25.0, scheme=None,
                      seed: int = 0, **kw) -> Terminal:
    """One active zone of a calyx of Held: the local cytoplasm as a sphere of radius 1 um, an
    active zone of radius 0.2 um, ``n_channels`` P/Q-type channels of Borst & Sakmann 1998 in a
    cluster of radius 50 nm, ``n_vesicles`` vesicles on a ring ``coupling_nm`` outside it, with the
    Schneggenburger & Neher 2000 sensor (measured at this synapse). Keywords to :class:`Terminal`."""
    from .ca_channels import borst_sakmann_1998
    from .sensors import schneggenburger_neher_2000

    kw.setdefault("radius_um", 1.0)
    kw.setdefault("active_zone_radius_um", 0.2)
    term = Terminal(seed=seed, **kw)
    rng = np.random.default_rng(seed)
    term.add_channels(borst_sakmann_1998(), _disc_points(n_channels, 0.05, rng))
    ring = 0.05 + coupling_nm * 1e-3
    th = 2 * math.pi * np.arange(n_vesicles) / n_vesicles
    term.add_vesicles(np.c_[ring * np.cos(th), ring * np.sin(th)], scheme or schneggenburger_neher_2000())
    return term
