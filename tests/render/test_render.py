"""Rendering: small-image regression, PNG determinism, MP4/GIF read back, the render CLI and its errors.

Image regression: ``pyvista.compare_images(..., use_vtk=False)``, the mean over pixels of the
absolute RGB difference summed over channels (0 to 765), against baselines in
``tests/render/baseline/`` (320x240); tolerance ``IMAGE_TOLERANCE`` = 5. For scale, measured here:
leaving out the inset gives 11, leaving out the isosurfaces 31, the next frame 155. Rebuild
the baselines after an intended change with ``MICROSYN_UPDATE_BASELINES=1 pytest tests/render``.
"""
import os

import numpy as np
import pytest

from microsyn.errors import ParameterError

BASELINE = os.path.join(os.path.dirname(__file__), "baseline")
#: mean per-pixel error (RGB summed, 0-765) allowed: catches a missing layer, a wrong colour or a
#: moved camera; tolerates small rasterizer differences (same Mesa llvmpipe gives 0 here)
IMAGE_TOLERANCE = 5.0
SIZE = (320, 240)


def _scene(path, **kw):
    from microsyn.render import Scene

    kw.setdefault("size", SIZE)
    return Scene.from_results(path, title="test run", caption="gold: Na+  green: Cl-", **kw)


def _check_baseline(img, name):
    import pyvista as pv

    from microsyn.render import write_png

    ref = os.path.join(BASELINE, name)
    if os.environ.get("MICROSYN_UPDATE_BASELINES") or not os.path.exists(ref):
        if os.environ.get("CI") and not os.path.exists(ref):
            pytest.fail(f"baseline {ref} is missing")
        write_png(ref, img)
    from PIL import Image

    with Image.open(ref) as im:
        ref_img = np.asarray(im.convert("RGB"))
    err = pv.compare_images(np.ascontiguousarray(img), ref_img, use_vtk=False)
    assert err <= IMAGE_TOLERANCE, f"{name}: image error {err:.2f} > {IMAGE_TOLERANCE}"
    return err


def test_frame_matches_baseline(gl, tiny_results):
    from microsyn.render import preset

    sc = _scene(tiny_results)
    try:
        img = sc.render_frame(5, preset("oblique", (0, 0, 0.1), 2.2))
    finally:
        sc.close()
    assert img.shape == (240, 320, 3)
    _check_baseline(img, "oblique_frame5.png")
    # ions drawn in their colours: gold Na+ and green Cl- pixels are present
    gold = np.all(np.abs(img.astype(int) - (255, 176, 0)) < 60, axis=2).sum()
    green = np.all(np.abs(img.astype(int) - (61, 220, 132)) < 60, axis=2).sum()
    assert gold > 30 and green > 5


def test_top_view_white_theme_matches_baseline(gl, tiny_results):
    from microsyn.render import preset

    sc = _scene(tiny_results, theme="white", inset=False)
    sc.set_clip((0, -1, 0), (0, 0, 0))  # look inside: cut away y < 0
    try:
        img = sc.render_frame(3, preset("top", (0, 0, 0), 2.0))
    finally:
        sc.close()
    assert img[2, 2].tolist() == [255, 255, 255]
    _check_baseline(img, "top_white_clipped_frame3.png")


def test_png_is_deterministic(gl, tiny_results, tmp_path):
    from microsyn.render import preset

    paths = []
    for k in range(2):
        sc = _scene(tiny_results)
        try:
            sc.render_frame(4, preset("side", (0, 0, 0.2), 2.0))
            p = tmp_path / f"a{k}.png"
            sc.screenshot(p)
        finally:
            sc.close()
        paths.append(p)
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_transparent_background(gl, tiny_results):
    sc = _scene(tiny_results, transparent=True, inset=False)
    try:
        img = sc.render_frame(2)
    finally:
        sc.close()
    assert img.shape == (240, 320, 4)
    assert img[5, 5, 3] == 0 and img[:, :, 3].max() == 255


def test_mp4_and_gif_read_back(gl, tiny_results, tmp_path):
    import imageio_ffmpeg
    from PIL import Image

    from microsyn.render import Orbit, Timeline, render_movie

    sc = _scene(tiny_results)
    try:
        out = render_movie(sc, tmp_path, timeline=Timeline(0.0, 0.01, n_frames=9), camera=Orbit((0, 0, 0.1), 2.0),
                           mp4="m.mp4", gif="m.gif", png=True, fps=10, progress=False)
    finally:
        sc.close()
    gen = imageio_ffmpeg.read_frames(out["mp4"])
    meta = next(gen)
    assert meta["codec"] == "h264"
    assert meta["pix_fmt"].startswith("yuv420p")
    assert tuple(meta["size"]) == SIZE
    assert meta["fps"] == pytest.approx(10)
    assert sum(1 for _ in gen) == 9
    with Image.open(out["gif"]) as g:
        assert g.n_frames == 9 and g.size == SIZE and g.info["duration"] == 100  # 10 fps, as the MP4
    assert len(out["png"]) == 9


def test_slow_motion_timeline():
    from microsyn.render import Timeline

    tl = Timeline(0.0, 0.01, fps=25, slow_motion=1e5)  # 10 us in 1 s of movie
    assert len(tl) == 26
    assert tl.times_ms[1] == pytest.approx(4e-4)


def test_render_cli(gl, tiny_results, tmp_path):
    import imageio_ffmpeg

    from microsyn.render.cli import main_render

    out = main_render([tiny_results, "--out", str(tmp_path), "--mp4", "x.mp4", "--size", "320x240", "--fps", "10",
                       "--camera", "zoom", "--frames", "8", "--species", "Na+", "--vtk", "--quiet"])
    meta = next(imageio_ffmpeg.read_frames(out["mp4"]))
    assert tuple(meta["size"]) == SIZE and meta["codec"] == "h264"
    assert out["n_frames"] == 8
    assert os.path.exists(out["pvd"])


@pytest.mark.parametrize("argv, match", [
    (["missing.h5"], "does not exist"),
    (["{junk}"], "not an HDF5 file"),
    (["{res}", "--size", "big"], "not understood"),
    (["{res}", "--size", "321x240", "--mp4", "a.mp4"], "even width and height"),
    (["{res}", "--species", "K+", "--png"], "not in"),
    (["{res}", "--transparent", "--gif"], "PNG frames only"),
])
def test_render_cli_bad_input(tiny_results, tmp_path, argv, match):
    from microsyn.render.cli import main_render

    junk = tmp_path / "junk.h5"
    junk.write_text("hello")
    argv = [a.format(res=tiny_results, junk=junk) for a in argv]
    with pytest.raises(ParameterError, match=match):
        main_render(argv + ["--out", str(tmp_path / "o")])


def test_annotation_units():
    from microsyn.render import TimeFormatter, format_length, nice_length

    assert TimeFormatter(0.05)(0.0123) == "t = 12.3 \u00b5s"
    assert TimeFormatter(20.0)(3.5) == "t =  3.5 ms"
    assert TimeFormatter(2e-5)(1e-5) == "t = 10.0 ns"
    assert nice_length(0.37) == 0.2 and nice_length(7.0) == 5.0
    assert format_length(0.05) == "50 nm" and format_length(2.0) == "2 \u00b5m"


def test_camera_paths():
    from microsyn.render import Orbit, Zoom, camera_path

    z = Zoom((0, 0, 0), 0.02, 2.0, hold=0.0)
    assert z(0).distance == pytest.approx(0.02) and z(1).distance == pytest.approx(2.0)
    assert z(0.5).distance == pytest.approx(0.2)
    o = Orbit((0, 0, 0), 1.0, degrees=360)
    np.testing.assert_allclose(o(0).position, o(1).position, atol=1e-12)
    with pytest.raises(ParameterError, match="unknown camera"):
        camera_path("fisheye")
