"""``train``/``finetune`` under ``torchrun --nproc_per_node 2`` (DDP, gloo on the CPU) give
one process's model up to floating-point noise; only rank 0 reports and writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _ddp_job import commands
from click.testing import CliRunner
from pruning_fixtures import write_layouts
from torch import nn

from magical_prune import ddp
from magical_prune.checkpoint import load_checkpoint
from magical_prune.cli import main
from magical_prune.errors import MagicalPruneError

JOB = Path(__file__).with_name("_ddp_job.py")


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory) -> Path:
    from magical_prune.adapters import magical
    from magical_prune.dataset import build_dataset

    root = tmp_path_factory.mktemp("ddp")
    layouts = write_layouts(root / "tiny", 48)
    build_dataset(layouts, root / "tiny.h5", load=magical.load_placement, size=16,
                  read_performance=lambda p: magical.read_performance(p / "performance.txt"),
                  attrs={"design": "tiny"}, progress=False)  # fmt: skip
    return root / "tiny.h5"


def test_weighted_shares_give_the_whole_batch_gradient():
    torch.manual_seed(0)
    net = nn.Linear(5, 2)
    x, y = torch.randn(7, 5), torch.tensor([0, 1, 1, 0, 1, 0, 0])
    loss = nn.CrossEntropyLoss()
    whole = torch.autograd.grad(loss(net(x), y), net.weight)[0]
    shares = []
    for rank in range(2):
        idx = ddp.shard(np.arange(7), rank, 2)
        weight = ddp.share_weight(len(idx), 7, 2)
        shares.append(torch.autograd.grad(loss(net(x[idx]), y[idx]) * weight, net.weight)[0])
    assert [len(ddp.shard(np.arange(7), r, 2)) for r in range(2)] == [4, 3]
    torch.testing.assert_close((shares[0] + shares[1]) / 2, whole)  # DDP's average
    with pytest.raises(MagicalPruneError, match="cannot be shared"):
        ddp.shard(np.arange(1), 0, 2)


def test_outside_torchrun_nothing_is_distributed(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert ddp.world() == (0, 1) and ddp.is_main()
    assert ddp.reduce_sums([1, 2.5], torch.device("cpu")) == [1, 2.5]
    assert not torch.distributed.is_initialized()


@pytest.mark.slow
def test_two_processes_train_and_finetune_like_one(tiny_set, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    runner = CliRunner()
    for args in commands(str(tiny_set), str(one)):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone",
              "--nproc_per_node", "2", str(JOB), str(tiny_set), str(two)]  # fmt: skip
    run = subprocess.run(launch, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("saved ") == 2  # rank 0 reports, once per command

    for name in ("train.pt", "finetune.pt"):
        (a, meta_a), (b, meta_b) = load_checkpoint(one / name), load_checkpoint(two / name)
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        # Adam lifts float noise to ~1e-4 on weights whose gradient is near 0; unweighted
        # shares (each share's mean loss as is) move weights by ~1e-2
        for key in sa:
            torch.testing.assert_close(sb[key], sa[key], rtol=1e-3, atol=5e-4)
        losses = [[h["loss"] for h in m["history"]] for m in (meta_a, meta_b)]
        np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
        assert meta_b["test_metrics"]["accuracy"] == meta_a["test_metrics"]["accuracy"]
        assert meta_b["train_config"] == meta_a["train_config"]
    parent, child = (load_checkpoint(two / n)[0].state_dict() for n in ("train.pt", "finetune.pt"))
    assert any(not torch.equal(parent[k], child[k]) for k in parent)  # fine-tuning trained
