"""Demo 01: Na+ entering at a membrane pore spreads into the cytoplasm as a hemisphere.

Shows
-----
1. A puff of Na+ ions appears at an open channel's pore in a flat membrane (z = 0) and diffuses
   into the cytoplasm above it (z > 0) by Brownian dynamics, D = 0.667 um^2/ms (half the
   free-water value). The membrane reflects the ions, so the cloud is a growing *hemisphere*
   of concentration centred on the pore; its rms radius grows as sqrt(6 D t).
2. Radial concentration profiles at several times, counted in hemispherical shells, against the
   exact solution for an instantaneous point source of N particles on a reflecting plane,

       c(r, t) = 2 N / (4 pi D t)^(3/2) * exp(-r^2 / (4 D t))      [particles / um^3],

   divided by 602,214 (particles per um^3 at 1 mM) for mM. The factor 2 is the image source: the plane folds the lower half
   of the free-space Gaussian back into the upper half. The distance from the pore, r, then
   follows a Maxwell distribution, so the expected count in a shell (r1, r2) is
   N [F(r2) - F(r1)] with F(r) = erf(u) - 2 u exp(-u^2) / sqrt(pi), u = r / sqrt(4 D t);
   the demo reports the largest relative error and Poisson z-score of the simulated shell
   counts. The mean height above the membrane, <z> = 2 sqrt(D t / pi), is checked as well.
3. A movie (MP4, h264) rendered headless with PyVista: gold ions above a translucent membrane
   with the pore marked, a translucent hemisphere of radius sqrt(6 D t), a time stamp, a scale
   bar, and a camera that pulls back as the cloud grows.

Numbers (defaults): N = 20,000 Na+ (3.2 fC, what a 0.7 pA single channel passes in 4.6 ms,
let in at once so that the exact solution applies), dt = 2 ns (rms 3D step sqrt(6 D dt) = 2.8 nm),
100 us of diffusion, 200 frames at 1280x720. Diffusion of independent ions is linear, so the
concentrations scale with the number let in; the resting [Na+]_i of 12 mM is drawn for comparison
(the added Na+ exceeds it only within ~75 nm of the pore, during the first ~4 us). The tracked ions are the ones that came
in; the background Na+ is a uniform continuum and is not drawn.

Run ``python demos/01_na_hemisphere.py --out DIR`` (add ``--fast`` for a few-second preview).

References
----------
Crank J. (1975) The Mathematics of Diffusion, 2nd ed., Oxford University Press, sections 2.2
   and 3.3 (instantaneous point source; reflection at a plane by the method of images).
Hille B. (2001) Ion Channels of Excitable Membranes, 3rd ed., Sinauer (Na+ diffusion
   coefficient, Table 14.1; intracellular and extracellular concentrations, Table 1.1).
Kushmerick M.J. & Podolsky R.J. (1969) Science 166:1297, doi:10.1126/science.166.3910.1297
   (small ions diffuse about half as fast in cytoplasm as in water).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

# must be set before pyvista/vtk is imported: skip the X probe, render with EGL
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import microsyn as ms  # noqa: E402
from microsyn.units import PARTICLES_PER_UM3_PER_MM  # noqa: E402

SPECIES = "Na+"
ION_COLOR = "#ffb000"  # Na+: amber gold
SHELL_COLOR = "#ffd166"
MEMBRANE_COLOR = "#3d5f8a"
PORE_COLOR = "#ff3b5c"
BACKGROUND = "#0b1224"
#: shells compared with theory must expect at least this many ions (Poisson error <= 10 %)
MIN_EXPECTED_COUNT = 100.0


def settings(fast: bool) -> dict:
    """Run parameters [ms, um]; ``fast`` gives a few-second preview."""
    if fast:
        return dict(n_ions=5_000, dt_ms=2e-6, t_end_ms=0.02, profile_times_ms=[0.002, 0.005, 0.01, 0.02],
                    n_bins=25, n_frames=12, size=(640, 360), fps=6, seed=1)
    return dict(n_ions=20_000, dt_ms=2e-6, t_end_ms=0.1,
                profile_times_ms=[0.005, 0.01, 0.025, 0.05, 0.1],
                n_bins=30, n_frames=200, size=(1280, 720), fps=25, seed=1)


# ---------------------------------------------------------------------------------- theory
def conc_theory_mM(r_um, t_ms, n, D):
    """Concentration [mM] at distance r [um] from an instantaneous point source of ``n``
    particles on a reflecting plane, at time t [ms] (Crank 1975)."""
    r = np.asarray(r_um, float)
    c = 2.0 * n * (4.0 * math.pi * D * t_ms) ** -1.5 * np.exp(-r * r / (4.0 * D * t_ms))
    return c / PARTICLES_PER_UM3_PER_MM


def radial_cdf(r_um, t_ms, D):
    """Fraction of the particles within distance r [um] of the source at time t [ms]
    (a Maxwell distribution: the reflecting plane keeps each particle's distance)."""
    from scipy.special import erf

    u = np.asarray(r_um, float) / math.sqrt(4.0 * D * t_ms)
    return erf(u) - 2.0 * u * np.exp(-u * u) / math.sqrt(math.pi)


def expected_shell_counts(edges_um, t_ms, n, D):
    """Expected particle counts in the shells between ``edges_um`` (exact, integrated)."""
    return n * np.diff(radial_cdf(edges_um, t_ms, D))


def mean_height_theory(t_ms, D):
    """Mean height [um] above the membrane: 2 sqrt(D t / pi) (a half-Gaussian in z)."""
    return 2.0 * math.sqrt(D * t_ms / math.pi)


def compare_shells(counts, edges_um, t_ms, n, D, min_expected=MIN_EXPECTED_COUNT):
    """Agreement of simulated shell counts with theory over shells expecting >= min_expected."""
    exp = expected_shell_counts(edges_um, t_ms, n, D)
    use = exp >= min_expected
    obs = np.asarray(counts, float)[use]
    e = exp[use]
    z = (obs - e) / np.sqrt(e)
    return dict(max_rel_error=float(np.max(np.abs(obs - e) / e)), max_abs_z=float(np.max(np.abs(z))),
                chi2_per_dof=float(np.sum(z * z) / use.sum()), n_shells_compared=int(use.sum()))


# ---------------------------------------------------------------------------------- scene
def _cloud_radius(t_ms, D):
    """Radius [um] holding ~99 % of the ions (Maxwell 99th percentile = 2.38 sqrt(4 D t))."""
    return 2.38 * math.sqrt(4.0 * D * t_ms)


def _nice_length(x):
    """The largest 1-2-5 length <= x."""
    p = 10.0 ** math.floor(math.log10(x))
    for m in (5.0, 2.0, 1.0):
        if m * p <= x:
            return m * p
    return p


def _fmt_length(um):
    return f"{um * 1e3:.0f} nm" if um < 1.0 else f"{um:g} um"


class HemisphereScene:
    """The PyVista scene: membrane, pore, ions, rms hemisphere, labels and a moving camera."""

    # oblique camera direction (from the focal point): in front, to the right, above
    VIEW_DIR = np.array([0.55, -0.80, 0.28])

    def __init__(self, size, D, t_end_ms, n_ions):
        import pyvista as pv

        pv.OFF_SCREEN = True
        self.pv = pv
        self.D = D
        self.w, self.h = size
        self.R_end = _cloud_radius(t_end_ms, D)
        self.view_dir = self.VIEW_DIR / np.linalg.norm(self.VIEW_DIR)
        horiz = np.array([self.view_dir[0], self.view_dir[1], 0.0])
        horiz /= np.linalg.norm(horiz)
        self.bar_dir = np.array([-horiz[1], horiz[0], 0.0])  # in the membrane, across the view
        self.towards_camera = horiz
        self.bar_len = _nice_length(0.3 * self.R_end)
        self.font = lambda s: max(7, int(round(s * self.h / 720)))

        p = pv.Plotter(off_screen=True, window_size=(self.w, self.h))
        p.set_background(BACKGROUND)
        # MSAA (FXAA falls back to slow SSAA on EGL). VTK's order-independent transparency would
        # render the translucent membrane and shells single-sampled and drop MSAA for the whole
        # frame, so it is switched off: the few translucent layers blend in draw order.
        p.ren_win.SetMultiSamples(4)
        p.renderer.SetUseOIT(False)
        self.p = p
        half = 8.0 * self.R_end
        membrane = pv.Plane(center=(0, 0, -0.002 * self.R_end), direction=(0, 0, 1), i_size=2 * half,
                            j_size=2 * half, i_resolution=96, j_resolution=96)
        # the membrane fades into the background with distance, so it has no visible edge
        rho = np.linalg.norm(membrane.points[:, :2], axis=1) / half
        membrane["fade"] = np.clip((rho - 0.25) / 0.6, 0.0, 1.0) ** 0.7
        from matplotlib.colors import LinearSegmentedColormap

        cmap = LinearSegmentedColormap.from_list("membrane", [MEMBRANE_COLOR, BACKGROUND])
        p.add_mesh(membrane, scalars="fade", cmap=cmap, clim=(0, 1), show_scalar_bar=False, opacity=0.85,
                   lighting=False, name="membrane")
        # a grid on the membrane at the scale-bar spacing: perspective cue and a second ruler
        k = int(math.floor(2.5 * self.R_end / self.bar_len))  # far grid lines would alias
        ticks = np.arange(-k, k + 1) * self.bar_len
        lines = []
        for v in ticks:
            e = k * self.bar_len
            lines += [((v, -e, 0.0), (v, e, 0.0)), ((-e, v, 0.0), (e, v, 0.0))]
        pts = np.array([q for seg in lines for q in seg])
        grid = pv.line_segments_from_points(pts)
        p.add_mesh(grid, color="#a9cdf0", opacity=0.18, line_width=1, name="grid")
        # the channel: a short cylinder through the membrane with a ring around the pore
        rp = 0.022 * self.R_end  # schematic: a real pore is ~0.5 nm, the channel ~10 nm wide
        p.add_mesh(pv.Cylinder(center=(0, 0, -0.62 * rp), direction=(0, 0, 1), radius=rp, height=1.2 * rp,
                               resolution=48), color=PORE_COLOR, ambient=0.4, name="pore")
        p.add_mesh(pv.Disc(center=(0, 0, 0.001 * self.R_end), inner=rp * 1.6, outer=rp * 2.2, c_res=64),
                   color=PORE_COLOR, opacity=0.9, ambient=0.5, name="pore_ring")
        from microsyn.render.fonts import font_file

        # DejaVu (shipped with matplotlib): VTK's built-in arial draws "[" as "("
        self.font_file, self.mono_font_file = font_file(), font_file(mono=True)
        p.add_text("Na+ let in at a membrane pore spreads as a hemisphere",
                   position="upper_edge", font_size=self.font(15), color="white", name="title",
                   font_file=self.font_file)
        p.add_text(f"gold: {n_ions:,} Na+ ions let in at the pore at t = 0, D = {D:g} \u00b5m\u00b2/ms\n"
                   f"shell: rms distance sqrt(6 D t)      red: channel pore\n"
                   f"blue: membrane (reflecting), grid {_fmt_length(self.bar_len)}",
                   position="lower_left", font_size=self.font(9), color="#c8d3e6", name="legend",
                   font_file=self.font_file)

    def frame(self, positions, t_ms):
        """Render the ions at ``positions`` [um] at time ``t_ms``; returns an (h, w, 3) uint8 image."""
        pv, p = self.pv, self.p
        # the view pulls back as the cloud grows, slower than the cloud, so the growth shows
        R = _cloud_radius(t_ms, self.D)
        R_view = self.R_end * (0.3 + 0.7 * R / self.R_end)
        focal = np.array([0.0, 0.0, 0.3 * R_view])
        dist = 3.3 * R_view
        p.camera_position = [tuple(focal + dist * self.view_dir), tuple(focal), (0.0, 0.0, 1.0)]
        p.camera.view_angle = 30.0

        cloud = pv.PolyData(np.ascontiguousarray(positions, dtype=np.float32))
        p.add_points(cloud, color=ION_COLOR, point_size=max(2.0, 2.5 * self.h / 720),
                     render_points_as_spheres=True, ambient=0.35, diffuse=0.8, specular=0.3,
                     name="ions", reset_camera=False, render=False)
        r_rms = math.sqrt(6.0 * self.D * t_ms)
        if r_rms > 0:
            hemi = pv.Sphere(radius=r_rms, theta_resolution=72, phi_resolution=36, end_phi=90.0)
            p.add_mesh(hemi, color=SHELL_COLOR, opacity=0.16, specular=0.4, name="shell", reset_camera=False,
                       render=False)
            wire = pv.Sphere(radius=r_rms, theta_resolution=16, phi_resolution=6, end_phi=90.0,
                             tessellation="phi_theta").extract_all_edges()
            p.add_mesh(wire, color=SHELL_COLOR, opacity=0.35, line_width=1, name="shell_wire",
                       reset_camera=False, render=False)
            ring = pv.Circle(radius=r_rms, resolution=128)
            p.add_mesh(ring.extract_feature_edges(boundary_edges=True, feature_edges=False,
                                                  manifold_edges=False),
                       color=SHELL_COLOR, line_width=2, opacity=0.8, name="shell_edge", reset_camera=False,
                       render=False)
        else:
            for name in ("shell", "shell_wire", "shell_edge"):
                p.remove_actor(name, render=False)
        # scale bar on the membrane in front of the cloud, across the line of sight
        c0 = 0.8 * R_view * self.towards_camera
        a = c0 - 0.5 * self.bar_len * self.bar_dir
        b = c0 + 0.5 * self.bar_len * self.bar_dir
        p.add_mesh(pv.Line(a, b), color="white", line_width=max(2, int(4 * self.h / 720)), name="bar",
                   reset_camera=False, render=False)
        p.add_point_labels([c0 + 0.09 * R_view * self.towards_camera], [_fmt_length(self.bar_len)],
                           font_size=self.font(17), text_color="white", shape=None, show_points=False,
                           always_visible=True, justification_horizontal="center", name="bar_label",
                           font_file=self.font_file, reset_camera=False, render=False)
        t_us = t_ms * 1e3
        p.add_text(f"t = {t_us:6.2f} \u00b5s", position=(int(0.02 * self.w), int(0.80 * self.h)),
                   font_size=self.font(16), color="white", font_file=self.mono_font_file, name="time", render=False)
        p.reset_camera_clipping_range()
        p.render()
        return np.ascontiguousarray(p.screenshot(return_img=True)[:, :, :3])

    def close(self):
        self.p.close()


# ---------------------------------------------------------------------------------- figure
def plot_profiles(path, profiles, D, n, heights):
    """Concentration vs distance (data points, theory lines) and mean height vs time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 5.4), gridspec_kw=dict(width_ratios=[1.6, 1]))
    cmap = plt.get_cmap("plasma")
    r_top = max(p.edges_um[-1] for p in profiles) * 1e3
    for i, prof in enumerate(profiles):
        col = cmap(0.1 + 0.75 * i / max(1, len(profiles) - 1))
        t = prof.times_ms[0]
        cnt = prof.counts[0]
        vol = prof.shell_volume_um3 * PARTICLES_PER_UM3_PER_MM
        ok = cnt > 0
        r_nm = prof.r_um * 1e3
        ax.errorbar(r_nm[ok], (cnt / vol)[ok], yerr=(np.sqrt(cnt) / vol)[ok], fmt="o", ms=4.5, color=col,
                    mec="k", mew=0.4, elinewidth=1, capsize=0, zorder=3)
        rr = np.linspace(0, r_top, 400)
        ax.plot(rr, conc_theory_mM(rr / 1e3, t, n, D), "-", color=col, lw=1.8,
                label=f"t = {t * 1e3:g} \u00b5s")
    c_rest = ms.get_species(SPECIES).c_in
    ax.axhline(c_rest, color="0.45", ls="--", lw=1)
    ax.text(0.985 * r_top, c_rest * 1.15, f"resting [Na+]$_i$ = {c_rest:g} mM", ha="right", va="bottom",
            color="0.35", fontsize=9)
    ax.set_yscale("log")
    ymax = max(conc_theory_mM(0.0, p.times_ms[0], n, D) for p in profiles)
    data_min = min(np.min(p.conc_mM[0][p.counts[0] > 0]) for p in profiles)
    ax.set_ylim(0.4 * data_min, 3.0 * max(ymax, c_rest))
    ax.set_xlim(0, r_top)
    ax.set_xlabel("distance from the pore r [nm]")
    ax.set_ylabel("added [Na+] [mM]")
    ax.set_title(f"Radial profile of {n:,} Na+ released at the pore\n"
                 "points: simulation (hemispherical shells, Poisson error bars);  "
                 "lines: point source on a reflecting plane", fontsize=10)
    ax.legend(title="time", fontsize=9, loc="lower left")
    ax.grid(alpha=0.3, which="both", lw=0.5)

    t_ms, z_um = heights
    every = max(1, (len(t_ms) - 1) // 40)  # at most ~40 markers
    ax2.plot(np.asarray(t_ms)[1::every] * 1e3, np.asarray(z_um)[1::every] * 1e3, "o", ms=3.5, color="#e69500",
             mec="k", mew=0.3, label="simulation")
    tt = np.linspace(0, t_ms[-1], 300)
    ax2.plot(tt * 1e3, [mean_height_theory(x, D) * 1e3 for x in tt], "k-", lw=1.5,
             label=r"theory $2\sqrt{Dt/\pi}$")
    ax2.set_xlabel("time t [\u00b5s]")
    ax2.set_ylabel("mean height above the membrane <z> [nm]")
    ax2.set_title(f"Mean height of the cloud (D = {D:g} \u00b5m$^2$/ms)", fontsize=10)
    ax2.legend(fontsize=9, loc="lower right")
    ax2.grid(alpha=0.3, lw=0.5)
    ax2.set_xlim(0, t_ms[-1] * 1e3)
    ax2.set_ylim(0, None)
    fig.suptitle("Na+ entering at a membrane pore spreads as a hemisphere (Crank 1975; D from Hille 2001)",
                 fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def _save_png(path, img):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg

    mpimg.imsave(path, img)


# ---------------------------------------------------------------------------------- main
def main(out_dir, fast: bool = False) -> dict:
    """Run the simulation, write the figure, frames and movie to ``out_dir``; return key numbers.

    Parameters
    ----------
    out_dir : str or path
        Output folder (created if needed).
    fast : bool
        A few-second preview: fewer ions, shorter time, 12 small frames.

    Returns
    -------
    dict
        Paths (``movie``, ``frames_png``, ``radial_profile_png``), ``n_frames``, the agreement with
        theory at the last profile time (``max_rel_error``, ``max_abs_z``, ``chi2_per_dof``),
        ``mean_height_um`` and ``mean_height_theory_um`` [um] at the end, ``min_z_um`` [um] (the
        lowest ion seen in any frame) and run times [s].
    """
    import imageio_ffmpeg
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    cfg = settings(fast)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    n, dt, t_end = cfg["n_ions"], cfg["dt_ms"], cfg["t_end_ms"]

    # geometry: cytoplasm above a membrane at z = 0, open (absorbing) far away
    R_far = max(2.0, 8.0 * math.sqrt(4.0 * 0.667 * t_end))
    dom = ms.Domain(ms.Sphere((0, 0, 0), R_far, name="far"),
                    holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    dom.set_boundary("far", "absorb")
    sim = ms.Simulation(dom, dt=dt, species=[SPECIES], seed=cfg["seed"])
    D = sim.D(SPECIES)
    sim.release(SPECIES, n=n, at=(0.0, 0.0, 0.0))  # at the pore, on the membrane
    profiles = []
    for t in cfg["profile_times_ms"]:
        rec = ms.RadialProfile(SPECIES, center=(0, 0, 0), r_max=3.0 * math.sqrt(4.0 * D * t),
                               n_bins=cfg["n_bins"], hemisphere_normal=(0, 0, 1))
        profiles.append(sim.add_recorder(rec, trigger=[t]))

    # frames at t_k = t_end (k / (n-1))^2: the cloud radius ~ sqrt(t) grows evenly in the movie;
    # the simulation runs its own steps between frames
    nf = cfg["n_frames"]
    frame_t = t_end * (np.arange(nf) / (nf - 1)) ** 2
    w, h = cfg["size"]
    movie = os.path.join(out_dir, "na_hemisphere.mp4")
    keep = {0: "frame_first.png", nf // 2: "frame_middle.png", nf - 1: "frame_last.png"}
    frames_png = []
    heights_t, heights_z = [], []
    min_z = math.inf
    t_sim = t_render = 0.0

    scene = HemisphereScene((w, h), D, t_end, n)
    writer = imageio_ffmpeg.write_frames(movie, (w, h), fps=cfg["fps"], codec="libx264",
                                         pix_fmt_out="yuv420p", quality=6, macro_block_size=2,  # crf 20
                                         ffmpeg_log_level="error")
    writer.send(None)
    try:
        for k, tk in enumerate(tqdm(frame_t, desc="demo 01: simulate + render", unit="frame")):
            t0 = time.perf_counter()
            sim.run_until(tk)
            pos = sim.positions(SPECIES)
            t1 = time.perf_counter()
            if pos.shape[0]:
                min_z = min(min_z, float(pos[:, 2].min()))
                heights_t.append(sim.time)
                heights_z.append(float(pos[:, 2].mean()))
            img = scene.frame(pos, sim.time)
            writer.send(img.tobytes())
            if k in keep:
                path = os.path.join(out_dir, keep[k])
                _save_png(path, img)
                frames_png.append(path)
            t_sim += t1 - t0
            t_render += time.perf_counter() - t1
    finally:
        writer.close()
        scene.close()

    last = profiles[-1]
    t_last = last.times_ms[0]
    agreement = compare_shells(last.counts[0], last.edges_um, t_last, n, D)
    png = os.path.join(out_dir, "radial_profile.png")
    plot_profiles(png, profiles, D, n, (heights_t, heights_z))

    return dict(
        movie=movie, n_frames=nf, frame_size=(w, h), fps=cfg["fps"], frames_png=frames_png,
        radial_profile_png=png, figures=[png] + frames_png,
        n_ions=n, dt_ms=dt, D_um2_per_ms=D, rms_step_nm=math.sqrt(6.0 * D * dt) * 1e3,
        t_end_ms=round(sim.time, 12), profile_times_ms=[round(p.times_ms[0], 12) for p in profiles],
        profile_time_compared_ms=round(t_last, 12), **agreement,
        mean_height_um=heights_z[-1], mean_height_theory_um=mean_height_theory(heights_t[-1], D),
        min_z_um=min_z, n_absorbed=sim.absorbed_count(), n_left=sim.count(SPECIES),
        sim_s=t_sim, render_s=t_render, runtime_s=time.perf_counter() - t_start,
    )


def _cli(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join("out", "01_na_hemisphere"), help="output folder")
    ap.add_argument("--fast", action="store_true", help="a few-second preview (fewer ions, 12 frames)")
    args = ap.parse_args(argv)
    res = main(args.out, fast=args.fast)
    for k, v in res.items():
        print(f"{k:>26}: {v}")


if __name__ == "__main__":
    _cli()
