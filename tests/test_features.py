"""Feature images: hand-computed references on 2-5 devices, then geometric properties."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from magical_prune.circuit import Circuit, DeviceType
from magical_prune.errors import MagicalPruneError, UnknownNameError
from magical_prune.features import (
    CHANNEL_NAMES,
    IMAGE_NAMES,
    FeatureConfig,
    add_coordinate_channels,
    extract,
    extract_many,
    rasterize,
)
from magical_prune.placement import Placement
from magical_prune.rasterize import RASTERIZERS, box_coverage, rasterize_polygons

N, P, C, R = DeviceType.NMOS, DeviceType.PMOS, DeviceType.CAP, DeviceType.RES


def make(devices, nets=None):
    """``devices``: name -> (type, rect nm); ``nets``: net -> [(device, pin, local box)]."""
    nets = nets or {}
    connections = {net: [(d, p) for d, p, _ in pins] for net, pins in nets.items()}
    circuit = Circuit.from_connections("t", connections, {n: t for n, (t, _) in devices.items()})
    local = {(d, p): box for pins in nets.values() for d, p, box in pins}
    rects = np.array([r for _, r in devices.values()], dtype=np.int64)
    return Placement.build(circuit, list(devices), rects, local)


# -- hand-computed references (4 x 4 pixels of 1 um) -------------------------------------------


def test_larger_coverage_wins_and_fractions():
    # bbox 0..4000 both axes -> 1000 nm pixels. M0 covers column 1 by .75, M1 by .25.
    p = make({"M0": (N, (0, 0, 1750, 1000)), "M1": (P, (1750, 0, 4000, 4000))})
    img = rasterize(p, size=4, channels={"M0": (1,), "M1": (1,)})
    expected = np.array(
        [
            [0.25, 0.25 * 0.75, 0.5, 0.5],  # row 0 = lowest y
            [0.0, 0.5 * 0.25, 0.5, 0.5],
            [0.0, 0.5 * 0.25, 0.5, 0.5],
            [0.0, 0.5 * 0.25, 0.5, 0.5],
        ]
    )
    np.testing.assert_allclose(img[1], expected, rtol=1e-6)
    assert not img[[0, 2, 3, 4, 5]].any()  # no nets, nothing in other sub-circuits


def test_equal_coverage_goes_to_larger_intensity_in_any_order():
    devices = {"C0": (C, (0, 0, 1500, 1000)), "M0": (N, (1500, 0, 4000, 4000))}
    ch = {"C0": (2,), "M0": (2,)}
    a = rasterize(make(devices), size=4, channels=ch)
    b = rasterize(make(dict(reversed(list(devices.items())))), size=4, channels=ch)
    assert a[2, 0, 1] == pytest.approx(0.75 * 0.5)  # C0 and M0 cover .5 each: the CAP wins
    np.testing.assert_array_equal(a, b)


def test_device_in_several_channels_appears_in_each():
    p = make({"M0": (N, (0, 0, 2000, 2000)), "R0": (R, (2000, 2000, 4000, 4000))})
    img = rasterize(p, size=2, channels={"M0": (1, 5), "R0": (3,)})
    np.testing.assert_array_equal(img[1], [[0.25, 0], [0, 0]])
    np.testing.assert_array_equal(img[5], img[1])
    np.testing.assert_array_equal(img[3], [[0, 0], [0, 1.0]])
    assert not img[2].any() and not img[4].any()  # empty channels are zeros


def two_nets():
    devices = {"M0": (N, (0, 0, 2000, 2000)), "M1": (N, (2000, 2000, 4000, 4000))}
    nets = {
        # pin boxes are device-local; net a spans 0..2000 both axes, net b 1000..4000
        "a": [("M0", "D", (0, 0, 100, 100)), ("M0", "S", (1900, 1900, 2000, 2000))],
        "b": [("M0", "G", (1000, 1000, 1100, 1100)), ("M1", "D", (1900, 1900, 2000, 2000))],
        "bulk": [("M0", "B", (0, 0, 2000, 2000)), ("M1", "B", (0, 0, 2000, 2000))],
    }
    return make(devices, nets)


def test_routing_demand_sums_over_nets_and_skips_bulk():
    p = two_nets()
    assert p.net_names == ("a", "b")
    img = rasterize(p, size=4, channels={})
    expected = np.array([[1, 1, 0, 0], [1, 2, 1, 1], [0, 1, 1, 1], [0, 1, 1, 1]], dtype=np.float32)
    np.testing.assert_array_equal(img[0], expected)


def test_paper_rasterizer_fills_whole_pixels():
    p = make(
        {"M0": (N, (0, 0, 1500, 1000)), "M1": (P, (2100, 2100, 4000, 4000))},
        {"n": [("M0", "D", (0, 0, 100, 100)), ("M1", "D", (0, 0, 100, 100))]},
    )
    img = rasterize(p, size=4, rasterizer="paper", channels={"M0": (1,), "M1": (1,)})
    expected = np.zeros((4, 4))
    expected[0, 0:2] = 0.25  # x 0..1.5 px -> columns floor(0)..ceil(1.5)-1 = 0, 1
    expected[2:4, 2:4] = 0.5  # 2.1..4 -> pixels 2, 3
    np.testing.assert_array_equal(img[1], expected)
    routing = np.zeros((4, 4))
    routing[0:3, 0:3] = 1  # net box 0..2.2 px -> pixels 0..2, +1 each
    np.testing.assert_array_equal(img[0], routing)


@pytest.mark.parametrize(
    "x, expected_columns",
    [
        (1500, {1: 1.0}),  # line in the middle of column 1 -> that column, full
        (1000, {0: 0.5, 1: 0.5}),  # on a pixel edge -> half to each side
        (4000, {3: 1.0}),  # on the image's right edge -> kept inside, last column
        (0, {0: 1.0}),
    ],
)
def test_aligned_pins_make_a_line_one_pixel_wide(x, expected_columns):
    # two pins of zero width at the same x: the net box is a vertical line from y=0 to 2000
    p = make(
        {"M0": (N, (0, 0, 4000, 1000)), "M1": (N, (0, 1000, 4000, 4000))},
        {"n": [("M0", "D", (x, 0, x, 100)), ("M1", "D", (x, 900, x, 1000))]},
    )
    img = rasterize(p, size=4, channels={})
    assert np.isfinite(img).all()
    expected = np.zeros((4, 4))
    for column, value in expected_columns.items():
        expected[0:2, column] = value
    np.testing.assert_allclose(img[0], expected)
    paper = rasterize(p, size=4, rasterizer="paper", channels={})
    assert paper[0].sum() == 2 and set(np.unique(paper[0])) == {0.0, 1.0}


def test_point_net_still_shows():
    p = make({"M0": (N, (0, 0, 4000, 4000))}, {"n": [("M0", "D", (2500, 2500, 2500, 2500))]})
    img = rasterize(p, size=4, channels={})
    assert img[0].sum() == pytest.approx(1.0)  # widened to one pixel on each axis
    assert img[0, 2, 2] == pytest.approx(1.0)


def test_coordinate_channels_as_specified():
    p = make({"M0": (N, (0, 0, 1000, 1000)), "M1": (P, (3000, 1000, 4000, 4000))})
    f = extract(p, size=4, channels={"M0": (1,), "M1": (2,)})
    assert f.shape == (6, 3, 4, 4) and f.dtype == np.float32
    ix, iy = CHANNEL_NAMES.index("coord_x"), CHANNEL_NAMES.index("coord_y")
    assert f[1, ix, 0, 0] == 0.25 and f[1, iy, 0, 0] == 0.25  # column 0, row 0 -> 1/4, not 0
    assert f[2, ix, 3, 3] == 1.0 and f[2, iy, 1, 3] == 0.5
    on = f[:, 0] != 0
    assert not f[:, 1:][np.broadcast_to(~on[:, None], f[:, 1:].shape)].any()
    assert f[0].max() == 0  # no nets -> routing image and its coordinates are zero


def test_single_device_fills_the_image():
    p = make({"R0": (R, (5, 7, 905, 3007))})
    img = rasterize(p, size=8, channels={"R0": (3,)})
    np.testing.assert_array_equal(img[3], np.ones((8, 8)))


def test_devices_in_one_row_of_equal_height():
    devices = {f"M{i}": (N, (1000 * i, 0, 1000 * i + 1000, 500)) for i in range(5)}
    img = rasterize(make(devices), size=5, channels={n: (1,) for n in devices})
    np.testing.assert_allclose(img[1], np.full((5, 5), 0.25))


def test_channel_id_out_of_range_is_an_error():
    p = make({"M0": (N, (0, 0, 10, 10))})
    with pytest.raises(MagicalPruneError, match="sub-circuit 7"):
        rasterize(p, size=4, channels={"M0": (7,)})


def test_rasterizers_by_name():
    assert RASTERIZERS.names() == ["exact", "paper"]
    with pytest.raises(UnknownNameError, match="did you mean exact"):
        rasterize(make({"M0": (N, (0, 0, 10, 10))}), size=4, rasterizer="exakt", channels={})


def test_feature_config():
    cfg = FeatureConfig(size=32, rasterizer="paper")
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg
    assert FeatureConfig.from_dict({}) == FeatureConfig(64, "exact")
    assert FeatureConfig.from_dict({"size": np.int64(16), "rasterizer": b"paper"}) == FeatureConfig(
        16, "paper"
    )
    with pytest.raises(MagicalPruneError, match="unknown feature setting"):
        FeatureConfig.from_dict({"size": 64, "colour": "red"})
    with pytest.raises(MagicalPruneError, match="at least 1"):
        FeatureConfig(size=0)
    with pytest.raises(UnknownNameError):
        FeatureConfig(rasterizer="papr")


def test_names():
    assert IMAGE_NAMES == ("routing", "first_stage", "other_stages", "feedback", "cmfb", "bias")
    assert CHANNEL_NAMES == ("intensity", "coord_x", "coord_y")


def test_shapes_dtypes_and_batches():
    p = two_nets()
    ch = {"M0": (1,), "M1": (2,)}
    img = rasterize(p, size=16, channels=ch)
    assert img.shape == (6, 16, 16) and img.dtype == np.float32
    batch = np.stack([img, img[::-1]])[None].repeat(3, axis=0)  # (3, 2, 6, 16, 16)
    coords = add_coordinate_channels(batch)
    assert coords.shape == (3, 2, 6, 3, 16, 16) and coords.dtype == np.float32
    np.testing.assert_array_equal(coords[1, 0], extract(p, size=16, channels=ch))
    with pytest.raises(MagicalPruneError):
        add_coordinate_channels(np.zeros((4, 4)))


def test_extract_many_uses_the_circuit_channels():
    p = two_nets()
    p.circuit.channel_overrides = {"M0": (1,), "M1": (2,)}  # as a .channel file would
    many = extract_many([p, p.translated(3, 4)], size=8)
    assert many.shape == (2, 6, 3, 8, 8) and many.dtype == np.float32
    np.testing.assert_array_equal(many[0], extract(p, size=8, channels={"M0": (1,), "M1": (2,)}))
    np.testing.assert_array_equal(many[0], many[1])


def test_non_rectangular_shape_uses_polygon_coverage():
    # an L-shaped device = two rectangles: its image equals the two rectangles side by side
    l_shape = shapely.union(shapely.box(0, 0, 4000, 1000), shapely.box(0, 1000, 1000, 4000))
    p = make({"M0": (N, (0, 0, 4000, 4000))})
    img = rasterize(p, size=8, channels={"M0": (1,)}, shapes={"M0": l_shape})
    parts = make({"A": (N, (0, 0, 4000, 1000)), "B": (N, (0, 1000, 1000, 4000))})
    ref = rasterize(parts, size=8, channels={"A": (1,), "B": (1,)})
    np.testing.assert_allclose(img[1], ref[1], atol=1e-6)
    assert img[1].sum() / 0.25 * (500 * 500) == pytest.approx(l_shape.area)  # area conserved
    paper = rasterize(p, size=8, rasterizer="paper", channels={"M0": (1,)}, shapes={"M0": l_shape})
    assert set(np.unique(paper[1])) == {0.0, 0.25}
    with pytest.raises(MagicalPruneError, match="zero area"):
        rasterize(
            p, size=8, channels={"M0": (1,)}, shapes={"M0": shapely.LineString([(0, 0), (1, 1)])}
        )


# -- properties -------------------------------------------------------------------------------

coord = st.integers(-50_000, 50_000)
extent = st.integers(1, 20_000)
rect = st.tuples(coord, coord, extent, extent).map(lambda t: (t[0], t[1], t[0] + t[2], t[1] + t[3]))
kinds = st.sampled_from(list(DeviceType))


@st.composite
def placements(draw, min_devices=1, max_devices=5):
    n = draw(st.integers(min_devices, max_devices))
    devices = {f"D{i}": (draw(kinds), draw(rect)) for i in range(n)}
    channels = {
        d: tuple(draw(st.sets(st.integers(1, 5), max_size=2))) for d in devices
    }  # fmt: skip
    nets = {}
    for k in range(draw(st.integers(0, 3))):
        pins = []
        for d in draw(
            st.lists(st.sampled_from(list(devices)), min_size=1, max_size=3, unique=True)
        ):
            t, (x0, y0, x1, y1) = devices[d]
            w, h = x1 - x0, y1 - y0
            a, b = draw(st.integers(0, w)), draw(st.integers(0, h))
            c, e = draw(st.integers(a, w)), draw(st.integers(b, h))  # may have zero size
            pins.append((d, "D" if t.is_mos else "PLUS", (a, b, c, e)))
        nets[f"n{k}"] = pins
    return make(devices, nets), channels


def scaled(p, k):
    devices = {
        n: (t, tuple(int(v) * k for v in r))
        for n, t, r in zip(p.names, p.device_types(), p.rects)
    }  # fmt: skip
    nets = {}
    for j, net in enumerate(p.net_names):
        pins = []
        for i in p.net_pins[p.net_ptr[j] : p.net_ptr[j + 1]]:
            d = p.pin_device[i]
            box = (p.pin_boxes[i] - np.tile(p.rects[d, :2], 2)) * k
            pins.append((p.names[d], p.pin_names[i], tuple(int(v) for v in box)))
        nets[net] = pins
    return make(devices, nets)


@settings(max_examples=60, deadline=None)
@given(placements(), st.sampled_from(["exact", "paper"]), st.integers(1, 24))
def test_translation_scaling_and_order_do_not_change_features(pc, raster, size):
    p, ch = pc
    ref = extract(p, size, raster, channels=ch)
    assert np.isfinite(ref).all() and ref.min() >= 0
    np.testing.assert_array_equal(
        extract(p.translated(-777, 12345), size, raster, channels=ch), ref
    )
    np.testing.assert_array_equal(extract(scaled(p, 7), size, raster, channels=ch), ref)
    order = np.arange(len(p))[::-1]
    reordered = make(
        {p.names[i]: (p.device_types()[i], tuple(p.rects[i])) for i in order},
        {},
    )
    np.testing.assert_array_equal(rasterize(reordered, size, raster, channels=ch)[1:], ref[1:, 0])
    np.testing.assert_array_equal(extract(p, size, raster, channels=ch), ref)  # deterministic


@settings(max_examples=60, deadline=None)
@given(rect, st.lists(rect, max_size=3), kinds, st.integers(1, 40))
def test_exact_coverage_conserves_area(box, others, kind, size):
    devices = {"X": (kind, box)} | {f"O{i}": (N, r) for i, r in enumerate(others)}
    p = make(devices)
    img = rasterize(p, size, channels={"X": (1,)} | {f"O{i}": (2,) for i in range(len(others))})
    xlo, ylo, xhi, yhi = p.bbox
    pixel_area = (xhi - xlo) / size * (yhi - ylo) / size
    area = (box[2] - box[0]) * (box[3] - box[1])
    total = img[1].astype(np.float64).sum() / kind.intensity * pixel_area
    assert total == pytest.approx(area, rel=1e-5)
    assert img[1].max() <= kind.intensity * (1 + 1e-6)


@settings(max_examples=40, deadline=None)
@given(placements(min_devices=2), st.integers(1, 24))
def test_paper_pixels_are_whole(pc, size):
    p, ch = pc
    img = rasterize(p, size, "paper", channels=ch)
    assert set(np.unique(img[1:])) <= {0.0, 0.25, 0.5, 0.75, 1.0}
    np.testing.assert_array_equal(img[0], np.rint(img[0]))
    exact = rasterize(p, size, "exact", channels=ch)
    np.testing.assert_array_equal(exact[1:] > 0, img[1:] > 0)  # same pixels touched


@settings(max_examples=40, deadline=None)
@given(placements(), st.integers(1, 24))
def test_coordinate_channels_follow_the_image(pc, size):
    p, ch = pc
    f = extract(p, size, channels=ch)
    on = f[:, 0] != 0
    cols = (np.arange(size) + 1) / size
    np.testing.assert_allclose(f[:, 1], np.where(on, cols[None, None, :], 0), rtol=1e-6)
    np.testing.assert_allclose(f[:, 2], np.where(on, cols[None, :, None], 0), rtol=1e-6)
    assert ((f[:, 1:] > 0) == on[:, None]).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(rect, min_size=1, max_size=4), st.integers(1, 16))
def test_polygon_coverage_matches_separable_boxes(boxes, size):
    boxes = np.array(boxes, dtype=np.int64)
    bounds = np.concatenate([boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)])
    separable = box_coverage(boxes, bounds, size)
    polygons = rasterize_polygons(shapely.box(*boxes.T), bounds, size)
    np.testing.assert_allclose(polygons, separable, atol=1e-7)
