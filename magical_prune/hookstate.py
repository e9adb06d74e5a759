"""A pruning hook's saved state: one folder a flow can stop and resume from.

The folder holds ``model.pt`` (the current model, a normal model file usable with
``magical-prune score --model``), ``results.npz`` (collected feedback and the remembered
decisions) and ``state.json`` (settings, threshold, counters, the exploration RNG). Files are
written under a temporary name and renamed; reading checks the format marker, the version and
that the arrays agree in length and image size, so a damaged folder is refused with a reason
instead of resuming a hook that would fail later.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from magical_prune._files import check_regular, read_bytes
from magical_prune.errors import MagicalPruneError
from magical_prune.online import HookConfig, Pending, Results, one_line
from magical_prune.predict import Predictor

__all__ = ["STATE_FORMAT", "STATE_VERSION", "HookState", "read_results", "read_state",
           "write_state"]  # fmt: skip

STATE_FORMAT = "magical-prune-hook"
STATE_VERSION = 1

#: what a damaged ``state.json`` raises while it is read into a :class:`HookState`
_STATE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, OverflowError)
#: what numpy's npz reader raises for a truncated or damaged zip (it parses the zip and
#: each member's header itself)
_NPZ_ERRORS = (OSError, EOFError, KeyError, ValueError, TypeError, IndexError,
               zipfile.BadZipFile, zlib.error, struct.error)  # fmt: skip


@dataclass(frozen=True)
class HookState:
    """The JSON part of a saved hook (``state.json``): its settings, threshold, counters,
    history and exploration RNG."""

    config: dict[str, Any]
    threshold: float
    fixed_threshold: bool
    target_for: float
    version: int
    since_fit: int
    counters: dict[str, int]
    history: list[Any]
    rng: dict[str, Any]
    log: str | None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], where: Path) -> HookState:
        """The state of a parsed ``state.json``, every field checked.

        Raises:
            MagicalPruneError: a missing field or one of the wrong kind ("damaged").
        """
        try:
            state = cls(
                config=dict(doc["config"]), threshold=float(doc["threshold"]),
                fixed_threshold=bool(doc.get("fixed_threshold")),
                target_for=float(doc["target_for"]), version=int(doc["version"]),
                since_fit=int(doc["since_fit"]),
                counters={str(k): int(v) for k, v in doc["counters"].items()},
                history=list(doc.get("history") or []), rng=doc["rng"], log=doc.get("log"),
            )  # fmt: skip
            HookConfig.from_dict(state.config)
            np.random.default_rng().bit_generator.state = state.rng  # the hook's kind of RNG
        except _STATE_ERRORS as err:
            raise MagicalPruneError(
                f"damaged hook state ({type(err).__name__}: {one_line(err)})", where
            ) from None
        return state


def _arrays(results: Results, pending: Mapping[str, Pending], size: int) -> dict[str, Any]:
    r = results
    images = np.stack(r.images) if len(r) else np.zeros((0, 6, size, size), np.float32)
    rows = [[p.score, p.weight, p.version] for p in pending.values()]
    return {
        "images": images,
        "values": np.asarray(r.values, dtype=np.float64),
        "scores": np.asarray(r.scores, dtype=np.float64),
        "weights": np.asarray(r.weights, dtype=np.float64),
        "sources": np.asarray(r.sources, dtype=str),
        "pending_keys": np.asarray(list(pending), dtype=str),
        "pending": np.asarray(rows, dtype=np.float64).reshape(-1, 3),
    }


def write_state(
    folder: str | os.PathLike[str],
    predictor: Predictor,
    results: Results,
    pending: Mapping[str, Pending],
    state: HookState,
) -> Path:
    """Write the folder (see the module docstring)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    arrays = _arrays(results, pending, predictor.image_size)
    predictor.save(out / "model.pt")
    tmp = out / "results.npz.tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, out / "results.npz")
    doc = {"format": STATE_FORMAT, "format_version": STATE_VERSION, **asdict(state)}
    tmp = out / "state.json.tmp"
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, out / "state.json")
    return out


def read_state(state_file: Path) -> HookState:
    """A saved hook's ``state.json``, checked for the format marker and every field."""
    try:
        state = json.loads(read_bytes(state_file, "hook state").decode("utf-8"))
    except MagicalPruneError as err:
        raise MagicalPruneError(f"not a saved hook state: {err.message}", state_file) from None
    except (ValueError, RecursionError) as err:  # JSON and UTF-8 errors are ValueErrors
        raise MagicalPruneError(f"not a saved hook state: {one_line(err)}", state_file) from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise MagicalPruneError("not a saved hook state (no format marker)", state_file)
    version = state.get("format_version", 0)
    if not isinstance(version, int) or version > STATE_VERSION:
        raise MagicalPruneError("hook state written by a newer magical-prune", state_file)
    return HookState.from_json(state, state_file)


def _load_npz(path: Path) -> tuple[np.ndarray, list[np.ndarray], np.ndarray, np.ndarray]:
    try:
        check_regular(path, "collected results")
        with np.load(path, allow_pickle=False) as data:
            images = np.asarray(data["images"], dtype=np.float32)
            columns = [np.asarray(data[k]) for k in ("values", "scores", "weights", "sources")]
            keys, pending = np.asarray(data["pending_keys"]), np.asarray(data["pending"])
    except MagicalPruneError as err:
        raise MagicalPruneError(f"cannot read collected results: {err.message}", path) from None
    except _NPZ_ERRORS as err:
        raise MagicalPruneError(f"cannot read collected results: {one_line(err)}", path) from None
    return images, columns, keys, pending


def read_results(path: Path, size: int | None) -> tuple[Results, OrderedDict[str, Pending]]:
    """Collected feedback and remembered decisions from ``results.npz``, checked for
    consistent lengths and image size ``size`` before a hook takes them."""
    images, columns, keys, pending = _load_npz(path)
    n = len(images)
    if (
        images.ndim != 4
        or (n and images.shape[1:] != (6, size, size))
        or any(c.shape != (n,) for c in columns)
        or any(c.dtype.kind not in "fiu" for c in (*columns[:3], pending))
        or pending.shape != (len(keys), 3)
        or not np.isfinite(pending).all()
    ):
        raise MagicalPruneError("damaged collected results: lengths or shapes disagree", path)
    values, scores, weights = (c.astype(np.float64).tolist() for c in columns[:3])
    results = Results(list(images), values, scores, weights, [str(s) for s in columns[3]])
    remembered: OrderedDict[str, Pending] = OrderedDict()
    for key, (score, weight, version) in zip(keys, pending):
        remembered[str(key)] = Pending(float(score), float(weight), int(version))
    return results, remembered
