"""The model card: read from every model file, old or new, and written back losing nothing."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from magical_prune.card import CARD_VERSION, DataRecord, LabelSpec, ModelCard
from magical_prune.checkpoint import (
    FORMAT,
    check_fits,
    load_model,
    read_checkpoint,
    read_model,
    save_checkpoint,
    save_model,
)
from magical_prune.errors import CheckpointError
from magical_prune.features import IMAGE_NAMES
from magical_prune.models import create_model
from magical_prune.predict import Predictor, bundled_model_path

SIZE = 16
#: what a model file written before the card existed holds (card version 1)
V1_META = {
    "arch": "efficient",
    "model_kwargs": {"stem_channels": 8},
    "image_size": SIZE,
    "channel_order": list(IMAGE_NAMES),
    "feature_config": {"size": SIZE, "rasterizer": "exact"},
    "label": {"source": "metric", "metric": "CMRR", "better": "larger", "worst_percent": 25.0,
              "balanced": False, "critical_value": 80.5, "best_value": 101.0},
    "threshold": 0.42,
    "data": {"path": "d.h5", "design": "ota2", "content_hash": "ab" * 32, "n_layouts": 100,
             "n_train": 70, "n_test": 20, "alpha": 0.7, "test_fraction": 0.2, "split_seed": 3},
    "package_version": "0.0.9",
    "train_config": {"arch": "efficient", "split_seed": 3, "test_fraction": 0.2},
    "parent": None,
    "test_metrics": {"accuracy": 0.9},
    "history": [{"epoch": 1, "loss": 0.5}],
    "calibration": {"threshold": 0.42, "target_for": 0.1, "feasible": True, "split": "test",
                    "data": {"n_calibration": 20, "design": "ota2"}},
}  # fmt: skip


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("efficient", image_size=SIZE, stem_channels=8).eval()


def _contains(big: object, small: object) -> bool:
    """``small``'s values are all in ``big`` (which may add keys, e.g. fields left None)."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(_contains(big.get(k), v) for k, v in small.items())
    return big == small


def _raw(path, meta) -> None:  # noqa: ANN001
    """A model file with exactly ``meta`` (no defaults added)."""
    torch.save({"format": FORMAT, "format_version": 1, "meta": meta, "state_dict": {}}, path)


def test_bundled_card_round_trips() -> None:
    _, card = read_model(bundled_model_path())
    assert ModelCard.from_meta(card.to_meta()) == card
    assert card.arch == "efficient" and card.image_size == 64 and card.family == "cnn"
    assert card.metric == "Offset_Voltage" and card.calibrated_for == 0.08
    assert card.calibration is not None and card.calibration.on.design == "ota1"
    assert card.test_split == (0, 0.2)


def test_v1_metadata_reads_with_the_same_values() -> None:
    card = ModelCard.from_meta(V1_META)
    assert card.arch == "efficient" and dict(card.model_kwargs) == {"stem_channels": 8}
    assert card.inputs.kind == "images" and card.image_size == SIZE
    assert card.channel_order == IMAGE_NAMES and card.inputs.rasterizer == "exact"
    assert card.label == LabelSpec.from_dict(V1_META["label"])
    assert card.label.metric == "CMRR" and card.label.critical_value == 80.5
    assert card.threshold == 0.42 and card.package_version == "0.0.9"
    assert card.data == DataRecord.from_dict(V1_META["data"]) and card.design == "ota2"
    assert card.calibration.target_for == 0.1 and card.calibration.on.n_calibration == 20
    assert card.test_split == (3, 0.2) and card.history[0]["loss"] == 0.5
    assert card.parent is None and card.extra == {}
    # written as version 2: the same values, plus the card's own keys
    meta = card.to_meta()
    assert meta["card_version"] == CARD_VERSION and meta["input_kind"] == "images"
    assert _contains(meta, V1_META)
    assert ModelCard.from_meta(meta) == card


def test_unknown_keys_survive_a_save_and_load(tmp_path, model) -> None:  # noqa: ANN001
    newer = {**V1_META, "future": {"kind": "ensemble", "members": [1, 2]},
             "label": {**V1_META["label"], "quantile_method": "rank"}}  # fmt: skip
    first = save_checkpoint(tmp_path / "newer.pt", model, newer)
    _, card = read_model(first)
    assert card.extra["future"]["members"] == (1, 2)
    assert card.label.extra["quantile_method"] == "rank"
    again = save_model(tmp_path / "again.pt", model, card)
    meta = read_checkpoint(again)[1]
    assert meta["future"] == {"kind": "ensemble", "members": [1, 2]}
    assert meta["label"]["quantile_method"] == "rank"
    # through a predictor and its save (the hook and `calibrate` write this way)
    predictor = Predictor.load(again)
    third = predictor.save(tmp_path / "third.pt", created_by="test")
    reread = load_model(third)[1]
    assert reread.extra == card.extra and reread.created_by == "test"
    assert reread == dataclasses.replace(card, created_by="test")


@pytest.mark.parametrize(
    "change",
    [{"threshold": "high"}, {"label": {"worst_percent": "25"}}, {"data": ["not", "a", "dict"]},
     {"arch": 3}, {"image_size": "64"}, {"history": 5}, {"channel_order": "routing"}],
)  # fmt: skip
def test_wrong_typed_fields_name_the_file(tmp_path, change) -> None:  # noqa: ANN001
    path = tmp_path / "bad.pt"
    _raw(path, {**V1_META, **change})
    for read in (read_model, read_checkpoint, Predictor.load):
        with pytest.raises(CheckpointError) as info:
            read(path)
        message = str(info.value)
        assert str(path) in message and "\n" not in message, message


def test_a_newer_card_is_refused_with_one_clear_message(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "future.pt"
    _raw(path, {**V1_META, "card_version": CARD_VERSION + 1})
    for read in (read_model, read_checkpoint, Predictor.load):
        with pytest.raises(CheckpointError) as info:
            read(path)
        message = str(info.value)
        assert f"model card version {CARD_VERSION + 1}" in message
        assert "newer than this magical-prune reads" in message and "upgrade" in message
        assert str(path) in message and "\n" not in message


def test_v2_files_stay_readable_as_flat_metadata(tmp_path, model) -> None:  # noqa: ANN001
    card = ModelCard.from_meta(V1_META).with_threshold(0.3)
    path = save_model(tmp_path / "v2.pt", model, card)
    blob = torch.load(path, weights_only=True)  # what code from before the card reads
    meta = blob["meta"]
    assert meta["arch"] == "efficient" and meta["image_size"] == SIZE and meta["threshold"] == 0.3
    assert meta["label"]["metric"] == "CMRR" and meta["channel_order"] == list(IMAGE_NAMES)
    assert meta["model_kwargs"] == {"stem_channels": 8}
    assert read_checkpoint(path)[1] == meta


def test_check_fits_takes_a_card_or_metadata() -> None:
    card = ModelCard.from_meta(V1_META)
    for model in (card, V1_META):
        check_fits(model, image_size=SIZE, channel_order=list(IMAGE_NAMES))
        with pytest.raises(CheckpointError, match=f"expects {SIZE}x{SIZE} images"):
            check_fits(model, image_size=32, channel_order=None, path="m.pt")
        with pytest.raises(CheckpointError, match="order"):
            check_fits(model, image_size=SIZE, channel_order=list(reversed(IMAGE_NAMES)))


def test_a_predictor_takes_a_card_or_metadata(model) -> None:  # noqa: ANN001
    card = ModelCard.from_meta(V1_META)
    from_card = Predictor(model, card)
    from_meta = Predictor(model, V1_META)
    assert from_card.card == from_meta.card == card and from_card.threshold == 0.42
    assert Predictor(model, card, threshold=0.7).card == card.with_threshold(0.7)
    in_memory = Predictor.from_model(model, card)
    assert in_memory.device == torch.device("cpu") and in_memory.meta == card.to_meta()
    in_memory.threshold = 0.6
    assert in_memory.card.threshold == 0.6 and in_memory.meta["threshold"] == 0.6
    with pytest.raises(Exception, match="architecture or inputs"):
        in_memory.card = dataclasses.replace(card, arch="feat3d")
