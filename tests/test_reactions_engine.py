"""The reaction pass in a Simulation: mechanics, determinism, conservation and bad input.

Physics against rate equations is in tests/validation/test_reaction_rates.py.
"""
import math
import warnings

import numba
import numpy as np
import pytest

import microsyn as ms
from microsyn.errors import ReactionError, TimeStepError, UnknownSpeciesError
from microsyn.reactions.engine import REACTED


def _sp(name, valence=0, D=0.1):
    return ms.Species(name, valence, D, D)


def _box(n_a=2000, n_b=2000, seed=3, dt=1e-5, size=0.5, **kw):
    sim = ms.Simulation(ms.Box((0, 0, 0), (size, size, size), name="box"), dt=dt, seed=seed, **kw)
    for n in "ABC":
        sim.add_species(_sp(n))
    rng = np.random.default_rng(seed)
    sim.add_particles("A", rng.uniform(0, size, (n_a, 3)))
    sim.add_particles("B", rng.uniform(0, size, (n_b, 3)))
    return sim


def test_first_order_decay_counts_and_products_at_the_reactant_place():
    """A -> B: every event removes one A and adds one B at the A's position (the B are where
    the A's were: no B anywhere else); counts match the particles."""
    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-4, seed=5)
    sim.add_species(_sp("A"), D=0.0)  # immobile: a product sits exactly where its reactant was
    sim.add_species(_sp("B"), D=0.0)
    pts = np.random.default_rng(0).uniform(0.1, 0.9, (500, 3))
    sim.add_particles("A", pts)
    sim.add_reaction(ms.Reaction("A -> B", rate=5.0))
    sim.run(0.02)
    n_b = sim.count("B")
    assert sim.count("A") + n_b == 500
    assert sim.reaction_counts["A -> B"] == n_b > 0
    key = lambda p: {tuple(np.round(r, 12)) for r in p}  # noqa: E731
    assert key(sim.positions("B")) | key(sim.positions("A")) == key(pts)


def test_pair_reaction_results_do_not_depend_on_thread_count_or_on_how_a_run_is_cut():
    """Same seed: 1 vs 2 threads and one run vs three pieces give identical particles and counts
    (the particles are also put in spatial order on the way)."""
    def run(threads, pieces):
        sim = _box(n_a=30000, n_b=30000, threads=threads, dt=1e-5)
        sim.add_reaction(ms.Reaction("A + B <-> C", rate=200.0, reverse_rate=50.0))
        for d in ([1e-3] if pieces == 1 else [3e-4, 3e-4, 4e-4]):  # 100 steps: spatial sorts at 0 and 64
            sim.run(d)
        return sim.positions(), sim.particles.species.copy(), sim.reaction_counts

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 threads")
    p1, s1, c1 = run(1, 1)
    p2, s2, c2 = run(2, 3)
    assert c1 == c2 and c1["A + B <-> C"] > 0 and c1["A + B <-> C (reverse)"] > 0
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(p1, p2)


def test_first_order_and_field_reactions_do_not_depend_on_threads_or_on_how_a_run_is_cut():
    """Reaction clocks (no pair reactions: whole windows in one kernel call): a source of A, A ->
    B + C, B -> 0 and A + F -> AF with a field; 1 thread and one run vs 2 threads and four
    pieces give identical particles, ids, counts and field."""
    def run(threads, pieces):
        sim = ms.Simulation(ms.Box((0, 0, 0), (0.4, 0.4, 0.4)), dt=1e-5, seed=8, threads=threads)
        sim.use_field_lattice(voxel_size=0.05)
        for n in "ABC":
            sim.add_species(_sp(n, D=0.2))
        sim.add_species(_sp("F", D=0.1), kind="field")
        sim.add_species(_sp("AF", D=0.1), kind="field")
        sim.fill("F", 0.5)
        sim.add_particles("A", np.random.default_rng(5).uniform(0, 0.4, (30000, 3)))
        sim.add_reaction(ms.Reaction("0 -> A", rate=50.0))
        sim.add_reaction(ms.Reaction("A -> B + C", rate=300.0, radius=0.002))
        sim.add_reaction(ms.Reaction("B -> 0", rate=500.0))
        sim.add_reaction(ms.Reaction("A + F -> AF", rate=400.0))
        for d in ([1e-2] if pieces == 1 else [1.3e-3, 4.4e-3, 7e-4, 3.6e-3]):  # 1000 steps, 2 field steps
            sim.run(d)
        return (sim.positions(), sim.particles.pid.copy(), sim.particles.species.copy(), sim.reaction_counts,
                sim.fields.conc.copy())

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 threads")
    a, b = run(1, 1), run(2, 4)
    assert a[3] == b[3] and all(v > 0 for v in a[3].values()), a[3]
    for x, y in zip(a[:3] + a[4:], b[:3] + b[4:]):
        np.testing.assert_array_equal(x, y)


def test_each_particle_reacts_at_most_once_per_step_and_mass_is_conserved():
    """A + B -> C with many pairs in range: #A + #C and #B + #C stay at their initial numbers,
    and a step never consumes more A than there were."""
    sim = _box(n_a=3000, n_b=3000, size=0.2, dt=1e-5)
    sim.add_reaction(ms.Reaction("A + B -> C", rate=2000.0))
    for _ in range(5):
        sim.run(2e-5)
        a, b, c = (sim.count(s) for s in "ABC")
        assert a + c == 3000 and b + c == 3000
    assert sim.reaction_counts["A + B -> C"] == sim.count("C") > 0
    assert not np.any(sim.particles.state == REACTED)  # consumed reactants were removed


def test_binding_product_at_the_diffusion_weighted_point_with_an_immobile_site():
    """L + R -> LR with R immobile (D = 0): the complex sits exactly at the site."""
    sim = ms.Simulation(ms.Box((0, 0, 0), (0.2, 0.2, 0.2)), dt=1e-6, seed=2)
    sim.add_species(_sp("L", D=0.5))
    sim.add_species(_sp("LR"), D=0.0)
    site = np.array([[0.1, 0.1, 0.1]])
    sim.add_sites(_sp("R"), site)
    sim.add_particles("L", np.full((2000, 3), 0.1))
    sim.add_reaction(ms.Reaction("L + R -> LR", rate=1e4))
    sim.run(1e-4)
    assert sim.count("LR") == 1 and sim.count("R") == 0
    np.testing.assert_array_equal(sim.positions("LR"), site)


def test_checkpoint_continues_a_reacting_run_bitwise(tmp_path):
    sim = _box(n_a=3000, n_b=3000)
    sim.add_reaction(ms.Reaction("A + B <-> C", rate=500.0, reverse_rate=100.0))
    sim.add_reaction(ms.Reaction("C -> 0", rate=20.0))
    sim.run(1e-4)
    path = sim.save(tmp_path / "rx.ckpt")
    again = ms.Simulation.load(path)
    sim.run(1e-4)
    again.run(1e-4)
    assert sim.reaction_counts == again.reaction_counts
    np.testing.assert_array_equal(sim.positions(), again.positions())


# ----------------------------------------------------------------------------- bad input
def test_unknown_species_in_a_reaction_is_refused_with_the_fix():
    sim = _box(10, 10)
    with pytest.raises(UnknownSpeciesError, match="add_species"):
        sim.add_reaction(ms.Reaction("A + X -> C", rate=1.0))


def test_charge_not_conserved_is_refused():
    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-5, species=["Ca2+"], seed=1)
    sim.add_species(_sp("B", valence=-4))
    sim.add_species(_sp("CaB", valence=-1))
    with pytest.raises(ReactionError, match="charge|valence"):
        sim.add_reaction(ms.Reaction("Ca2+ + B -> CaB", rate=1.0))


def test_duplicate_reaction_name_is_refused():
    sim = _box(10, 10)
    sim.add_reaction(ms.Reaction("A -> B", rate=1.0))
    with pytest.raises(ReactionError, match="already"):
        sim.add_reaction(ms.Reaction("A -> B", rate=2.0))


def test_time_step_too_long_for_a_first_order_reaction_says_how_short():
    sim = _box(10, 10, dt=1e-3)
    sim.add_reaction(ms.Reaction("A -> B", rate=500.0))
    with pytest.raises(TimeStepError, match=r"dt <= 0\.0002"):
        sim.run(1e-3)


def test_time_step_too_long_can_be_allowed_with_a_warning():
    sim = _box(10, 10, dt=1e-3, allow_large_dt=True)
    sim.add_reaction(ms.Reaction("A -> B", rate=500.0))
    with pytest.warns(UserWarning, match="dt <="):
        sim.run(1e-3)


def test_a_species_cannot_be_both_particles_and_a_field():
    sim = _box(10, 10)
    sim.use_field_lattice(voxel_size=0.05)
    with pytest.raises(ms.ParameterError, match="particles"):
        sim.add_species(_sp("A"), kind="field")
    with pytest.raises(ms.ParameterError, match="kind"):
        sim.add_species(_sp("Q"), kind="lattice")


def test_a_field_species_needs_the_lattice_first():
    sim = _box(10, 10)
    with pytest.raises(ms.ParameterError, match="use_field_lattice"):
        sim.add_species(_sp("F"), kind="field")


def test_sites_of_a_diffusing_species_are_refused():
    sim = _box(10, 10)
    with pytest.raises(ms.ParameterError, match="diffuses"):
        sim.add_sites("A", [[0.1, 0.1, 0.1]])


# ----------------------------------------------------------------------------- particles and fields
def _field_sim(kind_b="field", seed=4, dt=1e-5):
    sim = ms.Simulation(ms.Box((0, 0, 0), (0.4, 0.4, 0.4)), dt=dt, seed=seed)
    sim.use_field_lattice(voxel_size=0.05)
    sim.add_species(_sp("A", D=0.2))
    sim.add_species(_sp("F", D=0.1), kind=kind_b)
    sim.add_species(_sp("AF", D=0.1), kind=kind_b)
    return sim


def test_particle_plus_field_is_pseudo_first_order_and_conserves_molecules():
    """A (particles) + F (field, 1 mM, in excess) -> AF (field): A decays at k [F] (within 4
    binomial SE of exp(-k [F] t)); molecules of A + AF and of F + AF are conserved to round-off
    (each event moves exactly one molecule's worth in its voxel)."""
    k, cF, n0 = 200.0, 1.0, 4000
    sim = _field_sim()
    sim.fill("F", cF)
    sim.add_particles("A", np.random.default_rng(0).uniform(0, 0.4, (n0, 3)))
    f0 = sim.count("F")
    sim.add_reaction(ms.Reaction("A + F -> AF", rate=k))
    sim.run(5e-3)
    p = math.exp(-k * cF * sim.time * (1 - 0.0))  # F depletion: n0 molecules of 38,500 (10 %)
    events = sim.reaction_counts["A + F -> AF"]
    assert sim.count("A") + events == n0
    np.testing.assert_allclose(sim.count("AF"), events, rtol=1e-9)
    np.testing.assert_allclose(sim.count("F") + sim.count("AF"), f0, rtol=1e-12)
    # the rate uses the current [F]; bound it between the initial and the final [F]
    c_end = cF * sim.count("F") / f0
    lo, hi = n0 * math.exp(-k * cF * sim.time), n0 * math.exp(-k * c_end * sim.time)
    se = math.sqrt(n0 * p * (1 - p))
    assert lo - 4 * se < sim.count("A") < hi + 4 * se


def test_field_to_particle_unbinding_makes_particles_and_removes_field_molecules():
    """AF (field) -> A (particles) + F (field) at kb: the particles made equal the AF molecules
    lost, the F molecules gained, and the count; they appear inside the domain."""
    sim = _field_sim()
    sim.fill("AF", 0.05)
    af0 = sim.count("AF")
    sim.add_reaction(ms.Reaction("AF -> A + F", rate=20.0))
    n_f, _ = sim.reactions.field_schedule()
    sim.run(6 * n_f * sim.dt)  # six field steps
    made = sim.count("A")
    assert made > 0
    np.testing.assert_allclose(af0 - sim.count("AF"), made, rtol=1e-9)
    np.testing.assert_allclose(sim.count("F"), made, rtol=1e-9)
    assert sim.reaction_counts["AF -> A + F"] == made
    assert sim.domain.contains(sim.positions("A")).all()


def test_field_to_particle_births_follow_the_poisson_law_voxel_by_voxel():
    """AF (field) -> A (particles) + F: each field step of dt_f makes a Poisson number of births
    with mean k dt_f N_AF, so after n steps their total is N_AF(0) (1 - (1 - k dt_f)^n) on
    average (within 4 Poisson SD; the spread is smaller) and they fall where AF is, in
    proportion to it (depletion is the same everywhere): AF 3 times as
    concentrated in the upper half in x gives 3/4 of the births there (within 4 binomial SE),
    and none where AF is zero (the lowest quarter)."""
    sim = ms.Simulation(ms.Box((0, 0, 0), (0.4, 0.4, 0.4)), dt=1e-5, seed=11)
    f = sim.use_field_lattice(voxel_size=0.05)
    sim.add_species(_sp("A", D=0.2))
    sim.add_species(_sp("F"), D=0.0, kind="field")  # immobile, so AF stays where it was put
    sim.add_species(_sp("AF"), D=0.0, kind="field")
    f.set_concentration("AF", 0.05, region=ms.Box((0.1, 0, 0), (0.2, 0.4, 0.4)))
    f.set_concentration("AF", 0.15, region=ms.Box((0.2, 0, 0), (0.4, 0.4, 0.4)))
    k = 0.5  # 1/ms
    n_af = sim.count("AF")
    sim.add_reaction(ms.Reaction("AF -> A + F", rate=k))
    log = sim.reactions.log("AF -> A + F")
    n_f, _ = sim.reactions.field_schedule()
    n_field_steps = 200
    sim.run(n_field_steps * n_f * sim.dt)
    x = np.array([p[0] for _, p in log])  # the voxel centres of the births
    assert x.size == sim.count("A")
    mean = n_af * (1.0 - (1.0 - k * n_f * sim.dt) ** n_field_steps)
    assert abs(x.size - mean) < 4.0 * np.sqrt(mean), (x.size, mean)
    assert not np.any(x < 0.1)
    upper = np.count_nonzero(x >= 0.2) / x.size
    assert abs(upper - 0.75) < 4.0 * np.sqrt(0.75 * 0.25 / x.size), (upper, x.size)


def test_lattice_voxel_of_the_reaction_kernel_matches_the_field_set():
    """The reaction clocks bin a particle into the same voxel as FieldSet.voxel_index, also
    on voxel faces and on the lattice's upper face."""
    from microsyn._kernels.clocks import lattice_voxel

    sim = _field_sim()
    f = sim.fields
    rng = np.random.default_rng(1)
    pts = np.concatenate([rng.uniform(0, 0.4, (500, 3)), np.round(rng.uniform(0, 0.4, (200, 3)) / 0.05) * 0.05,
                          [[0.4, 0.4, 0.4], [0.0, 0.0, 0.0], [0.41, 0.1, 0.1]]])
    ref = f.voxel_index(pts[:, 0], pts[:, 1], pts[:, 2])
    lo, hi, h = np.asarray(f.lattice.lo, float), np.asarray(f.lattice.hi, float), f.spacing
    got = [lattice_voxel(p[0], p[1], p[2], lo, hi, 1.0 / h, *f.shape) for p in pts]
    np.testing.assert_array_equal(got, ref)


def test_time_step_too_long_for_a_pair_reaction_says_how_short():
    """k_pair [B] dt = 0.166 per step for an A: refused, with the dt that would do."""
    sim = _box(n_a=1000, n_b=10000, size=1.0, dt=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.add_reaction(ms.Reaction("A + B -> C", rate=1e5))
    with pytest.raises(TimeStepError, match=r"binds with probability .* use dt <="):
        sim.run(1e-4)


def test_a_binding_probability_above_one_percent_per_step_warns_with_the_numbers():
    sim = _box(n_a=1000, n_b=10000, size=1.0, dt=1e-5)
    sim.add_reaction(ms.Reaction("A + B -> C", rate=1e5))  # k_pair [B] dt = 0.0166
    with pytest.warns(RuntimeWarning, match="low by about"):
        sim.run(1e-5)


def test_binding_radius_larger_than_a_quarter_of_the_smallest_feature_is_refused():
    """A 20 nm thin slab with a reaction whose radius is 10 nm."""
    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 0.02)), dt=1e-7, seed=1)
    for n in "ABC":
        sim.add_species(_sp(n))
    sim.add_particles("A", [[0.5, 0.5, 0.01]])
    sim.add_particles("B", [[0.5, 0.5, 0.011]])
    sim.add_reaction(ms.Reaction("A + B -> C", rate=100.0, radius=0.01))
    with pytest.raises(ReactionError, match="smallest feature"):
        sim.run(1e-7)


def test_reaction_count_recorder_in_a_region_counts_the_events_there():
    """A -> B with immobile particles: ReactionCount in the lower half equals the B made there,
    and without a region the total; an unknown reaction name is refused."""
    sim = ms.Simulation(ms.Box((0, 0, 0), (1, 1, 1)), dt=1e-4, seed=6)
    sim.add_species(_sp("A"), D=0.0)
    sim.add_species(_sp("B"), D=0.0)
    sim.add_particles("A", np.random.default_rng(3).uniform(0, 1, (2000, 3)))
    rx = sim.add_reaction(ms.Reaction("A -> B", rate=10.0))
    lower = ms.Box((0, 0, 0), (1, 1, 0.5))
    rec_in = sim.add_recorder(ms.ReactionCount(rx, region=lower), trigger=0.01)
    rec_all = sim.add_recorder(ms.ReactionCount("A -> B"), trigger=0.01)
    sim.run(0.05)
    n_low = int(np.count_nonzero(lower.contains(sim.positions("B"))))
    assert rec_in.data[-1] == n_low > 0
    assert rec_all.data[-1] == sim.count("B") > n_low
    assert np.all(np.diff(rec_all.data) >= 0)
    bad = sim.add_recorder(ms.ReactionCount("A -> C"), trigger=0.01)
    with pytest.raises(ms.ParameterError, match="no reaction named"):
        bad.record(sim)


def _geometries():
    yield "box", ms.Box((0, 0, 0), (0.3, 0.3, 0.3))
    yield "sphere", ms.Sphere((0, 0, 0), 0.15)
    yield "cylinder", ms.Cylinder((0, 0, 0), radius=0.1, length=0.4)
    yield "hemisphere", ms.Domain(ms.Sphere((0, 0, 0), 0.15), holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1))])
    yield "box minus sphere", ms.Domain(ms.Box((-0.15,) * 3, (0.15,) * 3), holes=[ms.Sphere((0, 0, 0), 0.08)])
    yield "mesh", ms.Mesh("sphere", scale=0.3)


@pytest.mark.parametrize("name, geom", list(_geometries()), ids=[g[0] for g in _geometries()])
def test_reacting_particles_stay_inside_every_geometry_and_conserve_mass(name, geom):
    """A + B <-> C, C -> A + B products placed in the binding ball near walls, A + A -> D and
    D -> A + A (immediate dissociation at one point): after the run no particle is outside (the
    escape check passes), A + C + 2 D and B + C are conserved, and every reaction happened."""
    sim = ms.Simulation(geom, dt=2e-6, seed=7)
    for n in ("A", "B", "C", "D"):
        sim.add_species(_sp(n, D=0.3))
    lo, hi = geom.bounds()
    rng = np.random.default_rng(1)
    pts = rng.uniform(lo, hi, (8000, 3))
    pts = pts[geom.contains(pts)]
    half = pts.shape[0] // 2
    sim.add_particles("A", pts[:half])
    sim.add_particles("B", pts[half:2 * half])
    sim.add_reaction(ms.Reaction("A + B <-> C", rate=3000.0, reverse_rate=500.0))
    sim.add_reaction(ms.Reaction("A + A <-> D", rate=1000.0, reverse_rate=200.0))
    sim.run(4e-4)
    a, b, c, d = (sim.count(s) for s in "ABCD")
    assert a + c + 2 * d == half and b + c == half
    counts = sim.reaction_counts
    assert all(v > 0 for v in counts.values()), counts
    sim.assert_no_escapes()


def test_checkpoint_continues_a_run_with_fields_bitwise(tmp_path):
    """Particles reacting with a lattice field and field births: save, load, continue."""
    sim = _field_sim()
    sim.fill("F", 1.0)
    sim.add_particles("A", np.random.default_rng(0).uniform(0, 0.4, (2000, 3)))
    sim.add_reaction(ms.Reaction("A + F <-> AF", rate=200.0, reverse_rate=20.0))
    sim.run(2e-3)
    again = ms.Simulation.load(sim.save(tmp_path / "f.ckpt"))
    sim.run(4e-3)
    again.run(4e-3)
    assert sim.reaction_counts == again.reaction_counts
    np.testing.assert_array_equal(sim.positions(), again.positions())
    np.testing.assert_array_equal(sim.fields.conc, again.fields.conc)


@pytest.mark.parametrize("n_chunks", [1, 3, 16, 64])
def test_binning_and_the_searcher_list_equal_numpy(n_chunks):
    """Reference: numpy's flatnonzero of the live searchers and the clipped cell index of the
    live binned particles, for any number of parallel chunks (a chunk writing past its last
    searcher into the next one's first entry was a race, caught by a conservation check)."""
    from microsyn._kernels import reactions as kr

    rng = np.random.default_rng(7)
    n = 5000
    x, y, z = rng.uniform(-0.1, 1.1, (3, n))
    species = rng.integers(0, 3, n).astype(np.int16)
    state = np.where(rng.uniform(size=n) < 0.2, 32767, 0).astype(np.int16)
    binned = np.array([0, 1, 1], np.uint8)
    searcher = np.array([1, 0, 1], np.uint8)
    lo, inv_h, dims = np.zeros(3), 10.0, np.array([10, 10, 10])
    keys = np.empty(n, np.int64)
    search = np.full(n + 1, -7, np.int64)
    m = kr.bin_members(x, y, z, species, state, n, binned, searcher, lo, inv_h, dims, keys, search, n_chunks)
    want = np.flatnonzero((state == 0) & (searcher[species] != 0))
    assert m == want.size
    np.testing.assert_array_equal(search[:m], want)
    ijk = np.clip(np.floor(np.stack([x, y, z]) * inv_h).astype(np.int64), 0, 9)
    cell = (ijk[0] * 10 + ijk[1]) * 10 + ijk[2]
    np.testing.assert_array_equal(keys, np.where((state == 0) & (binned[species] != 0), cell, -1))
