"""VTK files for ParaView: ions (.vtp), lattice fields (.vti), membrane with V (.vtp), and .pvd
time series tying them together.

Written from a results file (:func:`export_results`) or from a running simulation (the recorder
:class:`VTKSeriesWriter`). Files per frame ``k``::

    ions_{k:06d}.vtp       points [um], point data species_id (int32, index into the field data
                           array species_names) and particle_id (int64, the simulation's id of
                           each ion; left out when the results file has no ids, i.e. it was
                           written with ResultsWriter(store_ids=False)); field data time_ms
    lattice_{k:06d}.vti    cell data conc_mM_<species> [mM], charge_e_per_um3 [e/um^3]
    membrane_{k:06d}.vtp   the membrane surfaces, point data V_mV [mV] (nearest compartment)
    ions.pvd, lattice.pvd, membrane.pvd   one time series each (timestep = time [ms])
    <prefix>.pvd           all of them as parts of one series

Open ``<prefix>.pvd`` in ParaView (File > Open); the time axis is in ms.
"""
from __future__ import annotations

import os
from xml.sax.saxutils import quoteattr

import numpy as np

from .errors import ParameterError
from .recorders import _as_trigger

KINDS = ("ions", "lattice", "membrane")


def _pv():
    from .render.headless import configure

    configure()
    import pyvista as pv

    return pv


def write_pvd(path, entries) -> None:
    """Write a ParaView collection: ``entries`` is a list of (time [ms], part, file name)."""
    lines = ['<?xml version="1.0"?>',
             '<VTKFile type="Collection" version="0.1" byte_order="LittleEndian">',
             "  <Collection>"]
    for t, part, fname in entries:
        lines.append(f'    <DataSet timestep="{float(t):.12g}" group="" part="{int(part)}" file={quoteattr(fname)}/>')
    lines += ["  </Collection>", "</VTKFile>", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def _ions_polydata(pv, frame, species_names):
    pts, sid, pid, drawn = [], [], [], []
    for k, s in enumerate(species_names):
        p = frame.positions.get(s)
        if p is None or len(p) == 0:
            continue
        pts.append(np.asarray(p, float))
        sid.append(np.full(len(p), k, np.int32))
        ids = frame.ids.get(s)
        if ids is not None and len(ids) != len(p):
            raise ParameterError(f"frame {frame.index}: {len(ids)} ids for {len(p)} {s} positions")
        pid.append(None if ids is None else np.asarray(ids, np.int64))
        drawn.append(s)
    if pts:
        pd = pv.PolyData(np.concatenate(pts))
        pd.point_data["species_id"] = np.concatenate(sid)
        if any(a is not None for a in pid):
            if any(a is None for a in pid):
                missing = [s for s, a in zip(drawn, pid) if a is None]
                raise ParameterError(f"frame {frame.index} has particle ids for some species but not for {missing}")
            pd.point_data["particle_id"] = np.concatenate(pid)
    else:
        pd = pv.PolyData()
    pd.field_data["species_names"] = np.array(species_names, dtype=str) if species_names else np.array([""])
    pd.field_data["time_ms"] = np.array([frame.time_ms])
    return pd


def _lattice_grid(pv, frame, geom):
    shape = np.asarray(geom["shape"], int)
    grid = pv.ImageData(dimensions=shape + 1, spacing=np.asarray(geom["spacing_um"], float),
                        origin=np.asarray(geom["lo_um"], float))
    for s, a in frame.conc_mM.items():
        grid.cell_data[f"conc_mM_{s}"] = np.asarray(a, np.float32).ravel(order="F")
    if frame.charge_e_per_um3 is not None:
        grid.cell_data["charge_e_per_um3"] = np.asarray(frame.charge_e_per_um3, np.float32).ravel(order="F")
    grid.field_data["time_ms"] = np.array([frame.time_ms])
    return grid


def _membrane_polydata(pv, surfaces, nodes, V):
    from scipy.spatial import cKDTree

    parts = []
    for name, (pts, tri) in surfaces.items():
        tri = np.asarray(tri, np.int64).reshape(-1, 3)
        faces = np.hstack([np.full((len(tri), 1), 3, np.int64), tri]).ravel()
        m = pv.PolyData(np.asarray(pts, float), faces)
        if V is not None and nodes is not None:
            m.point_data["V_mV"] = np.asarray(V, float)[cKDTree(nodes).query(m.points)[1]]
        parts.append(m)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else parts[0].merge(parts[1:])


class _Series:
    def __init__(self, out_dir, prefix):
        from .results import ensure_output_dir

        self.out_dir = ensure_output_dir(os.fspath(out_dir), what="VTK files")
        self.prefix = prefix
        self.entries = {k: [] for k in KINDS}

    def add(self, pv, frame, k, species_names, lattice_geom, surfaces, nodes):
        pd = _ions_polydata(pv, frame, species_names)
        f = f"ions_{k:06d}.vtp"
        pd.save(os.path.join(self.out_dir, f))
        self.entries["ions"].append((frame.time_ms, f))
        if lattice_geom is not None and (frame.conc_mM or frame.charge_e_per_um3 is not None):
            f = f"lattice_{k:06d}.vti"
            _lattice_grid(pv, frame, lattice_geom).save(os.path.join(self.out_dir, f))
            self.entries["lattice"].append((frame.time_ms, f))
        if surfaces:
            m = _membrane_polydata(pv, surfaces, nodes, frame.V_mV)
            if m is not None:
                m.field_data["time_ms"] = np.array([frame.time_ms])
                f = f"membrane_{k:06d}.vtp"
                m.save(os.path.join(self.out_dir, f))
                self.entries["membrane"].append((frame.time_ms, f))

    def finish(self) -> str:
        allent = []
        for part, kind in enumerate(KINDS):
            e = self.entries[kind]
            if e:
                write_pvd(os.path.join(self.out_dir, f"{kind}.pvd"), [(t, 0, f) for t, f in e])
                allent += [(t, part, f) for t, f in e]
        allent.sort(key=lambda x: (x[0], x[1]))
        path = os.path.join(self.out_dir, f"{self.prefix}.pvd")
        write_pvd(path, allent)
        return path


def export_results(results, out_dir, prefix: str = "microsyn", frames=None, species=None) -> str:
    """Write VTK files and .pvd series of a results file (path or ResultsFile); returns the main .pvd."""
    from .results import ResultsFile

    pv = _pv()
    res = results if isinstance(results, ResultsFile) else ResultsFile(results)
    names = list(species) if species else list(res.species)
    idx = range(res.n_frames) if frames is None else [int(i) for i in frames]
    ser = _Series(out_dir, prefix)
    geom, surfaces, nodes = res.lattice_geometry, res.surfaces, res.membrane_nodes_um
    for k, i in enumerate(idx):
        ser.add(pv, res.frame(i, species=names), k, names, geom, surfaces, nodes)
    if not isinstance(results, ResultsFile):
        res.close()
    return ser.finish()


class VTKSeriesWriter:
    """A recorder writing the VTK time series of a running simulation (pvd files rewritten each frame).

    Parameters
    ----------
    out_dir : str
    every : float
        Interval [ms] (or ``trigger``).
    lattice : Lattice, optional
        Writes concentrations [mM] per species and charge [e/um^3].
    surfaces : dict name -> surface, optional
        Default: the domain's holes (planes ``surface_size`` [um] wide).
    membrane : MembraneSolver or graph, optional; voltage : callable sim -> V [mV], optional
    """

    def __init__(self, out_dir, every=None, *, trigger=None, lattice=None, surfaces=None, surface_size=2.0,
                 membrane=None, voltage=None, prefix="microsyn"):
        if (every is None) == (trigger is None):
            raise ParameterError("give VTKSeriesWriter exactly one of every=[ms] or trigger=")
        self.trigger = _as_trigger(every if trigger is None else trigger)
        self.lattice, self.membrane, self.voltage = lattice, membrane, voltage
        self._surfaces_in, self.surface_size = surfaces, surface_size
        self._series = _Series(out_dir, prefix)
        self._surfaces = None
        self.n_frames = 0
        self.pvd_path = None

    def record(self, sim) -> None:
        from .results import Frame, _surface_arrays

        pv = _pv()
        if self._surfaces is None:
            s = self._surfaces_in if self._surfaces_in is not None else sim.domain.drawn_surfaces()
            self._surfaces = {n: _surface_arrays(v, self.surface_size) for n, v in s.items()}
        names = list(sim.species.names)
        fr = Frame(index=self.n_frames, time_ms=sim.time)
        for s in names:
            fr.ids[s], fr.positions[s] = sim.ids_and_positions(s)
        geom = None
        if self.lattice is not None:
            geom = dict(lo_um=self.lattice.lo, spacing_um=self.lattice.spacing, shape=np.array(self.lattice.shape))
            for s in names:
                fr.conc_mM[s] = self.lattice.concentration_mM(sim, s)
            fr.charge_e_per_um3 = self.lattice.charge_density(sim)
        graph = getattr(self.membrane, "graph", self.membrane)
        nodes = None if graph is None else graph.xyz_um
        if self.voltage is not None:
            fr.V_mV = np.asarray(self.voltage(sim), float)
        elif self.membrane is not None and hasattr(self.membrane, "V"):
            fr.V_mV = np.asarray(self.membrane.V, float)
        self._series.add(pv, fr, self.n_frames, names, geom, self._surfaces, nodes)
        self.n_frames += 1
        self.pvd_path = self._series.finish()
