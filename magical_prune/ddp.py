"""Data-parallel training under ``torchrun`` (PyTorch DDP), with one process's result.

``torchrun --nproc_per_node N -m magical_prune.cli train ...`` starts N copies of the
command; each sees ``WORLD_SIZE``/``RANK`` and joins one process group (gloo on the CPU,
nccl on CUDA, one GPU per process). Every process draws the same global mini-batch (same
seed) and computes the gradient of its own contiguous share; DDP averages the gradients,
and each share's loss is weighted so that the average is the gradient of the whole batch's
mean loss. So N processes take the same steps as one, up to floating-point summation order
(the networks here normalise per sample -- GroupNorm -- so no statistic spans the batch).
Only rank 0 shows progress and writes files.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch
from torch import nn

from magical_prune.errors import MagicalPruneError

__all__ = ["is_main", "main_only", "reduce_sums", "shard", "world", "wrap"]

T = TypeVar("T")


def _launched() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def world(device: str = "cpu") -> tuple[int, int]:
    """``(rank, world size)``; joins the process group on first use under torchrun
    (``(0, 1)`` otherwise, without touching ``torch.distributed``)."""
    if not _launched():
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        cuda = torch.device(device).type == "cuda"
        if cuda:  # "cuda" then means this process's GPU
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if cuda else "gloo")
    return dist.get_rank(), dist.get_world_size()


def is_main() -> bool:
    """Whether this process reports and writes files (rank 0, or not under torchrun)."""
    return world()[0] == 0 if _launched() else True


def main_only(write: Callable[[], T], fallback: T) -> T:
    """Run ``write`` on rank 0 only, then let every rank go on once it is done (the others
    get ``fallback``); just ``write()`` outside torchrun."""
    if not _launched():
        return write()
    import torch.distributed as dist

    rank, _ = world()
    result = write() if rank == 0 else fallback
    dist.barrier()
    return result


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """The DDP wrapper of ``model`` (already on ``device``) under torchrun, else ``model``."""
    if world(str(device))[1] == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    if device.type != "cuda":
        return DistributedDataParallel(model)
    index = device.index if device.index is not None else torch.cuda.current_device()
    return DistributedDataParallel(model, device_ids=[index])


def shard(batch: np.ndarray, rank: int, size: int) -> np.ndarray:
    """This rank's contiguous share of a global mini-batch (sizes differ by at most one)."""
    if len(batch) < size:
        raise MagicalPruneError(
            f"a mini-batch of {len(batch)} layouts cannot be shared by {size} processes: "
            "use a larger --batch-size or fewer processes"
        )
    return np.array_split(batch, size)[rank]


def share_weight(local: int, total: int, size: int) -> float:
    """Factor of a share's mean loss so that DDP's gradient average is the global mean's
    gradient: ``mean_local * local / total * size``."""
    return local * size / total


def reduce_sums(values: list[float], device: torch.device) -> list[float]:
    """Per-process sums added over all processes (epoch loss, accuracy counts)."""
    if world(str(device))[1] == 1:
        return values
    import torch.distributed as dist

    total = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return [float(v) for v in total.cpu()]
