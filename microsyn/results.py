"""Results files: what a run records for pictures, replayed later without simulating again.

Why HDF5 (through h5py)
-----------------------
A movie frame needs up to ~1e5 ion positions, a few lattice fields and the membrane voltages,
hundreds of times per run: hundreds of MB of numbers. HDF5 stores them as typed, chunked arrays
that can be appended frame by frame and read back one frame at a time (a renderer never loads
the whole run), with units as attributes, and every language and ParaView's HDF5 readers can open
it. NPZ would have to be rewritten whole on every frame and read whole; VTK files (see
:mod:`microsyn.export_vtk`) are for ParaView, not for numpy users. h5py is already a dependency.

Layout (format ``microsyn-results``, version 1; readable with h5py and numpy alone)
------------------------------------------------------------------------------------
::

    /                         attrs: format="microsyn-results", format_version=1,
                              species (names), valence, created_by, length_unit="um",
                              time_unit="ms", conc_unit="mM", voltage_unit="mV", plus user attrs
    /time_ms                  (n_frames,) float64: time of each frame [ms]
    /frames/000000/           one group per frame, attrs time_ms, step
        ions/<species>        (n, 3) float32 positions [um] (attrs n_total = live ions of the
                              species; if n_total > n the frame holds a deterministic, evenly
                              spread subsample ordered by particle id)
        ion_ids/<species>     (n,) int64 particle ids (same order)
        lattice/conc_mM/<sp>  (nx, ny, nz) float32 concentration [mM] per voxel (C order, x first)
        lattice/charge_e_per_um3  (nx, ny, nz) float32 charge density of the tracked ions [e/um^3]
        V_mV                  (n_nodes,) float32 membrane potential per compartment [mV]
        scalars/<name>        () float64 per-frame scalars (attr units)
    /lattice                  attrs lo_um, hi_um, spacing_um, shape: the voxel grid
    /membrane/nodes_um        (n_nodes, 3) float64 compartment centres [um]
    /surfaces/<name>/points_um  (n, 3) float64, /surfaces/<name>/triangles (m, 3) int64; attr role
    /traces/<name>/time_ms, /traces/<name>/values   1D float64 (attrs units, label)
    /glyphs/<kind>/positions_um   (n, 3) float64 channels, receptors, vesicles (attr label)

Example
-------
>>> import microsyn as ms, tempfile, os
>>> from microsyn.results import ResultsWriter, ResultsFile
>>> sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-6, species=["Na+"], seed=1)
>>> _ = sim.release("Na+", n=100, at=(0.5, 0.5, 0.5))
>>> path = os.path.join(tempfile.mkdtemp(), "run.h5")
>>> w = sim.add_recorder(ResultsWriter(path, every=5e-5))
>>> _ = sim.run(1e-4)
>>> with ResultsFile(path) as r:
...     (r.n_frames, r.positions(2, "Na+").shape)
(3, (100, 3))
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from .errors import OutputPathError, ParameterError, UnknownSpeciesError, check_count, check_positive
from .recorders import _as_trigger

FORMAT = "microsyn-results"
FORMAT_VERSION = 1


def ensure_output_dir(path, what: str = "output folder") -> str:
    """Create the folder ``path`` if needed and check that files can be written into it.

    Parameters
    ----------
    path : str or path-like
        The folder.
    what : str
        What the folder is for, named in the error message.

    Returns
    -------
    str
        The folder, as given.

    Raises
    ------
    OutputPathError
        If the folder cannot be created or is not writable (checked by creating and removing a
        temporary file in it).
    """
    import tempfile

    d = os.fspath(path)
    try:
        os.makedirs(d or ".", exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".microsyn-write-test-", dir=d or ".")
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise OutputPathError(f"cannot write {what} into folder {d!r} ({reason}); give a writable folder "
                              f"(e.g. --out ./out/run)") from None
    return d


def _frame_name(i: int) -> str:
    return f"{i:06d}"


def subsample_indices(ids: np.ndarray, m: int) -> np.ndarray:
    """Indices of ``m`` of the particles, evenly spread over their ids (deterministic)."""
    if ids.size < 2 or bool(np.all(ids[1:] > ids[:-1])):  # the particle store keeps ids increasing
        order = np.arange(ids.size)
    else:
        order = np.argsort(ids, kind="stable")
    if m >= ids.size:
        return order
    pick = np.floor(np.arange(m) * (ids.size / m)).astype(np.int64)
    return order[pick]


def _surface_arrays(surface, halfspace_size: float = 2.0):
    """(points, triangles) of a pyvista.PolyData, a microsyn shape or a (points, triangles) pair."""
    if isinstance(surface, tuple) and len(surface) == 2:
        pts, tri = surface
        return np.asarray(pts, float), np.asarray(tri, np.int64).reshape(-1, 3)
    if hasattr(surface, "to_polydata") and not hasattr(surface, "triangulate"):
        from .geometry import HalfSpace

        surface = surface.to_polydata(size=halfspace_size) if isinstance(surface, HalfSpace) else surface.to_polydata()
    s = surface.triangulate()
    faces = np.asarray(s.faces).reshape(-1, 4)
    return np.asarray(s.points, float), faces[:, 1:].astype(np.int64)


class ResultsWriter:
    """A recorder that appends frames for pictures to an HDF5 results file.

    Parameters
    ----------
    path : str
        File to create (overwritten).
    every : float, optional
        Interval between frames [ms] (or pass ``trigger``: a trigger, a list of times [ms]).
    species : list of str, optional
        Species whose positions are stored (default: all in the simulation at the first frame).
    lattice : microsyn.Lattice, optional
        Voxel grid for concentration [mM] per species and charge density [e/um^3] per frame.
    max_ions_per_frame : int
        At most this many positions per frame in all (split over species by their share); the
        rest is left out by an even, deterministic subsample, and each frame records how many
        there were (``n_total``).
    surfaces : dict name -> surface, optional
        Membrane or mesh surfaces to draw (pyvista.PolyData, microsyn shapes, or (points,
        triangles)); default: the holes of the simulation's domain (e.g. the membrane), planes cut
        to ``surface_size`` [um].
    membrane : MembraneSolver or CompartmentGraph, optional
        The electrical model whose voltages ``V_mV`` [mV] are stored each frame (its graph's node
        positions go to ``/membrane/nodes_um``).
    voltage : callable sim -> array [mV], optional
        Gives the voltages per node instead of ``membrane.V`` (e.g. a precomputed solution).
    glyphs : dict kind -> positions (n, 3) [um], optional
        Channels, receptors, vesicles to draw as glyphs.
    attrs : dict, optional
        Extra file attributes (title, description, ...).
    flush_every_s : float
        While a run goes on, the open file is flushed to disk (the new frames' times appended to
        ``/time_ms``, which makes them frames for readers) once a frame is written this long
        [s of wall time] after the last flush (0: after every frame).

    Notes
    -----
    The file is opened at the first frame of a run, kept open while the run goes on, and closed
    when the run ends (:meth:`end_run`, which :meth:`Simulation.run <microsyn.Simulation.run>`
    calls at the end of every run, also when the run raises). So after every ``run()`` returns,
    or raises, the file is complete and readable, by another process too, with every frame
    recorded so far; a frame that was being written when an exception came is removed, not left
    half written. Nothing else needs closing: :meth:`close` (or ``with ResultsWriter(...) as
    w:``) closes it early, and the next frame opens it again. Only if the process dies during a
    run (killed, out of memory) is the file left open: it may then lose the frames since the last
    flush (see ``flush_every_s``), or not open at all.

    Frames are written with HDF5's low-level calls and the lattice fields are LZF-compressed by a
    compiled kernel (:mod:`microsyn._kernels.lzf`) into the chunks of datasets created exactly as
    ``h5py``'s ``create_dataset(..., compression="lzf")`` creates them (same chunk shape, filter
    and fill value), so every reader gets the numbers it always got. Lattice chunks whose values
    are all zero are not stored: HDF5 reads them as the datasets' fill value, 0. The lattice is
    binned once per frame for all its fields (:meth:`Lattice.concentrations_and_charge
    <microsyn.lattice.Lattice.concentrations_and_charge>`).

    Add traces with :meth:`add_trace` and per-frame scalars with :meth:`add_scalar`. A writer
    with an open file is checkpointed (``Simulation.save``) without it; the loaded one opens the
    file again at its next frame.
    """

    def __init__(self, path, every: float | None = None, *, trigger=None, species=None, lattice=None,
                 max_ions_per_frame: int = 100_000, surfaces=None, surface_size: float = 2.0,
                 membrane=None, voltage=None, glyphs=None, store_ids: bool = True, attrs=None,
                 flush_every_s: float = 10.0):
        import h5py

        if (every is None) == (trigger is None):
            raise ParameterError("give ResultsWriter exactly one of every=[ms] or trigger=")
        self.trigger = _as_trigger(every if trigger is None else trigger)
        self.path = os.fspath(path)
        self.species_filter = None if species is None else [str(s) for s in species]
        self.lattice = lattice
        self.max_ions = check_count("max_ions_per_frame", max_ions_per_frame, allow_zero=False)
        self.surfaces = surfaces
        self.surface_size = float(surface_size)
        self.membrane = membrane
        self.voltage = voltage
        self.glyphs = dict(glyphs or {})
        self.store_ids = bool(store_ids)
        self._scalars: dict[str, tuple] = {}
        self.n_frames = 0
        self._species_names: list[str] | None = None
        self.flush_every_s = check_positive("flush_every_s [s]", flush_every_s, allow_zero=True)
        self._f = None          # the h5py.File while a run goes on
        self._frames = None     # its /frames group
        self._pending_times: list[float] = []  # times of frames not yet in /time_ms
        self._ll = None         # the _FrameWriter (cached HDF5 objects) while the writer lives
        self._last_flush = 0.0
        ensure_output_dir(os.path.dirname(os.path.abspath(self.path)), what=f"results file {self.path!r}")
        try:
            f = h5py.File(self.path, "w")
        except OSError as e:
            raise OutputPathError(f"cannot create results file {self.path!r} ({e}); give a path in a "
                                  f"writable folder") from None
        with f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["created_by"] = "microsyn.results.ResultsWriter"
            for k, v in dict(length_unit="um", time_unit="ms", conc_unit="mM", voltage_unit="mV",
                             charge_unit="e/um^3").items():
                f.attrs[k] = v
            for k, v in (attrs or {}).items():
                f.attrs[k] = v
            f.create_dataset("time_ms", shape=(0,), maxshape=(None,), dtype="f8", chunks=(1024,))
            f.create_group("frames")

    # ------------------------------------------------------------------ extras
    def add_scalar(self, name: str, fn, units: str = "") -> None:
        """Store ``fn(sim)`` (a float) with every frame under ``scalars/<name>``."""
        if not callable(fn):
            raise ParameterError(f"scalar {name!r} needs a function fn(sim) -> float")
        self._scalars[str(name)] = (fn, str(units))

    def add_trace(self, name: str, time_ms, values, units: str = "mV", label: str | None = None) -> None:
        """Store a time series (e.g. V(t) [mV] at the channel, or the channel current [pA])."""
        self.close()
        write_trace(self.path, name, time_ms, values, units=units, label=label)

    def add_glyphs(self, kind: str, positions_um, label: str | None = None) -> None:
        """Store positions [um] of channels/receptors/vesicles to draw as glyphs."""
        import h5py

        self.close()
        with h5py.File(self.path, "a") as f:
            _write_glyphs(f, kind, positions_um, label)

    # ------------------------------------------------------------------ the open file
    def _file(self):
        """The results file, opened for appending if it is not open."""
        import h5py

        if self._f is None:
            try:
                self._f = h5py.File(self.path, "a")
            except OSError as e:
                raise OutputPathError(f"cannot open results file {self.path!r} for appending ({e}); was it "
                                      f"moved, or opened for writing by another program?") from None
            self._last_flush = time.perf_counter()
            self._frames = self._f["frames"]
        return self._f

    def end_run(self, sim=None) -> None:
        """The recorder role called by :meth:`Simulation.run <microsyn.Simulation.run>` at the end
        of every run (also one that raised): close the file, so that it is complete on disk."""
        self.close()

    def close(self) -> None:
        """Close the file if it is open (the next frame opens it again)."""
        if self._f is None:
            return
        try:
            self._flush()
        finally:
            f, self._f = self._f, None
            self._frames = None
            f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getstate__(self):
        # checkpoints (Simulation.save) hold the writer without its open file or HDF5 objects
        state = self.__dict__.copy()
        state["_f"] = state["_frames"] = None
        state["_ll"] = None
        return state

    # ------------------------------------------------------------------ recording
    def _first(self, f, sim):
        names = list(sim.species.names)
        if self.species_filter is not None:
            for s in self.species_filter:
                if s not in sim.species:
                    raise UnknownSpeciesError(f"ResultsWriter species {s!r} is not in the simulation; "
                                              f"known: {names}")
            names = [sim.species[s].name for s in self.species_filter]
        self._species_names = names
        f.attrs["species"] = np.array(names, dtype="S")
        f.attrs["valence"] = np.array([sim.species[s].valence for s in names], dtype="i4")
        f.attrs["dt_ms"] = float(sim.dt)
        f.attrs["seed"] = int(sim.seed)
        if self.lattice is not None:
            g = f.require_group("lattice")
            g.attrs["lo_um"] = np.asarray(self.lattice.lo, float)
            g.attrs["hi_um"] = np.asarray(self.lattice.hi, float)
            g.attrs["spacing_um"] = np.asarray(self.lattice.spacing, float)
            g.attrs["shape"] = np.asarray(self.lattice.shape, np.int64)
        surfaces = self.surfaces
        if surfaces is None:
            surfaces = sim.domain.drawn_surfaces()
        for name, s in surfaces.items():
            pts, tri = _surface_arrays(s, self.surface_size)
            write_surface(f, name, pts, tri)
        graph = getattr(self.membrane, "graph", self.membrane)
        if graph is not None:
            f.require_group("membrane").create_dataset("nodes_um", data=np.asarray(graph.xyz_um, float))
        for kind, pos in self.glyphs.items():
            _write_glyphs(f, kind, pos, None)

    def record(self, sim) -> None:
        f = self._file()
        if self._species_names is None:
            self._first(f, sim)
        i = self.n_frames
        name = _frame_name(i)
        frames = self._frames
        try:
            self._write_frame(frames, name, sim)
        except BaseException:
            if name in frames:  # leave no half-written frame behind
                del frames[name]
            raise
        self._pending_times.append(float(sim.time))
        self.n_frames += 1
        now = time.perf_counter()
        if now - self._last_flush >= self.flush_every_s:
            self._flush()
            self._last_flush = now

    def _flush(self) -> None:
        """Append the times of the frames written since the last flush to /time_ms (which makes
        them frames for readers) and flush the file to disk."""
        if self._pending_times:
            t = self._f["time_ms"]
            n0 = t.shape[0]
            t.resize((n0 + len(self._pending_times),))
            t[n0:] = np.array(self._pending_times, np.float64)
            self._pending_times = []
        self._f.flush()

    def _h5(self) -> "_FrameWriter":
        if self._ll is None:
            self._ll = _FrameWriter()
        return self._ll

    def _write_frame(self, frames, name: str, sim) -> None:
        import h5py

        from ._kernels.gather import gather_positions_ids

        h = self._h5()
        group, attr, dataset = h.group, h.attr, h.dataset
        gid = group(frames.id, name.encode())
        attr(gid, b"time_ms", np.array(float(sim.time)), h.f8)
        attr(gid, b"step", np.array(int(sim.step), np.int64), h.i8)
        ps = sim.particles
        rows = [np.flatnonzero(ps.species == sim.species.index(s)) for s in self._species_names]
        total = sum(r.size for r in rows)
        ions = group(gid, b"ions")
        idg = group(gid, b"ion_ids") if self.store_ids else None
        for s, r in zip(self._species_names, rows):
            n = r.size
            m = n if total <= self.max_ions else int(self.max_ions * n // total)
            pick = r[subsample_indices(ps.pid[r], m)]
            pos = np.empty((pick.size, 3), np.float32)
            ids = np.empty(pick.size if idg is not None else 0, np.int64)
            gather_positions_ids(ps.x, ps.y, ps.z, ps.pid, pick, pos, ids)
            d = dataset(ions, s, pos, h.f4)
            attr(d, b"n_total", np.array(n, np.int64), h.i8)
            if idg is not None:
                dataset(idg, s, ids, h.i8)
        if self.lattice is not None:
            conc, charge = self.lattice.concentrations_and_charge(sim, self._species_names)
            lg = group(gid, b"lattice")
            cg = group(lg, b"conc_mM")
            for q, s in enumerate(self._species_names):
                h.lzf_dataset(cg, s, conc[q])
            h.lzf_dataset(lg, "charge_e_per_um3", charge)
        V = None
        if self.voltage is not None:
            V = self.voltage(sim)
        elif self.membrane is not None and hasattr(self.membrane, "V"):
            V = self.membrane.V
        if V is not None:
            dataset(gid, "V_mV", np.ascontiguousarray(np.asarray(V, np.float32).ravel()), h.f4)
        if self._scalars:
            sg = h5py.Group(group(gid, b"scalars"))
            for sname, (fn, units) in self._scalars.items():
                d = sg.create_dataset(sname, data=float(fn(sim)))
                d.attrs["units"] = units


class _FrameWriter:
    """HDF5 low-level writing of a frame's objects, with the property lists, types and dataspaces
    that h5py's high-level calls would build for each (here built once and reused)."""

    def __init__(self):
        from h5py import h5a, h5d, h5g, h5p, h5s, h5t

        self.h5a, self.h5d, self.h5g, self.h5s = h5a, h5d, h5g, h5s
        self.lcpl = h5p.create(h5p.LINK_CREATE)  # what h5py's create_group uses for ASCII names
        self.lcpl.set_create_intermediate_group(True)
        self.lcpl.set_char_encoding(h5t.CSET_ASCII)
        self.plain = h5p.create(h5p.DATASET_CREATE)  # h5py's create_dataset(data=...) without options
        self.plain.set_obj_track_times(False)
        self.f4, self.f8, self.i8 = (h5t.py_create(np.dtype(t), logical=True) for t in ("f4", "f8", "i8"))
        self.scalar = h5s.create_simple(())
        self.lzf_shape = None  # shape of the lattice fields, their dataset creation plist, chunks

    def group(self, parent_id, name: bytes):
        """A group, as h5py's ``create_group(name)`` makes it."""
        return self.h5g.create(parent_id, name, lcpl=self.lcpl)

    def attr(self, obj_id, name: bytes, data, tid) -> None:
        """A scalar attribute, as h5py's ``obj.attrs[name] = value`` writes an int or a float
        (``data``: a 0-d array of the type ``tid``)."""
        a = self.h5a.create(obj_id, name, tid, self.scalar)
        a.write(data)
        a.close()

    def dataset(self, parent_id, name: str, data, tid):
        """A contiguous dataset, as h5py's ``create_dataset(name, data=data)`` writes it
        (``data``: C-contiguous, of the type ``tid``)."""
        d = self.h5d.create(parent_id, name.encode("utf8"), tid, self.h5s.create_simple(data.shape),
                            dcpl=self.plain)
        d.write(self.h5s.ALL, self.h5s.ALL, data)
        return d

    def lzf_dataset(self, parent_id, name: str, field):
        """A float32 3D dataset, as h5py's ``create_dataset(name, data=field, compression="lzf")``
        stores it (same chunks, filter and fill value), its chunks compressed by the LZF kernel;
        chunks that are all zero are not stored (HDF5 reads them as the fill value, 0)."""
        import h5py

        from ._kernels.lzf import lzf_compress_chunks

        a = np.ascontiguousarray(field, dtype=np.float32)
        if self.lzf_shape != a.shape:  # the first field of this shape: h5py creates it
            d = h5py.Group(parent_id).create_dataset(name, shape=a.shape, dtype=np.float32, compression="lzf")
            cx, cy, cz = self.chunks = d.chunks
            nc = [-(-n // c) for n, c in zip(a.shape, d.chunks)]
            n_chunks = nc[0] * nc[1] * nc[2]
            self.offsets = [((c // (nc[1] * nc[2])) * cx, ((c // nc[2]) % nc[1]) * cy, (c % nc[2]) * cz)
                            for c in range(n_chunks)]
            self.lzf_dcpl, self.lzf_shape = d.id.get_create_plist(), a.shape
            self.lzf_space = self.h5s.create_simple(a.shape)
            self.raw = np.empty((n_chunks, cx * cy * cz), np.uint32)
            self.comp = np.empty((n_chunks, 4 * cx * cy * cz), np.uint8)
            self.lens = np.empty(n_chunks, np.int64)
            did = d.id
        else:
            did = self.h5d.create(parent_id, name.encode("utf8"), self.f4, self.lzf_space, dcpl=self.lzf_dcpl)
        raw, comp = self.raw, self.comp
        lzf_compress_chunks(a.view(np.uint32), *self.chunks, raw, comp, self.lens)
        write = did.write_direct_chunk
        for c, (off, n) in enumerate(zip(self.offsets, self.lens.tolist())):
            if n > 0:
                write(off, comp[c, :n], 0)
            elif n == 0:  # not compressible: stored as it is, the LZF filter marked as skipped
                write(off, raw[c], 1)
        return did


def write_surface(f, name, points, triangles, role: str = "membrane"):
    """Write a surface group into an open h5py file."""
    sg = f.require_group("surfaces")
    if name in sg:
        del sg[name]
    g = sg.create_group(name)
    g.create_dataset("points_um", data=np.asarray(points, float))
    g.create_dataset("triangles", data=np.asarray(triangles, np.int64).reshape(-1, 3))
    g.attrs["role"] = role


def _write_glyphs(f, kind, positions_um, label):
    pos = np.asarray(positions_um, float).reshape(-1, 3)
    gg = f.require_group("glyphs")
    if kind in gg:
        del gg[kind]
    g = gg.create_group(kind)
    g.create_dataset("positions_um", data=pos)
    g.attrs["label"] = label or kind


def write_trace(path, name, time_ms, values, units: str = "mV", label: str | None = None) -> None:
    """Add a trace (time [ms], values [units]) to a results file."""
    import h5py

    t = np.asarray(time_ms, float).ravel()
    v = np.asarray(values, float).ravel()
    if t.shape != v.shape or t.size == 0:
        raise ParameterError(f"trace {name!r}: time_ms and values must be 1D of equal non-zero length, "
                             f"got {t.shape} and {v.shape}")
    with h5py.File(os.fspath(path), "a") as f:
        tg = f.require_group("traces")
        if name in tg:
            del tg[name]
        g = tg.create_group(name)
        g.create_dataset("time_ms", data=t)
        g.create_dataset("values", data=v)
        g.attrs["units"] = units
        g.attrs["label"] = label or name


@dataclass
class Frame:
    """One recorded frame (all arrays in base units)."""

    index: int
    time_ms: float
    positions: dict = field(default_factory=dict)   #: species -> (n, 3) [um]
    ids: dict = field(default_factory=dict)         #: species -> (n,) particle ids
    n_total: dict = field(default_factory=dict)     #: species -> live ions (before subsampling)
    conc_mM: dict = field(default_factory=dict)     #: species -> (nx, ny, nz) [mM]
    charge_e_per_um3: np.ndarray | None = None
    V_mV: np.ndarray | None = None
    scalars: dict = field(default_factory=dict)


class ResultsFile:
    """Reader of a results file written by :class:`ResultsWriter` (see the module docstring).

    Parameters
    ----------
    path : str
        The ``.h5`` file.

    Raises
    ------
    ParameterError
        If the file does not exist or is not a microsyn results file.
    """

    def __init__(self, path):
        import h5py

        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise ParameterError(f"results file {self.path!r} does not exist; give the path of a .h5 file "
                                 f"written by microsyn.results.ResultsWriter")
        try:
            self._f = h5py.File(self.path, "r")
        except OSError as e:
            raise ParameterError(f"{self.path!r} is not an HDF5 file ({e}); give a results file written by "
                                 f"microsyn.results.ResultsWriter") from None
        fmt = self._f.attrs.get("format", b"")
        fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
        if fmt != FORMAT:
            self._f.close()
            raise ParameterError(f"{self.path!r} is an HDF5 file but not a microsyn results file (attribute "
                                 f"format={fmt!r}, expected {FORMAT!r}); write one with ResultsWriter")
        missing = [k for k in ("time_ms", "frames") if k not in self._f]
        if missing:
            self._f.close()
            raise ParameterError(f"{self.path!r} says format={FORMAT!r} but lacks "
                                 f"{', '.join('/' + k for k in missing)}: it is damaged or was not written by "
                                 f"ResultsWriter; write it again with microsyn.results.ResultsWriter")
        self.times_ms = np.asarray(self._f["time_ms"][:], float)
        sp = self._f.attrs.get("species", np.array([], "S"))
        self.species = [s.decode() if isinstance(s, bytes) else str(s) for s in sp]
        self.valence = dict(zip(self.species, (int(v) for v in self._f.attrs.get("valence", []))))

    # ------------------------------------------------------------------ basics
    def close(self):
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def n_frames(self) -> int:
        return int(self.times_ms.size)

    @property
    def attrs(self) -> dict:
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in self._f.attrs.items()}

    def _check_index(self, i) -> int:
        i = int(i)
        if i < 0:
            i += self.n_frames
        if not 0 <= i < self.n_frames:
            raise ParameterError(f"frame {i} does not exist; the file has frames 0..{self.n_frames - 1}")
        return i

    def _check_species(self, s):
        if s not in self.species:
            raise UnknownSpeciesError(f"species {s!r} is not in results file {self.path!r}; it has {self.species}")
        return s

    def index_at(self, t_ms: float) -> int:
        """Index of the last frame at or before ``t_ms`` [ms] (the first frame if none)."""
        k = int(np.searchsorted(self.times_ms, float(t_ms) + 1e-12, side="right")) - 1
        return max(0, min(k, self.n_frames - 1))

    def _g(self, i):
        return self._f["frames"][_frame_name(self._check_index(i))]

    # ------------------------------------------------------------------ per frame
    def positions(self, i: int, species: str) -> np.ndarray:
        """(n, 3) ion positions [um] of a species in frame ``i``."""
        self._check_species(species)
        return np.asarray(self._g(i)["ions"][species][:], float)

    def frame(self, i: int, species=None, lattice: bool = True) -> Frame:
        """Everything recorded in frame ``i``."""
        i = self._check_index(i)
        g = self._g(i)
        fr = Frame(index=i, time_ms=float(g.attrs["time_ms"]))
        for s in (self.species if species is None else species):
            self._check_species(s)
            d = g["ions"][s]
            fr.positions[s] = np.asarray(d[:], float)
            fr.n_total[s] = int(d.attrs.get("n_total", d.shape[0]))
            if "ion_ids" in g:
                fr.ids[s] = np.asarray(g["ion_ids"][s][:])
        if lattice and "lattice" in g:
            lg = g["lattice"]
            for s, d in lg["conc_mM"].items():
                fr.conc_mM[s] = np.asarray(d[:], float)
            if "charge_e_per_um3" in lg:
                fr.charge_e_per_um3 = np.asarray(lg["charge_e_per_um3"][:], float)
        if "V_mV" in g:
            fr.V_mV = np.asarray(g["V_mV"][:], float)
        if "scalars" in g:
            fr.scalars = {k: float(v[()]) for k, v in g["scalars"].items()}
        return fr

    # ------------------------------------------------------------------ static parts
    @property
    def has_lattice(self) -> bool:
        return "lattice" in self._f

    @property
    def lattice_geometry(self) -> dict | None:
        """``{"lo_um", "hi_um", "spacing_um", "shape"}`` of the voxel grid, or None."""
        if "lattice" not in self._f:
            return None
        a = self._f["lattice"].attrs
        return {k: np.asarray(a[k]) for k in ("lo_um", "hi_um", "spacing_um", "shape")}

    @property
    def surfaces(self) -> dict:
        """name -> (points [um] (n, 3), triangles (m, 3))."""
        out = {}
        if "surfaces" in self._f:
            for name, g in self._f["surfaces"].items():
                out[name] = (np.asarray(g["points_um"][:], float), np.asarray(g["triangles"][:], np.int64))
        return out

    @property
    def membrane_nodes_um(self) -> np.ndarray | None:
        if "membrane" in self._f and "nodes_um" in self._f["membrane"]:
            return np.asarray(self._f["membrane"]["nodes_um"][:], float)
        return None

    @property
    def traces(self) -> dict:
        """name -> dict(time_ms, values, units, label)."""
        out = {}
        if "traces" in self._f:
            for name, g in self._f["traces"].items():
                a = g.attrs
                out[name] = dict(time_ms=np.asarray(g["time_ms"][:]), values=np.asarray(g["values"][:]),
                                 units=str(a.get("units", "")), label=str(a.get("label", name)))
        return out

    @property
    def glyphs(self) -> dict:
        """kind -> dict(positions_um, label)."""
        out = {}
        if "glyphs" in self._f:
            for kind, g in self._f["glyphs"].items():
                out[kind] = dict(positions_um=np.asarray(g["positions_um"][:]), label=str(g.attrs.get("label", kind)))
        return out

    def voltage_range_mV(self) -> tuple[float, float] | None:
        """(min, max) of V [mV] over all frames, or None without voltages."""
        lo, hi = np.inf, -np.inf
        for i in range(self.n_frames):
            g = self._g(i)
            if "V_mV" in g:
                v = g["V_mV"][:]
                lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
        return None if lo > hi else (lo, hi)

    def max_conc_mM(self, species: str) -> float:
        """Largest voxel concentration [mM] of a species over all frames (0 without a lattice)."""
        m = 0.0
        for i in range(self.n_frames):
            g = self._g(i)
            if "lattice" in g and species in g["lattice"]["conc_mM"]:
                m = max(m, float(np.max(g["lattice"]["conc_mM"][species][:])))
        return m

    def __repr__(self):
        return f"ResultsFile({self.path!r}, frames={self.n_frames}, species={self.species})"
