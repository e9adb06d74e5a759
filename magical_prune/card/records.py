"""The typed records a model card is made of, and their (de)serialisation.

Each record is a frozen dataclass read from and written to a plain mapping of the model
file's metadata (:class:`_Record`): known fields are type-checked on reading (a wrong type is
a :class:`~magical_prune.errors.CheckpointError` naming the file), unknown keys are kept in
``extra`` and written back, so a newer file read and saved again loses nothing.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from magical_prune.errors import CheckpointError

__all__ = [
    "CalibrationData",
    "CalibrationRecord",
    "DataRecord",
    "LabelSpec",
    "ParentRecord",
    "thaw",
]

_Where = str | os.PathLike[str] | None


def _frozen(value: Any) -> Any:
    """A read-only copy of nested plain data (mappings become mapping proxies)."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _frozen(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Plain, writable data again (mappings -> dicts, tuples -> lists): a card field as
    the model file stores it."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


_thawed = thaw


def _opt(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: _Where) -> Any:
    """``data[key]`` if present and of ``kind`` (None when absent), else a CheckpointError."""
    value = data.get(key)
    if value is None:
        return None
    if kind in (float, (int, float)) and isinstance(value, (int, float)):
        if not isinstance(value, bool):
            return float(value)
    elif isinstance(value, kind) and not (isinstance(value, bool) and kind is int):
        return value
    raise CheckpointError(f"model card: {key!r} is {value!r}, not a {_kind_name(kind)}", where)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _mapping(data: Mapping[str, Any], key: str, where: _Where) -> Mapping[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise CheckpointError(f"model card: {key!r} is not a mapping", where)
    return value


_SCALARS = {"str": str, "int": int, "float": float, "bool": bool}


@functools.cache
def _scalar_types(cls: type) -> dict[str, type]:
    """Fields annotated ``<scalar> | None`` and their scalar type (the ones type-checked on
    reading); the rest (mappings) are kept as read. Annotations are strings here (postponed
    evaluation), hence the name lookup."""
    out = {}
    for f in fields(cls):  # type: ignore[arg-type]
        name = str(f.type).split(" | ")[0]
        if name in _SCALARS:
            out[f.name] = _SCALARS[name]
    return out


class _Record:
    """Shared (de)serialisation of the card's typed records: known fields typed, the rest
    kept in ``extra``."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, where: _Where = None) -> Any:
        data = data or {}
        known = {f.name for f in fields(cls)} - {"extra"}  # type: ignore[arg-type]
        types = _scalar_types(cls)
        values = {k: _opt(data, k, types[k], where) for k in known if k in types}
        values.update({k: _frozen(data.get(k)) for k in known if k not in types})
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**values, extra=_frozen(extra))  # type: ignore[call-arg]

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: _thawed(getattr(self, f.name)) for f in fields(self)}  # type: ignore
        extra = out.pop("extra") or {}
        return {**out, **extra}


@dataclass(frozen=True)
class LabelSpec(_Record):
    """What "bad" means: the worst ``worst_percent`` of ``metric`` (1 = bad = prune).

    ``critical_value`` is the metric's cut on the training data; ``better`` says which way is
    good (e.g. ``smaller_abs`` for offset voltage).
    """

    source: str | None = "metric"
    metric: str | None = None
    better: str | None = None
    worst_percent: float | None = 25.0
    balanced: bool | None = False
    critical_value: float | None = None
    best_value: float | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class DataRecord(_Record):
    """The data a model learnt from or was calibrated on (hashes identify it exactly)."""

    path: str | None = None
    design: str | None = None
    content_hash: str | None = None
    n_layouts: int | None = None
    n_train: int | None = None
    n_test: int | None = None
    alpha: float | None = None
    test_fraction: float | None = None
    split_seed: int | None = None
    train_ids_sha256: str | None = None
    test_ids_sha256: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class ParentRecord(_Record):
    """The model a fine-tuned model started from (``parent`` is that model's own parent
    record, as plain data: the lineage back to the first model)."""

    path: str | None = None
    sha256: str | None = None
    arch: str | None = None
    design: str | None = None
    data_content_hash: str | None = None
    label: Mapping[str, Any] | None = None
    parent: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class CalibrationRecord(_Record):
    """How the threshold was chosen: the target FOR, what it achieved and cost on which
    data (see :func:`magical_prune.calibrate.calibrate_threshold`)."""

    threshold: float | None = None
    target_for: float | None = None
    feasible: bool | None = None
    achieved_for: float | None = None
    prune_rate: float | None = None
    good_pruned: float | None = None
    bad_pruned: float | None = None
    n: float | None = None
    n_bad: float | None = None
    base_rate: float | None = None
    split: str | None = None
    previous_threshold: float | None = None
    label: Mapping[str, Any] | None = None
    data: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def on(self) -> CalibrationData:
        """The calibration data, typed (all fields None when not recorded)."""
        return CalibrationData.from_dict(self.data)


@dataclass(frozen=True)
class CalibrationData(_Record):
    """The data a threshold was calibrated on (:attr:`CalibrationRecord.data`): which data
    set, how many of its layouts, their ids' hash, and whether the model learnt from it."""

    path: str | None = None
    design: str | None = None
    content_hash: str | None = None
    n_layouts: int | None = None
    n_calibration: int | None = None
    ids_sha256: str | None = None
    trained_on_same_data: bool | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
