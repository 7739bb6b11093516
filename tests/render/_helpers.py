"""Helpers of the render tests."""
import numpy as np


def make_results(path, n_frames_ms=0.01, every=0.002, seed=1, max_ions=100_000, lattice=True, store_ids=True):
    """A tiny run (two species from two pores above a flat membrane patch) written to ``path``."""
    import microsyn as ms
    from microsyn.results import ResultsWriter

    dom = ms.Domain(ms.Sphere((0, 0, 0), 3.0, name="far"),
                    holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    dom.set_boundary("far", "absorb")
    sim = ms.Simulation(dom, dt=5e-6, species=["Na+", "Cl-"], seed=seed)
    sim.add_source(ms.FluxSource("Na+", rate=1.5e5, at=(0, 0, 0)))
    sim.add_source(ms.FluxSource("Cl-", rate=5e4, at=(0.25, 0, 0)))
    x = np.linspace(-0.6, 0.6, 13)
    X, Y = np.meshgrid(x, x, indexing="ij")
    nodes = np.c_[X.ravel(), Y.ravel(), np.zeros(X.size)]
    idx = np.arange(X.size).reshape(X.shape)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    tri = np.r_[np.c_[a, b, c], np.c_[a, c, d]]
    lat = ms.Lattice((-0.6, -0.6, 0.0), (0.6, 0.6, 0.6), voxel_size=0.05) if lattice else None

    def volt(s):
        return -70.0 + 400.0 * s.time * np.exp(-np.sum(nodes[:, :2] ** 2, 1) / 0.1)

    w = ResultsWriter(path, every=every, lattice=lat, surfaces={"membrane": (nodes, tri)}, voltage=volt,
                      glyphs={"channel": [(0, 0, 0), (0.25, 0, 0)]}, max_ions_per_frame=max_ions, store_ids=store_ids,
                      attrs=dict(title="test run"))

    class _G:
        xyz_um = nodes

    w.membrane = _G()
    w.add_scalar("n_Na", lambda s: s.count("Na+"), units="ions")
    sim.add_recorder(w)
    sim.run(n_frames_ms)
    t = np.linspace(0, n_frames_ms, 40)
    w.add_trace("V at pore", t, -70 + 400 * t, units="mV")
    w.add_trace("channel current", t, 24.0 + 0 * t, units="pA")
    return sim, w
