"""``--scheduler``: generate, evaluate and dataset build on a Dask cluster give the files of a
local run; a worker killed mid-run loses and duplicates no layout; a run whose client was
killed resumes where it stopped.

One LocalCluster of two single-threaded worker processes serves the module (its first
tasks import torch in the workers: a few seconds).
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from magical_prune import cluster
from magical_prune.cli import main
from magical_prune.errors import MagicalPruneError, MagicalPruneWarning
from magical_prune.refflow.generate import GenerateOptions, generate
from magical_prune.refflow.layoutdir import STAGING
from magical_prune.refflow.placer import PlacerConfig

distributed = pytest.importorskip("distributed")

FAST = PlacerConfig(iterations=60)
LABELLED = GenerateOptions(n=6, batch_size=4, placer=FAST)
#: long enough (a second or so per chunk) to kill something while it runs
SLOW = GenerateOptions(n=8, batch_size=2, simulate=False)
needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice missing")


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def layouts(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("ota3_*") if p.is_dir()} if folder.is_dir() else set()


@pytest.fixture(scope="module")
def dask_cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local


@pytest.fixture(scope="module")
def address(dask_cluster) -> str:
    return dask_cluster.scheduler_address


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    """A local labelled run (the reference of the cluster runs)."""
    if shutil.which("ngspice") is None:
        pytest.skip("ngspice missing")
    out = tmp_path_factory.mktemp("local")
    summary = generate("ota3", out, LABELLED, progress=False)
    assert (summary.placed, summary.simulated, summary.failed) == (6, 6, {})
    return out


@pytest.fixture(scope="module")
def slow_reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("slow")
    assert generate("ota3", out, SLOW, progress=False).placed == SLOW.n
    return out


@pytest.mark.ngspice
@needs_ngspice
def test_generate_evaluate_and_build_on_a_cluster_give_the_local_files(labelled, address, tmp_path):
    out = tmp_path / "dask"
    summary = generate("ota3", out, LABELLED, progress=False, scheduler=address)
    assert (summary.placed, summary.simulated, summary.failed) == (6, 6, {})
    assert tree(out) == tree(labelled)

    # refflow evaluate: labels written by this process from the workers' metrics
    for perf in (out / "ota3").glob("ota3_*/performance.txt"):
        perf.unlink()
    runner = CliRunner()
    result = runner.invoke(main, ["refflow", "evaluate", str(out / "ota3"), "-q",
                                  "--scheduler", address])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert tree(out) == tree(labelled)

    # dataset build: the same HDF5 bytes (same file name: the command is recorded in it)
    target = tmp_path / "set.h5"
    files = []
    for extra in ([], ["--scheduler", address]):
        args = ["dataset", "build", str(out / "ota3"), "-o", str(target), "-q", *extra]
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        files.append(target.read_bytes())
        target.unlink()
    assert files[0] == files[1]


def _kill_a_busy_worker(client, folder: Path, thread: threading.Thread) -> str:
    """SIGKILL a worker that is running a task, once the run has committed a layout."""
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and thread.is_alive():
        busy = [addr for addr, keys in client.processing().items() if keys]
        if layouts(folder) and busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            return busy[0]
        time.sleep(0.02)
    pytest.fail("the run ended before a worker could be killed mid-run")


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(slow_reference, address, tmp_path):
    out = tmp_path / "dask"
    done: dict[str, object] = {}

    def run() -> None:
        done["summary"] = generate("ota3", out, SLOW, progress=False, scheduler=address)

    thread = threading.Thread(target=run)
    with distributed.Client(address) as client:
        thread.start()
        victim = _kill_a_busy_worker(client, out / "ota3", thread)
        thread.join(timeout=300)
        assert victim not in client.scheduler_info()["workers"]  # it really died
    summary = done["summary"]
    assert (summary.placed, summary.already_done, summary.failed) == (SLOW.n, 0, {})
    assert not (out / "ota3" / STAGING).exists()
    assert tree(out) == tree(slow_reference)


@pytest.mark.slow
def test_run_resumes_after_its_client_was_killed(slow_reference, address, tmp_path):
    command = [sys.executable, "-m", "magical_prune.cli", "refflow", "generate", "ota3",
               "-o", str(tmp_path), "-n", str(SLOW.n), "--batch-size", str(SLOW.batch_size),
               "--no-simulate", "-q", "--scheduler", address]  # fmt: skip
    client = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = tmp_path / "ota3"
    try:
        deadline = time.monotonic() + 120
        while not layouts(folder) and client.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        client.send_signal(signal.SIGKILL)
        client.wait()
    finished = layouts(folder)
    assert 0 < len(finished) < SLOW.n
    time.sleep(1.5)  # tasks the dead client left on the cluster write nothing
    assert layouts(folder) == finished

    summary = generate("ota3", tmp_path, SLOW, progress=False, scheduler=address)
    assert (summary.already_done, summary.placed) == (len(finished), SLOW.n - len(finished))
    assert tree(tmp_path) == tree(slow_reference)


def test_unreachable_scheduler_is_one_error(monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 0.5)
    pool = cluster.dask_pool("tcp://127.0.0.1:9")
    with pytest.raises(MagicalPruneError, match="cannot reach the Dask scheduler"):
        pool.__enter__()


def test_workers_with_another_environment_are_named(address):
    def pid() -> dict[str, str]:
        return {"pid": str(os.getpid())}

    message = r"Dask worker tcp://.* has pid \d+ \(here "
    with (
        pytest.warns(MagicalPruneWarning, match=message),
        cluster.dask_pool(address, environment=pid),
    ):
        pass


def test_missing_dask_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert not cluster.have_dask()
    with pytest.raises(MagicalPruneError, match=r"magical-prune\[cluster\]"):
        generate("ota3", tmp_path, replace(SLOW, n=1), progress=False, scheduler="local")
    assert not list(tmp_path.iterdir())  # refused before any work


def test_chunked_map_keeps_order_and_reads_lazily():
    seen: list[int] = []

    def items():
        for i in range(23):
            seen.append(i)
            yield i

    with cf.ThreadPoolExecutor(2) as pool:
        out = cluster.chunked_map(pool, lambda x: x * x, items(), chunk=4, window=2)
        assert next(out) == 0
        assert len(seen) <= 3 * 4  # two chunks in flight, one more after the first result
        assert [0, *out] == [i * i for i in range(23)]
