"""microsyn.reactions.buffers: the Ca2+-binding proteins calbindin-D28k and parvalbumin as site
populations, and Terminal.add_buffer with them.

Ground truth:
- the published numbers of the module docstring, written out here by hand in the literature's
  units (calbindin: Naegerl et al. 2000, Biophys. J. 79:3009, 2 high-affinity sites k_on 1.1e7
  /(M s), k_off 2.6 /s and 2 medium-affinity sites 8.7e7 /(M s), 35.8 /s, D 0.028 um^2/ms;
  parvalbumin: Lee, Schwaller & Neher 2000, J. Physiol. 525:419, and Schmidt et al. 2003,
  J. Physiol. 551:13, 2 sites, Ca2+ 1.07e8 /(M s), 0.95 /s, Mg2+ 8e5 /(M s), 25 /s, free Mg2+
  0.59 mM, D 0.043 um^2/ms), converted with 1 /(M s) = 1e-6 /(mM ms) and 1 /s = 1e-3 /ms
  (relative tolerance 1e-12);
- the law of mass action for independent sites: at equilibrium a site population is split as
  1 : Ca/K_Ca : Mg/K_Mg (free : Ca-bound : Mg-bound), so the fraction with Ca2+ is
  (Ca/K_Ca) / (1 + Ca/K_Ca + Mg/K_Mg); the field reactions relax to it (relative 1e-9, they are
  integrated exactly per step and the equilibrium is a fixed point of their splitting);
- the first-order relaxation of one site in excess Ca2+ after a step: x(t) = x_eq (1 -
  exp(-t / tau)), tau = 1 / (k_on [Ca] + k_off) (relative 1e-3: the sites are 1e-4 of the Ca2+, so
  its depletion changes tau by about that much);
- the apparent K_d of parvalbumin at 0.14 mM Mg2+ in the abstract of Lee et al. 2000,
  51.4 +- 2.0 nM, against K_Ca (1 + Mg/K_Mg) from the constants (within 6 %: they give 48.7 nM).
"""
import math
import warnings

import numpy as np
import pytest

import microsyn as ms
from microsyn.errors import ParameterError, UnknownSpeciesError
from microsyn.reactions.buffers import (BUFFERS, MG, PROTEINS, BufferProtein, CaBuffer, Competitor,
                                        ca_buffer, ca_protein, published_buffer)
from microsyn.reactions.fields import FieldSet
from microsyn.reactions.spec import Reaction
from microsyn.species import STANDARD_SPECIES

# the literature's numbers: per-molar-per-second, per second, um^2/ms
CB_H = dict(k_on=1.1e7, k_off=2.6)
CB_M = dict(k_on=8.7e7, k_off=35.8)
PV_CA = dict(k_on=1.07e8, k_off=0.95)
PV_MG = dict(k_on=8.0e5, k_off=25.0)
MG_FREE = 0.59


def _K_mM(c):
    """K_d [mM] = k_off / k_on from literature units: [1/s] / [1/(M s)] = M -> mM."""
    return c["k_off"] / c["k_on"] * 1e3


# ------------------------------------------------------------------ constants and charges
@pytest.mark.parametrize("protein, site, n, lit, D", [
    ("calbindin", "CBH", 2, CB_H, 0.028),
    ("calbindin", "CBM", 2, CB_M, 0.028),
    ("parvalbumin", "PV", 2, PV_CA, 0.043),
])
def test_site_constants_in_base_units(protein, site, n, lit, D):
    p = ca_protein(protein)
    (b, count), = [(b, c) for b, c in zip(p.sites, p.sites_per_molecule) if b.free.name == site]
    assert isinstance(b, CaBuffer) and count == n
    assert b.k_on == pytest.approx(lit["k_on"] * 1e-6, rel=1e-12)
    assert b.k_off == pytest.approx(lit["k_off"] * 1e-3, rel=1e-12)
    assert b.K_d_mM == pytest.approx(_K_mM(lit), rel=1e-12)
    assert b.K_d_mM == pytest.approx(b.k_off / b.k_on, rel=1e-12)
    assert (b.reaction.rate, b.reaction.reverse_rate) == (b.k_on, b.k_off)
    assert b.reaction.equation == f"Ca2+ + {site} <-> Ca{site}"
    assert b.free.D_cytoplasm == b.bound.D_cytoplasm == D
    assert b.reference == p.reference and "see microsyn.reactions.buffers" in b.reference


def test_published_dissociation_constants_and_site_counts():
    """The K_d the papers quote: calbindin about 237 and 411 nM (Naegerl et al. 2000), PV 9 nM
    for Ca2+ and 31 uM for Mg2+ (Schmidt et al. 2003, Table 2); within 0.5 % (they are rounded)."""
    cb, pv = ca_protein("calbindin"), ca_protein("parvalbumin")
    assert (cb.n_sites, cb.sites_per_molecule, pv.n_sites, pv.sites_per_molecule) == (4, (2, 2), 2, (2,))
    assert [b.K_d_mM * 1e6 for b in cb.sites] == [pytest.approx(237.0, rel=5e-3), pytest.approx(411.0, rel=5e-3)]
    assert pv.sites[0].K_d_mM * 1e6 == pytest.approx(8.88, rel=5e-3)
    (mg,) = pv.competitors
    assert isinstance(mg, Competitor) and mg.site == "PV" and mg.ion is MG
    assert mg.reaction.equation == "Mg2+ + PV <-> MgPV"
    assert mg.k_on == pytest.approx(PV_MG["k_on"] * 1e-6, rel=1e-12)
    assert mg.k_off == pytest.approx(PV_MG["k_off"] * 1e-3, rel=1e-12)
    assert mg.K_d_mM == pytest.approx(_K_mM(PV_MG), rel=1e-12) and mg.K_d_mM * 1e3 == pytest.approx(31.0, rel=1e-2)
    assert mg.free_mM == MG_FREE and pv.ions == {"Mg2+": MG_FREE} and cb.ions == {}
    assert (MG.valence, MG.D_water, MG.D_cytoplasm) == (2, 0.705, 0.35)
    assert mg.bound.D_cytoplasm == 0.043


def test_apparent_kd_of_parvalbumin_at_lee_2000_magnesium():
    """Lee et al. 2000 (abstract): apparent K_d 51.4 +- 2.0 nM assuming 0.14 mM free Mg2+. The
    constants give K_Ca (1 + Mg/K_Mg) = 48.7 nM: within 6 %. At [Ca2+] = K_app the protein's own
    equilibrium has as many sites with Ca2+ as without (rel. 1e-12)."""
    pv = ca_protein("parvalbumin")
    K_app = pv.sites[0].K_d_mM * (1.0 + 0.14 / pv.competitors[0].K_d_mM)
    assert K_app * 1e6 == pytest.approx(48.65, rel=1e-3)
    assert abs(K_app * 1e6 - 51.4) / 51.4 < 0.06
    # at [Ca2+] = K_app (and 0.14 mM Mg2+) the Ca-bound share is 1/2 of the sites not holding Mg2+,
    # i.e. Ca : (free + Mg) = 1 : 1
    eq = pv.equilibrium(1.0, K_app, {"Mg2+": 0.14})
    assert eq["CaPV"] == pytest.approx(eq["PV"] + eq["MgPV"], rel=1e-12)


@pytest.mark.parametrize("name", ["calbindin", "parvalbumin"])
def test_every_reaction_conserves_charge(name):
    """Reference: the documented choice, free site -2, occupied site 0, Mg2+ +2, Ca2+ +2."""
    p = ca_protein(name)
    valence = {s.name: s.valence for s in p.species}
    valence["Ca2+"] = STANDARD_SPECIES["Ca2+"].valence
    for r in p.reactions:
        r.check_charge(valence)
    for b in p.sites:
        assert (b.free.valence, b.bound.valence) == (-2, 0)
    for c in p.competitors:
        assert (c.ion.valence, c.bound.valence) == (2, 0)
    # and a simulation takes the reactions (its engine checks charge again)
    sim = ms.Simulation(ms.Domain(ms.Box((0, 0, 0), (0.1, 0.1, 0.1))), dt=1e-4)
    sim.add_species("Ca2+")
    sim.use_field_lattice(voxel_size=0.05)
    for sp in p.species:
        sim.add_species(sp, kind="field")
    for r in p.reactions:
        sim.add_reaction(r)


def test_lookup_by_name_and_registry():
    assert set(PROTEINS) == {"calbindin", "parvalbumin"} and set(BUFFERS) == {"EGTA", "BAPTA"}
    cb, pv = PROTEINS["calbindin"], PROTEINS["parvalbumin"]
    for alias in ("calbindin", "Calbindin-D28k", " CB ", "calbindin d28k"):
        assert ca_protein(alias) is cb and published_buffer(alias) is cb
    for alias in ("parvalbumin", "PV", "Parvalbumin"):
        assert ca_protein(alias) is pv and published_buffer(alias) is pv
    assert published_buffer("egta") is ca_buffer("EGTA")
    with pytest.raises(UnknownSpeciesError, match=r"ca_protein\('calbindin'\)"):
        ca_buffer("calbindin")
    with pytest.raises(UnknownSpeciesError, match=r"ca_buffer\('EGTA'\)"):
        ca_protein("EGTA")
    for bad in ("calretinin", "", None, 3):
        with pytest.raises(UnknownSpeciesError, match="parvalbumin"):
            ca_protein(bad)
        with pytest.raises(UnknownSpeciesError, match="BAPTA.*calbindin"):
            published_buffer(bad)


def test_equilibrium_matches_mass_action_by_hand():
    """Reference: the split 1 : Ca/K_Ca : Mg/K_Mg of each site population, written out with the
    literature's numbers (rel. 1e-12), at 50 nM Ca2+ and 0.59 mM Mg2+ for 0.04 mM calbindin and
    0.1 mM parvalbumin."""
    ca = 5e-5
    cb = ca_protein("calbindin").equilibrium(0.04, ca)
    for site, lit in (("CBH", CB_H), ("CBM", CB_M)):
        x = ca / _K_mM(lit)
        assert cb[site] == pytest.approx(2 * 0.04 / (1 + x), rel=1e-12)
        assert cb["Ca" + site] == pytest.approx(2 * 0.04 * x / (1 + x), rel=1e-12)
    assert set(cb) == {"CBH", "CaCBH", "CBM", "CaCBM"}
    pv = ca_protein("parvalbumin")
    eq = pv.equilibrium(0.1, ca)
    xc, xm = ca / _K_mM(PV_CA), MG_FREE / _K_mM(PV_MG)
    d = 1 + xc + xm
    assert eq == {"PV": pytest.approx(0.2 / d, rel=1e-12), "CaPV": pytest.approx(0.2 * xc / d, rel=1e-12),
                  "MgPV": pytest.approx(0.2 * xm / d, rel=1e-12)}
    assert pv.ca_bound_fraction(ca) == pytest.approx(xc / d, rel=1e-12)
    assert pv.ca_bound_fraction(ca, {"Mg2+": 0.0}) == pytest.approx(xc / (1 + xc), rel=1e-12)
    with pytest.raises(ParameterError, match="ca_mM must be a finite number >= 0"):
        pv.equilibrium(0.1, -1e-5)
    with pytest.raises(ParameterError, match="total_mM"):
        pv.equilibrium(math.nan, 1e-5)
    with pytest.raises(ParameterError, match="no sites for 'Zn2\\+'"):
        pv.equilibrium(0.1, 1e-5, {"Zn2+": 0.1})
    with pytest.raises(ParameterError, match="free \\[Mg2\\+\\]"):
        pv.equilibrium(0.1, 1e-5, {"Mg2+": -0.1})


def test_bufferprotein_refuses_malformed_definitions():
    cb = ca_protein("calbindin")
    h, m = cb.sites
    with pytest.raises(ParameterError, match="one or more CaBuffer"):
        BufferProtein("x", (), ())
    with pytest.raises(ParameterError, match="sites_per_molecule"):
        BufferProtein("x", (h, m), (2,))
    with pytest.raises(ParameterError, match="sites_per_molecule"):
        BufferProtein("x", (h,), (0,))
    with pytest.raises(ParameterError, match="its own species name"):
        BufferProtein("x", (h, h), (1, 1))
    mg = ca_protein("parvalbumin").competitors[0]
    with pytest.raises(ParameterError, match="not a free site"):
        BufferProtein("x", (h,), (2,), (mg,))
    with pytest.raises(ParameterError, match="must be 'Mg2\\+ \\+ <site> <-> MgPV'"):
        Competitor(MG, mg.bound, Reaction("Mg2+ + PV <-> CaPV", mg.k_on, mg.k_off), mg.k_on, mg.k_off,
                   mg.K_d_mM, 0.5, "test")
    with pytest.raises(ParameterError, match="k_off"):
        Competitor(MG, mg.bound, mg.reaction, mg.k_on, mg.k_off, 1.0, 0.5, "test")
    # charge not conserved: a neutral Mg-bound site made -2 -> +2 + -2 != -2
    odd = ms.Species("MgPV", -2, 0.043, 0.043)
    with pytest.raises(ParameterError, match="conserve charge"):
        BufferProtein("x", ca_protein("parvalbumin").sites, (2,),
                      (Competitor(MG, odd, mg.reaction, mg.k_on, mg.k_off, mg.K_d_mM, 0.5, "t"),))


# ------------------------------------------------------------------ field-only mass action
def _fieldset(names_conc):
    dom = ms.Domain(ms.Box((0, 0, 0), (0.1, 0.1, 0.1)))
    fs = FieldSet(dom, ms.Lattice((0, 0, 0), (0.1, 0.1, 0.1), voxel_size=0.05))
    for name, c in names_conc.items():
        fs.add(name, D=0.0, conc_mM=c)  # uniform and immobile: the reactions alone
    return fs


def _relax(fs, dt, max_steps=2000):
    """Step until no concentration changes by more than 1e-13 relative in a step."""
    for _ in range(max_steps):
        before = fs.conc.copy()
        fs.step(dt)
        if np.allclose(fs.conc, before, rtol=1e-13, atol=0.0):
            return
    raise AssertionError("the field reactions did not settle")


def test_field_mass_action_relaxes_to_calbindin_equilibrium():
    """A FieldSet with calbindin's reactions and a uniform Ca2+ field (no particles) settles where
    each site population is split 1 : Ca/K (mass action, with the final free [Ca2+]); rel. 1e-9.
    Ca2+ and sites are conserved (rel. 1e-12)."""
    cb = ca_protein("calbindin")
    B, ca0 = 0.002, 0.001   # mM of molecules, mM of Ca2+ in all
    fs = _fieldset({"Ca2+": ca0, **{sp.name: 0.0 for sp in cb.species}})
    for b, n in zip(cb.sites, cb.sites_per_molecule):
        fs.set_concentration(b.free.name, n * B)
    for r in cb.reactions:
        fs.add_reaction(r)
    _relax(fs, dt=20.0)
    c = {n: float(fs.concentration(n).mean()) for n in fs.names}
    ca = c["Ca2+"]
    for site, lit in (("CBH", CB_H), ("CBM", CB_M)):
        frac = c["Ca" + site] / (c[site] + c["Ca" + site])
        x = ca / _K_mM(lit)
        assert frac == pytest.approx(x / (1 + x), rel=1e-9)
        assert c[site] + c["Ca" + site] == pytest.approx(2 * B, rel=1e-12)
    assert ca + c["CaCBH"] + c["CaCBM"] == pytest.approx(ca0, rel=1e-12)
    assert cb.equilibrium(B, ca) == {k: pytest.approx(c[k], rel=1e-9) for k in ("CBH", "CaCBH", "CBM", "CaCBM")}


def test_field_mass_action_relaxes_to_parvalbumin_ca_mg_competition():
    """Reference: fraction of sites with Ca2+ = (Ca/K_Ca) / (1 + Ca/K_Ca + Mg/K_Mg) and with Mg2+
    = (Mg/K_Mg) / (...), at the final free [Ca2+] and [Mg2+], starting from free parvalbumin in
    Ca2+ and Mg2+ fields (rel. 1e-9); Ca2+, Mg2+ and sites conserved (rel. 1e-12)."""
    pv = ca_protein("parvalbumin")
    B, ca0, mg0 = 0.005, 0.001, 0.5
    fs = _fieldset({"Ca2+": ca0, "Mg2+": mg0, "PV": 2 * B, "CaPV": 0.0, "MgPV": 0.0})
    for r in pv.reactions:
        fs.add_reaction(r)
    _relax(fs, dt=10.0)
    c = {n: float(fs.concentration(n).mean()) for n in fs.names}
    xc, xm = c["Ca2+"] / _K_mM(PV_CA), c["Mg2+"] / _K_mM(PV_MG)
    total = c["PV"] + c["CaPV"] + c["MgPV"]
    assert total == pytest.approx(2 * B, rel=1e-12)
    assert c["CaPV"] / total == pytest.approx(xc / (1 + xc + xm), rel=1e-9)
    assert c["MgPV"] / total == pytest.approx(xm / (1 + xc + xm), rel=1e-9)
    assert c["Ca2+"] + c["CaPV"] == pytest.approx(ca0, rel=1e-12)
    assert c["Mg2+"] + c["MgPV"] == pytest.approx(mg0, rel=1e-12)
    assert 0.05 < c["CaPV"] / total < 0.95 and 0.05 < c["MgPV"] / total   # a real competition


@pytest.mark.parametrize("protein, site, lit", [("calbindin", "CBH", CB_H), ("calbindin", "CBM", CB_M),
                                                 ("parvalbumin", "PV", PV_CA)])
def test_one_site_relaxes_with_first_order_time_constant(protein, site, lit):
    """After a step to 10 uM Ca2+ (the sites 1e-4 of it), one site population fills as
    x_eq (1 - exp(-t / tau)) with tau = 1 / (k_on [Ca] + k_off) (first order, analytic): the
    fitted tau and x(t) within 1e-3 relative."""
    (b,) = [b for b in ca_protein(protein).sites if b.free.name == site]
    ca, S = 0.01, 1e-6
    tau = 1.0 / (lit["k_on"] * 1e-6 * ca + lit["k_off"] * 1e-3)   # ms
    fs = _fieldset({"Ca2+": ca, b.free.name: S, b.bound.name: 0.0})
    fs.add_reaction(b.reaction)
    dt = tau / 20.0
    t, x = [], []
    for k in range(1, 81):   # 4 tau
        fs.step(dt)
        t.append(k * dt)
        x.append(float(fs.concentration(b.bound.name).mean()))
    t, x = np.array(t), np.array(x)
    x_eq = S * ca / (ca + _K_mM(lit))
    np.testing.assert_allclose(x, x_eq * (1.0 - np.exp(-t / tau)), rtol=1e-3)
    slope = np.polyfit(t, np.log(1.0 - x / x_eq), 1)[0]
    assert -1.0 / slope == pytest.approx(tau, rel=1e-3)


# ------------------------------------------------------------------ Terminal.add_buffer
def _terminal(**kw):
    from microsyn.presynaptic import Terminal

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Terminal(radius_um=0.3, active_zone_radius_um=0.1, spike_times_ms=(0.1,), **kw)


@pytest.fixture(scope="module")
def proteins_terminal():
    """A small terminal with 0.04 mM calbindin and 0.1 mM parvalbumin, no resting ions (so every
    Ca2+ particle came from a bound form)."""
    T = _terminal(resting_ions=False, seed=4)
    cb = T.add_buffer("calbindin", 0.04)
    pv = T.add_buffer("parvalbumin", 0.1)
    f = T.sim.fields
    start = {n: f.concentration(n)[f.live[f.index(n)]].copy() for n in f.names}  # before any run
    return T, cb, pv, start


def test_add_buffer_puts_every_form_at_its_resting_equilibrium(proteins_terminal):
    """Reference: the hand-written mass-action split at the terminal's resting [Ca2+] (50 nM) and
    0.59 mM Mg2+, in every live voxel (rel. 1e-12); the fields' D as published."""
    T, cb, pv, start = proteins_terminal
    assert cb is ca_protein("calbindin") and pv is ca_protein("parvalbumin")
    f = T.sim.fields
    assert set(f.names) == {"CBH", "CaCBH", "CBM", "CaCBM", "PV", "CaPV", "MgPV", "Mg2+"}
    ca = T.ca_rest_mM
    assert ca == 5e-5
    want = {}
    for site, lit, B in (("CBH", CB_H, 0.04), ("CBM", CB_M, 0.04)):
        x = ca / _K_mM(lit)
        want[site], want["Ca" + site] = 2 * B / (1 + x), 2 * B * x / (1 + x)
    xc, xm = ca / _K_mM(PV_CA), MG_FREE / _K_mM(PV_MG)
    d = 1 + xc + xm
    want.update(PV=0.2 / d, CaPV=0.2 * xc / d, MgPV=0.2 * xm / d)
    want["Mg2+"] = MG_FREE
    for name, value in want.items():
        np.testing.assert_allclose(start[name], value, rtol=1e-12, err_msg=name)
    D = dict(zip(f.names, f.D))
    assert D["CBH"] == D["CaCBM"] == 0.028 and D["PV"] == D["MgPV"] == 0.043 and D["Mg2+"] == 0.35
    assert [b for b, _ in T.buffers] == [cb, pv] and [B for _, B in T.buffers] == [0.04, 0.1]
    names = {r.name for r in T.sim.reactions.reactions}
    assert names == {"Ca2+ + CBH <-> CaCBH", "Ca2+ + CBM <-> CaCBM", "Ca2+ + PV <-> CaPV", "Mg2+ + PV <-> MgPV"}
    # resting shares quoted in the docstring of add_buffer
    assert round(want["CaCBH"] / 0.08, 2) == 0.17 and round(want["CaCBM"] / 0.08, 2) == 0.11
    assert round(want["CaPV"] / 0.2, 2) == 0.22 and round(want["MgPV"] / 0.2, 2) == 0.74


def test_add_buffer_proteins_short_run_conserves_ions(proteins_terminal):
    """0.2 ms with no channel open: every Ca2+ particle is an ion a bound form let go of (ions
    conserved exactly: particles = molecules lost by the Ca-bound fields, to 1e-6 of a molecule),
    and Mg2+ is conserved (free + bound, rel. 1e-12)."""
    T = proteins_terminal[0]
    f = T.sim.fields
    bound = ("CaCBH", "CaCBM", "CaPV")
    b0 = sum(f.total_molecules(n) for n in bound)
    mg0 = f.total_molecules("Mg2+") + f.total_molecules("MgPV")
    n0 = T.sim.count("Ca2+")   # 0: no resting ions
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        T.run(0.2)
    rc = T.sim.reaction_counts
    assert sum(v for k, v in rc.items() if k.startswith("Ca2+ +")) >= 1   # ions left and/or bound
    f = T.sim.fields
    lost = b0 - sum(f.total_molecules(n) for n in bound)
    assert abs(lost - (T.sim.count("Ca2+") - n0)) < 1e-6
    assert f.total_molecules("Mg2+") + f.total_molecules("MgPV") == pytest.approx(mg0, rel=1e-12)


def test_add_buffer_bad_input_then_fixed_proteins_and_a_given_magnesium_field():
    T = _terminal()
    with pytest.raises(UnknownSpeciesError, match="calbindin"):
        T.add_buffer("calbindn", 0.04)
    with pytest.raises(ParameterError, match="buffer concentration"):
        T.add_buffer("calbindin", -0.04)
    with pytest.raises(ParameterError, match="buffer concentration"):
        T.add_buffer("parvalbumin", 0.0)
    with pytest.raises(ParameterError, match="bound='particles' is for one-site chelators"):
        T.add_buffer("parvalbumin", 0.1, bound="particles")
    with pytest.raises(ParameterError, match="bound must be"):
        T.add_buffer("calbindin", 0.04, bound="fields")
    with pytest.raises(ParameterError, match="has no Mg2\\+ sites"):
        T.add_buffer("calbindin", 0.04, mg_mM=0.5)
    with pytest.raises(ParameterError, match="EGTA has no Mg2\\+ sites"):
        T.add_buffer("EGTA", 0.1, mg_mM=0.5)
    for bad in (-0.5, math.nan, math.inf):
        with pytest.raises(ParameterError, match="mg_mM"):
            T.add_buffer("parvalbumin", 0.1, mg_mM=bad)
    assert T.sim.fields is None and T.buffers == []   # nothing was added
    # fixed: the protein's forms immobile
    T.add_buffer("calbindin", 0.04, fixed=True)
    f = T.sim.fields
    assert all(d == 0.0 for d in f.D)
    with pytest.raises(ParameterError, match="calbindin is in this terminal already"):
        T.add_buffer("CB", 0.01)
    # a Mg2+ field put in beforehand is kept, and its level is the resting one
    T.sim.add_species(MG, kind="field")
    T.sim.fill("Mg2+", 0.3)
    with pytest.raises(ParameterError, match="at 0.3 mM, not at mg_mM=0.5"):
        T.add_buffer("parvalbumin", 0.1, mg_mM=0.5, fixed=True)
    T.add_buffer("parvalbumin", 0.1, fixed=True)
    f = T.sim.fields
    D = dict(zip(f.names, f.D))
    assert D["PV"] == D["CaPV"] == D["MgPV"] == 0.0 and D["Mg2+"] == 0.35   # Mg2+ keeps diffusing
    eq = ca_protein("parvalbumin").equilibrium(0.1, T.ca_rest_mM, {"Mg2+": 0.3})
    for name in ("PV", "CaPV", "MgPV"):
        np.testing.assert_allclose(f.concentration(name)[f.live[f.index(name)]], eq[name], rtol=1e-12)
    np.testing.assert_allclose(f.concentration("Mg2+")[f.live[f.index("Mg2+")]], 0.3, rtol=0)
