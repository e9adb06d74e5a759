"""Training, fine-tuning, checkpoints and the few-shot protocol on a tiny separable problem."""

import pickle
from dataclasses import replace

import numpy as np
import pytest
import torch
from _synthetic import SIZE, TINY, write_blob_set

from magical_prune.checkpoint import check_fits, load_checkpoint, read_checkpoint, save_checkpoint
from magical_prune.dataset import LabelledDataset
from magical_prune.errors import CheckpointError, MagicalPruneError
from magical_prune.fewshot import fewshot
from magical_prune.models import create_model
from magical_prune.plots import plot_history
from magical_prune.training import (
    TrainConfig,
    evaluate,
    evaluate_checkpoint,
    finetune,
    freeze,
    train,
    weight_layers,
)

FAST = TrainConfig(**TINY, epochs=6, steps_per_epoch=12, lr=3e-3, eval_every=3)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks run fastest on one thread (and do not fight other jobs for cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def blob(tmp_path_factory):
    return write_blob_set(tmp_path_factory.mktemp("data") / "blob.h5", n=160)


@pytest.fixture(scope="module")
def trained(blob):
    return train(LabelledDataset.open(blob), FAST, progress=False)


def test_learns_a_separable_problem(trained):
    m = trained.test_metrics
    assert m["n"] == 32
    assert m["accuracy"] >= 0.85  # all-keep would score 0.75
    assert m["for"] is not None and m["for"] < m["random_for"]
    assert [h["epoch"] for h in trained.history] == list(range(1, 7))
    assert trained.history[-1]["test_acc"] is not None and "test_acc" not in trained.history[0]
    assert trained.history[-1]["loss"] < trained.history[0]["loss"]
    assert trained.history[-1]["lr"] < FAST.lr  # the cosine schedule of efficient's defaults


def test_metadata_records_the_run(trained, blob):
    meta = trained.meta
    assert meta["arch"] == "efficient" and meta["image_size"] == SIZE
    assert meta["label"]["metric"] == "Offset_Voltage" and meta["label"]["worst_percent"] == 25
    assert meta["label"]["critical_value"] > 0
    assert meta["data"]["n_train"] == 128 and meta["data"]["n_test"] == 32
    assert (
        meta["data"]["content_hash"] == LabelledDataset.open(blob, preload=False).data.content_hash
    )
    cfg = meta["train_config"]
    assert cfg["optimizer"] == "adamw" and cfg["batch_size"] == 16  # resolved from default_cfg
    assert meta["parent"] is None and meta["threshold"] == 0.5


def test_same_seed_same_weights(blob, tmp_path):
    ds = LabelledDataset.open(blob)
    cfg = replace(FAST, epochs=1, steps_per_epoch=3, eval_every=0)
    first, second = train(ds, cfg, progress=False), train(ds, cfg, progress=False)
    a, b = first.model.state_dict(), second.model.state_dict()
    c = train(ds, replace(cfg, seed=1), progress=False).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    # and the model files are byte-identical (no timings or dates in them)
    paths = first.save(tmp_path / "a.pt"), second.save(tmp_path / "b.pt")
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_checkpoint_round_trip(trained, blob, tmp_path):
    path = trained.save(tmp_path / "m.pt")
    # plain metadata: readable with weights_only=True, nothing else needed
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "magical-prune-checkpoint"
    model, meta = load_checkpoint(path)  # rebuilt with the recorded model_kwargs
    assert meta["data"] == trained.meta["data"]
    ds = LabelledDataset.open(blob)
    x = ds.features(np.arange(8))
    with torch.no_grad():
        assert torch.equal(model(x), trained.model(x))
    again = evaluate_checkpoint(path, blob)
    assert again["accuracy"] == trained.test_metrics["accuracy"]
    assert again["trained_on_same_data"] is True


class _Boom:
    def __reduce__(self):
        return (print, ("code ran",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_foreign_and_broken_files(tmp_path, capsys):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="not a readable model file"):
        load_checkpoint(junk)
    evil = tmp_path / "evil.pt"
    torch.save({"format": "magical-prune-checkpoint", "meta": _Boom()}, evil)
    with pytest.raises(CheckpointError, match="not a readable model file"):
        read_checkpoint(evil)
    assert "code ran" not in capsys.readouterr().out
    pickled = tmp_path / "pickle.pt"
    pickled.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(CheckpointError):
        read_checkpoint(pickled)
    assert "code ran" not in capsys.readouterr().out
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not a magical-prune model file"):
        read_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(tmp_path / "missing.pt")


def test_weights_that_do_not_fit_and_non_plain_meta(trained, tmp_path):
    path = trained.save(tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(path, factory=lambda arch, size: create_model(arch, image_size=size))
    with pytest.raises(TypeError, match="meta.extra"):
        save_checkpoint(tmp_path / "x.pt", trained.model, {**trained.meta, "extra": object()})


def test_size_and_channel_order_mismatch(trained):
    with pytest.raises(CheckpointError, match="expects 16x16 images but the data has 64x64"):
        check_fits(trained.meta, image_size=64, channel_order=trained.meta["channel_order"])
    order = list(reversed(trained.meta["channel_order"]))
    with pytest.raises(CheckpointError, match="order"):
        check_fits(trained.meta, image_size=SIZE, channel_order=order)


def test_finetune_improves_and_records_parent(blob, tmp_path):
    ds = LabelledDataset.open(blob)
    weak = train(ds, replace(FAST, epochs=1, steps_per_epoch=2, eval_every=0), progress=False)
    parent = weak.save(tmp_path / "weak.pt")
    cfg = replace(FAST, alpha=0.8, lr=5e-3)
    child = finetune((weak.model, weak.meta), ds, cfg, progress=False)
    assert child.test_metrics["accuracy"] > weak.test_metrics["accuracy"]
    assert child.test_metrics["accuracy"] >= 0.85
    from_file = finetune(parent, ds, replace(cfg, alpha=0.0), progress=False)
    assert from_file.history == []  # alpha 0: the parent as it is
    assert from_file.test_metrics == weak.test_metrics
    assert from_file.meta["parent"]["path"] == str(parent)
    assert len(from_file.meta["parent"]["sha256"]) == 64
    assert from_file.meta["train_config"]["lr_scale"] == 0.1  # efficient's fine-tuning default


def test_finetune_reduces_the_learning_rate(trained):
    child = finetune((trained.model, trained.meta), LabelledDataset.open(trained.meta["data"]["path"]),
                     replace(FAST, epochs=1, steps_per_epoch=1, eval_every=0, lr=None),
                     progress=False)  # fmt: skip
    assert child.config.lr == pytest.approx(trained.config.lr * 0.1)


def test_freeze_features_trains_only_the_head(trained, blob):
    ds = LabelledDataset.open(blob)
    before = {k: v.clone() for k, v in trained.model.state_dict().items()}
    cfg = replace(FAST, epochs=1, steps_per_epoch=3, freeze="features", eval_every=0)
    child = finetune((trained.model, trained.meta), ds, cfg, progress=False)
    after = child.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("fc.") for k in changed)
    # the parent in memory is not modified
    assert all(torch.equal(before[k], trained.model.state_dict()[k]) for k in before)


def test_freeze_first_layers(trained):
    import copy

    model = copy.deepcopy(trained.model)
    groups = weight_layers(model)
    frozen = freeze(model, "2")
    assert frozen == groups[0] + groups[1]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(p.requires_grad for g in groups[2:] for m in g for p in m.parameters())
    with pytest.raises(MagicalPruneError, match="at least one must stay trainable"):
        freeze(copy.deepcopy(trained.model), str(len(groups)))
    with pytest.raises(MagicalPruneError, match="number of layers or 'features'"):
        freeze(copy.deepcopy(trained.model), "head")


def test_evaluate_splits_and_threshold(trained, blob):
    ds = LabelledDataset.open(blob)
    test = evaluate(trained.model, trained.meta, ds)
    assert test["n"] == 32 and test["accuracy"] == trained.test_metrics["accuracy"]
    everything = evaluate(trained.model, trained.meta, ds, split="all")
    assert everything["n"] == 160
    prune_all = evaluate(trained.model, trained.meta, ds, threshold=0.0)
    assert prune_all["prune_rate"] == 1.0 and prune_all["for"] is None


def test_train_needs_training_layouts(blob):
    ds = LabelledDataset.open(blob)
    with pytest.raises(MagicalPruneError, match="no training layouts"):
        train(ds, replace(FAST, alpha=0.001), progress=False)


def test_fewshot_protocol(trained, blob):
    ds = LabelledDataset.open(blob)
    cfg = replace(FAST, epochs=2, steps_per_epoch=2)
    res = fewshot(
        (trained.model, trained.meta), ds, shots=8, repeats=3, seed=1, config=cfg, progress=False
    )
    split = ds.split(0.0)
    test_ids = set(ds.ids[split.test])
    assert len(res["repeats"]) == 3
    for row in res["repeats"]:
        assert len(row["shot_ids"]) == 8 and not set(row["shot_ids"]) & test_ids
        # the test set is relabelled at the shots' cut: its share of positives is the
        # FOR of random pruning
        values = np.abs(ds.metric_values[split.test])
        assert row["random_for"] == pytest.approx(np.mean(values >= row["critical_value"]))
    assert len({r["critical_value"] for r in res["repeats"]}) > 1  # different draws
    s = res["summary"]
    assert s["for"]["n"] + s["for"]["n_undefined"] == 3
    assert 0.0 <= s["share_beating_random"] <= 1.0
    again = fewshot(
        (trained.model, trained.meta), ds, shots=8, repeats=3, seed=1, config=cfg, progress=False
    )
    assert again["repeats"] == res["repeats"]


def test_fewshot_refuses_balanced_and_stored(trained, blob):
    ds = LabelledDataset.open(blob, balanced=True)
    with pytest.raises(MagicalPruneError, match="balanced"):
        fewshot((trained.model, trained.meta), ds, shots=4, repeats=1, progress=False)


def test_plot(trained, tmp_path):
    path = plot_history(trained.history, tmp_path / "curves.png", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fewshot_head_only_fast_path_matches_full_finetuning(trained, blob):
    """freeze="features": head inputs computed once give the figures of fine-tuning a
    copy of the whole model with its features frozen, repeat by repeat."""
    ds = LabelledDataset.open(blob)
    cfg = replace(FAST, epochs=3, steps_per_epoch=2, freeze="features")
    parent = (trained.model, trained.meta)
    fast = fewshot(parent, ds, shots=8, repeats=3, seed=2, config=cfg, progress=False)
    slow = fewshot(parent, ds, shots=8, repeats=3, seed=2, config=cfg, progress=False,
                   fast=False)  # fmt: skip
    assert fast["settings"]["head_only_fast_path"] and not slow["settings"]["head_only_fast_path"]
    for a, b in zip(fast["repeats"], slow["repeats"]):
        assert a["shot_ids"] == b["shot_ids"]
        for key in ("tp", "fp", "tn", "fn"):
            assert a[key] == b[key]


def test_final_figures_score_through_the_predictor(trained, blob):
    """One scoring path: the test metrics saved with a model, ``evaluate`` and the
    Predictor's own scores agree to the last digit."""
    from magical_prune.metrics import classification_metrics
    from magical_prune.predict import Predictor

    ds = LabelledDataset.open(blob)
    positions = ds.split(0.0).test
    direct = Predictor(trained.model, trained.card).score_prepared(ds.features(positions).numpy())
    m = evaluate(trained.model, trained.card, ds, keep_scores=True)
    np.testing.assert_array_equal(m["scores"], direct)
    expected = classification_metrics(ds.labels[positions], direct, trained.card.threshold)
    assert trained.test_metrics == expected
    assert {k: m[k] for k in expected} == expected
