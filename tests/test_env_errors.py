"""The environment gets in the way (a FIFO or device in place of a file, a symlink loop, no
permission, a full disk, a model file whose header asks for gigabytes) and empty pin and
connection files: one error line and exit status 2, never a traceback or a hang."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
import torch
from _corrupt_h5 import run_with_deadline
from click.testing import CliRunner

from magical_prune.adapters import magical, spectre
from magical_prune.checkpoint import FORMAT, read_checkpoint
from magical_prune.cli import main
from magical_prune.errors import CheckpointError, MagicalPruneError, ParseError
from magical_prune.features import FeatureStack

TINY = Path(__file__).parent / "data" / "adapters" / "tiny"
DEADLINE = 5.0
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
needs_fork = pytest.mark.skipif(
    "fork" not in __import__("multiprocessing").get_all_start_methods(), reason="needs fork"
)

READERS = {
    "place.result": magical.read_place_result,
    "place.pin": magical.read_place_pin,
    "place.connection": magical.read_connection,
    "weight.txt": magical.read_weights,
    "performance.txt": magical.read_performance,
    "tiny.sym": magical.read_sym,
    "tiny.symnet": magical.read_symnet,
    "tiny.json": magical.read_types,
    "tiny.channel": magical.read_channels,
    "tiny.sp": spectre.read_netlist,
    "features.npz": FeatureStack.load,
    "model.pt": read_checkpoint,
}


@pytest.fixture()
def design(tmp_path: Path) -> Path:
    dest = tmp_path / "tiny"
    shutil.copytree(TINY, dest)
    return dest


def _expect_error(call, path: Path, *words: str) -> None:
    """``call(path)`` ends within the deadline with our error naming ``path`` and ``words``."""
    outcome, detail = run_with_deadline(call, path, DEADLINE)
    assert outcome == "error", f"{outcome}: {detail}"
    assert str(path) in detail and all(w in detail for w in words), detail


@needs_fork
@needs_fifo
@pytest.mark.parametrize("name", sorted(READERS))
def test_a_fifo_in_place_of_a_file_is_refused_without_blocking(tmp_path, name):
    os.mkfifo(tmp_path / name)
    _expect_error(READERS[name], tmp_path / name, "FIFO")


@needs_fork
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("name", sorted(READERS))
def test_a_device_in_place_of_a_file_is_refused(name):
    _expect_error(READERS[name], Path("/dev/zero"), "character device")


@pytest.mark.parametrize("name", sorted(READERS))
def test_a_symlink_loop_is_one_error(tmp_path, name):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / name).symlink_to(tmp_path / "a")
    with pytest.raises(MagicalPruneError, match="symbolic links") as err:
        READERS[name](tmp_path / name)
    assert err.value.path == str(tmp_path / name)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
@pytest.mark.parametrize("name", sorted(READERS))
def test_an_unreadable_file_is_one_error(tmp_path, name):
    path = tmp_path / name
    path.write_text("x\n")
    path.chmod(0)
    try:
        with pytest.raises(MagicalPruneError, match="[Pp]ermission denied"):
            READERS[name](path)
    finally:
        path.chmod(0o600)


def _cli_in_child(args: list[str]) -> None:
    """Run the CLI; raise unless it printed one ``error:`` line and exited with 2."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    lines = result.output.strip().splitlines()
    if result.exit_code != 2 or len(lines) != 1 or not lines[0].startswith("error: "):
        raise AssertionError(f"exit {result.exit_code}: {result.output[-800:]!r}")


def _cli(args: list[object], deadline: float = 20.0) -> None:
    outcome, detail = run_with_deadline(lambda _p: _cli_in_child(args), Path("."), deadline)
    assert outcome == "ok", f"{outcome}: {detail}"


@needs_fork
@needs_fifo
@pytest.mark.parametrize("name", ["tiny.sp", "tiny_1/place.result", "tiny_1/place.pin"])
def test_cli_on_a_layout_with_a_fresh_fifo_does_not_hang(design, name):
    """A file created a moment ago is read whole by the design cache (its timestamp is
    too recent to trust): that read must not block on a FIFO either."""
    (design / name).unlink()
    os.mkfifo(design / name)
    _cli(["inspect", design / "tiny_1", "--json"])
    _cli(["features", design / "tiny_1", "-o", design / "f.npz"])


@needs_fork
@pytest.mark.parametrize("option", ["--pins", "--connection", "--netlist", "--types"])
def test_cli_companion_that_is_a_device_or_a_loop(design, option):
    (design / "l1").symlink_to(design / "l2")
    (design / "l2").symlink_to(design / "l1")
    _cli(["inspect", design / "tiny_1", option, "/dev/zero"])
    _cli(["inspect", design / "tiny_1", option, design / "l1"])


@needs_fork
def test_cli_placement_that_is_a_fifo_or_a_loop(design):
    if hasattr(os, "mkfifo"):
        os.mkfifo(design / "fifo.result")
        _cli(["inspect", design / "fifo.result"])
    (design / "loop.result").symlink_to(design / "loop.result")
    _cli(["score", design / "loop.result"])


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_cli_disk_full_while_writing_is_one_line():
    result = CliRunner().invoke(main, ["features", str(TINY / "tiny_1"), "-o", "/dev/full",
                                       "--force"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == ["error: No space left on device"]


def test_cli_any_os_error_is_one_line(monkeypatch, tmp_path):
    """ENOSPC from inside h5py, EIO, ENOSPC while saving: the handler takes every OSError."""

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "Can't write data\n(file write failed: No space left)")

    monkeypatch.setattr(FeatureStack, "save", full)
    result = CliRunner().invoke(main, ["features", str(TINY / "tiny_1"), "-o",
                                       str(tmp_path / "f.npz")])  # fmt: skip
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: Can't write data (file write failed: No space left)"
    ]


def _model(tmp_path: Path, meta: dict) -> Path:
    path = tmp_path / "model.pt"
    torch.save({"format": FORMAT, "format_version": 1, "meta": meta, "state_dict": {}}, path)
    return path


@pytest.mark.parametrize("size", [1 << 20, 100_000, 0, -64, True])
def test_model_with_an_absurd_image_size_is_refused_before_allocating(tmp_path, size):
    path = _model(tmp_path, {"arch": "efficient", "image_size": size})
    with pytest.raises(CheckpointError, match="image size"):
        read_checkpoint(path)
    result = CliRunner().invoke(main, ["score", str(TINY / "tiny_1"), "--model", str(path)])
    assert result.exit_code == 2 and result.output.startswith("error: "), result.output
    assert len(result.output.strip().splitlines()) == 1


EMPTY = ["", "\n", "  \t\n\n", "\r\n \r\n", "\ufeff", "\ufeff\n  \n"]


@pytest.mark.parametrize("text", EMPTY, ids=repr)
@pytest.mark.parametrize(
    ("name", "read"),
    [("place.pin", magical.read_place_pin), ("place.connection", magical.read_connection)],
)
def test_empty_pin_or_connection_file_is_an_error(design, name, read, text):
    path = design / "tiny_1" / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParseError, match="empty") as err:
        read(path)
    assert err.value.path == str(path)
    with pytest.raises(ParseError, match="empty"):
        magical.load_placement(design / "tiny_1")
    result = CliRunner().invoke(main, ["features", str(design / "tiny_1"), "-o",
                                       str(design / "f.npz")])  # fmt: skip
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"error: {err.value}"]
