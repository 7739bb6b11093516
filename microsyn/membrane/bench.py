"""Benchmarks of the membrane solver (not timed tests): an HH cable against NEURON, and a large
passive graph.

``run_benchmarks()`` returns a list of dicts:

- ``{"case": "hh_cable_1000", "seconds": ..., "neuron_seconds": ..., "n": 1000, "steps": 4000,
  "max_abs_diff_mV": ...}``: an HH1952 cable (5 mm, 2 um, 1000 compartments, 6.3 C) stimulated at
  one end for 100 ms at dt = 0.025 ms, backward Euler; ``neuron_seconds`` and the voltage
  difference appear only where the ``neuron`` package imports (same model, same dt,
  ``secondorder = 0``): ``max_abs_diff_mV_first_30ms`` and ``rms_diff_mV_100ms`` compare the
  traces (spike times drift apart by a few hundredths of a ms per spike over the train).
  ``numpy_seconds`` is the same model in plain numpy (:func:`hh_cable_numpy`).
- ``{"case": "passive_graph_1e5", "seconds_per_step": ..., "n": 100000}``: a passive 2D sheet of
  1e5 compartments (a general graph: scipy.sparse LU, factorised once) per time step, and
  ``tree_seconds_per_step`` for a passive unbranched cable of 1e5 compartments (Hines).

References
----------
Hines M.L. & Carnevale N.T. (1997) Neural Comput. 9:1179, doi:10.1162/neco.1997.9.6.1179.
"""
from __future__ import annotations

import time

import numpy as np

from .graph import cable, sheet
from .hh import HH1952
from .solver import MembraneSolver

__all__ = ["run_benchmarks", "hh_cable_microsyn", "hh_cable_neuron", "hh_cable_neuron_isolated",
           "hh_cable_numpy", "HH_CABLE"]

#: the benchmark HH cable: length [um], diameter [um], compartments, clamp [pA], delay [ms],
#: duration [ms], t_stop [ms], dt [ms], recording compartments
HH_CABLE = dict(length_um=5000.0, diameter_um=2.0, n=1000, amp_pA=500.0, delay_ms=1.0, dur_ms=100.0,
                t_stop_ms=100.0, dt_ms=0.025, record=(0, 500, 999))


def hh_cable_microsyn(n=None, t_stop_ms=None, method="be", **over):
    """Run the benchmark HH cable in microsyn; return (seconds, time_ms, V_mV (k, T))."""
    c = dict(HH_CABLE, **over)
    n = c["n"] if n is None else n
    t_stop = c["t_stop_ms"] if t_stop_ms is None else t_stop_ms
    t0 = time.perf_counter()
    g = cable(c["length_um"], c["diameter_um"], n, ra_ohm_cm=100.0)
    s = MembraneSolver(g, c["dt_ms"], method=method)
    s.insert_hh(params=HH1952)
    s.init(-65.0)
    s.add_current_clamp(0, c["amp_pA"], c["delay_ms"], c["dur_ms"])
    rec = [int(round(r * (n - 1) / (c["n"] - 1))) for r in c["record"]]
    probes = [s.add_probe(k) for k in rec]
    s.run(t_stop)
    sec = time.perf_counter() - t0
    return sec, probes[0].time_ms, np.array([p.V_mV for p in probes])


def hh_cable_numpy(n=None, t_stop_ms=None, **over):
    """The same HH cable with plain numpy: vectorised exact rates, exponential-Euler gates,
    backward Euler with a tridiagonal solve (scipy.linalg.solve_banded). The slow, obvious
    reference for the Numba kernels; returns (seconds, time_ms, V_mV (k, T))."""
    from scipy.linalg import solve_banded

    c = dict(HH_CABLE, **over)
    n = c["n"] if n is None else n
    t_stop = c["t_stop_ms"] if t_stop_ms is None else t_stop_ms
    t0 = time.perf_counter()
    dt = c["dt_ms"]
    L, d = c["length_um"], c["diameter_um"]
    dx = L / n
    area = np.pi * d * dx
    C = 0.01 * area
    gax = np.pi * d * d / 4 / (100.0 * 1e-5 * dx)
    gna, gk, gl = 1.2 * area, 0.36 * area, 0.003 * area
    ena, ek, el = 50.0, -77.0, -54.3

    def rates(v):
        def vtrap(x, y):
            u = x / y
            small = np.abs(u) < 1e-6
            return np.where(small, y * (1 - u / 2), x / np.where(small, 1.0, np.expm1(u)))

        return (0.1 * vtrap(-(v + 40), 10), 4 * np.exp(-(v + 65) / 18), 0.07 * np.exp(-(v + 65) / 20),
                1 / (np.exp(-(v + 35) / 10) + 1), 0.01 * vtrap(-(v + 55), 10), 0.125 * np.exp(-(v + 65) / 80))

    V = np.full(n, -65.0)
    am, bm, ah, bh, an, bn = rates(V)
    m, h, nn = am / (am + bm), ah / (ah + bh), an / (an + bn)
    deg = np.full(n, 2 * gax)
    deg[0] = deg[-1] = gax
    ab = np.zeros((3, n))
    ab[0, 1:] = -gax
    ab[2, :-1] = -gax
    rec = [int(round(r * (n - 1) / (c["n"] - 1))) for r in c["record"]]
    steps = int(round(t_stop / dt))
    out = np.empty((len(rec), steps + 1))
    out[:, 0] = V[rec]
    for k in range(steps):
        am, bm, ah, bh, an, bn = rates(V)
        for x, a, b in ((m, am, bm), (h, ah, bh), (nn, an, bn)):
            xinf = a / (a + b)
            x[:] = xinf + (x - xinf) * np.exp(-dt * (a + b))
        g1 = gna * m ** 3 * h
        g2 = gk * nn ** 4
        ab[1] = C / dt + deg + g1 + g2 + gl
        rhs = C / dt * V + g1 * ena + g2 * ek + gl * el
        t_a, t_b = k * dt, (k + 1) * dt
        rhs[0] += c["amp_pA"] * max(0.0, min(t_b, c["delay_ms"] + c["dur_ms"]) - max(t_a, c["delay_ms"])) / dt
        V = solve_banded((1, 1), ab, rhs)
        out[:, k + 1] = V[rec]
    sec = time.perf_counter() - t0
    return sec, np.arange(steps + 1) * dt, out


def hh_cable_neuron(n=None, t_stop_ms=None, secondorder=0, **over):
    """The same HH cable in NEURON (needs the ``neuron`` package); returns
    (seconds, time_ms, V_mV (k, T)). Raises ImportError without NEURON."""
    from neuron import h  # noqa: PLC0415

    c = dict(HH_CABLE, **over)
    n = c["n"] if n is None else n
    t_stop = c["t_stop_ms"] if t_stop_ms is None else t_stop_ms
    h.load_file("stdrun.hoc")
    t0 = time.perf_counter()
    sec = h.Section(name="cable")
    sec.L, sec.diam, sec.nseg, sec.Ra, sec.cm = c["length_um"], c["diameter_um"], n, 100.0, 1.0
    sec.insert("hh")
    h.celsius = 6.3
    stim = h.IClamp(sec(0.5 / n))
    stim.delay, stim.dur, stim.amp = c["delay_ms"], c["dur_ms"], c["amp_pA"] * 1e-3
    rec = [int(round(r * (n - 1) / (c["n"] - 1))) for r in c["record"]]
    vecs = [h.Vector().record(sec((k + 0.5) / n)._ref_v) for k in rec]
    tv = h.Vector().record(h._ref_t)
    h.dt = c["dt_ms"]
    h.steps_per_ms = 1.0 / c["dt_ms"]
    h.secondorder = secondorder
    h.finitialize(-65.0)
    h.continuerun(t_stop)
    el = time.perf_counter() - t0
    out = (el, np.array(tv), np.array([np.array(v) for v in vecs]))
    del stim, sec
    return out


def hh_cable_neuron_isolated(n=None, t_stop_ms=None, secondorder=0, **over):
    """:func:`hh_cable_neuron` run in a separate Python process.

    NEURON's shared libraries and VTK's EGL rendering do not live together in one process (a
    test run that imported both aborted), so microsyn never imports ``neuron`` in its own
    process. Raises ImportError where ``neuron`` is not installed.
    """
    import importlib.util  # noqa: PLC0415
    import json  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    if importlib.util.find_spec("neuron") is None:
        raise ImportError("the neuron package is not installed")
    kw = dict(n=n, t_stop_ms=t_stop_ms, secondorder=secondorder, **over)
    with tempfile.TemporaryDirectory() as d:
        out = f"{d}/neuron.npz"
        code = ("import json, sys, numpy as np\n"
                "from microsyn.membrane.bench import hh_cable_neuron\n"
                "s, t, v = hh_cable_neuron(**json.loads(sys.argv[1]))\n"
                "np.savez(sys.argv[2], s=s, t=t, v=v)\n")
        r = subprocess.run([sys.executable, "-c", code, json.dumps(kw), out], capture_output=True, text=True,
                           timeout=600)
        if r.returncode != 0:
            if "ImportError" in r.stderr or "ModuleNotFoundError" in r.stderr:
                raise ImportError(f"neuron does not import: {r.stderr.strip().splitlines()[-1]}")
            raise RuntimeError(f"the NEURON run failed: {r.stderr.strip()[-500:]}")
        z = np.load(out)
        return float(z["s"]), z["t"], z["v"]


def run_benchmarks(quick: bool = False) -> list[dict]:
    """Run the membrane benchmarks and return one dict per case (see module docstring).

    Parameters
    ----------
    quick : bool
        Fewer repetitions and shorter passive run (same cases and sizes).
    """
    results = []
    hh_cable_microsyn(n=10, t_stop_ms=1.0)  # compile the kernels
    reps = 1 if quick else 3
    secs, t, v = min((hh_cable_microsyn() for _ in range(reps)), key=lambda r: r[0])
    case = {"case": "hh_cable_1000", "seconds": round(secs, 4), "n": HH_CABLE["n"],
            "steps": int(round(HH_CABLE["t_stop_ms"] / HH_CABLE["dt_ms"])), "dt_ms": HH_CABLE["dt_ms"]}
    try:
        nsecs, tn, vn = min((hh_cable_neuron_isolated() for _ in range(reps)), key=lambda r: r[0])
        case["neuron_seconds"] = round(nsecs, 4)
        m = min(len(t), len(tn))
        k30 = min(m, int(round(30.0 / HH_CABLE["dt_ms"])) + 1)
        case["max_abs_diff_mV_first_30ms"] = round(float(np.max(np.abs(v[:, :k30] - vn[:, :k30]))), 3)
        case["rms_diff_mV_100ms"] = round(float(np.sqrt(np.mean((v[:, :m] - vn[:, :m]) ** 2))), 3)
        case["ratio_neuron_over_microsyn"] = round(nsecs / secs, 3)
    except ImportError:
        pass
    nsecs, _, vnp = hh_cable_numpy()
    case["numpy_seconds"] = round(nsecs, 4)
    case["ratio_numpy_over_microsyn"] = round(nsecs / secs, 3)
    results.append(case)

    g = sheet(315.0, 316.0, 1.0)  # 316 x 317 = 100,172 nodes
    s = MembraneSolver(g, 0.025, method="be")
    s.set_external_current(g.n // 2, 10.0)
    s.step(1)  # factorisation
    nsteps = 20 if quick else 100
    t0 = time.perf_counter()
    s.step(nsteps)
    per = (time.perf_counter() - t0) / nsteps
    gt = cable(1e5, 1.0, 100_000)
    st = MembraneSolver(gt, 0.025, method="be")
    st.set_external_current(0, 10.0)
    st.step(1)
    t0 = time.perf_counter()
    st.step(nsteps)
    per_tree = (time.perf_counter() - t0) / nsteps
    results.append({"case": "passive_graph_1e5", "seconds_per_step": round(per, 6), "n": int(g.n),
                    "graph": "2D sheet (scipy.sparse LU)", "tree_seconds_per_step": round(per_tree, 6)})
    return results
