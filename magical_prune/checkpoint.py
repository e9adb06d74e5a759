"""Model files: a torch state dict plus plain metadata, read without running any code.

A checkpoint is a ``torch.save`` of ``{"format", "format_version", "meta", "state_dict"}``.
It is read back with ``torch.load(..., weights_only=True)``, which only rebuilds tensors and
plain containers, so a model file from an untrusted source cannot execute code; for that
the metadata must be plain (str/int/float/bool/None, lists, str-keyed dicts), which
:func:`save_checkpoint` checks.

The metadata is a :class:`~magical_prune.card.ModelCard` on disk: :func:`save_model`,
:func:`read_model` and :func:`load_model` exchange the card, and every read checks it (types,
card version, a sane image size before anything is sized from it). The dict-based
:func:`save_checkpoint`, :func:`read_checkpoint` and :func:`load_checkpoint` hand over the
metadata as the file holds it, for callers not yet on the card.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from magical_prune._files import check_regular, content_kind, os_error_message, read_bytes
from magical_prune._version import __version__
from magical_prune.card import DEFAULT_THRESHOLD, ModelCard, finite_or_none, thaw
from magical_prune.errors import CheckpointError, MagicalPruneError
from magical_prune.features import MAX_IMAGE_SIZE
from magical_prune.models import create_model

__all__ = [
    "DEFAULT_THRESHOLD",
    "ArrayModule",
    "FORMAT",
    "FORMAT_VERSION",
    "build_model",
    "check_fits",
    "file_sha256",
    "finite_or_none",
    "load_checkpoint",
    "load_model",
    "read_checkpoint",
    "read_model",
    "save_checkpoint",
    "save_model",
]

FORMAT = "magical-prune-checkpoint"
FORMAT_VERSION = 1

ModelFactory = Callable[[str, int], torch.nn.Module]


def plain(value: Any, where: str = "meta") -> Any:
    """Return ``value`` as plain data (tuples become lists) or raise TypeError naming the key.

    Only what ``torch.load(weights_only=True)`` rebuilds (and JSON can show) is allowed.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy/torch scalar
        return plain(value.item(), where)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: key {k!r} is not a string")
            out[k] = plain(v, f"{where}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{where}: {type(value).__name__} is not plain metadata")


def save_checkpoint(
    path: str | os.PathLike[str], model: torch.nn.Module, meta: Mapping[str, Any]
) -> Path:
    """Write ``model``'s weights and ``meta`` to ``path`` (tensors moved to the CPU).

    The file is written to a temporary name and renamed, so an interrupted save never
    leaves a half-written model behind. ``meta`` needs at least ``arch`` and ``image_size``.
    """
    meta = plain(dict(meta))
    for key in ("arch", "image_size"):
        if key not in meta:
            raise ValueError(f"checkpoint metadata needs {key!r}")
    defaults = {"package_version": __version__, "threshold": DEFAULT_THRESHOLD}
    meta.update({k: v for k, v in defaults.items() if k not in meta})
    state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    blob = {"format": FORMAT, "format_version": FORMAT_VERSION, "meta": meta, "state_dict": state}
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    buffer = io.BytesIO()
    torch.save(blob, buffer)
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)
    return path


def _unreadable_reason(path: Path, err: Exception) -> str:
    """Why torch could not load ``path``, in our words: torch's own message advises
    loading with ``weights_only=False``, which would run code from an unknown file."""
    try:
        head = read_bytes(path, "model file", limit=64)
    except MagicalPruneError:
        head = b""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\x80"):  # torch zip / old pickle
        if "Unsupported global" in str(err):
            return "it holds Python objects besides tensors and plain data; they are not loaded"
        return "damaged, truncated or not written by torch"
    if not head:
        return "the file is empty"
    return f"not a PyTorch file: {content_kind(head) or 'a text file'}"


def _read_blob(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A checkpoint's state dict and raw metadata, format checked, nothing else."""
    try:  # a FIFO or device would block or never end inside torch.load
        path = check_regular(path, "model file")
    except MagicalPruneError as err:
        raise CheckpointError(err.message, err.path) from None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as err:  # permission denied, I/O error: the environment, not the file
        raise CheckpointError(f"cannot read: {os_error_message(err)}", path) from None
    except Exception as err:  # unpickling refuses foreign objects; zip/EOF errors for junk
        reason = _unreadable_reason(path, err)
        raise CheckpointError(f"not a readable model file ({reason})", path) from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError("not a magical-prune model file (no format marker)", path)
    version = blob.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"model file format {version!r} is newer than this magical-prune reads "
            f"({FORMAT_VERSION}); upgrade magical-prune",
            path,
        )
    meta, state = blob.get("meta"), blob.get("state_dict")
    if not isinstance(meta, dict) or not isinstance(state, dict):
        raise CheckpointError("model file lacks metadata or weights", path)
    return state, meta


def _card(meta: Mapping[str, Any], path: str | os.PathLike[str]) -> ModelCard:
    """The card of a file's metadata, its image size checked before anything is sized
    from it."""
    card = ModelCard.from_meta(meta, path)
    size = card.image_size
    if card.inputs.kind == "images" and not 1 <= size <= MAX_IMAGE_SIZE:
        raise CheckpointError(
            f"model metadata records image size {size!r}, not in 1..{MAX_IMAGE_SIZE}: "
            "the file is damaged or was not written by magical-prune",
            path,
        )
    return card


def read_model(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], ModelCard]:
    """A model file's weights and card, without building the model.

    Raises:
        CheckpointError: the file is missing, not a torch file, holds anything but tensors
            and plain data, is not a magical-prune checkpoint, or its card is malformed
            (wrong-typed field, absurd image size) or newer than this package reads.
    """
    state, meta = _read_blob(path)
    return state, _card(meta, path)


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Like :func:`read_model`, with the metadata as the file holds it (a plain dict).

    Raises:
        CheckpointError: see :func:`read_model`.
    """
    state, meta = _read_blob(path)
    _card(meta, path)
    return state, meta


def _default_factory(card: ModelCard) -> ModelFactory:
    """``create_model`` with the architecture options the card recorded."""
    kwargs = thaw(card.model_kwargs)

    def create(arch: str, image_size: int) -> torch.nn.Module:
        try:
            return create_model(arch, image_size=image_size, **kwargs)
        except TypeError as err:  # an option this version's architecture does not take
            raise MagicalPruneError(str(err)) from None

    return create


def build_model(
    state: Mapping[str, torch.Tensor],
    card: ModelCard,
    path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    factory: ModelFactory | None = None,
) -> torch.nn.Module:
    """The model a card describes with ``state`` loaded (as :func:`read_model` returns
    them: a file read once), on ``device``, in eval mode."""
    try:
        model = (factory or _default_factory(card))(card.arch, card.image_size)
    except MagicalPruneError as err:
        raise CheckpointError(f"cannot build the model: {err.message}", path) from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        raise CheckpointError(
            f"weights do not fit architecture {card.arch!r}: {' '.join(first[:2])[:300]}", path
        ) from None
    model.to(device)
    model.eval()
    return model


def load_model(
    path: str | os.PathLike[str],
    *,
    device: str | torch.device = "cpu",
    factory: ModelFactory | None = None,
) -> tuple[torch.nn.Module, ModelCard]:
    """Build the model a file describes, load its weights (eval mode), and return its card.

    Args:
        path: the model file.
        device: where to put the model.
        factory: ``(arch, image_size) -> nn.Module``; by default
            :func:`magical_prune.models.create_model` with the card's ``model_kwargs``.

    Raises:
        CheckpointError: unreadable/foreign file, malformed card, unknown architecture, or
            weights that do not fit the architecture.
    """
    state, card = read_model(path)
    return build_model(state, card, path, device, factory), card


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    device: str | torch.device = "cpu",
    factory: ModelFactory | None = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Like :func:`load_model`, with the metadata as the file holds it (a plain dict)."""
    state, meta = _read_blob(path)
    return build_model(state, _card(meta, path), path, device, factory), meta


def check_fits(
    card: ModelCard | Mapping[str, Any],
    *,
    image_size: int,
    channel_order: Sequence[str] | None,
    path: str | os.PathLike[str] | None = None,
    data: str | os.PathLike[str] | None = None,
) -> None:
    """Refuse data whose image size or feature-image order differs from the model's.

    Args:
        card: the model's card (or its metadata, read as a card).

    Raises:
        CheckpointError: naming the model file and what differs.
    """
    if not isinstance(card, ModelCard):
        card = ModelCard.from_meta(card, path)
    where = f" of {os.fspath(data)}" if data is not None else ""
    size = card.image_size
    if size != int(image_size):
        raise CheckpointError(
            f"model expects {size}x{size} images but the data{where} has "
            f"{image_size}x{image_size}; rebuild the data set with --size {size} or use a "
            f"model trained at {image_size}",
            path,
        )
    want = card.channel_order
    if want is not None and channel_order is not None and list(want) != list(channel_order):
        raise CheckpointError(
            f"model expects feature images in the order {', '.join(want)} but the data{where} "
            f"has {', '.join(channel_order)}",
            path,
        )


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file (a parent model's identity in a fine-tuned model's metadata)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class ArrayModule(torch.nn.Module):
    """Named numpy arrays as buffers (a ``.`` in a name becomes ``__``), so that a model
    that is not a network (the geometry learner, the design-agnostic prior) is saved by
    :func:`save_model` like any other."""

    def __init__(self, arrays: Mapping[str, Any]) -> None:
        super().__init__()
        for key, value in arrays.items():
            self.register_buffer(key.replace(".", "__"), torch.from_numpy(np.asarray(value)))


def save_model(path: str | os.PathLike[str], model: torch.nn.Module, card: ModelCard) -> Path:
    """Write ``model``'s weights with its card (atomically, see :func:`save_checkpoint`)."""
    return save_checkpoint(path, model, card.to_meta())
