"""The design's JSON files: ``<design>.json`` device types and ``<design>.channel``.

Both are one JSON object keyed by device (``{"M0": "NMOS"}``, ``{"M0": [1]}``); errors
name the line of the offending key. A ``<design>.json`` that is MAGICAL's flow
configuration is told apart by :mod:`magical_prune.adapters.flow_config`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from magical_prune.adapters._text import read_text, write_lines
from magical_prune.circuit import SUBCIRCUITS, DeviceType
from magical_prune.errors import MagicalPruneError, ParseError

__all__ = [
    "parse_types", "read_types", "write_types", "parse_channels", "read_channels",
    "write_channels",
]  # fmt: skip

PathLike = str | os.PathLike[str]


def _load_json_object(text: str, path: PathLike) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ParseError(f"not valid JSON: {err.msg}", path, err.lineno) from None
    except (ValueError, RecursionError) as err:
        raise ParseError(f"not valid JSON: {err}", path) from None
    if not isinstance(data, dict):
        raise ParseError(
            f"expected a JSON object (device -> ...), got {type(data).__name__}", path, 1
        )
    return data


def _line_of(text: str, key: str) -> int | None:
    """Line where ``"key"`` first appears in a JSON text (for messages)."""
    pos = text.find(json.dumps(key))
    return None if pos < 0 else text.count("\n", 0, pos) + 1


def parse_types(text: str, path: PathLike = "<string>") -> dict[str, DeviceType]:
    """``{"M0": "NMOS", "C0": "CAP", ...}`` -> ``device -> DeviceType``."""
    types: dict[str, DeviceType] = {}
    for device, value in _load_json_object(text, path).items():
        if not isinstance(value, str):
            raise ParseError(
                f'type of {device!r} must be a string such as "NMOS"', path, _line_of(text, device)
            )
        try:
            types[device] = DeviceType.parse(value)
        except MagicalPruneError as err:
            raise ParseError(
                f"device {device!r}: {err.message}", path, _line_of(text, device)
            ) from None
    return types


def read_types(path: PathLike) -> dict[str, DeviceType]:
    """Read a ``<design>.json`` device-type file."""
    return parse_types(read_text(path), path)


def write_types(path: PathLike, types: Mapping[str, DeviceType | str]) -> None:
    """Write ``device -> type`` as one JSON object (keys in the given order)."""
    data = {
        d: DeviceType.parse(t.value if isinstance(t, DeviceType) else t).value
        for d, t in types.items()
    }
    write_lines(path, [json.dumps(data)])


def parse_channels(text: str, path: PathLike = "<string>") -> dict[str, tuple[int, ...]]:
    """``{"M0": [1], "C0": [3], "M4": [2, 5]}`` -> ``device -> channel ids`` (1..5, see
    :data:`~magical_prune.circuit.SUBCIRCUITS`). A bare integer is read as a one-item list."""
    channels: dict[str, tuple[int, ...]] = {}
    for device, value in _load_json_object(text, path).items():
        items = [value] if isinstance(value, int) and not isinstance(value, bool) else value
        if (
            not isinstance(items, list)
            or not all(isinstance(c, int) and not isinstance(c, bool) for c in items)
            or not all(c in SUBCIRCUITS for c in items)
        ):
            raise ParseError(
                f"channels of {device!r} must be a list of ids 1..5, got {json.dumps(value)[:40]}",
                path, _line_of(text, device),
            )  # fmt: skip
        channels[device] = tuple(dict.fromkeys(items))
    return channels


def read_channels(path: PathLike) -> dict[str, tuple[int, ...]]:
    """Read a ``<design>.channel`` file of sub-circuit ids per device."""
    return parse_channels(read_text(path), path)


def write_channels(path: PathLike, channels: Mapping[str, Sequence[int]]) -> None:
    """Write ``device -> channel ids`` as one JSON object."""
    data = {}
    for device, ids in channels.items():
        ids = [int(c) for c in ([ids] if isinstance(ids, int) else ids)]
        bad = [c for c in ids if c not in SUBCIRCUITS]
        if bad:
            raise MagicalPruneError(f"channel id {bad[0]} of {device!r} is not in 1..5")
        data[device] = ids
    write_lines(path, [json.dumps(data)])
