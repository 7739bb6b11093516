"""Demo 13: nanodomain coupling: where a vesicle sits from its Ca2+ channel decides whether it fuses.

A presynaptic bouton (:class:`microsyn.presynaptic.Terminal`: a sphere of cytoplasm with an
active zone on its membrane, at the end of a Hodgkin-Huxley axon that fires one action potential
into it) with P/Q-type Ca2+ channels (Borst & Sakmann 1998, gated stochastically at the bouton's
voltage, each open channel emitting Ca2+ ions at its mouth with its GHK current) and docked
vesicles whose five-site sensors (Schneggenburger & Neher 2000) bind those ions by real
encounters. The buffers are lattice fields (EGTA: k_on 1.05e7 /M/s; BAPTA: 4e8 /M/s; Naraghi &
Neher 1997).

1. ``release_vs_distance.png``, left: the release probability of a vesicle against its distance
   from a single channel (10, 20, 40 and 80 nm), from particle simulations of one AP each (the
   channel opens, or not, as its gating decides), with no added buffer, 10 mM EGTA and 1 mM
   BAPTA; error bars are binomial standard errors. Right: the same question in the linearised
   steady nanodomain (one channel at 0.2 pA open for 0.5 ms; :func:`release_probability`),
   with 10 mM BAPTA too. Both show the signature of nanodomain coupling (Adler et al. 1991;
   Bucurenciu et al. 2008): close to the channel, the slow buffer EGTA barely reduces release
   while the fast buffer BAPTA blocks much of it; farther away, both block.
2. ``nanodomain_coupling.mp4``: the active zone seen from inside the bouton, in three panels
   (no added buffer, 10 mM EGTA, 1 mM BAPTA) during one AP: the Ca2+ ions (dots, brighter when
   closer to the membrane) spreading from six open channels (red squares, bright while open) on
   a ring of 40 nm, a vesicle (circle) 20 nm outside each channel and four vesicles about 90 nm
   from the nearest channel, each flashing when it fuses and staying filled afterwards. An inset
   draws the bouton's voltage and the left panel's Ca2+ current, with a cursor. The channels
   open and close alike in the three panels (one seed); only the buffer differs. With BAPTA the
   cloud shrinks to the channels' mouths; the far vesicles fuse only without added buffer.

The numbers (``summary.json``): the release probabilities per distance and condition with their
standard errors, the ions that came in, the fusions per panel and the release latency after the
Ca2+ current's onset.

Temperature: the channels' rates are scaled to 37 C (Q10 3, from 24 C); the sensors' rates are
those published (room temperature).

References
----------
Borst J.G.G. & Sakmann B. (1998) J. Physiol. 506:143-157, doi:10.1111/j.1469-7793.1998.143bx.x.
Schneggenburger R. & Neher E. (2000) Nature 406:889-893, doi:10.1038/35022702.
Naraghi M. & Neher E. (1997) J. Neurosci. 17:6961-6973, doi:10.1523/JNEUROSCI.17-18-06961.1997.
Adler E.M., Augustine G.J., Duffy S.N. & Charlton M.P. (1991) J. Neurosci. 11:1496-1507.
Bucurenciu I., Kulik A., Schwaller B., Frotscher M. & Jonas P. (2008) Neuron 57:536-545,
   doi:10.1016/j.neuron.2007.12.026.
"""
from __future__ import annotations

import math
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from microsyn.plotting import save_figure  # noqa: E402
from microsyn.presynaptic import Terminal, borst_sakmann_1998, release_probability, schneggenburger_neher_2000  # noqa: E402

CONDITIONS = [("control", "no added buffer", None, 0.0), ("EGTA", "10 mM EGTA", "EGTA", 10.0),
              ("BAPTA", "1 mM BAPTA", "BAPTA", 1.0)]
RING_NM = (10.0, 20.0, 40.0, 80.0)
PER_RING = 6


def settings(fast: bool) -> dict:
    return dict(trials=3 if fast else 16, t_end_ms=1.6 if fast else 2.0, size=(640, 360) if fast else (1280, 720),
                fps=25.0, movie_t_end_ms=1.6 if fast else 2.2, frame_every_ms=0.04 if fast else 0.01)


def _terminal(radius, az, seed):
    """A bouton of ``radius`` [um] with an active zone of ``az`` [um]; one AP from the axon at 0.2 ms."""
    return Terminal(radius_um=radius, active_zone_radius_um=az, spike_times_ms=(0.2,), seed=seed)


def _add_buffer(T, buffer, mM):
    if buffer is not None:
        T.add_buffer(buffer, mM)


# ---------------------------------------------------------------------------------- release vs distance
def release_vs_distance(cfg, seeds0=1000) -> dict:
    """Particle simulations: one channel at the zone's centre and PER_RING vesicles on each ring;
    returns per condition the fused fraction per ring and its binomial SE."""
    out = {}
    th0 = 2 * math.pi * np.arange(PER_RING) / PER_RING
    xy, ring_of = [], []
    for k, r in enumerate(RING_NM):
        th = th0 + k * math.pi / PER_RING
        xy += list(zip(r * 1e-3 * np.cos(th), r * 1e-3 * np.sin(th)))
        ring_of += [k] * PER_RING
    xy, ring_of = np.array(xy), np.array(ring_of)
    for key, label, buffer, mM in CONDITIONS:
        fused = np.zeros(len(RING_NM))
        opened, entered = 0, 0
        for trial in range(cfg["trials"]):
            T = _terminal(0.3, 0.12, seeds0 + trial)
            T.add_channels(borst_sakmann_1998(), [(0.0, 0.0)])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                S = T.add_vesicles(xy, schneggenburger_neher_2000())
            _add_buffer(T, buffer, mM)
            T.run(cfg["t_end_ms"], progress=False)
            _, sites = S.fusion_events()
            for p in sites:
                k = int(np.argmin(np.linalg.norm(S.positions - p, axis=1)))
                fused[ring_of[k]] += 1
            opened += int(T.ca_current()[2].max() > 0)
            entered += T.ca_entered()
        n = cfg["trials"] * PER_RING
        pr = fused / n
        out[key] = dict(label=label, p_release=pr, se=np.sqrt(np.maximum(pr * (1 - pr), 1.0 / n) / n),
                        trials=cfg["trials"], channel_opened=opened, mean_ca_entered=entered / cfg["trials"])
    d = T.coupling_distances_um()[:, 0]
    out["distance_nm"] = np.array([d[ring_of == k].mean() * 1e3 for k in range(len(RING_NM))])
    return out


def linearised_curves():
    from microsyn.reactions.buffers import ca_buffer

    r_nm = np.geomspace(5.0, 200.0, 60)
    s = schneggenburger_neher_2000()
    curves = {"no added buffer": np.array([release_probability(s, r * 1e-3) for r in r_nm])}
    for name, mM in (("EGTA", 10.0), ("BAPTA", 1.0), ("BAPTA", 10.0)):
        b = ca_buffer(name)
        curves[f"{mM:g} mM {name}"] = np.array([release_probability(s, r * 1e-3, buffer=b, buffer_mM=mM)
                                                for r in r_nm])
    return r_nm, curves


def plot_release(path_dir, rel, r_nm, curves):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"no added buffer": "#222222", "10 mM EGTA": "#1f77b4", "1 mM BAPTA": "#d62728",
              "10 mM BAPTA": "#9467bd"}
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.3))
    d = rel["distance_nm"]
    for key, label, *_ in CONDITIONS:
        r = rel[key]
        a.errorbar(d, r["p_release"], yerr=r["se"], marker="o", capsize=3, color=colors[label],
                   label=f"{label} (channel opened in {r['channel_opened']}/{r['trials']} APs)")
    a.set_xscale("log")
    a.set_xticks(d, [f"{x:.0f}" for x in d])
    a.minorticks_off()
    a.set_xlabel("sensor to channel distance [nm]")
    a.set_ylabel("release probability per vesicle per AP")
    a.set_title("particle simulation: one channel, one AP")
    a.set_ylim(-0.02, 1.02)
    a.legend(fontsize=8)
    for label, y in curves.items():
        b.plot(r_nm, y, color=colors[label], label=label)
    b.set_xscale("log")
    b.set_xlabel("distance from the channel [nm]")
    b.set_ylabel("release probability")
    b.set_title("linearised steady nanodomain (0.2 pA for 0.5 ms)")
    b.set_ylim(-0.02, 1.02)
    b.legend(fontsize=8)
    return save_figure(fig, path_dir, "release_vs_distance.png")


# ---------------------------------------------------------------------------------- the movie
class Panel:
    """One condition: its terminal, with six channels on a ring of 40 nm, a "nanodomain" vesicle
    20 nm outside each channel and four "microdomain" vesicles about 90 nm from the nearest
    channel (all panels share the seed, so the channels open and close alike in each)."""

    N_NEAR = 6

    def __init__(self, key, label, buffer, mM, seed):
        self.key, self.label = key, label
        T = _terminal(0.5, 0.15, seed)
        th = 2 * math.pi * np.arange(6) / 6
        T.add_channels(borst_sakmann_1998(), np.c_[0.04 * np.cos(th), 0.04 * np.sin(th)])
        thf = 2 * math.pi * np.arange(4) / 4 + math.pi / 6
        xy = np.r_[np.c_[0.06 * np.cos(th), 0.06 * np.sin(th)], np.c_[0.125 * np.cos(thf), 0.125 * np.sin(thf)]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.sensors = T.add_vesicles(xy, schneggenburger_neher_2000())
        _add_buffer(T, buffer, mM)
        self.T, self.xy = T, xy
        self.fused_at = {}  # vesicle index -> time [ms]

    def advance(self, t_ms):
        T = self.T
        if t_ms > T.time_ms + 1e-9:
            T.run(round((t_ms - T.time_ms) / T.coupling.dt_ms) * T.coupling.dt_ms, progress=False)
        ts, sites = self.sensors.fusion_events()
        for t, p in zip(ts, sites):
            k = int(np.argmin(np.linalg.norm(self.sensors.positions - p, axis=1)))
            self.fused_at.setdefault(k, float(t))


class CouplingScene:
    """Draws a frame: title and time, three panels (top view of the active zone, 320 nm across),
    a legend and an inset of V and I_Ca with a cursor."""

    VIEW_NM = 320.0

    def __init__(self, size):
        from PIL import ImageFont

        from microsyn.render.fonts import font_file

        self.w, self.h = size
        s = self.w / 1280.0
        self.s = s
        self.f_title = ImageFont.truetype(font_file(), max(10, int(26 * s)))
        self.f_text = ImageFont.truetype(font_file(), max(8, int(16 * s)))
        self.f_small = ImageFont.truetype(font_file(), max(7, int(13 * s)))
        self.header = int(56 * s)
        self.inset_h = int(150 * s)
        self.pw = self.w // 3
        self.ph = self.h - self.header - self.inset_h

    def _to_px(self, i, x_um, y_um):
        side = min(self.pw, self.ph) - int(20 * self.s)
        cx = i * self.pw + self.pw / 2
        cy = self.header + self.ph / 2
        k = side / (self.VIEW_NM * 1e-3)
        return cx + x_um * k, cy - y_um * k, k

    def frame(self, panels, t_ms, trace):
        from PIL import Image, ImageDraw

        img = Image.new("RGB", (self.w, self.h), (12, 16, 30))
        d = ImageDraw.Draw(img)
        s = self.s
        d.text((int(16 * s), int(12 * s)), "Nanodomain coupling: Ca\u00b2\u207a at the active zone during one action potential",
               font=self.f_title, fill="white")
        d.text((self.w - int(16 * s), int(12 * s)), f"t = {t_ms:5.3f} ms", font=self.f_title, fill="white",
               anchor="ra")
        for i, p in enumerate(panels):
            self._panel(d, i, p, t_ms)
        self._inset(d, trace, t_ms)
        return np.asarray(img)

    def _panel(self, d, i, p, t_ms):
        s = self.s
        T = p.T
        R = T.radius_um
        x0, y0 = i * self.pw, self.header
        d.rectangle([x0 + 2, y0, x0 + self.pw - 2, y0 + self.ph], outline=(40, 52, 80))
        # the active zone's rim
        cx, cy, k = self._to_px(i, 0.0, 0.0)
        ra = T.active_zone_radius_um * k
        d.ellipse([cx - ra, cy - ra, cx + ra, cy + ra], outline=(70, 90, 130), width=max(1, int(2 * s)))
        # Ca2+ ions within 100 nm of the membrane, brighter when closer
        pos = T.sim.positions("Ca2+")
        if pos.size:
            h = R - np.linalg.norm(pos, axis=1)
            sel = (h < 0.1) & (pos[:, 2] < 0)
            rr = max(1.0, 2.2 * s)
            for (x, y, _), hh in zip(pos[sel], h[sel]):
                px, py, _ = self._to_px(i, x, y)
                if x0 < px < x0 + self.pw and y0 < py < y0 + self.ph:
                    b = 1.0 - min(hh / 0.1, 1.0)
                    col = (int(120 + 135 * b), int(110 + 120 * b), int(40 + 30 * b))
                    d.ellipse([px - rr, py - rr, px + rr, py + rr], fill=col)
        # vesicles (40 nm across), flashing when they fuse
        rv = 0.02 * k
        for j, (x, y) in enumerate(p.xy):
            px, py, _ = self._to_px(i, x, y)
            tf = p.fused_at.get(j)
            if tf is None:
                d.ellipse([px - rv, py - rv, px + rv, py + rv], outline=(170, 180, 200), width=max(1, int(2 * s)))
            else:
                age = t_ms - tf
                flash = max(0.0, 1.0 - age / 0.15)
                col = (int(60 + 195 * flash), int(200 + 55 * flash), int(230 + 25 * flash))
                grow = rv * (1.0 + 0.3 * flash)
                d.ellipse([px - grow, py - grow, px + grow, py + grow], fill=col, outline="white")
        # channels: red squares, bright while open
        rc = max(2.0, 0.005 * k)
        for syn in T.channels:
            px, py, _ = self._to_px(i, syn.at[0], syn.at[1])
            col = (255, 70, 60) if syn.n_open > 0 else (110, 40, 40)
            d.rectangle([px - rc, py - rc, px + rc, py + rc], fill=col)
        # scale bar 50 nm, caption
        sb = 0.05 * k
        bx, by = x0 + int(16 * s), y0 + self.ph - int(18 * s)
        d.line([bx, by, bx + sb, by], fill="white", width=max(1, int(3 * s)))
        d.text((bx + sb / 2, by - int(4 * s)), "50 nm", font=self.f_small, fill="white", anchor="md")
        box = d.textbbox((x0 + self.pw / 2, y0 + int(6 * s)), p.label, font=self.f_text, anchor="ma")
        d.rectangle([box[0] - 6, box[1] - 3, box[2] + 6, box[3] + 3], fill=(12, 16, 30))
        d.text((x0 + self.pw / 2, y0 + int(6 * s)), p.label, font=self.f_text, fill="white", anchor="ma")
        n_f = len(p.fused_at)
        d.text((x0 + self.pw - int(12 * s), y0 + self.ph - int(10 * s)),
               f"fused {n_f}/{len(p.xy)}  Ca\u00b2\u207a in: {T.ca_entered()}", font=self.f_small, fill=(200, 210, 230),
               anchor="rs")

    def _inset(self, d, trace, t_ms):
        s = self.s
        x0, y0 = int(60 * s), self.h - self.inset_h + int(18 * s)
        w, h = self.w - int(120 * s), self.inset_h - int(40 * s)
        t, V, I, t_end, I_full = trace
        d.rectangle([x0, y0, x0 + w, y0 + h], outline=(60, 70, 100))
        if len(t) > 1:
            X = x0 + w * np.asarray(t) / t_end
            Vy = y0 + h * (1 - (np.asarray(V) + 90.0) / 140.0)
            d.line(list(zip(X, Vy)), fill=(120, 200, 255), width=max(1, int(2 * s)))
            Iy = y0 + 2 + (h - 4) * np.clip(-np.asarray(I) / I_full, 0.0, 1.0)  # inward (negative) drawn down
            d.line(list(zip(X, Iy)), fill=(255, 120, 90), width=max(1, int(2 * s)))
        cx = x0 + w * t_ms / t_end
        d.line([cx, y0, cx, y0 + h], fill="white", width=1)
        d.text((x0, y0 - int(3 * s)), "bouton V (blue, -90 to +50 mV)   Ca\u00b2\u207a current of the left panel "
               f"(orange, down = inward, full scale {I_full:.1f} pA)", font=self.f_small, fill=(200, 210, 230), anchor="ls")
        d.text((x0 + w, y0 + h + int(14 * s)), f"{t_end:g} ms", font=self.f_small, fill=(200, 210, 230), anchor="rs")
        d.text((x0, y0 + h + int(14 * s)), "0", font=self.f_small, fill=(200, 210, 230), anchor="ls")


def run_movie(cfg, out_dir) -> dict:
    from microsyn.render import MP4Writer, write_frame

    panels = [Panel(key, label, buf, mM, seed=11) for key, label, buf, mM in CONDITIONS]
    scene = CouplingScene(cfg["size"])
    movie = os.path.join(out_dir, "nanodomain_coupling.mp4")
    writer = MP4Writer(movie, cfg["size"], fps=cfg["fps"])
    times = np.arange(cfg["frame_every_ms"], cfg["movie_t_end_ms"] + 1e-9, cfg["frame_every_ms"])
    # the inset's current scale: every channel open at -40 mV (the tail of the AP, where the
    # current through channels still open is largest; the trace is clipped beyond)
    T0 = panels[0].T
    i_full = -len(T0.channels) * T0.channels[0].channel.open_current_pA(-40.0, {"Ca2+": (T0.ca_rest_mM,
                                                                                      T0.ca_out_mM)})
    keep = {int(len(times) * 0.42): "frame_influx.png", int(len(times) * 0.6): "frame_release.png",
            len(times) - 1: "frame_last.png"}
    frames_png = []
    try:
        for k, t in enumerate(times):
            for p in panels:
                p.advance(float(t))
            tv, V = panels[0].T.voltage()
            ti, I, _ = panels[0].T.ca_current()
            n = min(len(tv), len(ti))
            img = scene.frame(panels, float(t), (ti[:n], V[:n], I[:n], cfg["movie_t_end_ms"], i_full))
            write_frame(writer, img, out_dir, keep.get(k), frames_png)
    finally:
        writer.close()
    stats = {}
    for p in panels:
        t, I, _ = p.T.ca_current()
        fus = p.T.fusion_times()
        onset = float(t[np.argmax(I <= 0.1 * I.min())]) if I.min() < 0 else None
        stats[p.key] = dict(fused=len(p.fused_at), close_fused=sum(1 for j in p.fused_at if j < Panel.N_NEAR),
                            far_fused=sum(1 for j in p.fused_at if j >= Panel.N_NEAR), ca_entered=p.T.ca_entered(),
                            latency_us=(float(fus[0] - onset) * 1e3 if fus.size and onset is not None else None))
    return dict(movie=movie, frames_png=frames_png, n_frames=len(times), frame_size=tuple(cfg["size"]),
                movie_stats=stats)


def main(out_dir, fast: bool = False) -> dict:
    """Run the release-versus-distance simulations and the movie; write the figure, frames, movie
    and summary. ``fast``: 3 trials per condition and a small, short movie (a preview of a few
    minutes). Returns the paths and the numbers (see the module docstring)."""
    t_start = time.perf_counter()
    cfg = settings(fast)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    rel = release_vs_distance(cfg)
    t_rel = time.perf_counter() - t0
    r_nm, curves = linearised_curves()
    png = plot_release(out_dir, rel, r_nm, curves)
    t0 = time.perf_counter()
    mov = run_movie(cfg, out_dir)
    t_movie = time.perf_counter() - t0
    res = dict(**mov, release_vs_distance_png=png, figures=[png] + mov["frames_png"],
               distance_nm=rel["distance_nm"],
               p_release={k: rel[k]["p_release"] for k, *_ in CONDITIONS},
               p_release_se={k: rel[k]["se"] for k, *_ in CONDITIONS},
               channel_opened={k: rel[k]["channel_opened"] for k, *_ in CONDITIONS},
               trials=cfg["trials"], per_ring=PER_RING,
               linearised={k: v for k, v in curves.items()}, linearised_r_nm=r_nm,
               release_s=t_rel, movie_s=t_movie)
    from microsyn.cli import write_summary

    return write_summary(res, out_dir, t_start)


if __name__ == "__main__":
    from microsyn.cli import demo_cli

    demo_cli(main, __doc__, __file__)
