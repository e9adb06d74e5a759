"""Explanations: CAM evidence adds up to the decision, shares, hotspot in µm, Grad-CAM, plot."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pruning_fixtures import SIZE

from magical_prune.adapters.magical import load_placement
from magical_prune.circuit import Circuit, Device, DeviceType
from magical_prune.errors import MagicalPruneError
from magical_prune.explain import _hotspot, activation_map, explain, plot_explanation
from magical_prune.features import IMAGE_NAMES, FeatureStack, extract
from magical_prune.models import create_model
from magical_prune.placement import Placement
from magical_prune.predict import Predictor


@pytest.fixture(scope="module")
def placement(tiny, predictor):
    """The first layout the tiny model would prune (so there is evidence for pruning to
    share out; a confidently kept layout can have none anywhere)."""
    loaded = [load_placement(p) for p in tiny.layouts[:20]]
    scores = predictor.score(loaded)
    return loaded[
        int(np.argmax(scores >= 0.5)) if (scores >= 0.5).any() else int(np.argmax(scores))
    ]


def test_evidence_adds_up_to_the_logit_difference(predictor, placement):
    """mean(CAM_prune - CAM_keep) + (b_prune - b_keep) = logit_prune - logit_keep."""
    x = extract(placement, SIZE)[None]
    evidence, method = activation_map(predictor, x)
    assert method == "cam" and evidence.shape == (1, 6, SIZE, SIZE)
    with torch.no_grad():
        logits = predictor.model(torch.from_numpy(x))[0]
    bias = predictor.model.fc.bias.detach()
    expected = float(logits[1] - logits[0] - (bias[1] - bias[0]))
    assert float(evidence.mean()) == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_explanation_shares_hotspot_and_score(predictor, placement):
    e = explain(predictor, placement)
    assert e.score == pytest.approx(predictor.score(placement)[0])
    assert list(e.shares) == list(IMAGE_NAMES)
    assert sum(e.shares.values()) == pytest.approx(1.0) and min(e.shares.values()) >= 0
    positive = np.clip(e.evidence, 0, None).sum(axis=(1, 2))
    np.testing.assert_allclose([e.shares[n] for n in IMAGE_NAMES], positive / positive.sum(),
                               rtol=1e-6)  # fmt: skip
    spot = e.hotspot
    assert e.evidence[IMAGE_NAMES.index(spot["image"]), spot["row"], spot["col"]] == (
        pytest.approx(e.evidence.max())
    )
    xlo, ylo, xhi, yhi = e.bbox_um
    assert xlo <= spot["x_um"] <= xhi and ylo <= spot["y_um"] <= yhi
    d = e.to_dict()
    assert d["decision"] in ("prune", "keep") and d["method"] == "cam"


def test_hotspot_position_by_hand():
    devices = [Device("M0", DeviceType.NMOS, ("a", "b", "c", "VSS"), "nch"),
               Device("M1", DeviceType.NMOS, ("a", "b", "c", "VSS"), "nch")]  # fmt: skip
    circuit = Circuit.from_devices("two", devices, channel_overrides={"M0": (1,), "M1": (2,)})
    # bbox 0..8 um x 0..4 um; M1 covers x 4..8, y 0..4
    rects = np.array([[0, 0, 4000, 2000], [4000, 0, 8000, 4000]])
    placement = Placement.build(circuit, ["M0", "M1"], rects, {})
    evidence = np.zeros((6, 4, 4), np.float32)
    evidence[2, 1, 3] = 5.0  # other_stages image, row 1 (y 1..2 um), column 3 (x 6..8 um)
    spot = _hotspot(evidence, placement)
    assert spot == {"image": "other_stages", "row": 1, "col": 3, "evidence": 5.0,
                    "x_um": 7.0, "y_um": 1.5, "devices": ["M1"], "others": []}  # fmt: skip
    assert "x_um" not in _hotspot(evidence, None)


def _three_devices() -> Placement:
    """Input pair M1/M2 (first stage) and compensation capacitor CC1 (feedback) on a
    10 x 4 um area of 10 x 4 one-um pixels: M1 at x 0..2, CC1 at x 4..6, M2 at x 8..10."""
    devices = [Device("M1", DeviceType.NMOS, ("o1", "inp", "t", "VSS"), "nch"),
               Device("M2", DeviceType.NMOS, ("o2", "inm", "t", "VSS"), "nch"),
               Device("CC1", DeviceType.CAP, ("o1", "o2"))]  # fmt: skip
    overrides = {"M1": (1,), "M2": (1,), "CC1": (3,)}
    circuit = Circuit.from_devices("pair", devices, channel_overrides=overrides)
    rects = np.array([[0, 0, 2000, 4000], [8000, 0, 10000, 4000], [4000, 0, 6000, 4000]])
    return Placement.build(circuit, ["M1", "M2", "CC1"], rects, {})


def test_hotspot_names_only_devices_of_its_sub_circuit():
    placement = _three_devices()
    evidence = np.zeros((6, 4, 10), np.float32)
    evidence[1, 2, 1] = 3.0  # first_stage image, over M1
    spot = _hotspot(evidence, placement)
    assert spot["devices"] == ["M1"] and "note" not in spot
    evidence[1, 2, 1], evidence[1, 2, 4] = 0.0, 3.0  # first_stage image, over CC1 only
    spot = _hotspot(evidence, placement)
    assert spot["devices"] == [] and spot["others"] == ["CC1"]  # CC1 is not first stage
    assert spot["nearest"] == {"device": "M1", "distance_um": 2.5}  # pixel centre x = 4.5
    assert "empty space" in spot["note"] and "first_stage" in spot["note"]
    assert spot["nearby"] == []  # the hot area is that one pixel
    evidence[1, 2, 5:9] = 2.0  # the hot area reaches M2 (x 8..9), not M1
    spot = _hotspot(evidence, placement)
    assert spot["nearby"] == ["M2"] and spot["strongest"] == "M2"


def test_hotspot_in_an_image_with_no_devices_says_so():
    evidence = np.zeros((6, 4, 10), np.float32)
    evidence[4, 0, 0] = 1.0  # cmfb: the placement has none
    spot = _hotspot(evidence, _three_devices())
    assert spot["devices"] == [] and spot["others"] == ["M1"]
    assert "no cmfb device" in spot["note"] and "nearest" not in spot


def test_hotspot_in_routing_names_any_device():
    evidence = np.zeros((6, 4, 10), np.float32)
    evidence[0, 3, 5] = 1.0
    assert _hotspot(evidence, _three_devices())["devices"] == ["CC1"]


def test_hotspot_text_line():
    from magical_prune.cli.explain_cmd import hotspot_line

    evidence = np.zeros((6, 4, 10), np.float32)
    evidence[1, 2, 4] = 3.0
    line = hotspot_line(_hotspot(evidence, _three_devices()))
    assert line.startswith("hotspot in first_stage at (4.500, 2.500) µm: no first_stage device")
    assert "nearest M1, 2.500 µm away" in line and "other sub-circuits: CC1" in line
    evidence[1, 2, 4], evidence[1, 1, 9] = 0.0, 3.0
    assert hotspot_line(_hotspot(evidence, _three_devices())).endswith(": M2")


def test_no_positive_evidence_gives_zero_shares(tiny, tmp_path):
    predictor = Predictor.load(tiny.model)
    with torch.no_grad():
        predictor.model.fc.weight.zero_()
    e = explain(predictor, FeatureStack(np.zeros((6, 3, SIZE, SIZE), np.float32), SIZE, "exact"))
    assert set(e.shares.values()) == {0.0} and e.bbox_um is None
    assert "x_um" not in e.hotspot


def test_gradcam_for_feat3d_and_refusal_for_folded_sets(placement):
    torch.manual_seed(0)
    meta = {"arch": "feat3d", "image_size": 32, "channel_order": list(IMAGE_NAMES)}
    p3 = Predictor(create_model("feat3d", image_size=32), meta)
    evidence, method = activation_map(p3, extract(placement, 32))
    assert method == "gradcam" and evidence.shape == (1, 6, 32, 32)
    assert np.isfinite(evidence).all() and np.abs(evidence).max() > 0
    e = explain(p3, placement)
    assert sum(e.shares.values()) == pytest.approx(1.0)
    p2 = Predictor(create_model("feat2d", image_size=32), {**meta, "arch": "feat2d"})
    with pytest.raises(MagicalPruneError, match="cannot be split by sub-circuit"):
        explain(p2, placement)


def test_plot_is_written_and_deterministic(tmp_path, predictor, placement):
    e = explain(predictor, placement)
    a = plot_explanation(e, tmp_path / "a.png")
    b = plot_explanation(e, tmp_path / "b.png")
    assert a.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert a.read_bytes() == b.read_bytes()
