"""Demo 14: facilitation and depression at 10, 50 and 100 Hz; release per spike and per second against frequency.

A small hippocampal bouton (:class:`microsyn.presynaptic.Terminal` with the geometry of
:func:`~microsyn.presynaptic.small_hippocampal_bouton`: a sphere of radius 0.3 um, an active zone
of radius 0.11 um; Schikorski & Stevens 1997) at the end of a Hodgkin-Huxley axon fires trains of
five action potentials at 10, 50 and 100 Hz, each train in a fresh bouton. There is no
short-term-plasticity equation anywhere: what a spike releases is what the particle simulation
gives, so facilitation can only come from the Ca2+ and the buffers a spike leaves behind, and
depression only from the vesicles it used up.

The bouton (every number a choice, with where it comes from):

- Ca2+ channels: 10 P/Q-type channels (Li, Bischofberger & Jonas 2007; gated stochastically at
  the bouton's voltage, rates scaled to 37 C with Q10 3) in a cluster of radius 30 nm, the same
  cluster in every trial.
- Vesicles: 10 docked (about the number docked at a CA1 synapse, Schikorski & Stevens 1997, as
  commonly quoted) on a ring of radius 90 nm, 60-120 nm from the channels, each with the
  five-site sensor of Schneggenburger & Neher 2000, bound by the Ca2+ ions by encounters. The
  ring lies 60 nm outside the cluster, not the builder's 20 nm: there every vesicle fused at the
  first spike in planning runs (7 of 7, three seeds), leaving nothing to facilitate. Here the
  first spike releases 4.2 of the 10 (0.43 per vesicle): a high-probability synapse among the
  wide range measured at CA3-CA1 synapses (Dobrunz & Stevens 1997).
- Refilling: an emptied site gets a new vesicle at 1/(5 s), a recovery time constant of a few
  seconds as reported for the readily releasable pool of hippocampal synapses (Stevens &
  Tsujimoto 1995; Stevens & Wesseling 1998; as commonly quoted, not re-read). Its speed-up by
  residual Ca2+ (Dittman & Regehr 1998) is left out: microsyn's ``CaDependentRefill`` has no
  published parameter set.
- Buffers (mobile lattice fields; kinetics of Naraghi & Neher 1997): 0.1 mM BAPTA, a fast buffer
  of low capacity (6,800 sites against some 3,300 ions per AP) that stands for a fast endogenous
  buffer such as calbindin, whose saturation is a proposed mechanism of facilitation (Klingauf &
  Neher 1997; Blatow et al. 2003; Matveev, Zucker & Sherman 2004, who found that global
  saturation of a highly mobile buffer can give it); and 1 mM EGTA, slow and of high capacity,
  which takes the Ca2+ over from BAPTA in tens of ms. Both concentrations are choices: with
  0.1 mM BAPTA alone (a planning run) BAPTA was used up by the third spike at 100 Hz and the free
  [Ca2+] reached 64 uM before the fourth, far above what boutons show. The pair's resting binding
  ratio (several thousand) is far above the endogenous ratios of order 100 reported for small
  boutons, so a spike raises the bouton's free [Ca2+] by tenths of a uM at most.
- Pumps: the Terminal's PMCA-like pumps (its illustrative kinetics) at 2,000 /um^2 (2,187 pumps),
  ten times its default density, at which one AP's Ca2+ would take over a second to clear (a
  planning run took up some 2 ions/ms). The density is a choice.

What it shows (full mode: 4 trials per frequency, seeds 1400-1403, the same seeds at each
frequency, so a trial's first spike is the same at all three; means +- SEM over the trials):

1. ``trains.png``, top: (a) the release per spike normalised to the first: depression at every
   frequency. The paired-pulse ratio (mean release to spike 2 over mean to spike 1) is 0.59 at
   10 Hz, 1.12 at 50 Hz and 0.76 at 100 Hz, with the trials' own ratios spread from 0.17 to 3.
   (b) The release per docked vesicle (pooled over trials, binomial SE): the vesicles still
   docked at spike 2 fuse with probability 0.42 at 10 Hz (as at spike 1, 0.43), 0.85 at 50 Hz
   and 0.54 at 100 Hz: the remaining vesicles facilitate at 50 and 100 Hz, and not at 10 Hz.
   That 100 Hz facilitates less than 50 Hz is within the trials' spread of the Ca2+ influx
   (spike 2: 3,690 ions at 50 Hz and 3,380 at 100 Hz, means of four trials). (c) The pool:
   5.75 of 10 vesicles are docked at spike 2 and about one by spike 4: depletion outweighs the
   facilitation from spike 2 (at 50 Hz) or from the start (10 and 100 Hz).
2. Bottom: (d) against frequency: the whole pool is released within the five spikes (10
   fusions in every trial at 50 and 100 Hz, 9-11 at 10 Hz, where the 100 ms intervals let a
   site refill now and then), so the release per spike over the train is 2.0 at all three
   frequencies (2.05 +- 0.10 at 10 Hz) and the release per second grows with the frequency:
   20.5 +- 1.0, 100 and 200 /s. (e, f) Why the vesicles facilitate: the AP and its Ca2+ influx do
   not grow during the train (AP peak 36 mV, half-width 0.47-0.49 ms; 2,750-3,870 ions per spike,
   no trend); what changes is what the earlier spikes left. Before spike 2 the free BAPTA is down
   from 82 uM at rest to 75 uM (10 Hz), 60 uM (50 Hz) and 55 uM (100 Hz), and the free [Ca2+]
   is 0.015, 0.08 and 0.07 uM (bouton averages), so more of the next spike's Ca2+ reaches the
   sensors.

The numbers (``summary.json``, per frequency): the release per spike by spike number with its
SEM, normalised and per docked vesicle, the docked vesicles before each spike, the
paired-pulse ratio (pooled and per trial), the release per spike over the train and per second
with their SEMs, the free [Ca2+] and free buffers before each spike, the Ca2+ influx and the AP's
peak and half-width per spike, the trials and seeds.

Numerics: particle step 0.2 us (rms 9.4 nm per axis), four times the Terminal's default, to fit
the trains in the time; at the default step the first spike released 6.0 of 10 against 5.5 at
this one (six seeds each, a difference within their spread). Buffer fields on 50 nm voxels with
the Terminal's implicit diffusion steps. The trains have five spikes, not more, for the same
reason (the 10 Hz train alone is 400 ms of particle simulation per trial). Temperature: the
channels at 37 C; the sensor's rates as published (room temperature).

Run time: full mode about 11 minutes, ``--fast`` (one trial of paired pulses per frequency, no
SEM) under a minute, on two shared cores.

References
----------
Li L., Bischofberger J. & Jonas P. (2007) J. Neurosci. 27:13420-13429.
Schneggenburger R. & Neher E. (2000) Nature 406:889-893, doi:10.1038/35022702.
Naraghi M. & Neher E. (1997) J. Neurosci. 17:6961-6973, doi:10.1523/JNEUROSCI.17-18-06961.1997.
Schikorski T. & Stevens C.F. (1997) J. Neurosci. 17:5858-5867.
Dobrunz L.E. & Stevens C.F. (1997) Neuron 18:995-1008.
Stevens C.F. & Tsujimoto T. (1995) Proc. Natl. Acad. Sci. USA 92:846-849.
Stevens C.F. & Wesseling J.F. (1998) Neuron 21:415-424.
Dittman J.S. & Regehr W.G. (1998) J. Neurosci. 18:6147-6162.
Klingauf J. & Neher E. (1997) Biophys. J. 72:674-690.
Blatow M., Caputi A., Burnashev N., Monyer H. & Rozov A. (2003) Neuron 38:79-88.
Matveev V., Zucker R.S. & Sherman A. (2004) Biophys. J. 86:2691-2709.
"""
from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from microsyn.plotting import save_figure  # noqa: E402
from microsyn.presynaptic.ca_channels import RESTING_CA_MM  # noqa: E402
from microsyn.presynaptic import Terminal, li_2007, regular_train, schneggenburger_neher_2000  # noqa: E402
from microsyn.units import PARTICLES_PER_UM3_PER_MM  # noqa: E402

FREQUENCIES_HZ = (10.0, 50.0, 100.0)
#: the bouton: radius and active zone [um] as in small_hippocampal_bouton (Schikorski & Stevens 1997)
RADIUS_UM, AZ_RADIUS_UM = 0.3, 0.11
#: ten P/Q-type channels (Li et al. 2007) in a cluster of radius 30 nm, as in small_hippocampal_bouton
N_CHANNELS, CLUSTER_UM, LAYOUT_SEED = 10, 0.03, 7
#: ten docked vesicles (Schikorski & Stevens 1997) on a ring of radius 90 nm: 60 nm outside the cluster
N_VESICLES, RING_UM = 10, 0.09
#: the pool's refilling: each emptied site is refilled at 1 / (5 s) (Stevens & Wesseling 1998)
REFILL_TAU_MS = 5000.0
#: the mobile buffers [mM] (kinetics of Naraghi & Neher 1997, microsyn.reactions.buffers): a fast one
#: of low capacity that saturates, and a slow one of high capacity
BUFFERS = (("BAPTA", 0.1), ("EGTA", 1.0))
FAST_BUFFER = "BAPTA"
#: PMCA-like pumps [1/um^2] (the Terminal's kinetics; density chosen for the clearance, docstring)
PUMP_DENSITY = 2000.0
#: particle step [ms] (rms step 9.4 nm per axis), lattice voxel [um]
DT_MS, VOXEL_UM = 2e-4, 0.05
#: first stimulus [ms], sampling interval of the records [ms]
START_MS, SAMPLE_MS = 0.5, 0.5
SEED0 = 1400
#: panel b shows a spike's release per docked vesicle where at least this many vesicles were
#: docked before it, summed over the trials
MIN_POOLED_DOCKED = 4


def settings(fast: bool) -> dict:
    return dict(trials=1 if fast else 4, n_spikes=2 if fast else 5, tail_ms=5.0)


def bouton_volume_um3() -> float:
    return 4.0 / 3.0 * math.pi * RADIUS_UM ** 3


def to_uM(n_molecules) -> np.ndarray:
    """Molecules in the bouton -> bouton-average concentration [uM]."""
    return np.asarray(n_molecules, float) / (PARTICLES_PER_UM3_PER_MM * bouton_volume_um3()) * 1e3


def build_bouton(spike_times_ms, seed: int):
    """The bouton for one train: returns (terminal, vesicle sites, field scheme used)."""
    T = Terminal(radius_um=RADIUS_UM, active_zone_radius_um=AZ_RADIUS_UM, spike_times_ms=spike_times_ms,
                 dt_ms=DT_MS, seed=seed)
    rng = np.random.default_rng(LAYOUT_SEED)  # the same channel cluster in every trial
    r = CLUSTER_UM * np.sqrt(rng.uniform(size=N_CHANNELS))
    th = rng.uniform(0.0, 2.0 * math.pi, N_CHANNELS)
    T.add_channels(li_2007("P/Q"), np.c_[r * np.cos(th), r * np.sin(th)])
    th = 2.0 * math.pi * np.arange(N_VESICLES) / N_VESICLES
    S = T.add_vesicles(np.c_[RING_UM * np.cos(th), RING_UM * np.sin(th)], schneggenburger_neher_2000(),
                       refill_per_ms=1.0 / REFILL_TAU_MS)
    # the buffers' lattice: 50 nm voxels (the Terminal's implicit field steps by default)
    for k, (name, mM) in enumerate(BUFFERS):
        T.add_buffer(name, mM, voxel_um=VOXEL_UM if k == 0 else None)
    T.add_pump(density_per_um2=PUMP_DENSITY)
    return T, S, T.field_scheme


def run_train(freq_hz: float, n_spikes: int, seed: int, tail_ms: float) -> dict:
    """One train in a fresh bouton; the records every SAMPLE_MS and the release per spike."""
    times = regular_train(freq_hz, n_spikes, start_ms=START_MS)
    T, S, scheme = build_bouton(times, seed)
    t_end = float(times[-1]) + tail_ms
    step_e = T.coupling.dt_ms
    rec = {k: [] for k in ("t_ms", "ca_free", "docked", "ca_entered", "extruded")}
    rec.update({f"free {name}": [] for name, _ in BUFFERS})

    def sample():
        rec["t_ms"].append(T.time_ms)
        rec["ca_free"].append(T.sim.count("Ca2+"))
        for name, _ in BUFFERS:
            rec[f"free {name}"].append(T.sim.count(name))
        rec["docked"].append(S.docked())
        rec["ca_entered"].append(T.ca_entered())
        rec["extruded"].append(T.sim.count("Ca_extruded"))

    sample()
    while T.time_ms < t_end - 1e-9:
        d = round(min(SAMPLE_MS, t_end - T.time_ms) / step_e) * step_e
        T.run(d, progress=False)
        sample()
    rec = {k: np.asarray(v, float) for k, v in rec.items()}
    t = rec["t_ms"]
    at = [int(np.argmin(abs(t - s))) for s in times]  # samples at each stimulus (the grid holds them)
    ends = at[1:] + [len(t) - 1]
    rel = T.release_per_spike()
    tv, V = T.voltage()
    ap_peak, ap_width = [], []
    for a, b in zip(times, list(times[1:]) + [t_end]):
        sel = (tv >= a) & (tv < b)
        v, tt = V[sel], tv[sel]
        half = 0.5 * (v[0] + v.max())
        above = tt[v >= half]
        ap_peak.append(float(v.max()))
        ap_width.append(float(above[-1] - above[0]) if above.size else float("nan"))
    return dict(freq_hz=freq_hz, seed=seed, spike_times_ms=times, release=rel.astype(float), at=at,
                ap_peak_mV=np.array(ap_peak), ap_half_width_ms=np.array(ap_width),
                docked_before=rec["docked"][at], ca_uM_before=to_uM(rec["ca_free"][at]),
                ca_in_per_spike=np.array([rec["ca_entered"][b] - rec["ca_entered"][a] for a, b in zip(at, ends)]),
                fusion_times_ms=T.fusion_times(), record=rec, field_scheme=scheme, n_pumps=T.pumps)


def _sem(x):
    x = np.asarray(x, float)
    return np.std(x, axis=0, ddof=1) / math.sqrt(x.shape[0]) if x.shape[0] > 1 else None


def pool(runs: list[dict], freq_hz: float) -> dict:
    """Mean and SEM over trials of one frequency."""
    rel = np.array([r["release"] for r in runs])  # (trials, spikes)
    dock = np.array([r["docked_before"] for r in runs])
    # fusions per docked vesicle, pooled over trials (sum of fusions / sum of docked vesicles), with
    # its binomial standard error; undefined (None) where no trial had a vesicle docked
    n_dock = dock.sum(axis=0)
    p_ves = np.where(n_dock > 0, rel.sum(axis=0) / np.maximum(n_dock, 1.0), np.nan)
    p_ves_se = np.sqrt(p_ves * (1.0 - p_ves) / np.maximum(n_dock, 1.0))
    first = rel[:, 0].mean()
    per_train = rel.mean(axis=1)  # release per spike over the train, per trial
    per_s = per_train * freq_hz
    ppr_trials = [float(r[1] / r[0]) if r[0] > 0 else None for r in rel]
    out = dict(trials=len(runs), seeds=[r["seed"] for r in runs],
               release_per_spike=rel.mean(axis=0), release_per_spike_sem=_sem(rel),
               normalised=rel.mean(axis=0) / first if first > 0 else None,
               normalised_sem=(_sem(rel) / first if first > 0 and len(runs) > 1 else None),
               release_per_docked_vesicle=[None if math.isnan(v) else float(v) for v in p_ves],
               release_per_docked_vesicle_se=[None if math.isnan(v) else float(v) for v in p_ves_se],
               docked_vesicles_pooled=n_dock,
               docked_before_spike=dock.mean(axis=0), docked_before_spike_sem=_sem(dock),
               paired_pulse_ratio=float(rel[:, 1].mean() / first) if first > 0 else None,
               paired_pulse_ratio_trials=ppr_trials,
               release_per_spike_train_mean=float(per_train.mean()),
               release_per_spike_train_sem=_sem(per_train),
               release_per_s=float(per_s.mean()), release_per_s_sem=_sem(per_s),
               ca_free_uM_before_spike=np.array([r["ca_uM_before"] for r in runs]).mean(axis=0),
               ca_in_per_spike=np.array([r["ca_in_per_spike"] for r in runs]).mean(axis=0),
               ca_in_per_spike_sem=_sem([r["ca_in_per_spike"] for r in runs]),
               ap_peak_mV=np.array([r["ap_peak_mV"] for r in runs]).mean(axis=0),
               ap_half_width_ms=np.array([r["ap_half_width_ms"] for r in runs]).mean(axis=0),
               buffer_free_uM_start={b: float(np.mean([to_uM(r["record"][f"free {b}"][0]) for r in runs]))
                                     for b, _ in BUFFERS},
               buffer_free_uM_min={b: float(np.min([to_uM(r["record"][f"free {b}"]).min() for r in runs]))
                                   for b, _ in BUFFERS},
               buffer_free_uM_before_spike={b: np.mean([to_uM(r["record"][f"free {b}"][r["at"]]) for r in runs], axis=0)
                                            for b, _ in BUFFERS},
               ca_free_uM_peak=float(np.mean([to_uM(r["record"]["ca_free"]).max() for r in runs])),
               fusions_total=rel.sum(axis=1))
    return out


COLORS = {10.0: "#1f77b4", 50.0: "#2ca02c", 100.0: "#d62728"}


def _eb(ax, x, y, e, **kw):
    ax.errorbar(x, y, yerr=e if e is not None else None, marker="o", capsize=3, **kw)


def plot(out_dir, pooled: dict, runs: dict, cfg) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 3, figsize=(16, 9.5))
    n = cfg["n_spikes"]
    k = np.arange(1, n + 1)
    trials = cfg["trials"]
    err = f"{trials} trials, mean +- SEM" if trials > 1 else "one trial, no SEM"
    for j, f in enumerate(FREQUENCIES_HZ):
        p = pooled[f]
        lab = f"{f:g} Hz"
        x = k + 0.06 * (j - 1)  # side by side, so equal values stay visible
        if p["normalised"] is not None:
            _eb(ax[0, 0], x, p["normalised"], p["normalised_sem"], color=COLORS[f], label=lab)
        ok = np.asarray(p["docked_vesicles_pooled"]) >= MIN_POOLED_DOCKED
        pv = np.array([np.nan if v is None else v for v in p["release_per_docked_vesicle"]])
        se = np.array([np.nan if v is None else v for v in p["release_per_docked_vesicle_se"]])
        _eb(ax[0, 1], x[ok], pv[ok], se[ok], color=COLORS[f], label=lab)
        _eb(ax[0, 2], x, p["docked_before_spike"], p["docked_before_spike_sem"], color=COLORS[f], label=lab)
    ax[0, 0].axhline(1.0, color="grey", lw=0.8, ls=":")
    ax[0, 0].set(xlabel="spike number in the train", ylabel="release per spike / release to spike 1",
                 title=f"Short-term plasticity ({err})")
    ax[0, 1].set(xlabel="spike number in the train", ylabel="fusions per docked vesicle (pooled over trials)",
                 title=f"Release probability of the vesicles still docked\n(+- binomial SE; shown where "
                       f">= {MIN_POOLED_DOCKED} were docked over the trials)", ylim=(0, 1.05))
    ax[0, 2].set(xlabel="spike number in the train", ylabel="docked vesicles before the spike",
                 title=f"The pool ({N_VESICLES} sites, refilled with tau = {REFILL_TAU_MS / 1e3:g} s)")
    ax[0, 2].set_ylim(0, N_VESICLES + 0.5)
    for a in ax[0]:
        a.set_xticks(k)
        a.legend(fontsize=9)
    # against frequency
    fr = np.array(FREQUENCIES_HZ)
    a = ax[1, 0]
    y = [pooled[f]["release_per_spike_train_mean"] for f in fr]
    e = [pooled[f]["release_per_spike_train_sem"] for f in fr] if trials > 1 else None
    y1 = [pooled[f]["release_per_spike"][0] for f in fr]
    e1 = [pooled[f]["release_per_spike_sem"][0] for f in fr] if trials > 1 else None
    _eb(a, fr, y, e, color="k", label=f"release per spike, mean over the {n} spikes")
    _eb(a, fr, y1, e1, color="grey", ls="--", label="release to spike 1")
    a.set_xscale("log")
    a.set_xticks(fr, [f"{f:g}" for f in fr])
    a.minorticks_off()
    a.set_ylim(0, 1.6 * max(np.nanmax(y), np.nanmax(y1)))
    a.set(xlabel="stimulus frequency [Hz]", ylabel="vesicles released per spike",
          title="Release per spike and per second against frequency")
    b = a.twinx()
    ys = [pooled[f]["release_per_s"] for f in fr]
    es = [pooled[f]["release_per_s_sem"] for f in fr] if trials > 1 else None
    _eb(b, fr, ys, es, color="tab:purple", label="release rate during the train")
    b.set_ylabel("vesicles released per second", color="tab:purple")
    b.set_ylim(0, 1.6 * max(ys))
    h1, l1 = a.get_legend_handles_labels()
    h2, l2 = b.get_legend_handles_labels()
    a.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left")
    # residual Ca2+ and the fast buffer during the trains: means over the trials (the trials of a
    # frequency share the sampling grid); Ca2+ as a running mean over 2 ms (a few ions are 0.1 uM)
    n_smooth = max(1, int(round(2.0 / SAMPLE_MS)))
    for f in FREQUENCIES_HZ:
        t = runs[f][0]["record"]["t_ms"]
        ca = np.mean([to_uM(r["record"]["ca_free"]) for r in runs[f]], axis=0)
        ca = np.convolve(ca, np.ones(n_smooth) / n_smooth, mode="same")
        ax[1, 1].semilogy(t, np.maximum(ca, 1e-3), color=COLORS[f], lw=1.2, label=f"{f:g} Hz")
        buf = np.mean([to_uM(r["record"][f"free {FAST_BUFFER}"]) for r in runs[f]], axis=0)
        ax[1, 2].plot(t, buf, color=COLORS[f], label=f"{f:g} Hz")
    ax[1, 1].axhline(RESTING_CA_MM * 1e3, color="grey", ls=":", lw=0.8)
    ax[1, 1].set(xlabel="time [ms]", ylabel="free [Ca$^{2+}$], bouton average [uM]", ylim=(0.01, 20.0),
                 title="Free Ca$^{2+}$ in the bouton (trial mean, 2 ms running mean;\ndotted: the resting 50 nM)")
    mM = dict(BUFFERS)[FAST_BUFFER]
    ax[1, 2].set(xlabel="time [ms]", ylabel=f"free {FAST_BUFFER}, bouton average [uM]", ylim=(0, None),
                 title=f"Free {FAST_BUFFER} ({mM * 1e3:g} uM in all; trial mean): it binds each\n"
                       f"spike's Ca$^{{2+}}$, then hands it on to EGTA and the pumps")
    for a in ax[1, 1:]:
        a.legend(fontsize=9)
    fig.suptitle("Trains in a small hippocampal bouton (particle simulation): residual Ca$^{2+}$, buffer "
                 "saturation and pool depletion", fontsize=14)
    return save_figure(fig, out_dir, "trains.png")


def main(out_dir, fast: bool = False) -> dict:
    """Run the trains (each frequency, each trial, in a fresh bouton), pool them over trials, and
    write ``trains.png`` and ``summary.json`` in ``out_dir``; returns the numbers. ``fast``: one
    trial of paired pulses per frequency (a smoke test: about a minute)."""
    import numba

    t_start = time.perf_counter()
    cfg = settings(fast)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    # one thread: between spikes a bouton holds a few dozen ions and the steps are short, so a
    # second thread gains little, and on a machine whose cores are busy a parallel region that
    # waits for a descheduled thread made runs up to 20 times slower (measured)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        runs = {f: [run_train(f, cfg["n_spikes"], SEED0 + i, cfg["tail_ms"]) for i in range(cfg["trials"])]
                for f in FREQUENCIES_HZ}
    finally:
        numba.set_num_threads(threads)
    pooled = {f: pool(runs[f], f) for f in FREQUENCIES_HZ}
    png = plot(out_dir, pooled, runs, cfg)
    r0 = runs[FREQUENCIES_HZ[0]][0]
    per_freq = {f"{f:g} Hz": dict(pooled[f], spike_times_ms=runs[f][0]["spike_times_ms"]) for f in FREQUENCIES_HZ}
    res = dict(figures=[png], trains_png=png, frequencies_hz=list(FREQUENCIES_HZ), trials=cfg["trials"],
               n_spikes=cfg["n_spikes"], seeds=[SEED0 + i for i in range(cfg["trials"])],
               n_vesicles=N_VESICLES, n_channels=N_CHANNELS, buffers_mM=dict(BUFFERS),
               refill_tau_ms=REFILL_TAU_MS, pump_density_per_um2=PUMP_DENSITY, n_pumps=r0["n_pumps"],
               dt_ms=DT_MS, voxel_um=VOXEL_UM, field_scheme=r0["field_scheme"], per_frequency=per_freq,
               simulate_s=time.perf_counter() - t_start)
    from microsyn.cli import write_summary

    return write_summary(res, out_dir, t_start)


if __name__ == "__main__":
    from microsyn.cli import demo_cli

    demo_cli(main, __doc__, __file__)
