"""Scene layers not covered by the baselines: a live simulation, slices, charge isosurfaces, glyphs, sizes."""
import numpy as np
import pytest

import microsyn as ms
from microsyn.errors import ParameterError


def test_scene_from_a_running_simulation(gl):
    from microsyn.membrane import MembraneSolver, sheet
    from microsyn.render import Scene, preset

    dom = ms.Domain(ms.Box((-1, -1, -1), (1, 1, 1), name="box"),
                    holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    sim = ms.Simulation(dom, dt=1e-5, species=["K+", "Ca2+"], seed=4)
    sim.release("K+", n=400, at=(0, 0, 0.01))
    sim.release("Ca2+", n=200, at=(0.3, 0.3, 0.01))
    g = sheet(2.0, 2.0, 0.2)
    solver = MembraneSolver(g, dt_ms=1e-3)
    solver.set_potential(-60.0, nodes=[g.nearest_node((0, 0, 0))])
    lat = ms.Lattice((-1, -1, 0), (1, 1, 1), voxel_size=0.1)
    sc = Scene.from_simulation(sim, lattice=lat, membrane=solver, surfaces={"membrane": dom.holes[0]},
                               iso_mM={"K+": 1e-3}, size=(320, 240), title="live")
    try:
        sim.run(5e-4)
        sc.show_simulation()
        sc.set_camera(preset("oblique", (0, 0, 0.2), 2.5))
        img = sc.render()
    finally:
        sc.close()
    violet = np.all(np.abs(img.astype(int) - (166, 108, 255)) < 60, axis=2).sum()
    cyan = np.all(np.abs(img.astype(int) - (34, 211, 238)) < 60, axis=2).sum()
    assert violet > 20 and cyan > 10


def test_slice_charge_isosurface_and_glyphs(gl, tiny_results):
    from microsyn.render import Scene, preset

    sc = Scene.from_results(tiny_results, size=(320, 240), charge_iso=50.0, inset=False)
    sc.add_slice("conc_mM:Na+", normal="y", origin=(0, 0, 0), cmap="magma")
    sc.add_glyphs("vesicle", [(0.3, 0.3, 0.3)], 0.1)
    sc.add_glyphs("receptor", [(-0.3, 0.3, 0.0)], 0.05)
    try:
        img = sc.render_frame(5, preset("side", (0, 0, 0.2), 2.0))
        names = set(sc.p.actors)
    finally:
        sc.close()
    assert {"slice:0", "glyph:vesicle", "glyph:receptor"} <= names
    assert img.std() > 10


def test_sizes_and_bad_scene_input(gl):
    from microsyn.render import Scene, parse_size

    assert parse_size("720p") == (1280, 720) and parse_size("1080p") == (1920, 1080)
    assert parse_size("640x360") == (640, 360)
    for bad in ("huge", "12x12", "0x100", (1, 2, 3)):
        with pytest.raises(ParameterError):
            parse_size(bad)
    with pytest.raises(ParameterError, match="theme"):
        Scene(size=(64, 48), theme="neon")
