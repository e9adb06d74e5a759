"""Files of one number per name: ``weight.txt`` (net weights) and ``performance.txt``.

The placer reads net weights (``NetName Weight``, MAGICAL's ``.netwgt``); post-layout
simulation writes ``Name=value`` results. Writers print integral weights as integers (as
the placer expects) and other values as Python's shortest exact float text.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from magical_prune.adapters._text import (
    check_name,
    field_lines,
    number,
    number_text,
    read_text,
    write_lines,
)
from magical_prune.errors import MagicalPruneError, ParseError

__all__ = [
    "parse_weights", "read_weights", "write_weights",
    "parse_performance", "read_performance", "write_performance",
]  # fmt: skip

PathLike = str | os.PathLike[str]


def parse_weights(text: str, path: PathLike = "<string>") -> dict[str, float]:
    """``NetName Weight`` lines (MAGICAL ``.netwgt``) -> ``net -> weight``."""
    weights: dict[str, float] = {}
    for lineno, fields in field_lines(text):
        if len(fields) != 2:
            raise ParseError(f"expected 'NetName Weight', got {len(fields)} fields", path, lineno)
        net, value = fields
        if net in weights:
            raise ParseError(f"net {net!r} has two weights", path, lineno)
        weights[net] = number(value, path, lineno, "weight")
    return weights


def read_weights(path: PathLike) -> dict[str, float]:
    """Read a ``weight.txt`` / ``.netwgt`` file."""
    return parse_weights(read_text(path), path)


def write_weights(path: PathLike, weights: Mapping[str, float]) -> None:
    """Write net weights; integral weights are printed as integers, as the placer expects."""
    lines = []
    for net, w in weights.items():
        check_name(net)
        lines.append(f"{net} {number_text(w)}")
    write_lines(path, lines)


def parse_performance(text: str, path: PathLike = "<string>") -> dict[str, float]:
    """``Name=value`` lines (``Offset_Voltage=-1.37e-03``) -> ``name -> value``."""
    results: dict[str, float] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, eq, value = line.partition("=")
        name = name.strip()
        if not eq or not name or len(name.split()) != 1:
            raise ParseError("expected 'Name=value'", path, lineno)
        if name in results:
            raise ParseError(f"{name!r} is given twice", path, lineno)
        results[name] = number(value.strip(), path, lineno, name)
    return results


def read_performance(path: PathLike) -> dict[str, float]:
    """Read a ``performance.txt`` file of post-layout results."""
    return parse_performance(read_text(path), path)


def write_performance(path: PathLike, results: Mapping[str, float]) -> None:
    """Write ``Name=value`` lines; values use Python's shortest exact float text."""
    lines = []
    for name, value in results.items():
        check_name(name)
        if "=" in name:
            raise MagicalPruneError(f"performance name {name!r} contains '='")
        lines.append(f"{name}={number_text(value)}")
    write_lines(path, lines)
