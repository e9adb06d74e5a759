"""Run by ``test_ddp.py`` under torchrun: ``train`` then ``finetune``, as on the command line
(one launch for both: starting processes that import torch is the slow part)."""

from __future__ import annotations

import sys

from magical_prune.cli import main

#: a batch of 7 splits 4 + 3 over two processes: unequal shares must still give one
#: process's steps
OPTIONS = ["--epochs", "2", "--steps-per-epoch", "3", "--batch-size", "7", "--threads", "1",
           "--seed", "3", "-q", "--force"]  # fmt: skip


def commands(data: str, out: str) -> list[list[str]]:
    """The two commands, writing ``out/train.pt`` and ``out/finetune.pt``."""
    return [
        ["train", data, "-o", f"{out}/train.pt", *OPTIONS],
        ["finetune", f"{out}/train.pt", data, "-o", f"{out}/finetune.pt", "--alpha", "0.5",
         *OPTIONS],
    ]  # fmt: skip


if __name__ == "__main__":
    for args in commands(sys.argv[1], sys.argv[2]):
        main.main(args, standalone_mode=False)
