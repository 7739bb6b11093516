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


def _box_set(L=(2.0, 1.0, 0.1), h=0.05, D=0.5):
    dom = ms.Domain(ms.Box((0, 0, 0), L, name="box"))
    fs = FieldSet(dom, ms.Lattice((0, 0, 0), L, voxel_size=h))
    fs.add("A", D)
    assert fs.live.all()
    return fs


@pytest.mark.parametrize("safety", [0.3, 0.9])
def test_cosine_mode_in_reflecting_box_decays_as_exp_minus_D_k2_t(safety):
    """Mode (1, 1) in a 2 x 1 x 0.1 um box, h = 0.05 um, D = 0.5 um^2/ms, dt = safety * h^2/(6 D),
    run to D k^2 t = 1: amplitude == g^n (1e-10 relative); amplitude / exp(-D k^2 t) - 1 equals
    the leading-order FTCS truncation error (module docstring) to 2e-5 and is below 1 %."""
    D, h = 0.5, 0.05
    fs = _box_set(h=h, D=D)
    Lx, Ly = 2.0, 1.0
    kx, ky = math.pi / Lx, math.pi / Ly
    k2 = kx ** 2 + ky ** 2
    cx, cy, _ = (fs.lattice.centers(a) for a in range(3))
    mode = np.cos(kx * cx)[:, None, None] * np.cos(ky * cy)[None, :, None] * np.ones(fs.shape)
    base, amp0 = 1.0, 0.4
    fs.set_concentration("A", base + amp0 * mode)
    dt = safety * fs.max_stable_dt()
    n = int(round(1.0 / (D * k2 * dt)))
    total0 = fs.total_molecules("A")
    for _ in range(n):
        fs.step(dt)
    t = n * dt
    c = fs.concentration("A")
    amp = np.sum((c - base) * mode) / np.sum(mode * mode)
    g = 1.0 - 4 * D * dt / h ** 2 * (math.sin(kx * h / 2) ** 2 + math.sin(ky * h / 2) ** 2)
    assert amp / amp0 == pytest.approx(g ** n, rel=1e-10)
    np.testing.assert_allclose(c, base + amp * mode, rtol=0, atol=1e-12)  # stays a pure mode
    exact = math.exp(-D * k2 * t)
    predicted = t * D * (kx ** 4 + ky ** 4) * h ** 2 / 12 - (D * k2) ** 2 * t * dt / 2
    err = amp / amp0 / exact - 1
    assert abs(err - predicted) < 2e-5 and abs(err) < 0.01
    assert fs.total_molecules("A") == pytest.approx(total0, rel=1e-12)


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
