"""Benchmarks: throughput of the kernels against plain numpy (and peers) measured in the same run.

``microsyn bench`` prints, and ``microsyn bench --json`` emits, a list with one object per case.
Particle cases (``box``, ``mesh``): N = 1e4, 1e5, 1e6 particles with D = 1 um^2/ms and
dt = 1 ns (rms 3D step 2.4 nm), uniform in a reflecting 1 um cube or in the shipped 20,480-
triangle sphere mesh (radius 0.5 um, the same surface-to-volume ratio as the cube), for both
Gaussian methods. Each throughput is the median of several repeats after a warm-up (machines
are shared and noisy). The numpy baseline is a plain vectorised implementation timed in the
same run (``standard_normal`` steps with folding for the box; trilinear lattice lookup with
rejection for the mesh). Where the ``smoldyn`` package imports, the box case also runs in
Smoldyn. The other subsystems' benchmarks (membrane, synapse, reactions, surfaces, rendering)
join the list.
"""
from __future__ import annotations

import json
import math
import statistics
import sys
import time

import numpy as np

D_BENCH = 1.0  # um^2/ms
DT_BENCH = 1e-6  # ms


def _median_rate(fn, work: float, repeats: int) -> float:
    fn()  # warm-up (compilation, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return work / statistics.median(times)


def _particle_sim(case: str, n: int, gaussian: str, seed: int = 1):
    import microsyn as ms

    if case == "box":
        geom = ms.Box((0, 0, 0), (1, 1, 1))
    else:
        geom = ms.Mesh("sphere")
    sim = ms.Simulation(geom, dt=DT_BENCH, species=["Na+"], D={"Na+": D_BENCH}, seed=seed, gaussian=gaussian)
    rng = np.random.default_rng(seed)
    lo, hi = geom.bounds()
    pts = np.empty((0, 3))
    while pts.shape[0] < n:
        cand = rng.uniform(lo, hi, size=(int(1.3 * n) + 64, 3))
        pts = np.concatenate([pts, cand[geom.contains(cand)]])
    sim.add_particles("Na+", pts[:n])
    return sim, geom


def _numpy_box(n: int, steps: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, (n, 3))
    sigma = math.sqrt(2 * D_BENCH * DT_BENCH)

    def run():
        nonlocal p
        for _ in range(steps):
            p += sigma * rng.standard_normal((n, 3))
            np.abs(p, out=p)  # reflect at 0
            p = np.where(p > 1.0, 2.0 - p, p)  # reflect at 1

    return _median_rate(run, n * steps, 3)


def _numpy_mesh(geom, n: int, steps: int, seed: int = 0) -> float:
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    sdf = geom.distance_lattice
    origin, h = geom.origin, geom.voxel_size
    lo, hi = geom.bounds()
    p = rng.uniform(lo, hi, (4 * n, 3))
    p = p[geom.contains(p)][:n]
    sigma = math.sqrt(2 * D_BENCH * DT_BENCH)

    def run():
        for _ in range(steps):
            q = p + sigma * rng.standard_normal(p.shape)
            phi = ndimage.map_coordinates(sdf, ((q - origin) / h).T, order=1, mode="nearest")
            ok = phi <= 0.0
            p[ok] = q[ok]  # reject steps that leave (no reflection: a lower bound on the cost)

    return _median_rate(run, p.shape[0] * steps, 3)


def _smoldyn_box(n: int, steps: int) -> dict:
    """The box case in Smoldyn, through its own configuration language (``python -m smoldyn
    FILE``), timed as a full run minus a zero-step run of the same file (start-up and placement).

    Smoldyn's wheel ships only a CPython 3.10 binary, so on other Pythons this reports "not
    importable"; this path has not run on the 3.11 development machine.
    """
    import importlib.util
    import subprocess
    import tempfile

    if importlib.util.find_spec("smoldyn") is None:
        return {"smoldyn": "not importable (the smoldyn wheel is built for Python 3.10 only)"}

    def run(n_steps: int) -> float:
        cfg = "\n".join([
            "dim 3", "boundaries 0 0 1 r", "boundaries 1 0 1 r", "boundaries 2 0 1 r",
            "species A", f"difc A {D_BENCH}", "time_start 0", f"time_stop {n_steps * DT_BENCH}",
            f"time_step {DT_BENCH}", f"mol {n} A u u u", "graphics none", "end_file", ""])
        with tempfile.TemporaryDirectory() as d:
            path = f"{d}/box.txt"
            with open(path, "w") as f:
                f.write(cfg)
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "smoldyn", path], capture_output=True, text=True, timeout=3600)
            el = time.perf_counter() - t0
        if r.returncode != 0:
            raise RuntimeError(r.stderr.strip()[-200:])
        return el

    try:
        seconds = statistics.median([run(steps) - run(0) for _ in range(3)])
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        return {"smoldyn": f"failed ({type(e).__name__}: {e})"[:160]}
    return {"smoldyn_particle_steps_per_s": n * steps / max(seconds, 1e-9)}


def particle_benchmarks(quick: bool = False) -> list[dict]:
    """Throughput of the Brownian stepping kernels: box and mesh, N = 1e4..1e6."""
    from .config import num_threads
    from .particles import BYTES_PER_PARTICLE

    sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
    work = 2e7 if quick else 1e8
    repeats = 3 if quick else 5
    out = []
    for case in ("box", "mesh"):
        for n in sizes:
            steps = max(10, int(work / n))
            np_steps = max(2, int(2e6 / n))
            for gaussian in ("table", "exact"):
                sim, geom = _particle_sim(case, n, gaussian)
                if gaussian == "exact":
                    steps_g = max(10, steps // 3)
                else:
                    steps_g = steps
                rate = _median_rate(lambda: sim.run(steps_g * DT_BENCH), n * steps_g, repeats)
                row = {
                    "case": case,
                    "n": n,
                    "gaussian": gaussian,
                    "steps": steps_g,
                    "particle_steps_per_s": rate,
                    "threads": num_threads() if n >= 20_000 else 1,
                    "bytes_per_particle": BYTES_PER_PARTICLE,
                    "D_um2_per_ms": D_BENCH,
                    "dt_ms": DT_BENCH,
                }
                if case == "mesh":
                    row["triangles"] = geom.n_triangles
                    row["voxels"] = int(np.prod(geom.dims))
                if gaussian == "table":
                    row["numpy_particle_steps_per_s"] = (_numpy_box(n, np_steps) if case == "box"
                                                         else _numpy_mesh(geom, n, np_steps))
                    np_rate = row["numpy_particle_steps_per_s"]
                else:
                    np_rate = next(r["numpy_particle_steps_per_s"] for r in out
                                   if r["case"] == case and r["n"] == n and "numpy_particle_steps_per_s" in r)
                    row["numpy_particle_steps_per_s"] = np_rate
                row["ratio_vs_numpy"] = rate / np_rate
                if case == "box" and gaussian == "table" and n == sizes[-1]:
                    row.update(_smoldyn_box(n, max(10, int(2e7 / n))))
                    if "smoldyn_particle_steps_per_s" in row:
                        row["ratio_vs_smoldyn"] = rate / row["smoldyn_particle_steps_per_s"]
                out.append(row)
    for row in out:
        if row["case"] == "mesh":
            box = next(r for r in out if r["case"] == "box" and r["n"] == row["n"] and r["gaussian"] == row["gaussian"])
            row["ratio_vs_box"] = row["particle_steps_per_s"] / box["particle_steps_per_s"]
    return out


def _surface_sim(kind: str, n: int, seed: int = 1):
    """Particles within 30 nm above a reflecting plane z = 0 in a reflecting 2 um box: the plane
    is a hole's face (``hole``), an internal membrane (``membrane``) or a hole's face carrying an
    absorbing disc patch of radius 0.1 um (``patched``)."""
    import microsyn as ms

    box = ms.Box((-1, -1, -1), (1, 1, 1), name="box")
    if kind == "membrane":
        dom = ms.Domain(box, membranes=[ms.HalfSpace((0, 0, 0), (0, 0, 1), name="plane")])
    else:
        dom = ms.Domain(box, holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="plane")])
    if kind == "patched":
        dom.add_patch("disc", "plane", ms.DiscPatch((0, 0, 0), 0.1))
        dom.set_boundary("disc", "absorb")
    sim = ms.Simulation(dom, dt=1e-5, species=["Na+"], D={"Na+": 0.5}, seed=seed)
    rng = np.random.default_rng(seed)
    p = rng.uniform(-0.9, 0.9, (n, 3))
    p[:, 2] = rng.uniform(0.0, 0.03, n)
    sim.add_particles("Na+", p)
    return sim


def surface_benchmarks(quick: bool = False) -> list[dict]:
    """``membrane_plane`` and ``patched_plane``: particles next to an internal membrane plane, and
    next to a plane with an absorbing disc patch, against the same particles next to a hole's
    plane (``ratio_vs_hole_plane``), 100 steps per repeat (rms step 3.2 nm per axis),
    medians; ``paths`` are the kernel's counts of slow, folded and fully resolved steps."""
    n = 20_000 if quick else 100_000
    steps = 20 if quick else 100
    repeats = 2 if quick else 5
    rates = {}
    paths = {}
    for kind in ("hole", "membrane", "patched"):
        sim = _surface_sim(kind, n)
        work = n * steps
        rates[kind] = _median_rate(lambda sim=sim: sim.run(steps * sim.dt, progress=False), work, repeats)
        paths[kind] = {k: int(sim.stats[k]) for k in ("slow_steps", "folds", "resolved")}
    out = []
    for case, kind in (("membrane_plane", "membrane"), ("patched_plane", "patched")):
        out.append({"case": case, "n": n, "particle_steps_per_s": rates[kind],
                    "hole_plane_particle_steps_per_s": rates["hole"],
                    "ratio_vs_hole_plane": rates[kind] / rates["hole"], "paths": paths[kind],
                    "hole_plane_paths": paths["hole"]})
    return out


def _optional(module: str, quick: bool) -> list[dict]:
    import importlib

    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        return [{"case": module.rsplit(".", 1)[-1], "skipped": f"{e}"}]
    return mod.run_benchmarks(quick=quick)


GROUPS = {
    "particles": lambda quick: particle_benchmarks(quick),
    "membrane": lambda quick: _optional("microsyn.membrane.bench", quick),
    "synapse": lambda quick: _optional("microsyn.synapse_bench", quick),
    "reactions": lambda quick: _optional("microsyn.reactions.bench", quick),
    "presynaptic": lambda quick: _optional("microsyn.presynaptic.bench", quick),
    "surfaces": lambda quick: surface_benchmarks(quick),
    "render": lambda quick: _optional("microsyn.render.bench", quick),
}


def run(groups=None, quick: bool = False) -> list[dict]:
    """Run benchmark groups (default: all) and return one dict per case."""
    rows = []
    for g in groups or GROUPS:
        if g not in GROUPS:
            from .errors import ParameterError

            raise ParameterError(f"unknown benchmark group {g!r}; choose from {list(GROUPS)}")
        rows.extend(GROUPS[g](quick))
    return rows


def format_table(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        if "particle_steps_per_s" in r and "gaussian" in r:
            extra = f"  mesh/box {r['ratio_vs_box']:.2f}" if "ratio_vs_box" in r else ""
            if "ratio_vs_smoldyn" in r:
                extra += f"  x{r['ratio_vs_smoldyn']:.0f} Smoldyn"
            elif "smoldyn" in r:
                extra += f"  (Smoldyn: {r['smoldyn']})"
            lines.append(
                f"{r['case']:>5} N={r['n']:>9,} {r['gaussian']:>5}: {r['particle_steps_per_s']:9.3g} "
                f"particle-steps/s  numpy {r['numpy_particle_steps_per_s']:9.3g}  "
                f"x{r['ratio_vs_numpy']:.0f}  threads {r['threads']}  {r['bytes_per_particle']} B/particle{extra}"
            )
        else:
            items = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items() if k != "case")
            lines.append(f"{r['case']}: {items}")
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="microsyn bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    ap.add_argument("--only", default=None, help=f"comma-separated groups of {list(GROUPS)}")
    a = ap.parse_args(argv)
    groups = a.only.split(",") if a.only else None
    rows = run(groups, quick=a.quick)
    if a.json:
        json.dump(rows, sys.stdout, indent=1, default=float)
        print()
    else:
        print(format_table(rows))
    return 0
