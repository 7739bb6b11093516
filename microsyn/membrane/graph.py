"""Compartment graphs: the electrical skeleton of a membrane (cable, neuron, sheet, surface).

A :class:`CompartmentGraph` holds one node per isopotential patch of membrane and one edge per
cytoplasmic (axial) resistor between two patches:

- nodes: membrane area [um^2], specific capacitance [pF/um^2] (default 1 uF/cm^2 = 0.01 pF/um^2),
  specific leak conductance [nS/um^2] and leak reversal [mV], a position [um] and a label
  (``"soma"``, ``"dend"``, ``"axon"``, ``"node"``, ``"internode"``, ``"sheet"``, ``"surface"``);
- edges: axial conductance [nS] from the cytoplasmic resistivity (default 100 ohm cm) and the
  geometry, g = cross-section / (length * rho).

Builders: :func:`cable` (unbranched), :func:`branched` / :func:`neuron_morphology` (soma,
dendrites, axon), :func:`myelinated_axon`, :func:`from_swc` (SWC files), :func:`sheet` (a flat
membrane sheet over a thin cytoplasm layer) and :func:`graph_from_surface` (the triangulated
membrane surface of a particle-engine geometry or mesh: one compartment per vertex).

References
----------
Rall W. (1959) Exp. Neurol. 1:491, doi:10.1016/0014-4886(59)90046-9 (compartmental cable).
Hines M. (1984) Int. J. Biomed. Comput. 15:69, doi:10.1016/0020-7101(84)90008-4.
Cannon R.C., Turner D.A., Pyapali G.K. & Wheal H.V. (1998) J. Neurosci. Methods 84:49,
doi:10.1016/S0165-0270(98)00091-0 (SWC format).
Meyer M., Desbrun M., Schroeder P. & Barr A.H. (2003) Visualization and Mathematics III, 35,
doi:10.1007/978-3-662-05105-4_2 (cotangent Laplacian on triangle meshes).
"""
from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..errors import GeometryError, ParameterError, check_count, check_positive
from ..units import resistivity_ohm_cm_to_base

__all__ = [
    "CompartmentGraph",
    "DisconnectedGraphError",
    "NoMembraneError",
    "Section",
    "cable",
    "branched",
    "neuron_morphology",
    "myelinated_axon",
    "from_swc",
    "sheet",
    "graph_from_surface",
    "DEFAULT_CM_PF_PER_UM2",
    "DEFAULT_RA_OHM_CM",
    "DEFAULT_G_LEAK_NS_PER_UM2",
    "DEFAULT_E_LEAK_MV",
]

#: 1 uF/cm^2 [pF/um^2]
DEFAULT_CM_PF_PER_UM2 = 0.01
#: cytoplasmic resistivity [ohm cm]
DEFAULT_RA_OHM_CM = 100.0
#: leak conductance for R_m = 20 kohm cm^2: 5e-5 S/cm^2 = 5e-4 nS/um^2
DEFAULT_G_LEAK_NS_PER_UM2 = 5e-4
#: leak reversal [mV]
DEFAULT_E_LEAK_MV = -70.0


class DisconnectedGraphError(GeometryError):
    """The compartment graph falls apart into pieces that no axial resistor joins."""


class NoMembraneError(GeometryError):
    """A probe, channel or electrode was placed where there is no membrane compartment."""


def _arr(name, value, n, *, positive=True, allow_zero=False):
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise ParameterError(f"{name} must be a number or an array of {n} values, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ParameterError(f"{name} contains NaN or inf; give finite values")
    if positive:
        bad = (a < 0) | ((a == 0) & (not allow_zero))
        if np.any(bad):
            k = int(np.flatnonzero(bad)[0])
            need = ">= 0" if allow_zero else "> 0"
            raise ParameterError(f"{name} must be {need} everywhere; entry {k} is {a[k]!r}")
    return a.copy()


class CompartmentGraph:
    """A graph of isopotential membrane compartments joined by axial conductances.

    Parameters
    ----------
    area_um2 : array (n,)
        Membrane area of each compartment [um^2], > 0.
    edges : array (m, 2) of int
        Node pairs joined by cytoplasm.
    g_axial_nS : array (m,)
        Axial conductance of each edge [nS], > 0.
    cm_pF_per_um2 : float or array (n,)
        Specific membrane capacitance [pF/um^2]; default 0.01 (= 1 uF/cm^2).
    g_leak_nS_per_um2 : float or array (n,)
        Specific leak conductance [nS/um^2] (>= 0); default 5e-4 (R_m = 20 kohm cm^2).
    e_leak_mV : float or array (n,)
        Leak reversal potential [mV].
    xyz_um : array (n, 3), optional
        Compartment centres [um] (used to place probes and channels by position).
    labels : sequence of str (n,), optional
        Region name of each node (``"soma"``, ``"dend"``, ``"axon"``, ...).
    diameter_um : array (n,), optional
        Diameter of cylindrical compartments [um] (NaN where it does not apply).
    edge_length_um : array (m,), optional
        Centre-to-centre distance of each edge [um].
    allow_disconnected : bool
        Accept a graph of several pieces (otherwise :class:`DisconnectedGraphError`).
    junctions : index array, optional
        Nodes without membrane (area 0) where branches meet: the point where a parent cable's
        axial resistance ends and its children's begin (NEURON's zero-area end node). Their area
        must be 0, every other node's > 0, and no two junctions may be joined directly.

    Notes
    -----
    Each node i obeys C_i dV_i/dt = -sum_j g_ij (V_i - V_j) - G_leak,i (V_i - E_leak,i) - I_ion,i + I_inj,i
    with C_i = c_m A_i [pF] and G_leak,i = g_leak A_i [nS] (Rall 1959,
    doi:10.1016/0014-4886(59)90046-9). A junction has C = G_leak = 0: its equation is the
    current balance sum_j g_ij (V_i - V_j) = I_inj,i, solved with the rest in each implicit step.

    Example
    -------
    >>> g = CompartmentGraph([100.0, 100.0], [[0, 1]], [1.0])
    >>> g.capacitance_pF.tolist()
    [1.0, 1.0]
    """

    def __init__(self, area_um2, edges, g_axial_nS, *, cm_pF_per_um2=DEFAULT_CM_PF_PER_UM2,
                 g_leak_nS_per_um2=DEFAULT_G_LEAK_NS_PER_UM2, e_leak_mV=DEFAULT_E_LEAK_MV,
                 xyz_um=None, labels=None, diameter_um=None, edge_length_um=None,
                 allow_disconnected: bool = False, junctions=None):
        area = np.asarray(area_um2, dtype=np.float64).ravel()
        n = area.size
        if n == 0:
            raise GeometryError("a compartment graph needs at least one compartment")
        self.is_junction = np.zeros(n, bool)
        if junctions is not None:
            jn = np.atleast_1d(np.asarray(junctions))
            if jn.size and (jn.dtype.kind not in "iu" or jn.min() < 0 or jn.max() >= n):
                raise GeometryError(f"junctions must be node indices in 0..{n - 1}, got {junctions!r}")
            self.is_junction[jn.astype(np.int64)] = True
        self.area_um2 = _arr("area_um2 (compartment membrane area)", area, n, allow_zero=True)
        bad = (self.area_um2 == 0) != self.is_junction
        if np.any(bad):
            k = int(np.flatnonzero(bad)[0])
            raise GeometryError(
                f"node {k} has area {self.area_um2[k]!r} um^2 but is {'' if self.is_junction[k] else 'not '}a "
                f"junction: compartments need area > 0, and only junctions (listed in `junctions`) have area 0")
        if self.is_junction.all():
            raise GeometryError("a compartment graph needs at least one membrane compartment (area > 0)")
        self.cm_pF_per_um2 = _arr("cm_pF_per_um2 (specific capacitance)", cm_pF_per_um2, n)
        self.g_leak_nS_per_um2 = _arr("g_leak_nS_per_um2", g_leak_nS_per_um2, n, allow_zero=True)
        self.e_leak_mV = _arr("e_leak_mV", e_leak_mV, n, positive=False)
        e = np.asarray(edges, dtype=np.int64).reshape(-1, 2) if len(np.asarray(edges)) else np.zeros((0, 2), np.int64)
        if e.size and (e.min() < 0 or e.max() >= n):
            raise GeometryError(f"edges refer to nodes outside 0..{n - 1}; check the edge list")
        if np.any(e[:, 0] == e[:, 1]):
            raise GeometryError("an edge joins a node to itself; remove self-loops")
        self.edges = e
        self.g_axial_nS = _arr("g_axial_nS (axial conductance)", g_axial_nS, len(e))
        if len(e) and np.any(self.is_junction[e[:, 0]] & self.is_junction[e[:, 1]]):
            raise GeometryError("two junctions are joined directly; merge them into one junction node")
        if xyz_um is None:
            xyz = np.full((n, 3), np.nan)
        else:
            xyz = np.asarray(xyz_um, dtype=np.float64)
            if xyz.shape != (n, 3):
                raise ParameterError(f"xyz_um must have shape ({n}, 3), got {xyz.shape}")
        self.xyz_um = xyz
        self.labels = np.asarray(["node"] * n if labels is None else list(labels), dtype=object)
        if self.labels.shape != (n,):
            raise ParameterError(f"labels must give one name per node ({n})")
        self.diameter_um = np.full(n, np.nan) if diameter_um is None else np.asarray(diameter_um, float)
        if edge_length_um is None:
            if np.all(np.isfinite(xyz)):
                edge_length_um = np.linalg.norm(xyz[e[:, 0]] - xyz[e[:, 1]], axis=1) if len(e) else np.zeros(0)
            else:
                edge_length_um = np.full(len(e), np.nan)
        self.edge_length_um = np.asarray(edge_length_um, float)
        self._n_components = None
        self.version = 0  #: incremented by every in-place change (the solver re-assembles)
        if not allow_disconnected:
            self.check_connected()

    # ------------------------------------------------------------------ properties
    @property
    def n(self) -> int:
        """Number of compartments."""
        return self.area_um2.size

    def __len__(self):
        return self.n

    @property
    def capacitance_pF(self) -> np.ndarray:
        """Membrane capacitance of each compartment [pF]."""
        return self.area_um2 * self.cm_pF_per_um2

    @property
    def g_leak_nS(self) -> np.ndarray:
        """Leak conductance of each compartment [nS]."""
        return self.area_um2 * self.g_leak_nS_per_um2

    @property
    def junctions(self) -> np.ndarray:
        """Indices of the junction nodes (no membrane; where branches meet)."""
        return np.flatnonzero(self.is_junction)

    @property
    def membrane_nodes(self) -> np.ndarray:
        """Indices of the nodes that carry membrane (all but the junctions)."""
        return np.flatnonzero(~self.is_junction)

    @property
    def is_tree(self) -> bool:
        """True when the graph is connected and has no loops (Hines ordering applies)."""
        return self.n_components == 1 and len(self.edges) == self.n - 1

    @property
    def n_components(self) -> int:
        """Number of connected pieces."""
        if self._n_components is None:
            self._n_components = connected_components(self.adjacency(), directed=False)[0]
        return self._n_components

    def adjacency(self) -> sp.csr_matrix:
        """Symmetric sparse matrix of axial conductances [nS]."""
        e, g = self.edges, self.g_axial_nS
        a = sp.coo_matrix((np.r_[g, g], (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])), shape=(self.n, self.n))
        return a.tocsr()

    def laplacian(self) -> sp.csr_matrix:
        """Axial conductance matrix L [nS] (L V gives the net axial current out of each node [pA])."""
        a = self.adjacency()
        return (sp.diags(np.asarray(a.sum(axis=1)).ravel()) - a).tocsr()

    def check_connected(self) -> None:
        """Raise :class:`DisconnectedGraphError` when the graph is in several pieces."""
        if self.n_components != 1:
            labels = connected_components(self.adjacency(), directed=False)[1]
            sizes = np.bincount(labels)
            raise DisconnectedGraphError(
                f"the compartment graph falls apart into {len(sizes)} pieces (sizes {sizes[:8].tolist()}"
                f"{'...' if len(sizes) > 8 else ''}); add edges (axial conductances) joining them, "
                f"or build one graph per cell")

    # ------------------------------------------------------------------ editing
    def set_membrane(self, nodes=None, *, cm_pF_per_um2=None, g_leak_nS_per_um2=None, e_leak_mV=None):
        """Change the membrane properties of some nodes (all when ``nodes`` is None), in place.

        Parameters
        ----------
        nodes : index array, label name or None
        cm_pF_per_um2 : float, optional
            Specific capacitance [pF/um^2] > 0.
        g_leak_nS_per_um2 : float, optional
            Specific leak conductance [nS/um^2] >= 0.
        e_leak_mV : float, optional
            Leak reversal [mV].
        """
        idx = self.select(nodes)
        if cm_pF_per_um2 is not None:
            self.cm_pF_per_um2[idx] = _arr("cm_pF_per_um2", cm_pF_per_um2, len(idx))
        if g_leak_nS_per_um2 is not None:
            self.g_leak_nS_per_um2[idx] = _arr("g_leak_nS_per_um2", g_leak_nS_per_um2, len(idx), allow_zero=True)
        if e_leak_mV is not None:
            self.e_leak_mV[idx] = _arr("e_leak_mV", e_leak_mV, len(idx), positive=False)
        self.version += 1
        return self

    def select(self, nodes=None, *, membrane: bool = False) -> np.ndarray:
        """Node indices for ``None`` (all), a label name (``"axon"``), an int or an index array.

        With ``membrane=True`` (for channels): ``None`` and labels give only membrane nodes, and
        an explicit junction index raises :class:`NoMembraneError`."""
        if nodes is None:
            return self.membrane_nodes if membrane else np.arange(self.n)
        if isinstance(nodes, str):
            idx = np.flatnonzero((self.labels == nodes) & ~(self.is_junction if membrane else False))
            if idx.size == 0:
                raise NoMembraneError(f"no {'membrane ' if membrane else ''}compartment is labelled {nodes!r}; "
                                      f"labels present: {sorted(set(self.labels.tolist()))}")
            return idx
        idx = np.atleast_1d(np.asarray(nodes))
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        if idx.dtype.kind not in "iu":
            raise ParameterError(f"nodes must be whole-number indices, got {nodes!r}")
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n):
            raise NoMembraneError(f"node index out of range: the graph has nodes 0..{self.n - 1}; "
                                  f"got {idx[(idx < 0) | (idx >= self.n)][:5].tolist()}")
        if membrane and np.any(self.is_junction[idx]):
            raise NoMembraneError(f"nodes {idx[self.is_junction[idx]][:5].tolist()} are junctions (branch points "
                                  f"without membrane); put channels on membrane compartments")
        return idx

    def nearest_node(self, point_um, max_distance_um: float | None = None) -> int:
        """Index of the membrane compartment whose centre is nearest to a point [um] (junctions,
        which have no membrane, are never returned).

        Parameters
        ----------
        point_um : 3 numbers
            Position [um].
        max_distance_um : float, optional
            Largest accepted distance [um]; default: 1.5 x the largest edge length (or 1.5 x the
            compartment radius of a single-node graph). Further away raises
            :class:`NoMembraneError`.
        """
        p = np.asarray(point_um, dtype=float)
        if p.shape != (3,) or not np.all(np.isfinite(p)):
            raise ParameterError(f"point_um must be three finite numbers (x, y, z) in um, got {point_um!r}")
        if not np.all(np.isfinite(self.xyz_um)):
            raise NoMembraneError("this graph has no compartment positions; place by node index instead, "
                                  "or build it with xyz_um")
        d2 = np.sum((self.xyz_um - p) ** 2, axis=1)
        d2[self.is_junction] = np.inf  # a junction has no membrane
        k = int(np.argmin(d2))
        d = math.sqrt(d2[k])
        if max_distance_um is None:
            lengths = self.edge_length_um[np.isfinite(self.edge_length_um)]
            scale = lengths.max() if lengths.size else 0.0
            dia = self.diameter_um[k] if np.isfinite(self.diameter_um[k]) else math.sqrt(self.area_um2[k] / math.pi)
            max_distance_um = 1.5 * max(scale, dia)
        if d > max_distance_um:
            raise NoMembraneError(
                f"no membrane compartment within {max_distance_um:.3g} um of {p.tolist()} (nearest is node {k} "
                f"at {d:.3g} um); place the probe or channel on the membrane, or pass a larger max_distance_um")
        return k

    def path_distance_um(self, source: int) -> np.ndarray:
        """Distance [um] along the graph (sum of edge lengths) from node ``source`` to every node."""
        from scipy.sparse.csgraph import dijkstra
        e, L = self.edges, self.edge_length_um
        if not np.all(np.isfinite(L)):
            raise GeometryError("edge lengths are unknown for this graph; build it with positions")
        m = sp.coo_matrix((np.r_[L, L] + 1e-300, (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])),
                          shape=(self.n, self.n)).tocsr()
        return dijkstra(m, directed=False, indices=int(self.select(source)[0]))

    def __repr__(self):
        kinds = sorted(set(self.labels.tolist()))
        return (f"CompartmentGraph(n={self.n}, edges={len(self.edges)}, tree={self.is_tree}, "
                f"area={self.area_um2.sum():.4g} um^2, labels={kinds})")


# ====================================================================== builders
def _rho(ra_ohm_cm):
    return resistivity_ohm_cm_to_base(check_positive("ra_ohm_cm (cytoplasmic resistivity)", ra_ohm_cm))


def cable(length_um: float, diameter_um: float, n_segments: int, *, cm_pF_per_um2=DEFAULT_CM_PF_PER_UM2,
          ra_ohm_cm=DEFAULT_RA_OHM_CM, g_leak_nS_per_um2=DEFAULT_G_LEAK_NS_PER_UM2,
          e_leak_mV=DEFAULT_E_LEAK_MV, label: str = "cable", origin_um=(0.0, 0.0, 0.0),
          direction=(1.0, 0.0, 0.0)) -> CompartmentGraph:
    """An unbranched cylindrical cable with sealed ends, cut into equal compartments.

    Parameters
    ----------
    length_um : float
        Cable length [um] > 0.
    diameter_um : float
        Diameter [um] > 0.
    n_segments : int
        Number of compartments >= 1 (node k sits at (k + 1/2) * length / n from the origin).
    cm_pF_per_um2 : float
        Specific capacitance [pF/um^2] (0.01 = 1 uF/cm^2).
    ra_ohm_cm : float
        Cytoplasmic resistivity [ohm cm] (default 100).
    g_leak_nS_per_um2 : float
        Leak conductance [nS/um^2] (5e-4 = 1/(20 kohm cm^2)).
    e_leak_mV : float
        Leak reversal [mV].
    label : str
        Region label of every node.
    origin_um, direction : 3 numbers
        Start point [um] and direction of the axis.

    Notes
    -----
    Segment length dx = L / n; membrane area pi d dx; axial conductance between neighbours
    g = (pi d^2 / 4) / (rho dx). The length constant is lambda = sqrt(d / (4 rho g_m)) and the
    time constant tau_m = c_m / g_m (Rall 1959, doi:10.1016/0014-4886(59)90046-9).

    Example
    -------
    >>> g = cable(1000.0, 1.0, 100)
    >>> round(float(g.area_um2.sum()), 1)
    3141.6
    """
    L = check_positive("length_um (cable length)", length_um)
    d = check_positive("diameter_um (cable diameter)", diameter_um)
    n = check_count("n_segments", n_segments, allow_zero=False)
    rho = _rho(ra_ohm_cm)
    dx = L / n
    u = np.asarray(direction, float)
    if u.shape != (3,) or not np.all(np.isfinite(u)) or np.linalg.norm(u) == 0:
        raise ParameterError(f"direction must be a non-zero 3-vector, got {direction!r}")
    u = u / np.linalg.norm(u)
    xyz = np.asarray(origin_um, float) + np.outer((np.arange(n) + 0.5) * dx, u)
    edges = np.c_[np.arange(n - 1), np.arange(1, n)]
    g = np.full(n - 1, math.pi * d * d / 4.0 / (rho * dx))
    return CompartmentGraph(np.full(n, math.pi * d * dx), edges, g, cm_pF_per_um2=cm_pF_per_um2,
                            g_leak_nS_per_um2=g_leak_nS_per_um2, e_leak_mV=e_leak_mV, xyz_um=xyz,
                            labels=[label] * n, diameter_um=np.full(n, d), edge_length_um=np.full(n - 1, dx))


@dataclass
class Section:
    """An unbranched cylindrical piece of a neuron for :func:`branched`.

    Parameters
    ----------
    name : str
        Unique name.
    length_um, diameter_um : float
        Length and diameter [um].
    n_segments : int
        Compartments.
    parent : str or None
        Name of the section whose far end (or soma) this one starts from; None for the root.
    label : str
        Region label (``"dend"``, ``"axon"``, ...).
    direction : 3 numbers
        Direction in which the section grows (for positions).
    cm_pF_per_um2, g_leak_nS_per_um2 : float, optional
        Override the graph-wide membrane values for this section.
    """

    name: str
    length_um: float
    diameter_um: float
    n_segments: int = 1
    parent: str | None = None
    label: str = "dend"
    direction: Sequence[float] = (1.0, 0.0, 0.0)
    cm_pF_per_um2: float | None = None
    g_leak_nS_per_um2: float | None = None
    sphere: bool = False


def branched(sections: Iterable[Section], *, cm_pF_per_um2=DEFAULT_CM_PF_PER_UM2, ra_ohm_cm=DEFAULT_RA_OHM_CM,
             g_leak_nS_per_um2=DEFAULT_G_LEAK_NS_PER_UM2, e_leak_mV=DEFAULT_E_LEAK_MV) -> CompartmentGraph:
    """A branched neuron from :class:`Section` pieces (soma, dendrites, axon).

    A section with ``sphere=True`` is one isopotential compartment of area pi d^2 (a soma).
    Children attach to the far end of their parent (a sphere: its centre). With
    R_half = rho (dx/2) / (pi d^2 / 4) the resistance from a compartment's centre to its end
    (zero for a sphere):

    - a parent with one child: one edge of conductance 1 / (R_half,parent + R_half,child)
      between the parent's last and the child's first compartment (exact: two resistors in
      series);
    - a cylindrical parent with several children: a junction node (area 0, label
      ``"junction"``) at the branch point, joined to the parent's last compartment by
      1 / R_half,parent and to each child's first compartment by 1 / R_half,child, so the
      parent's half segment is counted once (as NEURON's zero-area end node); a sphere child
      among them is itself the junction;
    - a sphere parent: each child joins its centre with 1 / R_half,child.

    Junction nodes come after all section nodes, so section node indices do not depend on them.

    Returns
    -------
    CompartmentGraph
        Nodes in section order, then the junctions; ``graph.sections`` maps each name to its node
        indices, ``graph.junctions`` lists the junctions.

    Notes
    -----
    Rall 1959, doi:10.1016/0014-4886(59)90046-9; Hines 1984, doi:10.1016/0020-7101(84)90008-4.
    """
    rho = _rho(ra_ohm_cm)
    secs = list(sections)
    if not secs:
        raise GeometryError("give at least one section")
    byname: dict[str, dict] = {}
    children: dict[str, list] = {}
    area, cm, gl, xyz, lab, dia, edges, gax, elen = [], [], [], [], [], [], [], [], []
    for s in secs:
        if s.name in byname:
            raise GeometryError(f"two sections are named {s.name!r}; names must be unique")
        Ls = check_positive(f"section {s.name!r} length_um", s.length_um)
        ds = check_positive(f"section {s.name!r} diameter_um", s.diameter_um)
        ns = 1 if s.sphere else check_count(f"section {s.name!r} n_segments", s.n_segments, allow_zero=False)
        cms = check_positive(f"section {s.name!r} cm_pF_per_um2", cm_pF_per_um2 if s.cm_pF_per_um2 is None else s.cm_pF_per_um2)
        gls = check_positive(f"section {s.name!r} g_leak_nS_per_um2",
                             g_leak_nS_per_um2 if s.g_leak_nS_per_um2 is None else s.g_leak_nS_per_um2, allow_zero=True)
        u = np.asarray(s.direction, float)
        u = u / np.linalg.norm(u)
        if s.parent is None:
            start = np.zeros(3)
            pinfo = None
        else:
            if s.parent not in byname:
                raise GeometryError(f"section {s.name!r} names parent {s.parent!r}, which is not defined "
                                    f"before it; list parents first")
            pinfo = byname[s.parent]
            start = pinfo["end"]
        first = len(area)
        if s.sphere:
            area.append(math.pi * ds * ds)
            xyz.append(start.copy())
            end = start.copy()
            rhalf = 0.0
            dx = 0.0
        else:
            dx = Ls / ns
            for k in range(ns):
                area.append(math.pi * ds * dx)
                xyz.append(start + (k + 0.5) * dx * u)
                if k > 0:
                    edges.append((first + k - 1, first + k))
                    gax.append(math.pi * ds * ds / 4 / (rho * dx))
                    elen.append(dx)
            end = start + Ls * u
            rhalf = rho * (dx / 2) / (math.pi * ds * ds / 4)
        cm += [cms] * ns
        gl += [gls] * ns
        lab += [s.label] * ns
        dia += [ds] * ns
        if pinfo is not None:
            children.setdefault(s.parent, []).append(dict(first=first, rhalf=rhalf, dxhalf=dx / 2, name=s.name))
        byname[s.name] = dict(first=first, last=len(area) - 1, end=end, rhalf=rhalf, dxhalf=dx / 2,
                              nodes=np.arange(first, len(area)), cm=cms, dia=ds)
    n_sec = len(area)
    e_leak = np.asarray(e_leak_mV, float)
    if e_leak.ndim and e_leak.shape != (n_sec,):
        raise ParameterError(f"e_leak_mV must be a number or {n_sec} values (one per compartment), "
                             f"got shape {e_leak.shape}")
    e_leak_j = []
    for pname, kids in children.items():
        par = byname[pname]
        if len(kids) == 1 or par["rhalf"] == 0.0:
            # series resistors (one child), or a sphere parent whose centre is the branch point
            for c in kids:
                edges.append((par["last"], c["first"]))
                gax.append(1.0 / (par["rhalf"] + c["rhalf"]))
                elen.append(par["dxhalf"] + c["dxhalf"])
            continue
        spheres = [c for c in kids if c["rhalf"] == 0.0]
        if len(spheres) > 1:
            raise GeometryError(f"sections {[c['name'] for c in spheres]} are spheres on the same end of "
                                f"{pname!r}; give one of them a parent of its own")
        if spheres:
            hub, hub_dx = spheres[0]["first"], 0.0  # the sphere child is the junction
        else:
            hub, hub_dx = len(area), 0.0
            area.append(0.0)
            cm.append(par["cm"])
            gl.append(0.0)
            xyz.append(par["end"].copy())
            lab.append("junction")
            dia.append(par["dia"])
            e_leak_j.append(float(e_leak[par["last"]]) if e_leak.ndim else float(e_leak))
        edges.append((par["last"], hub))
        gax.append(1.0 / par["rhalf"])
        elen.append(par["dxhalf"] + hub_dx)
        for c in kids:
            if c["first"] == hub:
                continue
            edges.append((hub, c["first"]))
            gax.append(1.0 / c["rhalf"])
            elen.append(c["dxhalf"])
    if e_leak.ndim:
        e_leak = np.r_[e_leak, e_leak_j]
    g = CompartmentGraph(area, edges, gax, cm_pF_per_um2=cm, g_leak_nS_per_um2=gl, e_leak_mV=e_leak,
                         xyz_um=np.array(xyz), labels=lab, diameter_um=dia, edge_length_um=elen,
                         junctions=np.arange(n_sec, len(area)))
    g.sections = {k: v["nodes"] for k, v in byname.items()}
    return g


def neuron_morphology(soma_diameter_um: float = 20.0, dendrites: Sequence[tuple] = ((300.0, 2.0, 30),),
                      axon: tuple | None = (1000.0, 1.0, 100), **kw) -> CompartmentGraph:
    """A ball-and-sticks neuron: a spherical soma, dendrites and an axon.

    Parameters
    ----------
    soma_diameter_um : float
        Soma diameter [um].
    dendrites : sequence of (length_um, diameter_um, n_segments)
        One unbranched dendrite per entry, spread in directions around the soma.
    axon : (length_um, diameter_um, n_segments) or None
        The axon (grows along -x).
    **kw
        Passed to :func:`branched` (cm_pF_per_um2, ra_ohm_cm, g_leak_nS_per_um2, e_leak_mV).

    Example
    -------
    >>> g = neuron_morphology()
    >>> sorted(g.sections)
    ['axon', 'dend0', 'soma']
    """
    secs = [Section("soma", soma_diameter_um, soma_diameter_um, 1, None, "soma", sphere=True)]
    nd = len(dendrites)
    for k, (L, d, n) in enumerate(dendrites):
        ang = (k - (nd - 1) / 2) * (math.pi / 3) / max(nd, 1)
        secs.append(Section(f"dend{k}", L, d, n, "soma", "dend", (math.cos(ang), math.sin(ang), 0.0)))
    if axon is not None:
        L, d, n = axon
        secs.append(Section("axon", L, d, n, "soma", "axon", (-1.0, 0.0, 0.0)))
    return branched(secs, **kw)


def myelinated_axon(n_nodes: int = 20, *, diameter_um: float = 2.0, node_length_um: float = 1.0,
                    internode_length_um: float = 200.0, internode_segments: int = 10,
                    internode_cm_pF_per_um2: float = 0.0005, internode_g_leak_nS_per_um2: float = 1e-5,
                    **kw) -> CompartmentGraph:
    """A myelinated axon: short nodes of Ranvier (label ``"node"``) between long, low-capacitance
    internodes (label ``"internode"``).

    Parameters
    ----------
    n_nodes : int
        Nodes of Ranvier.
    diameter_um : float
        Axon diameter [um].
    node_length_um, internode_length_um : float
        Lengths [um].
    internode_segments : int
        Compartments per internode.
    internode_cm_pF_per_um2 : float
        Specific capacitance of myelinated membrane [pF/um^2] (default 0.0005 = 0.05 uF/cm^2,
        i.e. about 20 wraps of membrane).
    internode_g_leak_nS_per_um2 : float
        Leak conductance of the internode [nS/um^2].
    **kw
        ``cm_pF_per_um2``, ``ra_ohm_cm``, ``g_leak_nS_per_um2``, ``e_leak_mV`` for the nodes.

    Notes
    -----
    Huxley A.F. & Stampfli R. (1949) J. Physiol. 108:315, doi:10.1113/jphysiol.1949.sp004326
    (saltatory conduction); Rushton W.A.H. (1951) J. Physiol. 115:101,
    doi:10.1113/jphysiol.1951.sp004655.
    """
    n = check_count("n_nodes", n_nodes, allow_zero=False)
    secs = []
    prev = None
    for k in range(n):
        secs.append(Section(f"node{k}", node_length_um, diameter_um, 1, prev, "node"))
        prev = f"node{k}"
        if k < n - 1:
            secs.append(Section(f"internode{k}", internode_length_um, diameter_um, internode_segments, prev,
                                "internode", cm_pF_per_um2=internode_cm_pF_per_um2,
                                g_leak_nS_per_um2=internode_g_leak_nS_per_um2))
            prev = f"internode{k}"
    return branched(secs, **kw)


_SWC_LABELS = {1: "soma", 2: "axon", 3: "dend", 4: "apical"}


def from_swc(source, *, cm_pF_per_um2=DEFAULT_CM_PF_PER_UM2, ra_ohm_cm=DEFAULT_RA_OHM_CM,
             g_leak_nS_per_um2=DEFAULT_G_LEAK_NS_PER_UM2, e_leak_mV=DEFAULT_E_LEAK_MV) -> CompartmentGraph:
    """Read an SWC morphology (one compartment per sample point).

    Parameters
    ----------
    source : path or str
        File path, or the SWC text itself (lines ``id type x y z radius parent``, [um]).

    Notes
    -----
    Each sample owns half of each frustum joining it to its neighbours (lateral area
    pi (r1 + r2) sqrt(L^2 + (r1 - r2)^2)); a root soma sample with no parent segment gets the
    area of a sphere 4 pi r^2. Axial conductance along a segment of length L between radii r1,
    r2 is pi r1 r2 / (rho L) (exact for a frustum). SWC: Cannon et al. 1998,
    doi:10.1016/S0165-0270(98)00091-0.
    """
    if isinstance(source, (str, os.PathLike)) and os.path.exists(str(source)):
        with open(source) as fh:
            text = fh.read()
    elif isinstance(source, str) and "\n" in source or isinstance(source, str) and source.strip()[:1].isdigit():
        text = source
    else:
        raise GeometryError(f"SWC file {source!r} not found; give a path to an existing .swc file or the text")
    rows = []
    for ln, line in enumerate(io.StringIO(text), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 7:
            raise GeometryError(f"SWC line {ln}: need 7 columns 'id type x y z radius parent', got {line!r}")
        try:
            rows.append((int(parts[0]), int(parts[1]), *map(float, parts[2:6]), int(parts[6])))
        except ValueError:
            raise GeometryError(f"SWC line {ln} is not numeric: {line!r}") from None
    if not rows:
        raise GeometryError("the SWC source has no sample lines")
    ids = {r[0]: k for k, r in enumerate(rows)}
    n = len(rows)
    xyz = np.array([r[2:5] for r in rows])
    rad = np.array([r[5] for r in rows])
    if np.any(~np.isfinite(rad)) or np.any(rad <= 0) or not np.all(np.isfinite(xyz)):
        raise GeometryError("SWC radii must be finite and > 0 and coordinates finite; fix the file")
    rho = _rho(ra_ohm_cm)
    area = np.zeros(n)
    edges, gax, elen = [], [], []
    for k, r in enumerate(rows):
        p = r[6]
        if p == -1:
            continue
        if p not in ids:
            raise GeometryError(f"SWC sample {r[0]} names parent {p}, which does not exist")
        j = ids[p]
        L = float(np.linalg.norm(xyz[k] - xyz[j]))
        if L <= 0:
            raise GeometryError(f"SWC samples {r[0]} and {p} coincide (zero-length segment); merge them")
        r1, r2 = rad[k], rad[j]
        lat = math.pi * (r1 + r2) * math.sqrt(L * L + (r1 - r2) ** 2)
        area[k] += lat / 2
        area[j] += lat / 2
        edges.append((j, k))
        gax.append(math.pi * r1 * r2 / (rho * L))
        elen.append(L)
    types = np.array([r[1] for r in rows])
    for k in range(n):
        if area[k] == 0 or (types[k] == 1 and rows[k][6] == -1 and area[k] < 4 * math.pi * rad[k] ** 2):
            area[k] = max(area[k], 4 * math.pi * rad[k] ** 2)
    labels = [_SWC_LABELS.get(int(t), f"type{int(t)}") for t in types]
    return CompartmentGraph(area, edges, gax, cm_pF_per_um2=cm_pF_per_um2, g_leak_nS_per_um2=g_leak_nS_per_um2,
                            e_leak_mV=e_leak_mV, xyz_um=xyz, labels=labels, diameter_um=2 * rad, edge_length_um=elen)


def sheet(width_um: float, height_um: float, spacing_um: float, *, thickness_um: float = 1.0,
          cm_pF_per_um2=DEFAULT_CM_PF_PER_UM2, ra_ohm_cm=DEFAULT_RA_OHM_CM,
          g_leak_nS_per_um2=DEFAULT_G_LEAK_NS_PER_UM2, e_leak_mV=DEFAULT_E_LEAK_MV, z_um: float = 0.0) -> CompartmentGraph:
    """A flat square-grid membrane sheet over a cytoplasm layer of given thickness.

    Parameters
    ----------
    width_um, height_um : float
        Extent in x and y [um]; the grid is centred on the origin.
    spacing_um : float
        Grid spacing h [um] (node area h^2).
    thickness_um : float
        Thickness t of the conducting cytoplasm layer under the membrane [um].
    z_um : float
        Height of the sheet [um].

    Notes
    -----
    Neighbour conductance g = t h / (rho h) = t / rho [nS]. The steady response to a point
    current I is V(r) = I rho / (2 pi t) K0(r / lambda) with lambda = sqrt(t / (rho g_m))
    (2D cable equation).
    """
    W = check_positive("width_um", width_um)
    H = check_positive("height_um", height_um)
    h = check_positive("spacing_um", spacing_um)
    t = check_positive("thickness_um", thickness_um)
    rho = _rho(ra_ohm_cm)
    nx, ny = int(round(W / h)) + 1, int(round(H / h)) + 1
    if nx * ny > 5e7:
        raise ParameterError(f"sheet of {nx}x{ny} nodes is too large; increase spacing_um")
    x = (np.arange(nx) - (nx - 1) / 2) * h
    y = (np.arange(ny) - (ny - 1) / 2) * h
    X, Y = np.meshgrid(x, y, indexing="ij")
    idx = np.arange(nx * ny).reshape(nx, ny)
    e = np.r_[np.c_[idx[:-1, :].ravel(), idx[1:, :].ravel()], np.c_[idx[:, :-1].ravel(), idx[:, 1:].ravel()]]
    xyz = np.c_[X.ravel(), Y.ravel(), np.full(nx * ny, float(z_um))]
    g = CompartmentGraph(np.full(nx * ny, h * h), e, np.full(len(e), t / rho), cm_pF_per_um2=cm_pF_per_um2,
                         g_leak_nS_per_um2=g_leak_nS_per_um2, e_leak_mV=e_leak_mV, xyz_um=xyz,
                         labels=["sheet"] * (nx * ny), edge_length_um=np.full(len(e), h))
    g.grid_shape = (nx, ny)
    return g


def graph_from_surface(surface, thickness_um: float, *, cm_pF_per_um2=DEFAULT_CM_PF_PER_UM2,
                       ra_ohm_cm=DEFAULT_RA_OHM_CM, g_leak_nS_per_um2=DEFAULT_G_LEAK_NS_PER_UM2,
                       e_leak_mV=DEFAULT_E_LEAK_MV, allow_disconnected: bool = False) -> CompartmentGraph:
    """Compartments on the triangulated membrane surface of a geometry: one per vertex.

    Parameters
    ----------
    surface : pyvista.PolyData, microsyn.geometry shape, or (points, triangles)
        Triangle surface [um]: points (n, 3), triangles (m, 3) vertex indices. A PolyData is
        triangulated first; an object with ``to_polydata()`` (the particle engine's shapes and
        meshes) is converted. Coincident vertices are merged.
    thickness_um : float
        Thickness of the cytoplasm layer that carries axial current along the membrane [um].

    Returns
    -------
    CompartmentGraph
        Node i sits at vertex i and owns one third of the area of each triangle around it
        (barycentric dual area). A channel placed at a point of the surface maps to its
        compartment with :meth:`CompartmentGraph.nearest_node`.

    Notes
    -----
    Edge conductances use the cotangent weights of the linear finite-element Laplacian
    (Meyer et al. 2003, doi:10.1007/978-3-662-05105-4_2):
    g_ij = (t / rho) (cot a_ij + cot b_ij) / 2. Negative weights (from obtuse triangles) are
    replaced by zero so the matrix stays an M-matrix; on well-shaped meshes none are negative.
    Unused vertices are dropped.
    """
    t = check_positive("thickness_um", thickness_um)
    rho = _rho(ra_ohm_cm)
    if isinstance(surface, tuple) and len(surface) == 2:
        pts, tri = surface
    else:
        if hasattr(surface, "to_polydata") and not hasattr(surface, "triangulate"):
            surface = surface.to_polydata()  # a microsyn.geometry shape or mesh
        try:
            s = surface.triangulate()
            pts = np.asarray(s.points, float)
            faces = np.asarray(s.faces).reshape(-1, 4)
            tri = faces[:, 1:]
        except AttributeError:
            raise GeometryError("surface must be a pyvista.PolyData or a (points, triangles) pair") from None
    pts = np.asarray(pts, float)
    tri = np.asarray(tri, np.int64)
    if pts.ndim != 2 or pts.shape[1] != 3 or tri.ndim != 2 or tri.shape[1] != 3 or len(tri) == 0:
        raise GeometryError("need points of shape (n, 3) and at least one triangle of shape (m, 3)")
    if not np.all(np.isfinite(pts)):
        raise GeometryError("surface points contain NaN or inf")
    if tri.min() < 0 or tri.max() >= len(pts):
        raise GeometryError("triangles refer to points that do not exist")
    # merge coincident vertices (STL files repeat each vertex in every triangle)
    span = float(np.max(np.ptp(pts, axis=0))) or 1.0
    key = np.round(pts / (span * 1e-9)).astype(np.int64)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    if first.size < len(pts):
        pts = pts[first]
        tri = inverse.ravel()[tri]
        tri = tri[(tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 0] != tri[:, 2])]
    used = np.unique(tri)
    remap = -np.ones(len(pts), np.int64)
    remap[used] = np.arange(used.size)
    tri = remap[tri]
    pts = pts[used]
    P0, P1, P2 = pts[tri[:, 0]], pts[tri[:, 1]], pts[tri[:, 2]]
    cr = np.cross(P1 - P0, P2 - P0)
    tarea = 0.5 * np.linalg.norm(cr, axis=1)
    if np.any(tarea <= 0):
        raise GeometryError(f"{int(np.sum(tarea <= 0))} triangles have zero area; clean the mesh")
    area = np.zeros(len(pts))
    for c in range(3):
        np.add.at(area, tri[:, c], tarea / 3)
    # cotangent of the angle at corner c, opposite edge (c+1, c+2)
    ii, jj, ww = [], [], []
    for c in range(3):
        a, b, o = tri[:, (c + 1) % 3], tri[:, (c + 2) % 3], tri[:, c]
        u, v = pts[a] - pts[o], pts[b] - pts[o]
        cot = np.sum(u * v, axis=1) / (2 * tarea)
        ii.append(a)
        jj.append(b)
        ww.append(0.5 * cot)
    ii, jj, ww = np.concatenate(ii), np.concatenate(jj), np.concatenate(ww)
    lo, hi = np.minimum(ii, jj), np.maximum(ii, jj)
    m = sp.coo_matrix((ww, (lo, hi)), shape=(len(pts), len(pts))).tocsr()
    m.sum_duplicates()
    coo = m.tocoo()
    w = np.maximum(coo.data, 0.0) * t / rho
    keep = w > 0
    e = np.c_[coo.row[keep], coo.col[keep]]
    return CompartmentGraph(area, e, w[keep], cm_pF_per_um2=cm_pF_per_um2, g_leak_nS_per_um2=g_leak_nS_per_um2,
                            e_leak_mV=e_leak_mV, xyz_um=pts, labels=["surface"] * len(pts),
                            allow_disconnected=allow_disconnected)
