"""Issue 8, items 13-16: the render CLI writes what it says, the zoom keeps the ions in view, labels
draw square brackets, the legend lists only the species drawn."""
import os

import numpy as np
import pytest

from microsyn.errors import ParameterError

SIZE = (320, 240)


def _glyph(text, size_px=80):
    """The lit pixels of ``text`` drawn by Scene.text, cropped to their bounding box (bool array)."""
    from microsyn.render import Scene

    sc = Scene(size=(120, 120), scale_bar=False, legend=False)
    try:
        sc.text("probe", text, 30, 10, size_px)
        img = sc.render().astype(int)
    finally:
        sc.close()
    lit = np.abs(img - img[0, 0]).sum(2) > 200
    ys, xs = np.nonzero(lit)
    return lit[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def _top_and_side(g, side):
    """(fraction of the glyph's columns lit in its top 5 % of rows, fraction of its rows lit in its
    left or right quarter of columns)."""
    h, w = g.shape
    cols = g[:, : max(1, w // 4)] if side == "left" else g[:, w - max(1, w // 4):]
    return float(g[: max(1, h // 20)].any(0).mean()), float(cols.any(1).mean())


def test_square_brackets_are_drawn_not_parentheses(gl):
    """Ground truth: the shape of a square bracket, a straight stem (lit in every row of its outer
    quarter) with serifs (its top rows lit across the whole glyph). Measured: DejaVu "[" 1.0 and
    1.0, "(" 0.44 and 0.58; VTK 9.7's "arial" draws "[" as a parenthesis, 0.38 and 0.75. Tolerance:
    serif >= 0.9, stem >= 0.95, and the same test must reject "(" (serif < 0.7)."""
    top, stem = _top_and_side(_glyph("["), "left")
    assert top >= 0.9 and stem >= 0.95, f"'[' has no serif/stem (top {top:.2f}, stem {stem:.2f}): drawn as '('"
    top, stem = _top_and_side(_glyph("]"), "right")
    assert top >= 0.9 and stem >= 0.95, f"']' has no serif/stem (top {top:.2f}, stem {stem:.2f}): drawn as ')'"
    top, _ = _top_and_side(_glyph("("), "left")
    assert top < 0.7


def test_every_text_actor_uses_the_bracket_font(gl, tiny_results):
    """Title, caption, time stamp, scale bar, legend, voltage colour bar and slice colour bar all
    draw with DejaVu (reference: the font file fonts.font_file() names), none with VTK's arial."""
    import vtk

    from microsyn.render import Scene, preset
    from microsyn.render.fonts import font_file, text_properties

    sc = Scene.from_results(tiny_results, size=SIZE, title="[Na+] test", caption="V [mV]", inset=False)
    sc.add_slice("conc_mM:Na+", normal="y", title="[Na+] [mM]")
    try:
        sc.render_frame(5, preset("oblique", (0, 0, 0.1), 2.2))
        props = text_properties(sc.p.renderer)
    finally:
        sc.close()
    kinds = {d.split(" ")[0] for d, _ in props}
    assert {"text", "scalar", "legend"} <= kinds
    assert len([d for d, _ in props if d.startswith("scalar bar labels")]) == 2  # V and the slice
    for d, tp in props:
        assert tp.GetFontFamily() == vtk.VTK_FONT_FILE, d
        assert tp.GetFontFile() in (font_file(), font_file(mono=True)), d


def test_legend_lists_only_drawn_species(gl):
    """A simulation with Na+ and K+ where only Na+ has particles (as with an AMPA synapse coupled to
    a Simulation): the legend has the one entry Na+ (reference: the species with particles)."""
    import microsyn as ms
    from microsyn.render import Scene, preset

    dom = ms.Domain(ms.Box((-1, -1, -1), (1, 1, 1), name="box"),
                    holes=[ms.HalfSpace((0, 0, 0), (0, 0, -1), name="membrane")])
    sim = ms.Simulation(dom, dt=1e-5, species=["Na+", "K+"], seed=2)
    sim.release("Na+", n=300, at=(0, 0, 0.01))
    assert sim.count("K+") == 0
    sc = Scene.from_simulation(sim, size=SIZE)
    try:
        sim.run(2e-4)
        sc.show_simulation()
        sc.set_camera(preset("oblique", (0, 0, 0.2), 2.5))
        sc.render()
        leg = sc.p.legend
        entries = [leg.GetEntryString(i) for i in range(leg.GetNumberOfEntries())]
        assert entries == ["Na+"]
        sim.release("K+", n=50, at=(0.2, 0, 0.01))
        sim.run(1e-4)
        assert sim.count("K+") == 50
        sc.show_simulation()
        sc.render()
        leg = sc.p.legend
        assert [leg.GetEntryString(i) for i in range(leg.GetNumberOfEntries())] == ["Na+", "K+"]
    finally:
        sc.close()


def test_gif_frame_rate_is_exact_or_refused():
    """GIF delays are whole hundredths of a second (GIF89a spec): 25 fps is 4 cs, 20 fps 5 cs;
    30 fps cannot be stored, nor anything above 50 fps."""
    from microsyn.render.movie import gif_delay_cs, gif_size

    assert gif_delay_cs(25) == 4 and gif_delay_cs(20) == 5 and gif_delay_cs(50) == 2
    assert gif_delay_cs(100 / 3) == 3
    for bad in (30.0, 24.0, 60.0, 100.0):
        with pytest.raises(ParameterError, match="hundredths"):
            gif_delay_cs(bad)
    assert gif_size((1920, 1080)) == (1920, 1080) and gif_size((1920, 1080), 640) == (640, 360)
    with pytest.raises(ParameterError, match="GIF width"):
        gif_size((320, 240), 640)


def test_render_cli_gif_at_rendered_size_and_fps(gl, tiny_results, tmp_path, capsys):
    """--gif writes movie.gif at the rendered --size and plays at --fps (25 fps: 40 ms per frame,
    Pillow's reading of the GIF delay); the plan printed before rendering names size and fps."""
    from PIL import Image

    from microsyn.render.cli import main_render

    out = main_render([tiny_results, "--out", str(tmp_path), "--size", "320x240", "--fps", "25", "--gif",
                       "--frames", "4", "--no-antialias"])
    printed = capsys.readouterr().out
    assert out["gif"] == os.path.join(str(tmp_path), "movie.gif") and out["gif_size"] == SIZE
    assert "movie.gif (320x240, 25 fps)" in printed
    with Image.open(out["gif"]) as g:
        assert g.size == SIZE and g.n_frames == 4 and g.info["duration"] == 40
    assert "mp4" not in out and "png" not in out  # only what was asked for


def test_render_cli_gif_width_is_explicit(gl, tiny_results, tmp_path, capsys):
    """A smaller GIF only with --gif-width, and the printed plan says it is scaled down."""
    from PIL import Image

    from microsyn.render.cli import main_render

    out = main_render([tiny_results, "--out", str(tmp_path), "--size", "320x240", "--fps", "20", "--gif", "small.gif",
                       "--gif-width", "160", "--frames", "3", "--no-antialias"])
    assert "small.gif (160x120, scaled down from the rendered size, 20 fps)" in capsys.readouterr().out
    with Image.open(out["gif"]) as g:
        assert g.size == (160, 120) and g.info["duration"] == 50


def test_render_cli_default_writes_mp4_and_png_with_the_recorded_caption(gl, tiny_results, tmp_path, monkeypatch):
    """No output flag: OUT/movie.mp4 and OUT/frames/*.png, both at --size; the title and caption
    come from the results file's attributes (reference: the attrs written by ResultsWriter)."""
    import h5py
    import imageio_ffmpeg

    from microsyn.render import scene as scene_mod
    from microsyn.render.cli import main_render

    res = tmp_path / "cap.h5"
    res.write_bytes(open(tiny_results, "rb").read())
    with h5py.File(res, "a") as f:
        f.attrs["caption"] = "gold: Na+ [recorded caption]"
    seen = {}
    orig = scene_mod.Scene.from_results.__func__

    def spy(cls, results, **kw):
        seen.update(kw)
        return orig(cls, results, **kw)

    monkeypatch.setattr(scene_mod.Scene, "from_results", classmethod(spy))
    out = main_render([str(res), "--out", str(tmp_path / "o"), "--size", "320x240", "--frames", "3", "--quiet",
                       "--no-antialias"])
    assert seen["caption"] == "gold: Na+ [recorded caption]" and seen["title"] == "test run"
    assert out["mp4"] == os.path.join(str(tmp_path / "o"), "movie.mp4")
    assert tuple(next(imageio_ffmpeg.read_frames(out["mp4"]))["size"]) == SIZE
    assert len(out["png"]) == 3 and all(os.path.exists(p) for p in out["png"])


def test_render_cli_refuses_a_gif_fps_it_cannot_play(tiny_results, tmp_path):
    from microsyn.render.cli import main_render

    with pytest.raises(ParameterError, match="hundredths"):
        main_render([tiny_results, "--out", str(tmp_path), "--gif", "--fps", "30"])
    with pytest.raises(ParameterError, match="add --gif"):
        main_render([tiny_results, "--out", str(tmp_path), "--gif-width", "100"])


def test_fit_distance_keeps_points_in_the_view_frustum():
    """Reference: the pinhole projection; at the fitted distance the farthest point (quantile 1)
    sits exactly on the margin (tolerance 1e-9), closer and it leaves."""
    from microsyn.render.camera import fit_distance

    rng = np.random.default_rng(5)
    pts = rng.normal(size=(200, 3))
    d_dir = np.array([0.55, -0.8, 0.4]) / np.linalg.norm([0.55, -0.8, 0.4])
    d = fit_distance(pts, (0, 0, 0), d_dir, (0, 0, 1), 30.0, 16 / 9, margin=0.8, quantile=1.0)
    up = np.array([0, 0, 1.0]) - d_dir[2] * d_dir
    up /= np.linalg.norm(up)
    right = np.cross(up, d_dir)
    depth = d - pts @ d_dir
    t = np.tan(np.radians(15.0))
    fy = np.abs(pts @ up) / (depth * t)
    fx = np.abs(pts @ right) / (depth * t * 16 / 9)
    assert np.max(np.maximum(fx, fy)) == pytest.approx(0.8, abs=1e-9)


def test_cli_zoom_starts_at_the_pore_and_keeps_the_ions_in_view(gl, tiny_results):
    """The CLI's zoom: frame 0 looks at the channel glyph (reference: the glyph positions in the
    file), and on every frame at least 99 % of the drawn ions project inside the image (VTK's own
    world-to-display transform)."""
    import vtk

    from microsyn.render import Scene
    from microsyn.render.movie import zoom_to_fit
    from microsyn.results import ResultsFile

    with ResultsFile(tiny_results) as res:
        sc = Scene.from_results(res, size=SIZE, inset=False)
        try:
            times = np.linspace(res.times_ms[0], res.times_ms[-1], 6)
            cam = zoom_to_fit(sc, times)
            pore = res.glyphs["channel"]["positions_um"].mean(0)
            np.testing.assert_allclose(cam(0.0).focal_point, pore, atol=1e-12)
            coord = vtk.vtkCoordinate()
            coord.SetCoordinateSystemToWorld()
            for k, t in enumerate(times):
                fr = res.frame(res.index_at(t), lattice=False)
                pts = np.concatenate([p for p in fr.positions.values() if len(p)] or [np.zeros((0, 3))])
                if len(pts) == 0:
                    continue
                sc.set_camera(cam(k / (len(times) - 1)))
                sc.p.reset_camera_clipping_range()
                sc.p.render()
                inside = 0
                for p in pts[:: max(1, len(pts) // 500)]:
                    coord.SetValue(*map(float, p))
                    x, y = coord.GetComputedDoubleDisplayValue(sc.p.renderer)
                    inside += 0 <= x < SIZE[0] and 0 <= y < SIZE[1]
                n = len(pts[:: max(1, len(pts) // 500)])
                assert inside >= 0.99 * n, f"frame {k}: {n - inside} of {n} ions outside the image"
        finally:
            sc.close()


def test_render_cli_transparent_default_is_png_only(gl, tiny_results, tmp_path):
    """--transparent with no output flag writes RGBA PNG frames only (a movie has no alpha)."""
    from PIL import Image

    from microsyn.render.cli import main_render

    out = main_render([tiny_results, "--out", str(tmp_path), "--size", "320x240", "--transparent", "--frames", "2",
                       "--quiet", "--no-antialias"])
    assert "mp4" not in out and "gif" not in out and len(out["png"]) == 2
    with Image.open(out["png"][0]) as im:
        assert im.mode == "RGBA" and im.size == SIZE


@pytest.mark.parametrize("ions", [{}, {"Na+": np.zeros((3, 3)), "Ca2+": np.ones((3, 3))}])
def test_legend_fits_inside_the_image(gl, ions):
    """The legend (here one entry "channel", or three) ends inside the image: its box is within the
    viewport and the 4 rightmost pixel columns of the legend's rows are plain background."""
    from microsyn.render import Scene

    sc = Scene(size=(640, 360), scale_bar=False)
    try:
        sc.add_glyphs("channel", [(0, 0, 0)], 0.1)
        sc.set_ions(ions)
        img = sc.render().astype(int)
        leg = sc.p.legend
        x, y = leg.GetPosition()
        w, h = leg.GetPosition2()
    finally:
        sc.close()
    assert 0 < x and x + w < 1 and 0 < y and y + h < 1
    rows = img[: int(0.15 * 360), -4:]
    assert np.abs(rows - img[-1, 0]).sum(2).max() < 30
