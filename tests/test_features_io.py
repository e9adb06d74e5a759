"""Feature files and pictures: .npz round trip, byte-identical output, PNGs north up."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

from magical_prune.circuit import Circuit, DeviceType
from magical_prune.errors import MagicalPruneError
from magical_prune.features import IMAGE_NAMES, FeatureConfig, FeatureStack
from magical_prune.placement import Placement
from magical_prune.plots import CONTACT_SHEET, feature_png_paths, save_feature_pngs


@pytest.fixture
def stack() -> FeatureStack:
    # an NMOS at the bottom (first stage) and a PMOS at the top (bias), one net between them
    circuit = Circuit.from_connections(
        "two", {"n": [("M0", "D"), ("M1", "D")]}, {"M0": DeviceType.NMOS, "M1": DeviceType.PMOS},
        channel_overrides={"M0": (1,), "M1": (5,)},
    )
    rects = np.array([[0, 0, 4000, 1000], [0, 3000, 4000, 4000]])
    pins = {("M0", "D"): (0, 0, 500, 500), ("M1", "D"): (0, 500, 500, 1000)}
    placement = Placement.build(circuit, ["M0", "M1"], rects, pins)
    return FeatureStack.from_placement(placement, FeatureConfig(size=8))


def test_stack_views(stack):
    assert stack.array.shape == (6, 3, 8, 8) and stack.array.dtype == np.float32
    flat = stack.as_2d()
    assert flat.shape == (18, 8, 8)
    np.testing.assert_array_equal(flat[3 * 5], stack.image("bias")[0])  # image-major order
    assert stack.image("first_stage")[0, 0].tolist() == [0.25] * 8  # bottom row
    assert stack.config == FeatureConfig(8, "exact")
    with pytest.raises(MagicalPruneError, match="no image"):
        stack.image("routing_demand")
    with pytest.raises(MagicalPruneError, match="must be"):
        FeatureStack(np.zeros((6, 3, 4, 4), np.float32), size=8, rasterizer="exact")


def test_npz_round_trip_is_byte_identical(stack, tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    stack.save(a)
    stack.save(b)
    assert a.read_bytes() == b.read_bytes()
    with np.load(a) as data:
        assert data["features"].dtype == np.float32 and data["features"].shape == (6, 3, 8, 8)
        assert tuple(data["names"]) == IMAGE_NAMES
    back = FeatureStack.load(a)
    np.testing.assert_array_equal(back.array, stack.array)
    assert (back.size, back.rasterizer, back.names) == (8, "exact", IMAGE_NAMES)


def test_bad_feature_files(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_text("not a zip")
    with pytest.raises(MagicalPruneError, match="junk.npz"):
        FeatureStack.load(junk)
    other = tmp_path / "other.npz"
    np.savez(other, something=np.zeros(3))
    with pytest.raises(MagicalPruneError, match="not a feature file"):
        FeatureStack.load(other)


def test_pngs_are_north_up_and_deterministic(stack, tmp_path):
    paths = save_feature_pngs(stack.array, tmp_path / "a", scale=2, title="two")
    assert paths == feature_png_paths(tmp_path / "a")
    assert [p.name for p in paths] == [f"{n}.png" for n in IMAGE_NAMES] + [CONTACT_SHEET]
    bias = imread(paths[IMAGE_NAMES.index("bias")])
    assert bias.shape[:2] == (16, 16)
    # the PMOS lies at the top of the layout: the top PNG row is coloured, the bottom is not
    assert not np.allclose(bias[0], bias[-1])
    np.testing.assert_allclose(bias[-1], np.broadcast_to(bias[-1][0], bias[-1].shape))  # one colour
    first = imread(paths[IMAGE_NAMES.index("first_stage")])
    np.testing.assert_allclose(first[0], bias[-1])  # empty top of first_stage = background
    sheet = imread(paths[-1])
    assert sheet.ndim == 3 and sheet.shape[0] > 100
    again = save_feature_pngs(stack.array, tmp_path / "b", scale=2, title="two")
    for p, q in zip(paths, again):
        assert p.read_bytes() == q.read_bytes()
