"""The model card of a network trained on a data set: what it reads, what it learnt from.

Training from scratch and fine-tuning on a data set write the same card (one builder,
:func:`dataset_card`); the few-shot protocol and the pruning hook start from a parent's card.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from magical_prune.card import DataRecord, InputSpec, LabelSpec, ModelCard, ParentRecord
from magical_prune.dataset import LabelledDataset, Split
from magical_prune.training.config import TrainConfig

__all__ = ["as_card", "data_record", "dataset_card", "input_spec", "stored_history"]

#: per-epoch figures that depend on the machine's load, not on the run
_TIMING_KEYS = frozenset({"seconds", "samples_per_s"})


def as_card(card: ModelCard | Mapping[str, Any]) -> ModelCard:
    """A card, from a card or a model file's plain metadata (scripts pass either)."""
    return card if isinstance(card, ModelCard) else ModelCard.from_meta(card)


def input_spec(data: LabelledDataset) -> InputSpec:
    """The inputs a network trained on ``data`` takes (its images, as they were made)."""
    return InputSpec(kind="images", image_size=data.image_size,
                     channel_order=tuple(data.channel_order),
                     feature_config=data.data.attrs.get("feature_config"))  # fmt: skip


def data_record(data: LabelledDataset, split: Split, config: TrainConfig) -> DataRecord:
    """Which layouts of which data set a run trained and was tested on (hashes)."""
    return DataRecord(
        path=str(data.data.path),
        design=data.data.design,
        content_hash=data.data.content_hash,
        n_layouts=len(data),
        n_train=len(split.train),
        n_test=len(split.test),
        alpha=float(config.alpha),
        test_fraction=float(config.test_fraction),
        split_seed=int(config.split_seed),
        train_ids_sha256=data.ids_hash(split.train),
        test_ids_sha256=data.ids_hash(split.test),
    )


def stored_history(history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The history as saved: wall-clock figures stay out of the file, so the same run gives
    the same bytes."""
    return [{k: v for k, v in h.items() if k not in _TIMING_KEYS} for h in history]


def dataset_card(
    data: LabelledDataset,
    split: Split,
    config: TrainConfig,
    history: Sequence[Mapping[str, Any]],
    test_metrics: Mapping[str, Any] | None,
    parent: ParentRecord | None = None,
) -> ModelCard:
    """The card of a network trained (or fine-tuned) on ``data`` with ``config``."""
    return ModelCard(
        arch=config.arch,
        inputs=input_spec(data),
        model_kwargs=dict(config.model_kwargs),
        label=LabelSpec.from_dict(data.label_meta()),
        threshold=float(config.threshold),
        data=data_record(data, split, config),
        train_config=asdict(config),
        parent=parent,
        test_metrics=test_metrics,
        history=tuple(stored_history(history)),
    )
