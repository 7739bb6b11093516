"""Lattice fields (microsyn.reactions.fields, microsyn._kernels.fields).

References: slow numpy / pure-Python implementations of the same update (bitwise or 1e-12),
exact solutions of the rate laws (exp(-k t), the mass-action equilibrium, scipy's solve_ivp at
rtol 1e-12), and exact conservation (1e-12 relative).
"""
from __future__ import annotations

import math
from collections import namedtuple

import numba
import numpy as np
import pytest

import microsyn as ms
from microsyn._kernels import fields as kf
from microsyn.errors import GeometryError, ParameterError, ReactionError, TimeStepError, UnknownSpeciesError
from microsyn.reactions.fields import FieldSet
from microsyn.units import PARTICLES_PER_UM3_PER_MM

Rx = namedtuple("Rx", "reactants products rate reverse_rate name")


def rx(reactants, products, rate, reverse_rate=None, name=None):
    return Rx(tuple(reactants), tuple(products), rate, reverse_rate, name or f"{reactants}->{products}")


def sphere_set(h=0.1, **fields):
    fs = FieldSet(ms.Domain(ms.Sphere((0, 0, 0), 0.5)), ms.Lattice((-0.6, -0.6, -0.6), (0.6, 0.6, 0.6), voxel_size=h))
    for name, (D, c) in fields.items():
        fs.add(name, D, c)
    return fs


def holed_box_set(h=0.1, **fields):
    dom = ms.Domain(ms.Box((0, 0, 0), (1.2, 1.0, 0.8), name="box"), holes=[ms.Sphere((0.6, 0.5, 0.4), 0.3, name="ves")])
    fs = FieldSet(dom, ms.Lattice((0, 0, 0), (1.2, 1.0, 0.8), voxel_size=h))
    for name, (D, c) in fields.items():
        fs.add(name, D, c)
    return fs


# ----------------------------------------------------------------------------- numpy references
def diffuse_reference(conc, live, coef):
    """Slow numpy FTCS step in flux form, neighbours added in the order x-, x+, y-, y+, z-, z+."""
    out = conc.copy()
    for f in range(conc.shape[0]):
        c = conc[f]
        L = live[f].astype(bool)
        acc = np.zeros_like(c)
        for axis in range(3):
            for shift in (-1, +1):
                nb = np.zeros_like(c)
                valid = np.zeros_like(L)
                src = [slice(None)] * 3
                dst = [slice(None)] * 3
                if shift == -1:
                    dst[axis], src[axis] = slice(1, None), slice(None, -1)
                else:
                    dst[axis], src[axis] = slice(None, -1), slice(1, None)
                nb[tuple(dst)] = c[tuple(src)]
                valid[tuple(dst)] = L[tuple(src)]
                acc = acc + np.where(valid, coef[f, axis] * (nb - c), 0.0)
        out[f] = np.where(L, c + acc, c)
    return out


def extent_reference(poly, dt):
    """Exact extent of d xi/dt = poly(xi) (numpy.polynomial coefficients, low first) from 0."""
    p = list(poly) + [0.0] * (3 - len(poly))
    p0, p1, p2 = p[:3]
    if p2 == 0.0:
        return p0 * math.expm1(p1 * dt) / p1 if p1 != 0.0 else p0 * dt
    s = math.sqrt(max(p1 * p1 - 4 * p0 * p2, 0.0))
    F = -math.expm1(-s * dt) / s if s * dt > 0 else dt
    root = 2 * p0 / (s - p1) if p1 < 0 else (-p1 - s) / (2 * p2)
    return p0 * F / (1 + p2 * root * F)


def mass_action_reference(conc, live, reactions, dt):
    """Pure-Python per-voxel mass action: with net stoichiometry nu_s (products minus
    reactants), the rate polynomial is built by generic polynomial products of (c_s + nu_s xi)
    over the reactant (product) molecules, halved for two identical molecules."""
    P = np.polynomial.polynomial
    out = conc.copy()
    for idx in np.ndindex(conc.shape[1:]):
        for ins, outs, k_f, k_b in reactions:
            if not all(live[(s,) + idx] for s in ins + outs):
                continue
            nu = {s: outs.count(s) - ins.count(s) for s in set(ins) | set(outs)}
            fwd = np.array([k_f * (0.5 if len(ins) == 2 and ins[0] == ins[1] else 1.0)])
            rev = np.array([k_b * (0.5 if len(outs) == 2 and outs[0] == outs[1] else 1.0)])
            for s in ins:
                fwd = P.polymul(fwd, [max(out[(s,) + idx], 0.0), nu[s]])
            for s in outs:
                rev = P.polymul(rev, [max(out[(s,) + idx], 0.0), nu[s]])
            xi = extent_reference(P.polysub(fwd, rev), dt)
            hi = min([max(out[(s,) + idx], 0.0) / -v for s, v in nu.items() if v < 0], default=math.inf)
            lo = max([-max(out[(s,) + idx], 0.0) / v for s, v in nu.items() if v > 0], default=-math.inf)
            xi = min(max(xi, lo), hi)
            for s, v in nu.items():
                out[(s,) + idx] += v * xi
    return out


# ----------------------------------------------------------------------------- diffusion
def test_diffusion_kernel_matches_numpy_reference_bitwise():
    """diffuse_step == slow numpy flux-form step (bitwise), random live mask, anisotropic coef."""
    rng = np.random.default_rng(1)
    conc = rng.uniform(0, 2, (3, 7, 6, 5))
    live = (rng.uniform(size=conc.shape) < 0.7).astype(np.uint8)
    coef = rng.uniform(0.02, 0.15, (3, 3))
    out = np.empty_like(conc)
    kf.diffuse_step(conc, live, coef, out)
    np.testing.assert_array_equal(out, diffuse_reference(conc, live, coef))


def test_diffusion_result_independent_of_thread_count():
    """Same FieldSet run with 1 thread and with all threads: bitwise equal concentrations."""
    results = []
    n_all = numba.get_num_threads()
    for n in (1, n_all):
        fs = holed_box_set(A=(0.2, 0.0), B=(0.05, 1.0), C=(0.0, 0.0))
        fs.set_concentration("A", 3.0, region=ms.Box((0, 0, 0), (0.3, 1.0, 0.8)))
        fs.add_reaction(rx(("A", "B"), ("C",), 5.0, 0.5))
        numba.set_num_threads(n)
        try:
            for _ in range(20):
                fs.step(fs.max_stable_dt())
        finally:
            numba.set_num_threads(n_all)
        results.append(fs.conc.copy())
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("make", [sphere_set, holed_box_set], ids=["sphere", "box_minus_sphere"])
def test_diffusion_conserves_total_to_1e12_and_stays_in_live_voxels(make):
    """Total molecules after 300 steps at the stability limit equal the start to 1e-12 relative;
    dead voxels stay exactly 0 (walls reflect); no concentration goes negative."""
    fs = make(A=(0.3, 0.0))
    rng = np.random.default_rng(2)
    fs.set_concentration("A", rng.uniform(0, 5, fs.shape))
    dead = ~fs.live[0]
    assert dead.any() and fs.live[0].any()
    n0 = fs.total_molecules("A")
    for _ in range(300):
        fs.step(fs.max_stable_dt())
    assert abs(fs.total_molecules("A") / n0 - 1) < 1e-12
    assert np.all(fs.conc[0][dead] == 0.0)
    assert fs.conc[0].min() >= 0.0
    # it has spread: the field relaxes towards uniform over the live voxels
    live_vals = fs.conc[0][fs.live[0]]
    assert live_vals.std() < 0.2 * rng.uniform(0, 5, 1000).std()


def test_field_started_on_one_side_of_a_hole_never_enters_it():
    """A field put into x < 0.3 of a box with a spherical hole: after diffusing, the voxels whose
    centres are in the hole hold exactly 0 and the total is kept (1e-12)."""
    fs = holed_box_set(A=(0.3, 0.0))
    fs.set_concentration("A", 2.0, region=ms.Box((0, 0, 0), (0.3, 1.0, 0.8)))
    n0 = fs.total_molecules("A")
    for _ in range(200):
        fs.step(fs.max_stable_dt())
    c = fs.centres()
    in_hole = (np.linalg.norm(c - [0.6, 0.5, 0.4], axis=1) < 0.3).reshape(fs.shape)
    assert in_hole.any()
    assert np.all(fs.concentration("A")[in_hole] == 0.0)
    assert fs.concentration("A")[~in_hole].max() > 0
    assert abs(fs.total_molecules("A") / n0 - 1) < 1e-12


def test_live_mask_follows_per_species_boundaries():
    """A hole that transmits species B is absent for B (its voxels are live for B only); a
    species unknown to the boundary table gets the default (reflecting) domain."""
    dom = ms.Domain(ms.Box((0, 0, 0), (1, 1, 1), name="box"), holes=[ms.Sphere((0.5, 0.5, 0.5), 0.3, name="ves")])
    dom.set_boundary("ves", "transmit", species="B")
    fs = FieldSet(dom, ms.Lattice((0, 0, 0), (1, 1, 1), voxel_size=0.1))
    fs.add("A", 0.1, 1.0)
    fs.add("B", 0.1, 1.0)
    assert fs.live[1].all()
    expect = dom.contains(fs.centres()).reshape(fs.shape)
    np.testing.assert_array_equal(fs.live[0], expect)
    assert not fs.live[0].all()
    assert np.all(fs.concentration("A")[~expect] == 0.0)


def test_unstable_step_raises_time_step_error_naming_the_limit():
    """dt above h^2 / (6 D): TimeStepError naming the largest dt and the smallest voxel; at the
    limit (h^2/(6D)) the step runs."""
    fs = sphere_set(h=0.1, A=(0.5, 1.0))
    limit = 0.1 ** 2 / (6 * 0.5)
    assert fs.max_stable_dt() == pytest.approx(limit, rel=1e-12)
    fs.step(fs.max_stable_dt())
    with pytest.raises(TimeStepError) as e:
        fs.step(1.5 * limit)
    msg = str(e.value)
    assert f"{limit:.6g}" in msg and f"{math.sqrt(6 * 0.5 * 1.5 * limit):.6g}" in msg and "'A'" in msg
    with pytest.raises(ParameterError):
        fs.step(float("nan"))


def test_suggest_substeps_is_largest_n_within_0_9_of_the_limit():
    """n = floor(0.9 * max_stable_dt / dt_particle); too long a particle step -> TimeStepError."""
    fs = sphere_set(h=0.1, A=(0.5, 1.0))
    lim = fs.max_stable_dt()
    for dtp in (1e-4, 3e-4, 0.9 * lim / 7):
        n = fs.suggest_substeps(dtp)
        assert n * dtp <= 0.9 * lim * (1 + 1e-12) and (n + 1) * dtp > 0.9 * lim
    with pytest.raises(TimeStepError, match="particle step <= "):
        fs.suggest_substeps(0.95 * lim)
    with pytest.raises(TimeStepError):
        fs.suggest_substeps(2 * lim)
    assert sphere_set(A=(0.0, 1.0)).suggest_substeps(1.0) == 1  # nothing diffuses


# ----------------------------------------------------------------------------- mass action
def _reaction_set(scale=1.0):
    fs = sphere_set(h=0.2, A=(0.0, 0.0), B=(0.0, 0.0), C=(0.0, 0.0), D=(0.0, 0.0))
    rng = np.random.default_rng(3)
    fs.conc[:] = np.where(fs.live, rng.uniform(0, 3, fs.conc.shape), 0.0)
    fs.conc[0].flat[fs.live[0].ravel().nonzero()[0][:3]] = -0.01  # transient negatives
    reactions = [(("A", "B"), ("C",), 4.0, 0.7), (("A", "A"), ("D",), 2.0, 0.3), (("C",), ("A", "B"), 0.5, 0.2),
                 (("D",), (), 0.8, None), ((), ("B",), 0.4, None), (("B", "C"), ("D", "A"), 1.5, 2.5),
                 (("D",), ("C", "C"), 0.9, 1.1), (("A", "C"), ("D", "A"), 1.2, 0.6),
                 (("B", "D"), ("D", "D"), 0.7, None)]
    for ins, outs, f, b in reactions:
        fs.add_reaction(rx(ins, outs, f * scale, None if b is None else b * scale))
    table = [(tuple(fs.index(s) for s in i), tuple(fs.index(s) for s in o), f, 0.0 if b is None else b)
             for i, o, f, b in reactions]
    return fs, table


def test_mass_action_kernel_matches_python_reference_1e12():
    """mass_action_step == per-voxel pure-Python reference (generic polynomial products) to
    1e-12, for 1st/2nd order, dimers, reversible pairs, degradation, a source, a catalyst and
    autocatalysis."""
    fs, table = _reaction_set()
    start = fs.conc.copy()
    for dt in (0.01, 0.5):
        fs.conc[:] = start
        ref = mass_action_reference(start, fs.live, table, dt)
        extent = np.zeros((len(table), fs.shape[0]))
        kf.mass_action_step(fs.conc, fs.live.view(np.uint8), *fs._tables(), dt, extent)
        np.testing.assert_allclose(fs.conc, ref, rtol=1e-12, atol=1e-12)


def test_mass_action_never_makes_a_concentration_negative():
    """Huge rates and a long step: values >= 0 stay >= 0, negative values only rise."""
    fs, _ = _reaction_set(scale=1e4)
    start = fs.conc.copy()
    for _ in range(5):
        fs.step(1.0)
        assert np.all(fs.conc[start >= 0] >= 0.0)
        assert np.all(fs.conc[start < 0] >= start[start < 0])


def test_mass_action_conserves_atoms_to_1e12():
    """A + B <-> C and A + A <-> D with diffusion in a box with a hole: A + C + 2D and B + C are
    conserved to 1e-12 relative over 100 steps."""
    fs = holed_box_set(A=(0.2, 1.0), B=(0.1, 0.0), C=(0.05, 0.0), D=(0.3, 0.0))
    fs.set_concentration("B", 2.0, region=ms.Box((0, 0, 0), (0.5, 1, 1)))
    fs.add_reaction(rx(("A", "B"), ("C",), 20.0, 1.0))
    fs.add_reaction(rx(("A", "A"), ("D",), 5.0, 0.5))
    t = lambda: (fs.total_molecules("A") + fs.total_molecules("C") + 2 * fs.total_molecules("D"),
                 fs.total_molecules("B") + fs.total_molecules("C"))
    a0, b0 = t()
    for _ in range(100):
        fs.step(fs.max_stable_dt())
    a1, b1 = t()
    assert fs.total_molecules("C") > 0.01 * b0 and fs.total_molecules("D") > 0.01 * a0
    assert abs(a1 / a0 - 1) < 1e-12 and abs(b1 / b0 - 1) < 1e-12


def test_first_order_decay_is_exact_exponential():
    """A -> B at k = 3 /ms in a uniform field: [A](t) = exp(-k t) to 1e-12 relative at any dt."""
    fs = sphere_set(h=0.1, A=(0.2, 1.0), B=(0.2, 0.0))
    fs.add_reaction(rx(("A",), ("B",), 3.0))
    dt = fs.max_stable_dt()
    for _ in range(50):
        fs.step(dt)
    a = fs.concentration("A")[fs.live[0]]
    np.testing.assert_allclose(a, math.exp(-3.0 * 50 * dt), rtol=1e-12)
    np.testing.assert_allclose(fs.concentration("B")[fs.live[1]], -math.expm1(-3.0 * 50 * dt), rtol=1e-12)


@pytest.mark.parametrize("kf_, kb_", [(400.0, 0.088), (2.0, 5.0)])
def test_reversible_binding_reaches_mass_action_equilibrium(kf_, kb_):
    """A + B <-> C per voxel (voxels with different starts): [C] / ([A][B]) = kf / kb to 1e-6."""
    fs = sphere_set(h=0.2, A=(0.0, 0.0), B=(0.0, 0.0), C=(0.0, 0.0))
    rng = np.random.default_rng(4)
    fs.conc[:] = np.where(fs.live, rng.uniform(0.01, 2, fs.conc.shape), 0.0)
    fs.add_reaction(rx(("A", "B"), ("C",), kf_, kb_))
    for _ in range(200):
        fs.step(0.05)
    L = fs.live[0]
    a, b, c = (fs.conc[i][L] for i in range(3))
    np.testing.assert_allclose(c / (a * b), kf_ / kb_, rtol=1e-6)


def test_dimerisation_equilibrium_uses_the_pair_rate_convention():
    """A + A <-> D: event rate kf [A]^2 / 2, so at equilibrium kf [A]^2 / 2 = kb [D] (1e-6)."""
    fs = sphere_set(h=0.2, A=(0.0, 1.5), D=(0.0, 0.2))
    fs.add_reaction(rx(("A", "A"), ("D",), 3.0, 0.4))
    for _ in range(400):
        fs.step(0.05)
    a = fs.concentration("A")[fs.live[0]]
    d = fs.concentration("D")[fs.live[1]]
    np.testing.assert_allclose(0.5 * 3.0 * a ** 2, 0.4 * d, rtol=1e-6)
    np.testing.assert_allclose(a + 2 * d, 1.5 + 0.4, rtol=1e-12)


def test_reversible_pair_given_as_two_halves_is_merged_and_reaches_equilibrium():
    """A + B -> C then C -> A + B (as Reaction.irreversible() gives them) run as one reversible
    reaction: C / (A B) = kf / kb to 1e-6 at a long step; net_events = molecules of C made (1e-9)."""
    fs = sphere_set(h=0.2, A=(0.1, 1.0), B=(0.1, 0.6), C=(0.1, 0.0))
    fs.add_reaction(rx(("A", "B"), ("C",), 400.0, name="bind"))
    fs.add_reaction(rx(("C",), ("B", "A"), 0.088, name="bind (reverse)"))
    assert len(fs.reactions) == 1 and fs.reactions[0].reverse_rate == 0.088
    assert fs.reactions[0].reverse_name == "bind (reverse)"
    for _ in range(100):
        fs.step(fs.max_stable_dt())
    L = fs.live[0]
    a, b, c = (fs.conc[i][L] for i in range(3))
    np.testing.assert_allclose(c / (a * b), 400.0 / 0.088, rtol=1e-6)
    assert fs.net_events["bind"] == pytest.approx(fs.total_molecules("C"), rel=1e-9)


def test_exact_extent_matches_ode_solution():
    """One step (0.37 ms) of single reactions in one voxel against scipy solve_ivp (DOP853,
    rtol 1e-12): 1e-9. Covers A + B <-> C, A + A -> C, C <-> A + B, the catalysed A + B <-> A + C,
    autocatalytic A + B -> B + B and A -> A + A (growth)."""
    from scipy.integrate import solve_ivp

    cases = [(("A", "B"), ("C",), 7.0, 0.6, [1.3, 0.4, 0.2]), (("A", "A"), ("C",), 2.5, None, [0.9, 0.0, 0.1]),
             (("C",), ("A", "B"), 1.7, 3.0, [0.5, 0.8, 1.1]), (("A", "B"), ("A", "C"), 4.0, 1.5, [0.3, 1.2, 0.1]),
             (("A", "B"), ("B", "B"), 3.0, None, [1.0, 0.05, 0.0]), (("A",), ("A", "A"), 2.0, None, [0.4, 0.0, 0.0])]
    for ins, outs, f, b, c0 in cases:
        fs = FieldSet(ms.Domain(ms.Box((0, 0, 0), (1, 1, 1))), ms.Lattice((0, 0, 0), (1, 1, 1), shape=(1, 1, 1)))
        for s, c in zip("ABC", c0):
            fs.add(s, 0.0, c)
        fs.add_reaction(rx(ins, outs, f, b))
        fs.step(0.37)
        idx = {s: q for q, s in enumerate("ABC")}

        def rhs(t, y):
            sym_f = 0.5 if len(ins) == 2 and ins[0] == ins[1] else 1.0
            v = f * sym_f * np.prod([y[idx[s]] for s in ins]) - (b or 0.0) * np.prod([y[idx[s]] for s in outs])
            d = np.zeros(3)
            for s in ins:
                d[idx[s]] -= v
            for s in outs:
                d[idx[s]] += v
            return d

        sol = solve_ivp(rhs, (0, 0.37), c0, method="DOP853", rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(fs.conc[:, 0, 0, 0], sol.y[:, -1], rtol=1e-9, atol=1e-12, err_msg=f"{ins}->{outs}")


def test_reaction_runs_only_where_all_its_species_are_live():
    """C -> A + B where B is dead (a hole that only A and C cross) makes nothing there."""
    dom = ms.Domain(ms.Box((0, 0, 0), (1, 1, 1), name="box"), holes=[ms.Box((0.5, 0, 0), (1, 1, 1), name="wall")])
    dom.set_boundary("wall", "transmit", species=["A", "C"])
    fs = FieldSet(dom, ms.Lattice((0, 0, 0), (1, 1, 1), voxel_size=0.25))
    fs.add("A", 0.0)
    fs.add("B", 0.0)
    fs.add("C", 0.0, 1.0)
    fs.add_reaction(rx(("C",), ("A", "B"), 2.0))
    fs.step(1.0)
    right = fs.centres()[:, 0].reshape(fs.shape) > 0.5
    assert np.all(fs.concentration("C")[right] == 1.0) and np.all(fs.concentration("A")[right] == 0.0)
    np.testing.assert_allclose(fs.concentration("C")[~right], math.exp(-2.0), rtol=1e-12)


def test_bad_reactions_raise_specific_errors():
    """Species not in the set -> UnknownSpeciesError naming it; bad rates, 3 reactants, a
    zeroth-order reaction with a region -> ReactionError."""
    fs = sphere_set(A=(0.1, 1.0), B=(0.1, 0.0))
    with pytest.raises(UnknownSpeciesError, match="'Ca2\\+'"):
        fs.add_reaction(rx(("A", "Ca2+"), ("B",), 1.0))
    for bad in (0.0, -1.0, float("nan"), float("inf"), "fast"):
        with pytest.raises(ReactionError, match="rate"):
            fs.add_reaction(rx(("A",), ("B",), bad))
    with pytest.raises(ReactionError, match="reverse_rate"):
        fs.add_reaction(rx(("A",), ("B",), 1.0, -2.0))
    with pytest.raises(ReactionError, match="at most 2"):
        fs.add_reaction(rx(("A", "A", "B"), ("B",), 1.0))
    Z = namedtuple("Z", "reactants products rate reverse_rate name region")
    with pytest.raises(ReactionError, match="region"):
        fs.add_reaction(Z((), ("A",), 1.0, None, "src", ms.Sphere((0, 0, 0), 0.1)))
    with pytest.raises(ReactionError):
        fs.add_reaction(object())
    with pytest.raises(ParameterError, match="already exists"):
        fs.add("A", 0.1)
    with pytest.raises(ParameterError):
        fs.add("E", -0.1)
    with pytest.raises(ParameterError):
        fs.add("E", 0.1, conc_mM=-1.0)
    assert fs.names == ["A", "B"] and fs.conc.shape[0] == 2
    e = fs.add("E", 0.1, conc_mM=np.full(fs.shape, 0.25))
    assert np.all(fs.concentration("E")[fs.live[e]] == 0.25)
    with pytest.raises(GeometryError):
        FieldSet(ms.Domain(ms.Sphere((5, 5, 5), 0.1)), ms.Lattice((0, 0, 0), (1, 1, 1), voxel_size=0.1)).add("A", 0.1)


def test_field_set_survives_pickling():
    """A pickled and restored FieldSet steps to the same numbers as the original (bitwise)."""
    import pickle

    fs = holed_box_set(A=(0.2, 1.0), B=(0.1, 0.5), C=(0.0, 0.0))
    fs.add_reaction(rx(("A", "B"), ("C",), 3.0, 0.2))
    fs.step(fs.max_stable_dt())
    fs2 = pickle.loads(pickle.dumps(fs))
    for f in (fs, fs2):
        for _ in range(3):
            f.step(f.max_stable_dt())
    np.testing.assert_array_equal(fs.conc, fs2.conc)
    assert fs2.net_events == fs.net_events


# ----------------------------------------------------------------------------- particle hooks
def test_voxel_index_matches_numpy_floor_reference():
    """voxel_index == numpy floor((p - lo) / h) in C order; -1 outside or NaN; the upper face
    of the lattice belongs to the last voxel."""
    fs = holed_box_set(A=(0.1, 0.0))
    lat = fs.lattice
    rng = np.random.default_rng(5)
    p = rng.uniform(-0.2, 1.4, (2000, 3))
    p[:3] = [lat.hi, lat.lo, [np.nan, 0.5, 0.5]]
    got = fs.voxel_index(p[:, 0], p[:, 1], p[:, 2])
    with np.errstate(invalid="ignore"):
        ijk = np.floor(np.nan_to_num((p - lat.lo) / lat.spacing, nan=-1.0)).astype(np.int64)
    ijk[0] = np.array(fs.shape) - 1
    inside = np.all((ijk >= 0) & (ijk < np.array(fs.shape)), axis=1) & np.all(np.isfinite(p), axis=1)
    expect = np.where(inside, np.ravel_multi_index(np.clip(ijk, 0, np.array(fs.shape) - 1).T, fs.shape), -1)
    np.testing.assert_array_equal(got, expect)
    assert got[0] == fs.n_voxels - 1 and got[1] == 0 and got[2] == -1


def test_add_molecules_is_add_at_and_redirects_dead_voxels():
    """add_molecules adds counts * molecule_mM as np.add.at (repeated indices add up); a dead
    voxel's molecules go to its live_voxel, so total_molecules rises by exactly the count."""
    fs = sphere_set(A=(0.1, 0.0))
    assert fs.molecule_mM == pytest.approx(1 / (PARTICLES_PER_UM3_PER_MM * 0.1 ** 3), rel=1e-12)
    live_flat = np.flatnonzero(fs.live[0].ravel())
    dead_flat = np.flatnonzero(~fs.live[0].ravel() & (fs.live_voxel[0] >= 0)
                               & ~np.isin(fs.live_voxel[0], live_flat[[0, 5]]))
    idx = np.array([live_flat[0], live_flat[0], live_flat[5], dead_flat[0]])
    fs.add_molecules(0, idx, np.array([2.0, 3.0, -1.0, 4.0]))
    c = fs.conc[0].ravel()
    assert c[live_flat[0]] == pytest.approx(5 * fs.molecule_mM, rel=1e-14)
    assert c[live_flat[5]] == pytest.approx(-fs.molecule_mM, rel=1e-14)  # negative kept, not clipped
    assert c[dead_flat[0]] == 0.0 and fs.live[0].ravel()[fs.live_voxel[0][dead_flat[0]]]
    assert c[fs.live_voxel[0][dead_flat[0]]] == pytest.approx(4 * fs.molecule_mM, rel=1e-14)
    assert fs.total_molecules("A") == pytest.approx(8.0, rel=1e-12)
    far_dead = np.flatnonzero(fs.live_voxel[0] < 0)
    with pytest.raises(GeometryError):
        fs.add_molecules(0, far_dead[:1], np.ones(1))
    with pytest.raises(GeometryError):
        fs.add_molecules(0, np.array([fs.n_voxels]), np.ones(1))
    with pytest.raises(UnknownSpeciesError):
        fs.add_molecules(3, idx, np.ones(4))


def test_live_voxel_is_the_nearest_live_neighbour():
    """live_voxel of a dead voxel next to a live face neighbour is that neighbour (face before
    edge before corner); of a live voxel, itself."""
    fs = sphere_set(A=(0.1, 0.0))
    L = fs.live[0]
    lv = fs.live_voxel[0].reshape(fs.shape)
    for idx in zip(*np.nonzero(~L & (lv >= 0))):
        tgt = np.array(np.unravel_index(lv[idx], fs.shape))
        d2 = np.sum((tgt - np.array(idx)) ** 2)
        assert L[tuple(tgt)] and 1 <= d2 <= 3
        # no live neighbour nearer than the chosen one
        for o in np.ndindex(3, 3, 3):
            q = np.array(idx) + np.array(o) - 1
            if np.all(q >= 0) and np.all(q < fs.shape) and L[tuple(q)]:
                assert np.sum((np.array(o) - 1) ** 2) >= d2
    live_idx = np.flatnonzero(L.ravel())
    np.testing.assert_array_equal(fs.live_voxel[0][live_idx], live_idx)
    pts = np.array([[0.0, 0.0, 0.49], [0.0, 0.49, 0.0]])  # inside the sphere, maybe dead voxels
    v = fs.voxel_index(pts[:, 0], pts[:, 1], pts[:, 2], field="A")
    assert np.all(L.ravel()[v])


def test_sample_in_voxels_lands_in_those_voxels():
    """sample_in_voxels(idx, u) = lo + (ijk + u) h: voxel_index of the samples is idx."""
    fs = holed_box_set(A=(0.1, 0.0))
    rng = np.random.default_rng(6)
    idx = rng.integers(0, fs.n_voxels, 500)
    u = rng.uniform(size=(500, 3))
    pos = fs.sample_in_voxels(idx, u)
    np.testing.assert_array_equal(fs.voxel_index(pos[:, 0], pos[:, 1], pos[:, 2]), idx)
    ijk = np.stack(np.unravel_index(idx, fs.shape), axis=1)
    np.testing.assert_allclose(pos, fs.lattice.lo + (ijk + u) * fs.spacing, rtol=0, atol=1e-15)
    with pytest.raises(ParameterError):
        fs.sample_in_voxels(idx, u[:, :2])


def test_set_concentration_region_and_errors():
    """Only live voxels with centres in the region change; bad values raise ParameterError."""
    fs = holed_box_set(A=(0.1, 0.5))
    reg = ms.Sphere((0.0, 0.0, 0.0), 0.45)
    fs.set_concentration("A", 2.0, region=reg)
    inreg = reg.contains(fs.centres()).reshape(fs.shape) & fs.live[0]
    assert inreg.any()
    assert np.all(fs.concentration("A")[inreg] == 2.0)
    assert np.all(fs.concentration("A")[fs.live[0] & ~inreg] == 0.5)
    assert np.all(fs.concentration("A")[~fs.live[0]] == 0.0)
    assert fs.total_molecules("A") == pytest.approx(
        (2.0 * inreg.sum() + 0.5 * (fs.live[0] & ~inreg).sum()) / fs.molecule_mM, rel=1e-12)
    for bad in (-1.0, float("nan"), np.full((2, 2, 2), 1.0)):
        with pytest.raises(ParameterError):
            fs.set_concentration("A", bad)
    with pytest.raises(UnknownSpeciesError):
        fs.set_concentration("Q", 1.0)
