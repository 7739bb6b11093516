"""Demo 04: the all-or-none action potential, refractory periods and frequency coding.

Uses a single isopotential compartment (1000 um^2, C = 10 pF) with the mammalian teaching
Hodgkin-Huxley-type channels (:data:`microsyn.membrane.MAMMALIAN`: rest -70 mV, threshold
near -55 mV, peak near +38 mV, afterhyperpolarization near -83 mV). Shows:

1. Subthreshold pulses give graded responses that decay; above threshold every pulse gives
   the same action potential (all-or-none), and the peak against pulse amplitude is a step.
2. The membrane potential and the gates m, h, n during one action potential.
3. Paired pulses: the threshold of a second pulse against the interval after a first spike;
   no second spike at short intervals (absolute refractory period), a raised threshold later
   (relative refractory period).
4. Firing rate against the strength of a long current step (f-I curve, frequency coding), with
   example spike trains.

References
----------
Hodgkin A.L. & Huxley A.F. (1952) J. Physiol. 117:500, doi:10.1113/jphysiol.1952.sp004764.
Pospischil M. et al. (2008) Biol. Cybern. 99:427, doi:10.1007/s00422-008-0263-8.
Adrian E.D. & Zotterman Y. (1926) J. Physiol. 61:465, doi:10.1113/jphysiol.1926.sp002308.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from microsyn.membrane import MAMMALIAN  # noqa: E402
from microsyn.membrane.protocols import fi_curve, point_neuron, pulse_threshold_pA  # noqa: E402


def main(out_dir, fast: bool = False) -> dict:
    """Make the figures in ``out_dir`` and return the measured numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    P = MAMMALIAN
    dur = 1.0
    dt = 0.025 if fast else 0.01
    thr = pulse_threshold_pA(P, dur, rtol=0.01, dt_ms=dt)
    fig, axs = plt.subplots(2, 3, figsize=(15, 8))

    # 1. sub- and suprathreshold responses
    ax = axs[0, 0]
    fracs = [0.3, 0.6, 0.9, 0.98, 1.02, 1.5, 3.0]
    peaks = []
    rest = None
    for f in fracs:
        s = point_neuron(P, dt_ms=dt)
        rest = s.V[0]
        s.add_current_clamp(0, f * thr, 2.0, dur)
        p = s.add_probe(0)
        s.run(25.0)
        peaks.append(float(p.V_mV.max()))
        ax.plot(p.time_ms, p.V_mV, label=f"{f:g} x threshold")
    ax.set(xlabel="time [ms]", ylabel="V [mV]", title=f"Sub- vs suprathreshold pulses ({dur:g} ms)")
    ax.legend(fontsize=7)
    ax = axs[0, 1]
    amps = np.linspace(0.2, 3.0, 12 if fast else 40) * thr
    pk = []
    for a in amps:
        s = point_neuron(P, dt_ms=dt)
        s.add_current_clamp(0, a, 2.0, dur)
        p = s.add_probe(0)
        s.run(15.0)
        pk.append(p.V_mV.max())
    ax.plot(amps, pk, "ko-")
    ax.axvline(thr, color="r", ls="--", label=f"threshold {thr:.0f} pA")
    ax.set(xlabel="pulse amplitude [pA]", ylabel="peak V [mV]", title="All or none")
    ax.legend()

    # 2. gates and currents during one spike
    s = point_neuron(P, dt_ms=dt)
    s.add_current_clamp(0, 1.5 * thr, 2.0, dur)
    hh = s.mechanisms[0]
    ts, vs, gates = [], [], []
    for _ in range(int(round(12.0 / dt))):
        s.step()
        ts.append(s.t_ms)
        vs.append(s.V[0])
        gates.append((hh.m[0], hh.h[0], hh.n[0]))
    vs = np.array(vs)
    ts = np.array(ts)
    spike_peak = float(vs.max())
    ahp = float(vs[ts > 4.0].min())
    ax = axs[0, 2]
    ax2 = ax.twinx()
    ax.plot(ts, vs, "k", lw=2, label="V")
    g = np.array(gates)
    for k, name in enumerate("mhn"):
        ax2.plot(ts, g[:, k], label=name)
    ax.set(xlabel="time [ms]", ylabel="V [mV]", title="Gates during the action potential")
    ax2.set_ylabel("gate open fraction")
    ax.legend(loc="upper left")
    ax2.legend(loc="upper right")
    ax.axhline(rest, color="0.6", ls=":")

    # 3. paired pulses
    intervals = np.array([1, 2, 4, 8, 20] if fast else [1.5, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30])
    hi = 20 * thr
    ratios = []
    for iv in intervals:
        a2 = pulse_threshold_pA(P, dur, conditioning=(2 * thr, float(iv)), hi=hi, rtol=0.02, dt_ms=dt)
        ratios.append(a2 / thr)
    ratios = np.array(ratios)
    absolute = float(intervals[np.isinf(ratios)].max()) if np.any(np.isinf(ratios)) else 0.0
    finite = np.isfinite(ratios)
    rel_end = float(intervals[finite & (ratios < 1.1)].min()) if np.any(finite & (ratios < 1.1)) else float("nan")
    ax = axs[1, 0]
    ax.plot(intervals[finite], ratios[finite], "ko-", label="threshold of 2nd pulse / 1st")
    for iv in intervals[~finite]:
        ax.axvspan(iv - 0.25, iv + 0.25, color="r", alpha=0.3)
    ax.axhline(1.0, color="0.5", ls=":")
    ax.set(xlabel="interval between pulse onsets [ms]", ylabel="relative threshold",
           title=f"Paired pulses: absolute refractory ~{absolute:g} ms\n(red: no 2nd spike up to 20x threshold)")
    ax.legend()

    # 4. f-I curve
    ax = axs[1, 1]
    currents = np.array([5, 10, 20, 40, 80] if fast else [2, 5, 8, 10, 12, 15, 20, 30, 40, 60, 80, 100])
    rates = fi_curve(currents, P, duration_ms=300.0 if fast else 1000.0, skip_ms=100.0)
    ax.plot(currents, rates, "ko-")
    ax.set(xlabel="current step [pA]", ylabel="firing rate [Hz]", title="Frequency coding (f-I curve)")
    ax = axs[1, 2]
    for k, a in enumerate([10.0, 20.0, 60.0]):
        s = point_neuron(P, dt_ms=0.025)
        s.add_current_clamp(0, a, 10.0, 180.0)
        p = s.add_probe(0)
        s.run(200.0)
        ax.plot(p.time_ms, p.V_mV + 130 * k, label=f"{a:g} pA")
    ax.set(xlabel="time [ms]", ylabel="V [mV] (offset)", title="Spike trains: stronger stimulus, higher rate",
           ylim=(-100, 340))
    ax.legend(loc="upper right", ncol=3, fontsize=8)
    fig.tight_layout()
    path = os.path.join(out_dir, "04_action_potential.png")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return {
        "rest_mV": float(rest), "threshold_pA": float(thr), "peaks_mV": dict(zip(fracs, peaks)),
        "spike_peak_mV": spike_peak, "ahp_mV": ahp, "paired_pulse_intervals_ms": intervals.tolist(),
        "paired_pulse_threshold_ratio": ratios.tolist(), "absolute_refractory_ms": absolute,
        "relative_refractory_end_ms": rel_end, "fI_currents_pA": currents.tolist(), "fI_rates_hz": rates.tolist(),
        "figures": [path],
    }


if __name__ == "__main__":
    from microsyn.cli import demo_cli

    demo_cli(main, __doc__, __file__)
