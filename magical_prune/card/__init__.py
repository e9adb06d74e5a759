"""The model card: what a model file says about the model, typed, in one place.

Every model file carries a card: which learner family and architecture it is, what inputs it
takes, which label it predicts, its decision threshold and how that was calibrated, the data it
learnt from (content hashes), the model it was fine-tuned from, and the package version. The
card is the only reader and writer of that metadata; the rest of the package asks the card.

On disk the card is the plain ``meta`` mapping of a checkpoint
(:mod:`magical_prune.checkpoint`), flat and JSON-like so that ``torch.load(weights_only=True)``
reads it without running code. Card version 1 is what files written before the card existed
hold (no ``card_version`` key); :meth:`ModelCard.from_meta` reads both, and
:meth:`ModelCard.to_meta` writes version 2, which old readers still understand (the same keys,
plus ``card_version``, ``family`` and ``input_kind``). Keys this version does not know are kept
in :attr:`ModelCard.extra` and written back, so reading and saving a newer file loses nothing.
The card's parts (label, data, parent and calibration records) live in
:mod:`magical_prune.card.records`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from magical_prune._version import __version__
from magical_prune.card.records import (
    CalibrationData,
    CalibrationRecord,
    DataRecord,
    LabelSpec,
    ParentRecord,
    _frozen,
    _mapping,
    _opt,
    _thawed,
    _Where,
    thaw,
)
from magical_prune.errors import CheckpointError

__all__ = [
    "CARD_VERSION",
    "DEFAULT_THRESHOLD",
    "CalibrationData",
    "CalibrationRecord",
    "DataRecord",
    "InputSpec",
    "LabelSpec",
    "ModelCard",
    "ParentRecord",
    "thaw",
]

CARD_VERSION = 2
#: decision threshold on P(prune) unless a model says otherwise
DEFAULT_THRESHOLD = 0.5
#: what a model takes: a stack of feature images, or a vector of layout geometry
INPUT_KINDS = ("images", "geometry")


@dataclass(frozen=True)
class InputSpec:
    """What the model reads.

    ``images``: ``(6, 3, size, size)`` feature stacks in ``channel_order``, rasterized as
    ``feature_config`` says. ``geometry``: vectors of layout geometry (``image_size`` unused).
    """

    kind: str = "images"
    image_size: int = 64
    channel_order: tuple[str, ...] | None = None
    feature_config: Mapping[str, Any] | None = None

    @property
    def rasterizer(self) -> str:
        value = (self.feature_config or {}).get("rasterizer")
        return value if isinstance(value, str) else "exact"


@dataclass(frozen=True)
class ModelCard:
    """Everything a model file records besides its weights (see the module docstring).

    Build one with :meth:`from_meta` (reading) or the constructor (training); change one with
    :func:`dataclasses.replace` or :meth:`with_threshold` / :meth:`with_calibration`.
    """

    arch: str
    inputs: InputSpec = field(default_factory=InputSpec)
    family: str = "cnn"
    model_kwargs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    label: LabelSpec = field(default_factory=LabelSpec)
    threshold: float = DEFAULT_THRESHOLD
    calibration: CalibrationRecord | None = None
    data: DataRecord | None = None
    train_config: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    parent: ParentRecord | None = None
    test_metrics: Mapping[str, Any] | None = None
    history: tuple[Mapping[str, Any], ...] = ()
    package_version: str = __version__
    created_by: str | None = None
    reference_data: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    card_version: int = CARD_VERSION

    def __post_init__(self) -> None:
        for name in ("model_kwargs", "train_config", "test_metrics", "extra"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, MappingProxyType):
                object.__setattr__(self, name, _frozen(value))
        object.__setattr__(self, "history", _frozen(list(self.history)))

    # -- convenient views -----------------------------------------------------------------
    @property
    def image_size(self) -> int:
        return self.inputs.image_size

    @property
    def channel_order(self) -> tuple[str, ...] | None:
        return self.inputs.channel_order

    @property
    def metric(self) -> str | None:
        return self.label.metric

    @property
    def worst_percent(self) -> float:
        wp = self.label.worst_percent
        return 25.0 if wp is None else float(wp)

    @property
    def design(self) -> str | None:
        return None if self.data is None else self.data.design

    @property
    def data_content_hash(self) -> str | None:
        return None if self.data is None else self.data.content_hash

    @property
    def test_split(self) -> tuple[int, float]:
        """``(split_seed, test_fraction)`` of the split the model was tested on: the
        training config's, else the data record's (0 and 0.2, training's defaults, when
        neither says)."""
        data = self.data or DataRecord()
        seed = _opt(self.train_config, "split_seed", int, None)
        fraction = _opt(self.train_config, "test_fraction", float, None)
        seed = data.split_seed if seed is None else seed
        fraction = data.test_fraction if fraction is None else fraction
        return (0 if seed is None else seed, 0.2 if fraction is None else fraction)

    @property
    def calibrated_for(self) -> float | None:
        """The target FOR the threshold was calibrated for (None: not calibrated)."""
        return None if self.calibration is None else self.calibration.target_for

    # -- changes --------------------------------------------------------------------------
    def with_threshold(self, threshold: float) -> ModelCard:
        return replace(self, threshold=float(threshold))

    def with_calibration(self, record: Mapping[str, Any], threshold: float) -> ModelCard:
        """The card of a model recalibrated to ``threshold`` (``record``: how)."""
        return replace(self, threshold=float(threshold),
                       calibration=CalibrationRecord.from_dict(record))  # fmt: skip

    def parent_record(self, path: str | None = None, sha256: str | None = None) -> ParentRecord:
        """What a model fine-tuned from this one records as its parent."""
        return ParentRecord(
            path=path, sha256=sha256, arch=self.arch, design=self.design,
            data_content_hash=self.data_content_hash, label=_frozen(self.label.to_dict()),
            parent=None if self.parent is None else _frozen(self.parent.to_dict()),
        )  # fmt: skip

    # -- reading and writing --------------------------------------------------------------
    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], where: _Where = None) -> ModelCard:
        """The card of a model file's metadata, any card version (see module docstring).

        Raises:
            CheckpointError: a field of the wrong type, an unknown input kind, or a card
                newer than this package reads.
        """
        version = meta.get("card_version", 1)
        if not isinstance(version, int) or isinstance(version, bool) or version > CARD_VERSION:
            raise CheckpointError(
                f"model card version {version!r} is newer than this magical-prune reads "
                f"({CARD_VERSION}); upgrade magical-prune", where)  # fmt: skip
        arch = _opt(meta, "arch", str, where)
        if arch is None:
            raise CheckpointError("model metadata lacks 'arch'", where)
        threshold = _opt(meta, "threshold", float, where)
        known = {f.name for f in fields(cls)} | _INPUT_KEYS
        return cls(
            arch=arch,
            inputs=_inputs_from_meta(meta, where),
            family=_opt(meta, "family", str, where) or "cnn",
            model_kwargs=_mapping(meta, "model_kwargs", where) or {},
            label=LabelSpec.from_dict(_mapping(meta, "label", where), where),
            threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
            calibration=_record(CalibrationRecord, meta, "calibration", where),
            data=_record(DataRecord, meta, "data", where),
            train_config=_mapping(meta, "train_config", where) or {},
            parent=_record(ParentRecord, meta, "parent", where),
            test_metrics=_mapping(meta, "test_metrics", where),
            history=_history(meta, where),
            package_version=_opt(meta, "package_version", str, where) or "unknown",
            created_by=_opt(meta, "created_by", str, where),
            reference_data=_opt(meta, "reference_data", str, where),
            extra={k: v for k, v in meta.items() if k not in known},
        )

    def to_meta(self) -> dict[str, Any]:
        """Plain metadata for :func:`magical_prune.checkpoint.save_checkpoint` (version 2)."""
        out: dict[str, Any] = {
            "card_version": CARD_VERSION,
            "family": self.family,
            "arch": self.arch,
            "model_kwargs": _thawed(self.model_kwargs),
            "input_kind": self.inputs.kind,
            "image_size": self.inputs.image_size,
            "channel_order": _thawed(self.inputs.channel_order),
            "feature_config": _thawed(self.inputs.feature_config),
            "label": self.label.to_dict(),
            "threshold": float(self.threshold),
            "data": None if self.data is None else self.data.to_dict(),
            "package_version": self.package_version,
            "train_config": _thawed(self.train_config),
            "parent": None if self.parent is None else self.parent.to_dict(),
            "test_metrics": _thawed(self.test_metrics),
            "history": _thawed(self.history),
        }
        optional = {"calibration": None if self.calibration is None else self.calibration.to_dict(),
                    "created_by": self.created_by, "reference_data": self.reference_data}  # fmt: skip
        out.update({k: v for k, v in optional.items() if v is not None})
        out.update({k: _thawed(v) for k, v in self.extra.items() if k not in out})
        return out


_INPUT_KEYS = {"input_kind", "image_size", "channel_order", "feature_config"}


def _record(kind: type, meta: Mapping[str, Any], key: str, where: _Where) -> Any:
    value = _mapping(meta, key, where)
    return None if value is None else kind.from_dict(value, where)


def _history(meta: Mapping[str, Any], where: _Where) -> tuple[Any, ...]:
    value = meta.get("history") or ()
    if not isinstance(value, (list, tuple)):
        raise CheckpointError("model card: 'history' is not a list", where)
    return tuple(value)


def _inputs_from_meta(meta: Mapping[str, Any], where: _Where) -> InputSpec:
    kind = _opt(meta, "input_kind", str, where) or "images"
    if kind not in INPUT_KINDS:
        raise CheckpointError(
            f"model takes inputs of kind {kind!r}; this magical-prune knows "
            f"{', '.join(INPUT_KINDS)}", where)  # fmt: skip
    size = meta.get("image_size")
    if size is None:
        if kind == "images":
            raise CheckpointError("model metadata lacks 'image_size'", where)
        size = 0
    elif isinstance(size, bool) or not isinstance(size, int):
        raise CheckpointError(
            f"model metadata records image size {size!r}, not a whole number of pixels", where)  # fmt: skip
    order = meta.get("channel_order")
    if order is not None and not (
        isinstance(order, (list, tuple)) and all(isinstance(n, str) for n in order)
    ):
        raise CheckpointError("model card: 'channel_order' is not a list of names", where)
    return InputSpec(kind=kind, image_size=size,
                     channel_order=None if order is None else tuple(order),
                     feature_config=_frozen(_mapping(meta, "feature_config", where)))  # fmt: skip


def finite_or_none(x: float | None) -> float | None:
    """Reports read better with None than NaN."""
    return None if x is None or not math.isfinite(x) else float(x)
