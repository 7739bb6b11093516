"""Issue 9 (results writer cost): ResultsWriter keeps its file open during a run, bins the lattice
once per frame and LZF-compresses the lattice chunks in a kernel, and still writes the file that
it always wrote.

Ground truths: ``_ReferenceWriter`` below, the writer as it was before (h5py's high-level API,
the file opened and closed at every frame, ``Lattice.concentration_mM`` and ``charge_density``
per field, h5py's own LZF filter), run on an identical simulation (same seed); a pure-Python LZF
decompressor written from the format description in ``microsyn._kernels.lzf``. Files are
compared dataset by dataset with h5py: names, link encodings, shapes, dtypes, storage (chunks,
filters, fill value) and attributes exactly, values bitwise (tolerance 0).
"""
import subprocess
import sys

import h5py
import numpy as np
import pytest

import microsyn as ms
from microsyn.errors import ParameterError
from microsyn.recorders import Every
from microsyn.results import ResultsFile, ResultsWriter, subsample_indices


class _ReferenceWriter(ResultsWriter):
    """The record() of the writer before issue 9, kept as the slow reference."""

    def record(self, sim):
        with h5py.File(self.path, "a") as f:
            if self._species_names is None:
                self._first(f, sim)
            i = self.n_frames
            g = f["frames"].create_group(f"{i:06d}")
            g.attrs["time_ms"] = float(sim.time)
            g.attrs["step"] = int(sim.step)
            counts = {s: sim.count(s) for s in self._species_names}
            total = sum(counts.values())
            ions = g.create_group("ions")
            idg = g.create_group("ion_ids") if self.store_ids else None
            for s in self._species_names:
                ids, pos = sim.ids_and_positions(s)
                m = counts[s] if total <= self.max_ions else int(self.max_ions * counts[s] // total)
                order = np.argsort(ids, kind="stable")
                idx = order if m >= ids.size else order[np.floor(np.arange(m) * (ids.size / m)).astype(np.int64)]
                d = ions.create_dataset(s, data=pos[idx].astype(np.float32))
                d.attrs["n_total"] = counts[s]
                if idg is not None:
                    idg.create_dataset(s, data=ids[idx].astype(np.int64))
            if self.lattice is not None:
                lg = g.create_group("lattice")
                cg = lg.create_group("conc_mM")
                for s in self._species_names:
                    cg.create_dataset(s, data=self.lattice.concentration_mM(sim, s).astype(np.float32),
                                      compression="lzf")
                lg.create_dataset("charge_e_per_um3", data=self.lattice.charge_density(sim).astype(np.float32),
                                  compression="lzf")
            V = self.voltage(sim) if self.voltage is not None else None
            if V is not None:
                g.create_dataset("V_mV", data=np.asarray(V, np.float32).ravel())
            if self._scalars:
                sg = g.create_group("scalars")
                for name, (fn, units) in self._scalars.items():
                    d = sg.create_dataset(name, data=float(fn(sim)))
                    d.attrs["units"] = units
            t = f["time_ms"]
            t.resize((i + 1,))
            t[i] = sim.time
        self.n_frames += 1


def _nodes():
    x = np.linspace(-0.6, 0.6, 7)
    X, Y = np.meshgrid(x, x, indexing="ij")
    return np.c_[X.ravel(), Y.ravel(), np.zeros(X.size)]


def _volt(s):
    return -70.0 + 400.0 * s.time * np.exp(-np.sum(_nodes()[:, :2] ** 2, 1) / 0.1)


def _n_na(s):
    return s.count("Na+")


def _sim(seed=3):
    """Three species (valences +1, -1, +2) from sources above a membrane; some leave the lattice."""
    dom = ms.Domain(ms.Sphere((0, 0, 0), 2.0, name="far"), holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    dom.set_boundary("far", "absorb")
    sim = ms.Simulation(dom, dt=5e-6, species=["Na+", "Cl-", "Ca2+"], seed=seed)
    sim.add_source(ms.FluxSource("Na+", rate=1.5e5, at=(0, 0, 0)))
    sim.add_source(ms.FluxSource("Cl-", rate=5e4, at=(0.25, 0, 0)))
    sim.add_source(ms.FluxSource("Ca2+", rate=3e4, at=(0, 0.2, 0)))
    return sim


def _writer(cls, path, lattice_shape=(23, 17, 9), max_ions=100_000, store_ids=True, **kw):
    lat = ms.Lattice((-0.5, -0.5, 0.0), (0.5, 0.5, 0.5), shape=lattice_shape) if lattice_shape else None
    w = cls(path, every=0.002, lattice=lat, voltage=_volt, max_ions_per_frame=max_ions, store_ids=store_ids,
            glyphs={"channel": [(0, 0, 0)]}, attrs=dict(title="speed test"), **kw)
    w.add_scalar("n_Na", _n_na, units="ions")
    return w


def _items(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            parent = f[name.rsplit("/", 1)[0]] if "/" in name else f
            cset = parent.id.links.get_info(name.rsplit("/", 1)[-1].encode()).cset
            attrs = {k: (obj.attrs[k], obj.attrs.get_id(k).dtype) for k in obj.attrs}
            if isinstance(obj, h5py.Dataset):
                dcpl = obj.id.get_create_plist()
                out[name] = ("dataset", cset, obj.shape, obj.dtype, obj.chunks, obj.compression,
                             obj.compression_opts, obj.fillvalue, dcpl.get_obj_track_times(),
                             dcpl.get_nfilters() and dcpl.get_filter(0), obj[()], attrs)
            else:
                out[name] = ("group", cset, attrs)
        f.visititems(visit)
        out["/"] = {k: f.attrs[k] for k in f.attrs}
    return out


def assert_same_file(a, b):
    """Every group, dataset and attribute of results files a and b equal (values bitwise)."""
    ia, ib = _items(a), _items(b)
    assert sorted(ia) == sorted(ib)
    for name in ia:
        xa, xb = ia[name], ib[name]
        if name == "/":
            assert sorted(xa) == sorted(xb)
            for k in xa:
                np.testing.assert_array_equal(xa[k], xb[k], err_msg=f"root attribute {k}")
            continue
        assert len(xa) == len(xb), name
        for u, v in zip(xa, xb):
            if isinstance(u, dict):
                assert sorted(u) == sorted(v), name
                for k in u:
                    assert u[k][1] == v[k][1], f"{name} attr {k} dtype"
                    np.testing.assert_array_equal(u[k][0], v[k][0], err_msg=f"{name} attr {k}")
            elif isinstance(u, np.ndarray):
                assert u.dtype == v.dtype and u.shape == v.shape, name
                assert u.tobytes() == v.tobytes(), f"{name}: values differ"
            else:
                assert u == v, f"{name}: {u!r} != {v!r}"


def _run_pair(tmp_path, runs, **kw):
    files = []
    for cls, tag in ((_ReferenceWriter, "ref"), (ResultsWriter, "new")):
        sim = _sim()
        w = sim.add_recorder(_writer(cls, str(tmp_path / f"{tag}.h5"), **kw))
        for r in runs:
            sim.run(r)
        w.add_trace("V at pore", [0.0, 0.01], [-70.0, -60.0])
        files.append(str(tmp_path / f"{tag}.h5"))
    return files


@pytest.mark.parametrize("kw", [dict(), dict(max_ions=150, lattice_shape=(40, 40, 20)),
                                dict(store_ids=False, lattice_shape=None)],
                         ids=["lattice-edge-chunks", "subsampled-big-lattice", "no-ids-no-lattice"])
def test_file_identical_to_the_reference_writer(tmp_path, kw):
    """Reference: _ReferenceWriter (the old writer) on the same seeded run; tolerance 0."""
    ref, new = _run_pair(tmp_path, [0.012], **kw)
    assert_same_file(ref, new)
    with ResultsFile(new) as r:
        assert r.n_frames == 7
        if kw.get("max_ions"):
            assert sum(len(p) for p in r.frame(6).positions.values()) <= 150 < sum(r.frame(6).n_total.values())


def test_two_runs_write_the_file_of_one_run(tmp_path):
    """run(a); run(b) with one writer equals run(a + b) (reference: the new writer's one-run file
    and the old writer's two-run file; tolerance 0)."""
    one = str(tmp_path / "one.h5")
    sim = _sim()
    w = sim.add_recorder(_writer(ResultsWriter, one))
    sim.run(0.012)
    w.add_trace("V at pore", [0.0, 0.01], [-70.0, -60.0])
    ref, two = _run_pair(tmp_path, [0.005, 0.007])
    assert_same_file(one, two)
    assert_same_file(ref, two)


def _read_in_other_process(path):
    code = ("import sys, h5py; f = h5py.File(sys.argv[1], 'r'); last = f['frames'][sorted(f['frames'])[-1]]; "
            "print(f['time_ms'].shape[0], len(f['frames']), last['ions']['Na+'].shape[0])")
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [int(v) for v in out.stdout.split()]


def test_file_readable_by_another_process_after_run_returns(tmp_path):
    """Reference: the frames the writer counted and the simulation's live Na+ count; the
    Simulation and the writer are still alive while another process reads the file."""
    path = str(tmp_path / "alive.h5")
    sim = _sim()
    w = sim.add_recorder(_writer(ResultsWriter, path))
    sim.run(0.006)
    n_frames, n_groups, n_na = _read_in_other_process(path)
    assert (n_frames, n_groups, n_na) == (w.n_frames, w.n_frames, sim.count("Na+")) == (4, 4, sim.count("Na+"))
    sim.run(0.004)  # and the writer goes on appending afterwards
    assert _read_in_other_process(path)[:2] == [6, 6]


def _boom(sim):
    raise RuntimeError("event failed")


def test_run_that_raises_leaves_a_readable_file(tmp_path):
    """An event raising at t = 0.007 ms: the frames at 0, 2, 4, 6 us are in the file, which another
    process opens (reference: the writer's frame count and the frame times)."""
    path = str(tmp_path / "boom.h5")
    sim = _sim()
    w = sim.add_recorder(_writer(ResultsWriter, path))
    sim.schedule(0.007, _boom)
    with pytest.raises(RuntimeError, match="event failed"):
        sim.run(0.02)
    assert w._f is None
    assert _read_in_other_process(path)[:2] == [4, 4]
    with ResultsFile(path) as r:
        np.testing.assert_allclose(r.times_ms, [0.0, 0.002, 0.004, 0.006], rtol=0, atol=1e-12)


def test_frame_that_raises_halfway_is_removed(tmp_path):
    """The voltage callable raising inside the third frame: no half-written frame is left; the file
    holds frames 0 and 1 (reference: time_ms and the frame groups agree), and a later run goes on
    from frame 2."""
    path = str(tmp_path / "half.h5")
    sim = _sim()
    calls = []

    def volt(s):
        calls.append(s.step)
        if len(calls) == 3:
            raise ValueError("voltage failed")
        return _volt(s)

    w = sim.add_recorder(_writer(ResultsWriter, path))
    w.voltage = volt
    with pytest.raises(ValueError, match="voltage failed"):
        sim.run(0.01)
    assert _read_in_other_process(path)[:2] == [2, 2]
    sim.run(0.0)  # the failed frame (same step) is recorded again
    with ResultsFile(path) as r:
        assert r.n_frames == 3 and r.frame(2).V_mV.shape == (49,)


class _EndCounter:
    def __init__(self):
        self.trigger = Every(0.002)
        self.records = 0
        self.ends = []

    def record(self, sim):
        self.records += 1

    def end_run(self, sim):
        self.ends.append(sim.step)


def test_end_run_is_called_once_per_run_also_when_it_raises():
    """Reference: the steps at which each run ended (run(0.004): step 800; run(0.006): 2000; a run
    whose event raises at 0.011 ms: step 2200)."""
    sim = _sim()
    rec = sim.add_recorder(_EndCounter())
    sim.run(0.004)
    sim.run(0.006)
    assert rec.ends == [800, 2000]
    sim.schedule(0.011, _boom)
    with pytest.raises(RuntimeError):
        sim.run(0.01)
    assert rec.ends == [800, 2000, 2200]


def test_one_open_per_run_and_one_binning_per_frame(tmp_path, monkeypatch):
    """Cost, by call counts (the old writer opened the file at every frame and binned the lattice
    once per species plus once for the charge): one h5py.File per run, one binning pass per frame."""
    import microsyn._kernels.binning as binning

    path = str(tmp_path / "count.h5")
    sim = _sim()
    w = sim.add_recorder(_writer(ResultsWriter, path))
    opens, bins = [], []
    real_file, real_bin, real_bin1 = h5py.File, binning.bin_counts_by_species, binning.bin_counts
    monkeypatch.setattr(h5py, "File", lambda *a, **k: opens.append(a) or real_file(*a, **k))
    monkeypatch.setattr(binning, "bin_counts_by_species", lambda *a: bins.append(1) or real_bin(*a))
    monkeypatch.setattr(binning, "bin_counts", lambda *a: bins.append(1) or real_bin1(*a))
    sim.run(0.02)
    assert w.n_frames == 11
    assert len(opens) == 1
    assert len(bins) == 11


def test_checkpoint_with_a_writer_continues_the_file(tmp_path):
    """save() between runs pickles the writer without its HDF5 objects; the loaded simulation
    appends frames equal to an unbroken run's (reference: the unbroken run's file, tolerance 0)."""
    a, b = str(tmp_path / "a.h5"), str(tmp_path / "b.h5")
    sim = _sim()
    sim.add_recorder(_writer(ResultsWriter, a))
    sim.run(0.012)
    sim = _sim()
    sim.add_recorder(_writer(ResultsWriter, b))
    sim.run(0.006)
    ck = sim.save(tmp_path / "run.ckpt")
    del sim
    again = ms.Simulation.load(ck)
    again.run(0.006)
    assert_same_file(a, b)


def test_writer_close_and_context_manager(tmp_path):
    """close() and ``with`` leave the file closed and complete (reference: frame count); a bad
    flush interval is refused."""
    path = str(tmp_path / "cm.h5")
    sim = _sim()
    with _writer(ResultsWriter, path) as w:
        sim.add_recorder(w)
        w.record(sim)  # recorded outside a run: the file stays open until close
        assert w._f is not None
    assert w._f is None
    with ResultsFile(path) as r:
        assert r.n_frames == 1
    with pytest.raises(ParameterError, match="flush_every_s"):
        ResultsWriter(str(tmp_path / "x.h5"), every=0.002, flush_every_s=-1.0)


def test_concentrations_and_charge_equal_the_per_field_functions():
    """Lattice.concentrations_and_charge (one binning pass) against concentration_mM and
    charge_density (one pass each), cast to float32: bitwise equal, tolerance 0; particles outside
    the lattice and on its upper faces included (reference: the old functions)."""
    sim = _sim()
    sim.run(0.01)
    _ = sim.release("Ca2+", n=5, at=(0.5, 0.5, 0.5))  # on the upper corner of the lattice
    lat = ms.Lattice((-0.5, -0.5, 0.0), (0.5, 0.5, 0.5), shape=(23, 17, 9))
    conc, charge = lat.concentrations_and_charge(sim, ["Cl-", "Na+", "Ca2+"])
    assert conc.dtype == charge.dtype == np.float32
    for q, s in enumerate(["Cl-", "Na+", "Ca2+"]):
        assert conc[q].tobytes() == lat.concentration_mM(sim, s).astype(np.float32).tobytes()
    assert charge.tobytes() == lat.charge_density(sim).astype(np.float32).tobytes()
    counts = lat.counts_by_species(sim)
    outside = lat.last_outside
    assert outside > 0
    for k, s in enumerate(sim.species.names):
        np.testing.assert_array_equal(counts[k], lat.counts(sim, s))
    assert counts.sum() + outside == sim.count()


def test_subsample_indices_unchanged_for_sorted_and_unsorted_ids():
    """The sorted-ids shortcut gives the stable argsort's picks (reference: numpy argsort)."""
    rng = np.random.default_rng(5)
    for ids in (np.arange(10, 1000, 3, dtype=np.uint64), rng.permutation(997).astype(np.uint64)):
        order = np.argsort(ids, kind="stable")
        for m in (1, 10, 200, ids.size, ids.size + 5):
            want = order if m >= ids.size else order[np.floor(np.arange(m) * (ids.size / m)).astype(np.int64)]
            np.testing.assert_array_equal(subsample_indices(ids, m), want)


def _unlzf(b, n):
    """Pure-Python LZF decompressor (the stream format in microsyn._kernels.lzf)."""
    out = bytearray()
    ip = 0
    while ip < len(b):
        c = b[ip]
        ip += 1
        if c < 32:
            out += b[ip:ip + c + 1]
            ip += c + 1
        else:
            L = c >> 5
            if L == 7:
                L += b[ip]
                ip += 1
            off = ((c & 31) << 8) + b[ip] + 1
            ip += 1
            for _ in range(L + 2):
                out.append(out[-off])
    assert len(out) == n
    return bytes(out)


def test_lzf_kernel_round_trips_through_python_and_h5py(tmp_path):
    """The LZF chunk kernel against a pure-Python decompressor and against h5py's LZF filter
    (reading chunks written with write_direct_chunk); zero, sparse, blockwise constant, incompressible random
    data and edge chunks; all-zero chunks are flagged and left unstored; tolerance 0."""
    from microsyn._kernels.lzf import lzf_compress_chunks

    rng = np.random.default_rng(11)
    cases = {"zeros": np.zeros((30, 30, 15), np.float32),
             "sparse": ((rng.random((31, 17, 16)) < 0.05) * rng.integers(1, 9, (31, 17, 16)) * 0.37).astype(np.float32),
             "blocks": np.fromfunction(lambda i, j, k: np.sin(i / 3.0) + j + 0 * k, (16, 16, 16)).astype(np.float32),
             "random": rng.random((15, 15, 15)).astype(np.float32)}
    chunks = (15, 15, 15)
    with h5py.File(tmp_path / "lzf.h5", "w") as f:
        for name, a in cases.items():
            nc = [-(-n // c) for n, c in zip(a.shape, chunks)]
            n_chunks = int(np.prod(nc))
            raw = np.empty((n_chunks, 3375), np.uint32)
            comp = np.empty((n_chunks, 4 * 3375), np.uint8)
            lens = np.empty(n_chunks, np.int64)
            lzf_compress_chunks(a.view(np.uint32), *chunks, raw, comp, lens)
            d = f.create_dataset(name, shape=a.shape, dtype=np.float32, chunks=chunks, compression="lzf")
            for c in range(n_chunks):
                i, j, k = c // (nc[1] * nc[2]), (c // nc[2]) % nc[1], c % nc[2]
                want = np.zeros(chunks, np.float32)
                part = a[15 * i:15 * i + 15, 15 * j:15 * j + 15, 15 * k:15 * k + 15]
                want[:part.shape[0], :part.shape[1], :part.shape[2]] = part
                assert raw[c].tobytes() == want.tobytes()
                if lens[c] > 0:
                    assert lens[c] < 4 * 3375
                    assert _unlzf(comp[c, :lens[c]].tobytes(), 4 * 3375) == want.tobytes()
                    d.id.write_direct_chunk((15 * i, 15 * j, 15 * k), comp[c, :lens[c]], 0)
                elif lens[c] == 0:
                    d.id.write_direct_chunk((15 * i, 15 * j, 15 * k), raw[c], 1)
                else:  # all zero bytes: not stored, read back as the fill value
                    assert not want.view(np.uint32).any()
            if name == "random":
                assert lens.tolist() == [0]  # incompressible: stored as it is
            elif name == "zeros":
                assert (lens == -1).all()
            else:
                assert lens.max() > 0 and lens.min() >= -1
    with h5py.File(tmp_path / "lzf.h5", "r") as f:
        for name, a in cases.items():
            assert f[name][()].tobytes() == a.tobytes()


def test_gather_kernel_equals_numpy():
    """gather_positions_ids against numpy fancy indexing and astype (reference), tolerance 0."""
    from microsyn._kernels.gather import gather_positions_ids

    rng = np.random.default_rng(2)
    x, y, z = (rng.normal(size=500) * 3.3 for _ in range(3))
    pid = rng.permutation(10_000)[:500].astype(np.uint64)
    pick = np.sort(rng.choice(500, 123, replace=False))
    pos = np.empty((123, 3), np.float32)
    ids = np.empty(123, np.int64)
    gather_positions_ids(x, y, z, pid, pick, pos, ids)
    assert pos.tobytes() == np.stack([x, y, z], 1)[pick].astype(np.float32).tobytes()
    np.testing.assert_array_equal(ids, pid[pick].astype(np.int64))
    pos2 = np.empty((123, 3), np.float32)
    gather_positions_ids(x, y, z, pid, pick, pos2, np.empty(0, np.int64))
    assert pos2.tobytes() == pos.tobytes()


def test_flush_every_frame_appends_the_times_at_once(tmp_path):
    """flush_every_s=0: /time_ms holds every frame's time as soon as it is written (reference: the
    trigger's times 0, 2, 4, 6 us); with the default interval the times wait for the end of the run
    and are all there after it."""
    sim = _sim()
    w = sim.add_recorder(_writer(ResultsWriter, str(tmp_path / "f0.h5"), flush_every_s=0.0))
    seen = []
    sim.schedule(0.005, lambda s: seen.append(w._f["time_ms"][()].tolist()))
    sim.run(0.006)
    np.testing.assert_allclose(seen[0], [0.0, 0.002, 0.004], rtol=0, atol=1e-12)
    sim = _sim()
    w = sim.add_recorder(_writer(ResultsWriter, str(tmp_path / "f10.h5")))
    seen = []
    sim.schedule(0.005, lambda s: seen.append((w._f["time_ms"].shape[0], len(w._pending_times))))
    sim.run(0.006)
    assert seen == [(0, 3)]
    with ResultsFile(tmp_path / "f10.h5") as r:
        np.testing.assert_allclose(r.times_ms, [0.0, 0.002, 0.004, 0.006], rtol=0, atol=1e-12)
