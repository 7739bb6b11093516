"""Demo 11: Ca2+ entering through one open channel with no buffer, EGTA and BAPTA: the buffered nanodomain.

Shows
-----
Numbers from the full mode (``python demos/11_buffered_nanodomain.py``, seeds fixed in
:func:`settings`). Temperature: none is modelled; the chelators' rates and the diffusion
coefficients are the values of Naraghi & Neher (1997) used as given (their temperature is not
re-checked here), not Q10-scaled.

1. One open Ca2+ channel (0.2 pA, 624 Ca2+ per ms, Poisson entry at the pore) in a flat
   membrane (z = 0, reflecting); the cytoplasm above it is a hemisphere of radius R = 300 nm
   whose far surface absorbs (the rest of the cell). Free Ca2+ ions are Brownian particles
   (D = 0.22 um^2/ms, dt = 10 ns, rms step 3.6 nm). With a buffer, the free chelator is a
   lattice field (10 nm voxels) and every Ca-chelator complex is a tracked particle: the
   reaction ``Ca2+ + X <-> CaX`` is particle + field -> particle, each binding taking one
   molecule from the Ca2+'s voxel (:mod:`microsyn.reactions.engine`). Rates and D of the
   chelators from :func:`microsyn.reactions.ca_buffer` (Naraghi & Neher 1997): 10 mM EGTA
   (k_on = 10.5 /(mM ms)) and 1 mM BAPTA (k_on = 400 /(mM ms)), the classic pair of the
   experiments (k_on B = 105 and 400 /ms; free Ca2+ lifetimes 9.5 and 2.5 us). The chelator is
   kept at its bulk value in the outermost 30 nm (reset every 10 us): the buffer of the rest of
   the cell, which replaces the free chelator carried off by the complexes.
2. Steady radial profiles of free Ca2+ (figure ``radial_profiles.png``), time averages of the
   ions' distances from the pore in hemispherical shells from 5 to 100 nm, after a warm-up of
   0.4 ms (no buffer; 10 relaxation times R^2 / (pi^2 D)), 0.1 ms (EGTA) and 25 us (BAPTA; 10
   free Ca2+ lifetimes 1 / (k_on B)), sampled for 2, 1.5 and 1.5 ms; error bars from 10 batch
   means. References, normalised by the realised flux (ions that entered / time; 606, 642 and
   631 per ms), averaged over each shell: with a buffer the linearised (excess buffer) profile
   sigma / (2 pi D r) exp(-r / lambda), lambda = sqrt(D / (k_on B)) = 46 nm (EGTA) and 23 nm
   (BAPTA); without, the exact steady state in the absorbing hemisphere,
   sigma / (2 pi D) (1/r - 1/R). Simulation / theory at 10, 20 and 50 nm: no buffer
   1.07 +- 0.06, 1.03 +- 0.04, 1.04 +- 0.04; EGTA 1.01 +- 0.06, 1.02 +- 0.06, 0.94 +- 0.04;
   BAPTA 0.99 +- 0.04, 1.01 +- 0.04, 0.99 +- 0.04 (+- one standard error); over all nine shells
   of each condition the largest deviation is 7.5 %, and none is more than 1.7 standard errors
   (the unbuffered shells are all 2-7 % high together: they count the same ions, so their errors
   are correlated). Free [Ca2+] at
   20 nm: 34.6 uM (no buffer), 25.0 uM (EGTA), 16.1 uM (BAPTA); at 50 nm 12.4, 4.7 and 1.8 uM.
3. Where the chelators capture Ca2+ (figure, right): the distance from the pore of each new
   complex (seen within 20 ns of its formation), against the linearised capture density
   r / lambda^2 exp(-r / lambda): mean 47.8 nm for BAPTA (theory 2 lambda = 46.9 nm) and 90.5 nm
   for EGTA (91.5 nm); 63 % of the BAPTA captures but 28 % of the EGTA captures happen within
   50 nm of the pore (theory 63 % and 30 %).
4. A movie (``buffered_nanodomain.mp4``, H.264, 1920x800, 300 frames at 25 fps, one frame per
   0.2 us of simulated time, 0 to 60 us after the channel opens; separate runs with the same
   0.2 pA channel, no boost of the current), rendered headless with PyVista: the three
   conditions side by side, viewed obliquely from above, about 150 nm across at the pore. Free
   Ca2+ ions are cyan, each with a line through its positions of the last 1.5 us (so that the
   one or two free ions that BAPTA allows are visible); the Ca-chelator complexes are amber,
   bright when just formed and dimmer over 8 us; small pale squares mark every capture site so
   far; a white ring and faint dome of radius lambda; the pore (red); a 25 nm grid on the
   membrane; a 50 nm scale bar. Each panel counts the free ions, the ions that entered and the
   captures within 50 nm. Without buffer no ion is captured: the 33 that entered wander out of
   the view (5 of them reach the absorbing surface 300 nm away); with EGTA about six are free at
   a time (624 /ms x 9.5 us) and most are captured beyond 50 nm (12 of 32 captures within 50 nm,
   38 %), so the complexes appear all over the view; with BAPTA one or two are free and 21 of 33
   captures (64 %) are within 50 nm, around the pore. Ions are drawn larger than they are.

Outputs in ``--out``: the movie, three PNG frames (10.2, 30.2 and 60 us), ``radial_profiles.png``
and ``summary.json`` (what :func:`main` returns). The full mode takes about 5 minutes on a busy
2-core machine (half simulation, half rendering); ``--fast`` about 30 s (short sampling,
12 small frames over 6 us).

References
----------
Neher E. (1986) Concentration profiles of intracellular calcium in the presence of a diffusible
   chelator. In: Calcium Electrogenesis and Neuronal Functioning, Exp. Brain Res. Ser. 14,
   Springer, pp. 80-96 (the excess buffer approximation).
Naraghi M. & Neher E. (1997) J. Neurosci. 17:6961, doi:10.1523/JNEUROSCI.17-18-06961.1997
   (linearised buffered Ca2+ diffusion at a channel mouth; the EGTA and BAPTA rates and D).
Eggermann E., Bucurenciu I., Goswami S.P. & Jonas P. (2012) Nat. Rev. Neurosci. 13:7,
   doi:10.1038/nrn3125 (EGTA versus BAPTA as a ruler of channel-sensor distances).
Crank J. (1975) The Mathematics of Diffusion, 2nd ed., Oxford University Press (steady point
   source; an absorbing sphere; a reflecting plane by the method of images).
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
import time

import numpy as np

# must be set before pyvista/vtk is imported: skip the X probe, render with EGL
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import microsyn as ms  # noqa: E402
from microsyn.reactions import ca_buffer, excess_buffer_profile, length_constant  # noqa: E402
from microsyn.units import PARTICLES_PER_UM3_PER_MM, current_to_ion_rate  # noqa: E402

CA = "Ca2+"
#: free Ca2+ diffusion coefficient [um^2/ms] (Naraghi & Neher 1997: 220 um^2/s)
D_CA = 0.22
#: (key, panel label, buffer name or None, free buffer concentration [mM])
CONDITIONS = (("none", "no buffer", None, 0.0),
              ("EGTA", "10 mM EGTA", "EGTA", 10.0),
              ("BAPTA", "1 mM BAPTA", "BAPTA", 1.0))
#: hemispherical shell edges [nm] of the radial profiles; the shells 8-12, 16-24 and 40-60 nm
#: give the ratios reported at 10, 20 and 50 nm
EDGES_NM = np.array([5.0, 8.0, 12.0, 16.0, 24.0, 32.0, 40.0, 60.0, 80.0, 100.0])
RATIO_SHELLS_NM = {10: (8.0, 12.0), 20: (16.0, 24.0), 50: (40.0, 60.0)}

CA_COLOR = "#22d3ee"       # free Ca2+: cyan (microsyn.render's colour of Ca2+)
CAB_COLOR = "#ffb000"      # Ca-buffer complexes: amber, fresh ones bright
CAB_OLD_COLOR = "#b07818"  # ... and dimmer with age
SITE_COLOR = "#fff1b8"     # capture sites: small pale marks
MEMBRANE_COLOR = "#3d5f8a"
PORE_COLOR = "#ff3b5c"
LAMBDA_COLOR = "#e0e0e0"
BACKGROUND = "#0b1224"


def settings(fast: bool) -> dict:
    """Run and movie parameters [ms, um, pA, mM]; ``fast`` is a preview of about half a minute."""
    common = dict(R_um=0.3, dt_ms=1e-5, current_pA=0.2, voxel_um=0.01, reservoir_um=0.03,
                  refill_every_ms=0.01, seeds={"none": 11, "EGTA": 12, "BAPTA": 13}, n_batches=10,
                  sample_every_steps={"none": 50, "EGTA": 2, "BAPTA": 2},
                  movie_sub_steps=2, trail_us=1.5, complex_fade_us=8.0)
    if fast:
        return dict(common, warmup_ms={"none": 0.2, "EGTA": 0.1, "BAPTA": 0.025},
                    sample_ms={"none": 0.3, "EGTA": 0.1, "BAPTA": 0.1},
                    movie_t_end_ms=0.006, n_frames=12, size=(960, 400), fps=6)
    return dict(common, warmup_ms={"none": 0.4, "EGTA": 0.1, "BAPTA": 0.025},
                sample_ms={"none": 2.0, "EGTA": 1.5, "BAPTA": 1.5},
                movie_t_end_ms=0.06, n_frames=300, size=(1920, 800), fps=25)


@contextlib.contextmanager
def one_thread():
    """Run Numba kernels on one thread: a handful of particles per step, where starting a
    parallel region costs more than the work (and much more on a busy machine)."""
    import numba

    prev = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(prev)


# ---------------------------------------------------------------------------------- model
class CountingFlux(ms.FluxSource):
    """A :class:`microsyn.FluxSource` that counts the ions it let in (``born``)."""

    born = 0

    def births(self, sim, step0, nsteps):
        counts = super().births(sim, step0, nsteps)
        self.born += int(counts.sum())
        return counts


def build(key: str, cfg: dict, seed: int):
    """The simulation of one condition: cytoplasm above a flat membrane (z = 0), a hemisphere of
    radius R whose far surface absorbs (the rest of the cell), a 0.2 pA Ca2+ channel at the
    origin and, with a buffer, the free chelator as a lattice field and the Ca-chelator
    complexes as tracked particles. Returns (sim, source, buffer or None, B [mM])."""
    R = cfg["R_um"]
    _, _, name, B = next(c for c in CONDITIONS if c[0] == key)
    dom = ms.Domain(ms.Sphere((0, 0, 0), R, name="far"),
                    holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    dom.set_boundary("far", "absorb")
    sim = ms.Simulation(dom, dt=cfg["dt_ms"], species=[CA], D={CA: D_CA}, seed=seed, threads=1)
    buf = None
    if name is not None:
        buf = ca_buffer(name)
        sim.use_field_lattice(voxel_size=cfg["voxel_um"], lo=(-R, -R, 0.0), hi=(R, R, R))
        sim.add_species(buf.free, kind="field")
        sim.add_species(buf.bound)  # particles: each complex is tracked (and drawn)
        sim.fill(buf.free.name, B)
        sim.add_reaction(buf.reaction)
    src = sim.add_source(CountingFlux.from_current(CA, cfg["current_pA"], 2, at=(0.0, 0.0, 0.0)))
    return sim, src, buf, B


def add_reservoir(sim, buf, B, cfg, t_end_ms):
    """Keep the free chelator at ``B`` in the outer ``reservoir_um`` of the hemisphere (reset
    every ``refill_every_ms``): the buffer of the rest of the cell. The complexes leave through
    the absorbing far surface; without this the lattice, whose edges reflect, would lose free
    chelator by the same number (about 2 % per ms for 1 mM BAPTA)."""
    R = cfg["R_um"]
    shell = ms.Domain(ms.Sphere((0, 0, 0), 2.0 * R), holes=[ms.Sphere((0, 0, 0), R - cfg["reservoir_um"])])
    every = cfg["refill_every_ms"]
    n = int(round((t_end_ms - sim.time) / every))
    for k in range(1, n + 1):
        sim.schedule(round(sim.time + k * every, 12),
                     lambda s, _n=buf.free.name: s.fields.set_concentration(_n, B, region=shell))


class ShellSampler(ms.recorders.Recorder):
    """Histogram of the distance |r| of every free Ca2+ from the pore in the shells
    :data:`EDGES_NM` (all ions are above the membrane, so the shells are hemispherical), and the
    distance from the pore of each Ca-chelator complex when it is first seen (its capture site,
    seen at most ``trigger`` steps after it formed)."""

    def __init__(self, trigger, bound=None):
        super().__init__(trigger)
        self.edges_um = EDGES_NM * 1e-3
        self.bound = bound
        self.rows = []
        self.capture_r_um = []
        self._last_pid = -1

    def record(self, sim):
        p = sim.positions(CA)
        r = np.sqrt(np.einsum("ij,ij->i", p, p))
        self.rows.append(np.histogram(r, bins=self.edges_um)[0])
        if self.bound is not None:
            ids, pos = sim.ids_and_positions(self.bound)
            new = ids > self._last_pid
            if new.any():
                self.capture_r_um.extend(np.sqrt(np.einsum("ij,ij->i", pos[new], pos[new])).tolist())
                self._last_pid = int(ids.max())


def shell_volumes_um3(edges_um):
    """Volumes [um^3] of the hemispherical shells between ``edges_um``."""
    e = np.asarray(edges_um, float)
    return 2.0 / 3.0 * math.pi * (e[1:] ** 3 - e[:-1] ** 3)


def theory_mM(r_um, flux_per_ms, k_on, B, R_um):
    """Steady [Ca2+] [mM] at r [um] for ``flux_per_ms`` ions/ms at the pore.

    With a buffer: the linearised (excess buffer) profile sigma / (2 pi D r) exp(-r / lambda)
    (:func:`microsyn.reactions.excess_buffer_profile`; the absorbing surface at R >= 6.5 lambda
    changes it by < 0.2 %). Without: the exact steady state of a point source on a reflecting
    plane inside an absorbing hemisphere of radius R, sigma / (2 pi D) (1/r - 1/R).
    """
    if B > 0:
        return excess_buffer_profile(r_um, flux_per_ms, D_CA, k_on, B)
    return excess_buffer_profile(r_um, flux_per_ms, D_CA, 0.0, 0.0) * (1.0 - np.asarray(r_um) / R_um)


def shell_mean(f, edges_um, n=64):
    """Volume average of f(r) over each hemispherical shell (Gauss-Legendre, weight r^2)."""
    x, w = np.polynomial.legendre.leggauss(n)
    out = []
    for a, b in zip(edges_um[:-1], edges_um[1:]):
        r = 0.5 * (b - a) * x + 0.5 * (b + a)
        out.append(np.sum(w * f(r) * r * r) / np.sum(w * r * r))
    return np.array(out)


def capture_cdf(r_um, lam_um):
    """Fraction of the Ca2+ captured within r of the pore in the linearised theory: the capture
    sites have the density k_on B c(r) 2 pi r^2 / flux = r / lambda^2 exp(-r / lambda)."""
    x = np.asarray(r_um, float) / lam_um
    return 1.0 - (1.0 + x) * np.exp(-x)


def run_profile(key: str, cfg: dict) -> dict:
    """Warm up to the steady state, then sample the free Ca2+ in the shells; returns the
    time-averaged profile with batch-mean errors and the realised flux."""
    sim, src, buf, B = build(key, cfg, cfg["seeds"][key])
    dt = cfg["dt_ms"]
    warm, T = cfg["warmup_ms"][key], cfg["sample_ms"][key]
    if buf is not None:
        add_reservoir(sim, buf, B, cfg, warm + T)
    sim.run(warm)
    n0, t0 = src.born, sim.time
    every = cfg["sample_every_steps"][key]
    rec = sim.add_recorder(ShellSampler(ms.Every(every * dt, start=round(sim.time + every * dt, 12)),
                                        bound=None if buf is None else buf.bound.name))
    rec._last_pid = int(sim.particles.next_id) - 1  # complexes formed in the warm-up are not counted
    sim.run(T)
    flux = (src.born - n0) / (sim.time - t0)
    rows = np.asarray(rec.rows, float)
    edges = rec.edges_um
    vol = shell_volumes_um3(edges) * PARTICLES_PER_UM3_PER_MM
    conc = rows.mean(axis=0) / vol
    batches = np.array([b.mean(axis=0) for b in np.array_split(rows, cfg["n_batches"])]) / vol
    se = batches.std(axis=0, ddof=1) / math.sqrt(cfg["n_batches"])
    k_on = 0.0 if buf is None else buf.k_on
    th = shell_mean(lambda r: theory_mM(r, flux, k_on, B, cfg["R_um"]), edges)
    lam = length_constant(D_CA, k_on, B)
    out = dict(key=key, B_mM=B, k_on=k_on, lambda_um=lam, flux_per_ms=flux, edges_um=edges, conc_mM=conc,
               se_mM=se, theory_mM=th, ratio=conc / th, ratio_se=se / th, n_samples=rows.shape[0],
               n_in=src.born - n0, reaction_counts=sim.reaction_counts)
    if buf is not None:
        cap = np.asarray(rec.capture_r_um)
        out.update(capture_r_um=cap, mean_capture_nm=float(cap.mean() * 1e3) if cap.size else math.nan,
                   mean_capture_theory_nm=2e3 * lam,
                   captured_within_50nm=float(np.mean(cap < 0.05)) if cap.size else math.nan,
                   captured_within_50nm_theory=float(capture_cdf(0.05, lam)))
    return out


# ---------------------------------------------------------------------------------- figure
def plot_profiles(path, profiles, cfg):
    """[Ca2+] against distance (simulation: points with batch-mean errors; theory: lines), the
    ratio simulation / theory per shell, and where the chelators capture Ca2+."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"none": "#444444", "EGTA": "#1f77b4", "BAPTA": "#d62728"}
    fig, (ax, ax2, ax3) = plt.subplots(1, 3, figsize=(18, 5.6), gridspec_kw=dict(width_ratios=[1.35, 1, 1]))
    rr = np.geomspace(EDGES_NM[0], EDGES_NM[-1], 300) * 1e-3
    for key, label, _, _ in CONDITIONS:
        p = profiles[key]
        e = p["edges_um"]
        # the radius where 1/r equals its shell average: where a 1/r-like profile takes its mean
        r_pt = 1.0 / shell_mean(lambda r: 1.0 / r, e)
        lam = "" if not math.isfinite(p["lambda_um"]) else f", \u03bb = {p['lambda_um'] * 1e3:.0f} nm"
        ax.errorbar(r_pt * 1e3, p["conc_mM"] * 1e3, yerr=2 * p["se_mM"] * 1e3, fmt="o", ms=5, color=colors[key],
                    mec="k", mew=0.4, capsize=2, zorder=3, label=f"{label}: simulation")
        ax.plot(rr * 1e3, theory_mM(rr, p["flux_per_ms"], p["k_on"], p["B_mM"], cfg["R_um"]) * 1e3, "-",
                color=colors[key], lw=1.6, label=("linearised theory" if p["B_mM"] > 0 else "exact theory") + lam)
        ax2.errorbar(r_pt * 1e3, p["ratio"], yerr=2 * p["ratio_se"], fmt="o-", ms=5, color=colors[key], mec="k",
                     mew=0.4, capsize=2, lw=0.8, label=label)
    ax.set(xscale="log", yscale="log", xlabel="distance from the pore r [nm]", ylabel="free [Ca2+] [\u00b5M]",
           title=f"Steady [Ca2+] around one {cfg['current_pA']:g} pA channel (time averages; error bars 2 s.e.)")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax2.axhspan(0.9, 1.1, color="0.9", zorder=0, label="\u00b1 10 %")
    ax2.axhline(1.0, color="k", lw=0.8)
    ax2.set(xscale="log", xlabel="distance from the pore r [nm]", ylabel="simulation / theory (shell averages)",
            title="Ratio per shell (error bars 2 s.e., batch means)", ylim=(0.5, 1.5))
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3, which="both", lw=0.5)
    bins = np.linspace(0.0, 250.0, 26)
    x = np.linspace(0.0, 250.0, 400)
    for key, label, name, _ in CONDITIONS:
        if name is None:
            continue
        p = profiles[key]
        cap = p["capture_r_um"] * 1e3
        lam = p["lambda_um"] * 1e3
        ax3.hist(cap, bins=bins, density=True, histtype="step", lw=1.8, color=colors[key],
                 label=f"{label}: {cap.size} captures, mean {cap.mean():.0f} nm")
        ax3.plot(x, x / lam ** 2 * np.exp(-x / lam), "--", color=colors[key], lw=1.2,
                 label=f"theory r/\u03bb\u00b2 exp(-r/\u03bb), mean 2\u03bb = {2 * lam:.0f} nm")
    ax3.set(xlabel="distance from the pore of the capture site [nm]", ylabel="probability density [1/nm]",
            title="Where Ca2+ is captured by the chelator", xlim=(0, 250))
    ax3.legend(fontsize=8)
    ax3.grid(alpha=0.3, lw=0.5)
    fig.suptitle("Demo 11: a Ca2+ nanodomain with no buffer, 10 mM EGTA and 1 mM BAPTA "
                 "(Brownian Ca2+, chelator on a 10 nm lattice; Naraghi & Neher 1997)", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------- movie
class PanelHistory:
    """What a movie panel draws of one simulation: the recent positions of each free Ca2+
    (its trail), the complexes with the time each was first seen, and every capture site."""

    def __init__(self, sim, bound):
        self.sim = sim
        self.bound = bound
        self.trail = []          # (t, ids, positions) of free Ca2+, newest last
        self.born_at = {}        # complex id -> time first seen [ms]
        self.sites = []          # capture sites [um]
        self._last_pid = -1

    def sample(self, trail_ms):
        sim = self.sim
        t = sim.time
        ids, pos = sim.ids_and_positions(CA)
        self.trail.append((t, ids, pos))
        while self.trail and self.trail[0][0] < t - trail_ms - 1e-12:
            self.trail.pop(0)
        if self.bound is not None:
            cid, cpos = sim.ids_and_positions(self.bound)
            new = cid > self._last_pid
            for i, p in zip(cid[new], cpos[new]):
                self.born_at[int(i)] = t
                self.sites.append(p.copy())
            if cid.size:
                self._last_pid = max(self._last_pid, int(cid.max()))

    def complexes(self):
        """(positions [um], ages [ms]) of the complexes alive now."""
        if self.bound is None:
            return np.zeros((0, 3)), np.zeros(0)
        cid, cpos = self.sim.ids_and_positions(self.bound)
        age = np.array([self.sim.time - self.born_at.get(int(i), self.sim.time) for i in cid])
        return cpos, age


class NanodomainScene:
    """Three panels side by side (one per condition), a header with the title and time stamp,
    and a footer with the legend; each panel shows the membrane with a 25 nm grid, the pore,
    the hemisphere of radius lambda, free Ca2+ with their trails and the complexes."""

    VIEW_DIR = np.array([0.36, -0.72, 0.90])

    def __init__(self, size, cfg, labels, lambdas_um):
        import pyvista as pv

        from microsyn.render.fonts import font_file

        pv.OFF_SCREEN = True
        self.pv = pv
        self.cfg = cfg
        self.w, self.h = size
        self.s = self.h / 800.0                       # sizes are chosen for 1920x800
        self.header = 2 * int(round(46 * self.s))
        self.footer = 2 * int(round(30 * self.s))
        self.ph = self.h - self.header - self.footer  # panel height [px]
        self.labels = labels
        self.lambdas = lambdas_um
        self.font_file, self.mono_file = font_file(), font_file(mono=True)
        n = len(labels)
        p = pv.Plotter(off_screen=True, window_size=(self.w, self.ph), shape=(1, n), border=False)
        p.ren_win.SetMultiSamples(4)
        self.p = p
        self.view_dir = self.VIEW_DIR / np.linalg.norm(self.VIEW_DIR)
        horiz = np.array([self.view_dir[0], self.view_dir[1], 0.0])
        horiz /= np.linalg.norm(horiz)
        self.towards_camera = horiz
        self.bar_dir = np.array([-horiz[1], horiz[0], 0.0])
        self.bar_len = 0.05
        from matplotlib.colors import LinearSegmentedColormap

        self.ca_cmap = LinearSegmentedColormap.from_list("ca_trail", [CA_COLOR, BACKGROUND])
        self.cab_cmap = LinearSegmentedColormap.from_list("cab_age", [CAB_COLOR, CAB_OLD_COLOR])
        mem_cmap = LinearSegmentedColormap.from_list("membrane", [MEMBRANE_COLOR, BACKGROUND])
        half = 0.35
        for i in range(n):
            p.subplot(0, i)
            p.set_background(BACKGROUND)
            p.renderer.SetUseOIT(False)
            mem = pv.Plane(center=(0, 0, -0.0005), direction=(0, 0, 1), i_size=2 * half, j_size=2 * half,
                           i_resolution=80, j_resolution=80)
            rho = np.linalg.norm(mem.points[:, :2], axis=1) / half
            mem["fade"] = np.clip((rho - 0.2) / 0.55, 0.0, 1.0) ** 0.7
            p.add_mesh(mem, scalars="fade", cmap=mem_cmap, clim=(0, 1), show_scalar_bar=False, opacity=0.9,
                       lighting=False, name=f"membrane{i}")
            ticks = np.arange(-6, 7) * 0.025
            e = 0.15
            seg = []
            for v in ticks:
                seg += [(v, -e, 0.0), (v, e, 0.0), (-e, v, 0.0), (e, v, 0.0)]
            p.add_mesh(pv.line_segments_from_points(np.array(seg)), color="#a9cdf0", opacity=0.16, line_width=1,
                       name=f"grid{i}")
            rp = 0.0025
            p.add_mesh(pv.Cylinder(center=(0, 0, -0.6 * rp), direction=(0, 0, 1), radius=rp, height=1.2 * rp,
                                   resolution=48), color=PORE_COLOR, ambient=0.4, name=f"pore{i}")
            p.add_mesh(pv.Disc(center=(0, 0, 0.0002), inner=1.5 * rp, outer=2.1 * rp, c_res=64), color=PORE_COLOR,
                       opacity=0.9, ambient=0.5, name=f"pore_ring{i}")
            lam = lambdas_um[i]
            if math.isfinite(lam):
                hemi = pv.Sphere(radius=lam, theta_resolution=72, phi_resolution=36, end_phi=90.0)
                p.add_mesh(hemi, color=LAMBDA_COLOR, opacity=0.07, name=f"lambda{i}")
                ring = pv.Circle(radius=lam, resolution=128)
                p.add_mesh(ring.extract_feature_edges(boundary_edges=True, feature_edges=False,
                                                      manifold_edges=False),
                           color=LAMBDA_COLOR, line_width=max(1, int(2 * self.s)), opacity=0.7, name=f"lambda_edge{i}")
            c0 = 0.07 * self.towards_camera
            a, b = c0 - 0.5 * self.bar_len * self.bar_dir, c0 + 0.5 * self.bar_len * self.bar_dir
            p.add_mesh(pv.Line(a, b), color="white", line_width=max(2, int(4 * self.s)), name=f"bar{i}")
            p.add_point_labels([c0 - 0.007 * self.towards_camera], ["50 nm"], font_size=self._font(18),
                               text_color="white", shape=None, show_points=False, always_visible=True,
                               justification_horizontal="center", name=f"bar_label{i}", font_file=self.font_file)
            focal = np.array([0.0, 0.0, 0.012])
            p.camera_position = [tuple(focal + 0.31 * self.view_dir), tuple(focal), (0.0, 0.0, 1.0)]
            p.camera.view_angle = 30.0

    def _font(self, size_at_800):
        return max(7, int(round(size_at_800 * self.s)))

    def frame(self, histories, t_ms, counts_text):
        """Render the panels at time ``t_ms`` [ms]; returns an (h, w, 3) uint8 image."""
        pv, p = self.pv, self.p
        trail_ms = self.cfg["trail_us"] * 1e-3
        fade_ms = self.cfg["complex_fade_us"] * 1e-3
        pt = max(3.0, 9.0 * self.s)
        for i, hist in enumerate(histories):
            p.subplot(0, i)
            # trails: one polyline per free Ca2+ through its recent positions, fading with age
            pts, ages, lines = [], [], []
            by_id = {}
            for t, ids, pos in hist.trail:
                for j, q in zip(ids.tolist(), pos):
                    by_id.setdefault(j, []).append((t, q))
            live = set(hist.trail[-1][1].tolist()) if hist.trail else set()
            heads = []
            for j, seq in by_id.items():
                if j not in live:
                    continue
                heads.append(seq[-1][1])
                if len(seq) < 2:
                    continue
                k0 = len(pts)
                lines.append([len(seq)] + list(range(k0, k0 + len(seq))))
                for t, q in seq:
                    pts.append(q)
                    ages.append(t_ms - t)
            if lines:
                poly = pv.PolyData(np.asarray(pts, np.float32), lines=np.concatenate(lines))
                poly["age"] = np.asarray(ages) / trail_ms
                p.add_mesh(poly, scalars="age", cmap=self.ca_cmap, clim=(0, 1), show_scalar_bar=False,
                           line_width=max(1.5, 2.5 * self.s), lighting=False, name=f"trails{i}", reset_camera=False,
                           render=False)
            else:
                p.remove_actor(f"trails{i}", render=False)
            if heads:
                p.add_points(pv.PolyData(np.asarray(heads, np.float32)), color=CA_COLOR, point_size=pt,
                             render_points_as_spheres=True, ambient=0.4, name=f"ca{i}", reset_camera=False,
                             render=False)
            else:
                p.remove_actor(f"ca{i}", render=False)
            cpos, cage = hist.complexes()
            if cage.size:
                cloud = pv.PolyData(np.asarray(cpos, np.float32))
                cloud["age"] = np.minimum(cage / fade_ms, 1.0)
                p.add_points(cloud, scalars="age", cmap=self.cab_cmap, clim=(0, 1), show_scalar_bar=False,
                             point_size=1.15 * pt, render_points_as_spheres=True, ambient=0.5, name=f"cab{i}",
                             reset_camera=False, render=False)
            else:
                p.remove_actor(f"cab{i}", render=False)
            if hist.sites:
                p.add_points(pv.PolyData(np.asarray(hist.sites, np.float32)), color=SITE_COLOR, point_size=pt * 0.4,
                             render_points_as_spheres=False, lighting=False, name=f"sites{i}",
                             reset_camera=False, render=False)
            p.reset_camera_clipping_range()
        p.render()
        panels = np.ascontiguousarray(p.screenshot(return_img=True)[:, :, :3])
        return self._compose(panels, t_ms, counts_text)

    def _compose(self, panels, t_ms, counts_text):
        """Header (title, time stamp, panel titles), the panels, and the footer (legend)."""
        from PIL import Image, ImageDraw, ImageFont

        img = Image.new("RGB", (self.w, self.h), BACKGROUND)
        img.paste(Image.fromarray(panels), (0, self.header))
        d = ImageDraw.Draw(img)
        f_title = ImageFont.truetype(self.font_file, self._font(26))
        f_panel = ImageFont.truetype(self.font_file, self._font(22))
        f_small = ImageFont.truetype(self.font_file, self._font(16))
        f_time = ImageFont.truetype(self.mono_file, self._font(24))
        pad = int(14 * self.s)
        d.text((pad, pad), f"Ca\u00b2\u207a entering through one open channel ({self.cfg['current_pA']:g} pA) "
               f"with no buffer, EGTA and BAPTA", font=f_title, fill="white")
        d.text((self.w - pad, pad), f"t = {t_ms * 1e3:6.2f} \u00b5s", font=f_time, fill="white", anchor="ra")
        n = len(self.labels)
        pw = self.w / n
        for i, lab in enumerate(self.labels):
            lam = self.lambdas[i]
            head = lab if not math.isfinite(lam) else f"{lab}   (\u03bb = {lam * 1e3:.0f} nm)"
            d.text(((i + 0.5) * pw, self.header - int(4 * self.s)), head, font=f_panel, fill="white", anchor="md")
            d.text((i * pw + pad, self.header + self.ph - pad), counts_text[i], font=f_small, fill="#c8d3e6",
                   anchor="ld")
            if i:
                d.line([(i * pw, self.header), (i * pw, self.header + self.ph)], fill="#2a3a5c", width=2)
        y = self.h - self.footer / 2
        x = pad
        r = max(3, int(6 * self.s))
        items = [(CA_COLOR, f"free Ca\u00b2\u207a (line: its last {self.cfg['trail_us']:g} \u00b5s)"),
                 (CAB_COLOR, f"Ca-chelator complex (dims over {self.cfg['complex_fade_us']:g} \u00b5s after capture)"),
                 (SITE_COLOR, "small squares: every capture site so far"),
                 (LAMBDA_COLOR, "shell: radius \u03bb = \u221a(D / k_on B)"),
                 (PORE_COLOR, "channel pore; grid 25 nm; ions not to scale")]
        for col, text in items:
            d.ellipse([x, y - r, x + 2 * r, y + r], fill=col)
            x += 2 * r + int(6 * self.s)
            d.text((x, y), text, font=f_small, fill="#c8d3e6", anchor="lm")
            x += int(d.textlength(text, font=f_small)) + int(26 * self.s)
        return np.asarray(img)

    def close(self):
        self.p.close()


def run_movie(cfg, out_dir, lambdas_um):
    """Run the three conditions side by side from the channel's opening (t = 0) and render the
    movie; returns the paths, frame count and the capture statistics seen in the movie."""
    from microsyn.render import MP4Writer, write_frame

    sims = []
    for key, label, name, B in CONDITIONS:
        sim, src, buf, _ = build(key, cfg, cfg["seeds"][key] + 100)
        sims.append((sim, src, PanelHistory(sim, None if buf is None else buf.bound.name)))
    dt = cfg["dt_ms"]
    sub = cfg["movie_sub_steps"]
    nf = cfg["n_frames"]
    end_step = int(round(cfg["movie_t_end_ms"] / dt))
    frame_steps = np.unique(np.round(np.linspace(0, end_step, nf + 1)[1:]).astype(int))
    labels = [c[1] for c in CONDITIONS]
    scene = NanodomainScene(cfg["size"], cfg, labels, lambdas_um)
    movie = os.path.join(out_dir, "buffered_nanodomain.mp4")
    writer = MP4Writer(movie, cfg["size"], fps=cfg["fps"])
    keep = {len(frame_steps) // 6: "frame_early.png", len(frame_steps) // 2: "frame_middle.png",
            len(frame_steps) - 1: "frame_last.png"}
    frames_png = []
    trail_ms = cfg["trail_us"] * 1e-3
    step = 0
    try:
        for k, fs in enumerate(frame_steps):
            while step < fs:
                step = min(fs, step + sub)
                for sim, _, hist in sims:
                    sim.run_until_step(step)
                    hist.sample(trail_ms)
            counts = []
            for sim, src, hist in sims:
                text = f"free Ca\u00b2\u207a now: {sim.count(CA)}   entered: {src.born}"
                if hist.bound is not None:
                    near = int(np.count_nonzero(np.linalg.norm(np.asarray(hist.sites).reshape(-1, 3), axis=1) < 0.05))
                    frac = f" ({100.0 * near / len(hist.sites):.0f} %)" if hist.sites else ""
                    text += f"   captured: {len(hist.sites)}, within 50 nm: {near}{frac}"
                counts.append(text)
            img = scene.frame([h for _, _, h in sims], step * dt, counts)
            write_frame(writer, img, out_dir, keep.get(k), frames_png)
    finally:
        writer.close()
        scene.close()
    stats = {}
    for (key, _, name, _), (sim, src, hist) in zip(CONDITIONS, sims):
        r = np.linalg.norm(np.asarray(hist.sites), axis=1) if hist.sites else np.zeros(0)
        stats[key] = dict(entered=src.born, free_at_end=sim.count(CA), captured=len(hist.sites),
                          median_capture_nm=float(np.median(r) * 1e3) if r.size else None)
    return dict(movie=movie, n_frames=len(frame_steps), frame_size=tuple(cfg["size"]), fps=cfg["fps"],
                frames_png=frames_png, movie_t_end_ms=end_step * dt, movie_stats=stats)


# ---------------------------------------------------------------------------------- main
def main(out_dir, fast: bool = False) -> dict:
    """Run the steady profiles and the movie; write the figure, frames, movie and summary.

    Parameters
    ----------
    out_dir : str or path
        Output folder (created if needed).
    fast : bool
        A preview of about half a minute: shorter sampling, 12 small frames.

    Returns
    -------
    dict
        Paths (``movie``, ``frames_png``, ``radial_profile_png``, ``summary_json``, ``figures``),
        ``n_frames``, per condition the realised flux [ions/ms], lambda [nm], the ratio
        simulation / theory and its standard error at 10, 20 and 50 nm (``ratios``), the capture
        statistics (``capture``) and run times [s].
    """
    t_start = time.perf_counter()
    cfg = settings(fast)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    profiles = {}
    t0 = time.perf_counter()
    with one_thread():
        for key, *_ in CONDITIONS:
            profiles[key] = run_profile(key, cfg)
    t_profiles = time.perf_counter() - t0
    png = os.path.join(out_dir, "radial_profiles.png")
    plot_profiles(png, profiles, cfg)
    t0 = time.perf_counter()
    with one_thread():
        mov = run_movie(cfg, out_dir, [profiles[k]["lambda_um"] for k, *_ in CONDITIONS])
    t_movie = time.perf_counter() - t0

    ratios, capture = {}, {}
    for key, *_ in CONDITIONS:
        p = profiles[key]
        lo = p["edges_um"][:-1] * 1e3
        ratios[key] = {}
        for r_nm, (a, b) in RATIO_SHELLS_NM.items():
            i = int(np.flatnonzero(np.isclose(lo, a))[0])
            assert math.isclose(p["edges_um"][i + 1] * 1e3, b)
            ratios[key][f"{r_nm} nm"] = dict(ratio=float(p["ratio"][i]), se=float(p["ratio_se"][i]),
                                             sim_uM=float(p["conc_mM"][i] * 1e3),
                                             theory_uM=float(p["theory_mM"][i] * 1e3))
        if "capture_r_um" in p:
            capture[key] = dict(n=int(p["capture_r_um"].size), mean_nm=p["mean_capture_nm"],
                                mean_theory_nm=p["mean_capture_theory_nm"],
                                within_50nm=p["captured_within_50nm"],
                                within_50nm_theory=p["captured_within_50nm_theory"])
    res = dict(
        **mov, radial_profile_png=png, figures=[png] + mov["frames_png"],
        dt_ms=cfg["dt_ms"], R_um=cfg["R_um"], current_pA=cfg["current_pA"],
        nominal_flux_per_ms=abs(current_to_ion_rate(cfg["current_pA"], 2)),
        flux_per_ms={k: p["flux_per_ms"] for k, p in profiles.items()},
        lambda_nm={k: (p["lambda_um"] * 1e3 if math.isfinite(p["lambda_um"]) else None) for k, p in profiles.items()},
        warmup_ms=cfg["warmup_ms"], sample_ms=cfg["sample_ms"],
        n_samples={k: p["n_samples"] for k, p in profiles.items()},
        ratios=ratios, capture=capture,
        max_abs_ratio_error={k: float(np.max(np.abs(p["ratio"] - 1.0))) for k, p in profiles.items()},
        max_abs_ratio_z={k: float(np.max(np.abs(p["ratio"] - 1.0) / p["ratio_se"])) for k, p in profiles.items()},
        shells={k: dict(edges_nm=p["edges_um"] * 1e3, sim_uM=p["conc_mM"] * 1e3, se_uM=p["se_mM"] * 1e3,
                        theory_uM=p["theory_mM"] * 1e3, ratio=p["ratio"], ratio_se=p["ratio_se"])
                for k, p in profiles.items()},
        profiles_s=t_profiles, movie_s=t_movie,
    )
    from microsyn.cli import write_summary

    return write_summary(res, out_dir, t_start)


if __name__ == "__main__":
    from microsyn.cli import demo_cli

    demo_cli(main, __doc__, __file__)
