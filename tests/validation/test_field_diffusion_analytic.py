"""Lattice-field diffusion and reactions against analytic solutions.

A cosine mode cos(kx x) cos(ky y) in a reflecting box (zero flux on the walls) decays as
exp(-D k^2 t) (k^2 = kx^2 + ky^2). The FTCS scheme on cell-centred voxels has this mode as an
exact discrete eigenvector with per-step factor g = 1 - sum_axes (4 D dt / h^2) sin^2(k h / 2),
so (1) the simulated amplitude equals g^n to round-off, and (2) against the continuum it is off
by its truncation error. To leading order the space error slows the decay (the discrete rate is
D sum k_a^2 (1 - (k_a h)^2 / 12)) and the time error (forward Euler) speeds it up by D k^2 dt / 2
relative, so A / exp(-D k^2 t) - 1 = t D sum_a k_a^4 h^2 / 12 - (D k^2)^2 t dt / 2 + O(h^4, dt^2):
below 0.1 % here, and the scheme matches this prediction to 2e-5.
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
import pytest

import microsyn as ms
from microsyn.reactions.fields import FieldSet

Rx = namedtuple("Rx", "reactants products rate reverse_rate name")


def _box_set(L=(2.0, 1.0, 0.1), h=0.05, D=0.5, scheme="explicit"):
    dom = ms.Domain(ms.Box((0, 0, 0), L, name="box"))
    fs = FieldSet(dom, ms.Lattice((0, 0, 0), L, voxel_size=h), scheme=scheme)
    fs.add("A", D)
    assert fs.live.all()
    return fs


def _run_mode(fs, D, dt, base=1.0, amp0=0.4):
    """Put the (1, 1) mode of the 2 x 1 um box on ``fs``, step it to D k^2 t = 1; returns (kx,
    ky, n steps, t, amplitude / initial amplitude), checking it stayed a pure mode (1e-12) and
    the total was conserved (1e-12)."""
    kx, ky = math.pi / 2.0, math.pi / 1.0
    k2 = kx ** 2 + ky ** 2
    cx, cy, _ = (fs.lattice.centers(a) for a in range(3))
    mode = np.cos(kx * cx)[:, None, None] * np.cos(ky * cy)[None, :, None] * np.ones(fs.shape)
    fs.set_concentration("A", base + amp0 * mode)
    n = int(round(1.0 / (D * k2 * dt)))
    total0 = fs.total_molecules("A")
    for _ in range(n):
        fs.step(dt)
    c = fs.concentration("A")
    amp = np.sum((c - base) * mode) / np.sum(mode * mode)
    np.testing.assert_allclose(c, base + amp * mode, rtol=0, atol=1e-12)
    assert fs.total_molecules("A") == pytest.approx(total0, rel=1e-12)
    return kx, ky, n, n * dt, amp / amp0


@pytest.mark.parametrize("safety", [0.3, 0.9])
def test_cosine_mode_in_reflecting_box_decays_as_exp_minus_D_k2_t(safety):
    """Mode (1, 1) in a 2 x 1 x 0.1 um box, h = 0.05 um, D = 0.5 um^2/ms, dt = safety * h^2/(6 D),
    run to D k^2 t = 1: amplitude == g^n (1e-10 relative); amplitude / exp(-D k^2 t) - 1 equals
    the leading-order FTCS truncation error (module docstring) to 2e-5 and is below 1 %."""
    D, h = 0.5, 0.05
    fs = _box_set(h=h, D=D)
    dt = safety * fs.max_stable_dt()
    kx, ky, n, t, ratio = _run_mode(fs, D, dt)
    g = 1.0 - 4 * D * dt / h ** 2 * (math.sin(kx * h / 2) ** 2 + math.sin(ky * h / 2) ** 2)
    assert ratio == pytest.approx(g ** n, rel=1e-10)
    k2 = kx ** 2 + ky ** 2
    predicted = t * D * (kx ** 4 + ky ** 4) * h ** 2 / 12 - (D * k2) ** 2 * t * dt / 2
    err = ratio / math.exp(-D * k2 * t) - 1
    assert abs(err - predicted) < 2e-5 and abs(err) < 0.01


def test_first_order_decay_of_the_total_with_diffusion_and_a_hole_is_exp_minus_k_t():
    """A -> B (k = 2 /ms) with A diffusing from a corner around a hole: the total of A is
    N0 exp(-k t) to 1e-12 (diffusion conserves it, the per-voxel decay is exact), and A + B is
    conserved (1e-12)."""
    dom = ms.Domain(ms.Box((0, 0, 0), (1, 1, 1), name="box"), holes=[ms.Sphere((0.5, 0.5, 0.5), 0.3, name="ves")])
    fs = FieldSet(dom, ms.Lattice((0, 0, 0), (1, 1, 1), voxel_size=0.05))
    fs.add("A", 0.3)
    fs.add("B", 0.1)
    fs.set_concentration("A", 5.0, region=ms.Box((0, 0, 0), (0.3, 0.3, 0.3)))
    fs.add_reaction(Rx(("A",), ("B",), 2.0, None, "decay"))
    n0 = fs.total_molecules("A")
    dt = fs.max_stable_dt()
    for _ in range(400):
        fs.step(dt)
    assert fs.total_molecules("A") == pytest.approx(n0 * math.exp(-2.0 * 400 * dt), rel=1e-12)
    assert fs.total_molecules("A") + fs.total_molecules("B") == pytest.approx(n0, rel=1e-12)
    assert np.all(fs.concentration("A")[~fs.live[0]] == 0.0)


@pytest.mark.parametrize("r", [1.0, 4.0])
def test_implicit_cosine_mode_decays_by_the_backward_euler_factor_and_near_exp_minus_D_k2_t(r):
    """The implicit (locally one-dimensional backward Euler) scheme: the same mode, D dt / h^2 =
    r per axis, run to D k^2 t = 1. Each axis's solve has the mode as an exact eigenvector with
    factor 1 / (1 + 4 r sin^2(k_a h / 2)), so the amplitude equals their product to the n
    (1e-10 relative); against exp(-D k^2 t) it is off by the leading-order truncation error
    t D sum k_a^4 h^2 / 12 + sum_a (D k_a^2)^2 t dt / 2 (backward Euler slows the decay) to within
    the square of that prediction (the next order), and by under 1.5 % (r = 1) and 5 % (r = 4)."""
    D, h = 0.5, 0.05
    dt = r * h * h / D
    kx, ky, n, t, ratio = _run_mode(_box_set(h=h, D=D, scheme="implicit"), D, dt)
    g = 1.0 / ((1.0 + 4 * r * math.sin(kx * h / 2) ** 2) * (1.0 + 4 * r * math.sin(ky * h / 2) ** 2))
    assert ratio == pytest.approx(g ** n, rel=1e-10)
    err = ratio / math.exp(-D * (kx ** 2 + ky ** 2) * t) - 1
    predicted = t * D * (kx ** 4 + ky ** 4) * h ** 2 / 12 + ((D * kx * kx) ** 2 + (D * ky * ky) ** 2) * t * dt / 2
    assert abs(err - predicted) < predicted ** 2, (err, predicted)
    assert abs(err) < (0.015 if r == 1.0 else 0.05)


@pytest.mark.parametrize("geometry", ["sphere", "box_with_hole"])
def test_implicit_steps_conserve_stay_positive_and_relax_to_uniform_around_walls(geometry):
    """A spike of A in one voxel of a sphere (or of a box around a spherical hole, so lattice
    lines are cut into several runs), implicit steps up to D dt / h^2 = 200: the total is
    conserved (1e-12), no voxel goes below zero, dead voxels stay 0, and after 60 ms (each long
    step divides the slowest mode by 1 + D k^2 dt, about 10) the live voxels are uniform at the total / live volume (1e-9); the result is the same with 1
    and 2 threads (bitwise)."""
    import numba

    if geometry == "sphere":
        dom = ms.Domain(ms.Sphere((0, 0, 0), 0.5, name="cell"))
        lat = ms.Lattice((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5), voxel_size=0.05)
    else:
        dom = ms.Domain(ms.Box((0, 0, 0), (1, 1, 1), name="box"), holes=[ms.Sphere((0.5, 0.5, 0.5), 0.3, name="ves")])
        lat = ms.Lattice((0, 0, 0), (1, 1, 1), voxel_size=0.05)

    def run(threads):
        fs = FieldSet(dom, lat, scheme="implicit")
        fs.add("A", 0.2)
        c = np.zeros(fs.shape)
        live_idx = np.argwhere(fs.live[0])
        c[tuple(live_idx[0])] = 1000.0
        fs.set_concentration("A", c)
        n0 = fs.total_molecules("A")
        old = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            mins = []
            for dt in (0.0025, 0.0125, 0.0125, 0.05) + (2.5,) * 24:  # r = 0.2 ... 200, 60 ms in all
                fs.step(dt)
                mins.append(fs.concentration("A").min())
        finally:
            numba.set_num_threads(old)
        return fs, n0, mins

    fs, n0, mins = run(2)
    assert min(mins) >= 0.0
    assert fs.total_molecules("A") == pytest.approx(n0, rel=1e-12)
    c = fs.concentration("A")
    assert np.all(c[~fs.live[0]] == 0.0)
    mean = n0 * fs.molecule_mM / fs.live[0].sum()
    np.testing.assert_allclose(c[fs.live[0]], mean, rtol=1e-9)
    fs1, _, _ = run(1)
    assert np.array_equal(fs1.conc, fs.conc)


def test_field_scheme_is_checked_and_the_explicit_limit_does_not_bind_the_implicit_one():
    """A bad scheme name is refused with the choices; the implicit set takes a step 100 times the
    explicit limit that the explicit set refuses (TimeStepError naming the limit)."""
    dom = ms.Domain(ms.Box((0, 0, 0), (0.5, 0.5, 0.5), name="box"))
    lat = ms.Lattice((0, 0, 0), (0.5, 0.5, 0.5), voxel_size=0.05)
    with pytest.raises(ms.errors.ParameterError, match="explicit"):
        FieldSet(dom, lat, scheme="crank-nicolson")
    ex = FieldSet(dom, lat)
    ex.add("A", 0.2, 1.0)
    im = FieldSet(dom, lat, scheme="implicit")
    im.add("A", 0.2, 1.0)
    big = 100 * ex.max_stable_dt()
    with pytest.raises(ms.errors.TimeStepError, match="unstable"):
        ex.step(big)
    im.step(big)
    np.testing.assert_allclose(im.concentration("A"), 1.0, rtol=1e-12)
    assert im.default_dt() == pytest.approx(0.05 ** 2 / 0.2)
