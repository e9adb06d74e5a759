"""PruneHook on hostile input: a decision never raises, a damaged saved state is the
package's error."""

from __future__ import annotations

import json
import math
import os
import shutil

import numpy as np
import pytest

from magical_prune import PruneHook
from magical_prune.adapters.magical import load_placement, read_performance
from magical_prune.errors import MagicalPruneError
from magical_prune.hook import HookConfig


class _FailingPath(os.PathLike):
    def __fspath__(self) -> str:
        raise OSError("the file system went away")


class _BytesPath(os.PathLike):
    def __fspath__(self) -> bytes:
        return b"/no/such/layout"


class _BadSource:
    @property
    def source(self) -> str:
        raise RuntimeError("source is broken")


class _BadMessage(Exception):
    def __str__(self) -> str:
        raise ValueError("no message either")


def _raising_loader(path):
    raise _BadMessage()


@pytest.mark.parametrize(
    "candidate",
    [_FailingPath(), _BytesPath(), _BadSource(), b"/bytes/path", object(), None, 42],
    ids=["fspath raises", "fspath bytes", "source raises", "bytes", "object", "None", "int"],
)
def test_call_never_raises_and_logs_one_json_line(tmp_path, tiny, candidate):
    log = tmp_path / "decisions.jsonl"
    hook = PruneHook(tiny.model, log=log, config=HookConfig(background=False))
    decision = hook(candidate)
    assert not decision.prune and math.isnan(decision.score)
    assert decision.reason.startswith("kept: scoring failed")
    record = json.loads(log.read_text().splitlines()[-1])
    assert record["prune"] is False and (record["source"] is None or "layout" in record["source"])


def test_call_with_an_exception_that_cannot_print_itself(tmp_path, tiny):
    hook = PruneHook(tiny.model, loader=_raising_loader, config=HookConfig(background=False))
    decision = hook(tmp_path / "x")
    assert not decision.prune and "_BadMessage" in decision.reason


def test_call_survives_an_unwritable_log(tmp_path, tiny):
    hook = PruneHook(tiny.model, log=tmp_path, config=HookConfig(background=False))  # a folder
    assert hook(load_placement(tiny.layouts[0])).score >= 0.0


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny):
    """A saved hook state with collected results and remembered decisions."""
    config = HookConfig(explore=0.0, background=False, epochs=1, min_results=4)
    hook = PruneHook(tiny.model, config=config)
    for k in range(6):
        placement = load_placement(tiny.layouts[k])
        if not hook(placement).prune:
            hook.update(placement, read_performance(tiny.layouts[k] / "performance.txt"))
    hook(load_placement(tiny.layouts[10]))
    return hook.save(tmp_path_factory.mktemp("hook") / "state")


def _copy(saved, tmp_path):
    dest = tmp_path / "state"
    shutil.copytree(saved, dest)
    return dest


def _damaged_states(saved):
    """(name, file, new bytes) for truncations and byte flips of state.json/results.npz."""
    rng = np.random.default_rng(0)
    for name in ("state.json", "results.npz"):
        data = (saved / name).read_bytes()
        for cut in sorted({0, 1, 2, 10, len(data) // 3, len(data) // 2, len(data) - 1,
                           *rng.integers(0, len(data), 12).tolist()}):  # fmt: skip
            yield f"{name} cut@{cut}", name, data[:cut]
        for k in range(25):
            buf = bytearray(data)
            for pos in rng.integers(0, len(data), size=1 + k % 3):
                buf[pos] ^= int(rng.integers(1, 256))
            yield f"{name} flip#{k}", name, bytes(buf)


def test_resume_of_a_damaged_state_is_our_error(saved, tmp_path):
    assert PruneHook.resume(saved).version >= 0  # the intact state resumes
    tried = failures = 0
    for case, name, data in _damaged_states(saved):
        folder = tmp_path / case.replace(" ", "_").replace("#", "").replace("@", "")
        shutil.copytree(saved, folder)
        (folder / name).write_bytes(data)
        tried += 1
        try:
            PruneHook.resume(folder)
        except MagicalPruneError as err:
            assert "\n" not in str(err)
        except Exception as err:  # noqa: BLE001 - counted, reported below
            failures += 1
            print(case, type(err).__name__, err)
    assert tried > 70 and failures == 0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("config"), "damaged hook state"),
        (lambda s: s.update(version="seven"), "damaged hook state"),
        (lambda s: s.update(counters=[1, 2]), "damaged hook state"),
        (lambda s: s.update(rng={"bit_generator": "nope"}), "damaged hook state"),
        (lambda s: s.update(threshold=None), "damaged hook state"),
        (lambda s: s.update(format_version="1"), "newer"),
    ],
    ids=["no config", "version text", "counters list", "rng state", "threshold null", "fv"],
)
def test_resume_of_an_edited_state_json(saved, tmp_path, edit, message):
    folder = _copy(saved, tmp_path)
    state = json.loads((folder / "state.json").read_text())
    edit(state)
    (folder / "state.json").write_text(json.dumps(state))
    with pytest.raises(MagicalPruneError, match=message):
        PruneHook.resume(folder)


def test_resume_of_inconsistent_results(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    with np.load(folder / "results.npz") as data:
        arrays = dict(data)
    arrays["values"] = arrays["values"][:-1]
    np.savez(folder / "results.npz", **arrays)
    with pytest.raises(MagicalPruneError, match="lengths or shapes disagree"):
        PruneHook.resume(folder)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("name", ["state.json", "results.npz"])
def test_resume_does_not_hang_on_a_fifo(saved, tmp_path, name):
    folder = _copy(saved, tmp_path)
    (folder / name).unlink()
    os.mkfifo(folder / name)
    with pytest.raises(MagicalPruneError, match="FIFO"):
        PruneHook.resume(folder)
