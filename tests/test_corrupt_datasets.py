"""Damaged HDF5 files: every read of a data set (and of a UT-AnLay file) ends within a few
seconds with the package's one-line error, or loads, if the damage hit unused bytes.

Each case runs in a forked child killed at the deadline (a hang inside the HDF5 library
cannot be interrupted in-process); see ``_corrupt_h5``.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from _corrupt_h5 import run_with_deadline, variants
from _synthetic import write_blob_set

from magical_prune.adapters.utanlay import read_utanlay
from magical_prune.dataset import LabelledDataset, import_groups, open_dataset
from magical_prune.errors import MagicalPruneError

pytestmark = pytest.mark.skipif(
    "fork" not in __import__("multiprocessing").get_all_start_methods(), reason="needs fork"
)

DEADLINE = 5.0


def read_like_the_commands(path: Path) -> int:
    """What train/evaluate/calibrate/fewshot do with DATA: open, label, load every image."""
    data = LabelledDataset.open(path)
    data.data.read_images()
    return len(data)


def read_utanlay_file(path: Path) -> int:
    return len(read_utanlay(path))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("h5")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(24, 16, 16, 6), dtype=np.uint8)
    labels = rng.integers(0, 2, size=24)
    ut = root / "data.hdf5"
    with h5py.File(ut, "w") as f:
        g = f.create_group("OTA1_Offset_Voltage_False")
        g.create_dataset("images", data=images, chunks=(8, 16, 16, 6), compression="gzip")
        g.create_dataset("meta", data=labels.reshape(-1, 1).astype(np.float64))
    stored = root / "stored.h5"
    import_groups(stored, ids=[f"u{i}" for i in range(24)], images_nhwc=images,
                  labels=labels, scale=1 / 255)  # fmt: skip
    return {"metrics": write_blob_set(root / "blob.h5", n=48), "stored": stored, "utanlay": ut}


CASES = {  # file kind -> (reader, flips, zeroed blocks)
    "metrics": (read_like_the_commands, 80, 30),
    "stored": (read_like_the_commands, 30, 10),
    "utanlay": (read_utanlay_file, 30, 10),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(CASES))
def test_every_damaged_variant_is_our_error_within_the_deadline(files, tmp_path, kind):
    read, flips, zeroed = CASES[kind]
    assert run_with_deadline(read, files[kind], DEADLINE)[0] == "ok"  # the intact file
    outcomes: dict[str, list[str]] = {}
    for name, blob in variants(files[kind].read_bytes(), seed=1, flips=flips, zeroed=zeroed):
        path = tmp_path / "case.h5"
        path.write_bytes(blob)
        outcome, detail = run_with_deadline(read, path, DEADLINE)
        outcomes.setdefault(outcome, []).append(f"{name}: {detail.strip()[-200:]}")
    bad = {k: v for k, v in outcomes.items() if k not in ("ok", "error")}
    assert not bad, bad
    assert len(outcomes.get("error", [])) > len(outcomes.get("ok", []))  # damage was seen


#: damage that made h5py hang, allocate gigabytes or raise raw errors before the checks
KNOWN_BAD = {
    "zeroed string heap object (h5py looped forever)": "zero_heap",
    "string length flipped to 3.9 GB (h5py allocated it)": "long_id",
    "zeroed block in compressed images (raw OSError)": "zero_chunk",
}


def _damage(data: bytes, how: str) -> bytes:
    if how == "truncate":
        return data[: len(data) // 2]
    if how == "zero_heap":  # the first string object header of the heap reads index 0, size 0
        heap = data.index(b"GCOL")
        return data[: heap + 16] + bytes(64) + data[heap + 80 :]
    with h5py.File(io.BytesIO(data), "r") as f:
        ids_at = f["ids"].id.get_offset()
        chunk = f["images"].id.get_chunk_info(0)
    buf = bytearray(data)
    if how == "long_id":
        buf[ids_at + 3] = 0xE8  # high byte of the first id's length
    else:
        start = chunk.byte_offset + chunk.size // 3
        buf[start : start + 64] = bytes(64)
    return bytes(buf)


@pytest.mark.parametrize("case", sorted(KNOWN_BAD))
def test_known_bad_damage_is_one_error_fast(files, tmp_path, case):
    path = tmp_path / "bad.h5"
    path.write_bytes(_damage(files["metrics"].read_bytes(), KNOWN_BAD[case]))
    outcome, detail = run_with_deadline(read_like_the_commands, path, DEADLINE)
    assert outcome == "error", detail
    assert str(path) in detail


def _killed_build(tmp_path: Path) -> Path:
    """The ``.h5.tmp`` a build leaves when it is killed half-way."""
    code = (
        "import os, numpy as np; from pathlib import Path\n"
        "from magical_prune.dataset import DataSetWriter\n"
        "from magical_prune.features import IMAGE_NAMES\n"
        f"w = DataSetWriter(Path({str(tmp_path / 'killed.h5')!r}), 16, IMAGE_NAMES)\n"
        "for i in range(300): w.add(f'x{i}', np.ones((6, 16, 16), 'f4'), {'Gain': i})\n"
        "w._file.flush(); os._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=False, timeout=120)
    tmp = tmp_path / "killed.h5.tmp"
    assert tmp.exists()
    return tmp


def test_a_killed_build_leaves_a_file_that_is_refused_clearly(tmp_path):
    tmp = _killed_build(tmp_path)
    outcome, detail = run_with_deadline(read_like_the_commands, tmp, DEADLINE)
    assert outcome == "error" and "interrupted" in detail, detail


@pytest.fixture(scope="module")
def broken(files, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("broken")
    data = files["metrics"].read_bytes()
    out = {how: root / f"{how}.h5" for how in ("truncate", "zero_heap", "long_id", "zero_chunk")}
    for how, path in out.items():
        path.write_bytes(_damage(data, how))
    out["killed"] = _killed_build(root)
    (root / "empty.h5").write_bytes(b"")
    out["empty"] = root / "empty.h5"
    return out


COMMANDS = {
    "train": lambda m, d, o: ["train", d, "-o", o, "--epochs", "1"],
    "finetune": lambda m, d, o: ["finetune", m, d, "-o", o],
    "evaluate": lambda m, d, o: ["evaluate", m, d],
    "fewshot": lambda m, d, o: ["fewshot", m, d],
    "calibrate": lambda m, d, o: ["calibrate", m, d, "-o", o],
    "dataset import-utanlay": lambda m, d, o: ["dataset", "import-utanlay", d, "-o", o],
}


#: Runs CLI invocations in a fresh interpreter (forking a process whose torch has started
#: its thread pools can deadlock the child); a watchdog ends the run at a hang.
_CLI_CHILD = """
import faulthandler, json, sys
from click.testing import CliRunner
from magical_prune.cli import main, dataset_cmd, learn_cmd, score_cmd  # imports not timed
import magical_prune.adapters.utanlay, magical_prune.fewshot, magical_prune.predict
import magical_prune.training
for label, argv in json.loads(sys.argv[1]):
    faulthandler.dump_traceback_later(float(sys.argv[2]), exit=True)
    result = CliRunner().invoke(main, argv)
    faulthandler.cancel_dump_traceback_later()
    print(json.dumps([label, result.exit_code, result.output]), flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_reading_data_prints_one_error_line(tiny, broken, tmp_path, command):
    runs = [(how, [str(a) for a in COMMANDS[command](tiny.model, path, tmp_path / "out")])
            for how, path in broken.items()]  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", _CLI_CHILD, json.dumps(runs), str(DEADLINE)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) == len(runs), f"{command} hung or crashed: {proc.stderr[-2000:]}"
    for how, code, output in results:  # (a progress bar may come first, on stderr)
        errors = [line for line in output.splitlines() if line.startswith("error: ")]
        assert code == 2 and len(errors) == 1 and "Traceback" not in output, (how, output)
        assert output.rstrip().endswith(errors[0]) and str(broken[how]) in errors[0]


def test_open_names_what_is_wrong(tmp_path):
    with pytest.raises(MagicalPruneError, match="empty file"):
        (tmp_path / "e.h5").write_bytes(b"")
        open_dataset(tmp_path / "e.h5")
    with pytest.raises(MagicalPruneError, match="no HDF5 signature"):
        (tmp_path / "x.h5").write_bytes(b"\x89HDF\r\n\x1b\n" + bytes(600))
        open_dataset(tmp_path / "x.h5")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.h5")
        with pytest.raises(MagicalPruneError, match="FIFO"):
            open_dataset(tmp_path / "fifo.h5")


def test_signature_after_a_user_block_is_accepted(tmp_path):
    path = tmp_path / "ub.h5"
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("x", data=np.arange(3))
    with pytest.raises(MagicalPruneError, match="not a magical-prune data set"):
        open_dataset(path)  # got past the signature check to the format marker


def test_attribute_claiming_more_values_than_the_file_holds(files, tmp_path):
    path = tmp_path / "big_attr.h5"
    path.write_bytes(files["metrics"].read_bytes())
    with h5py.File(path, "r+") as f:
        f.attrs.create("design", data=np.zeros((2_000_000,), dtype=np.uint8))
    with pytest.raises(MagicalPruneError, match="attribute 'design' claims"):
        open_dataset(path)


@pytest.mark.parametrize(
    ("attr", "value", "message"),
    [
        ("image_size", 1 << 20, "image_size 1048576 is not in 1..1024"),
        ("image_size", 17, "images has shape"),
        ("metric_names", '["Offset_Voltage"]', "metrics has shape"),
        ("channel_order", "7", "channel_order is not a list"),
    ],
)
def test_inconsistent_header_is_refused(files, tmp_path, attr, value, message):
    path = tmp_path / "edited.h5"
    path.write_bytes(files["metrics"].read_bytes())
    with h5py.File(path, "r+") as f:
        f.attrs[attr] = value
    with pytest.raises(MagicalPruneError, match=message):
        open_dataset(path)


def test_heap_signature_by_chance_inside_image_values_is_not_damage(tmp_path, monkeypatch):
    """Uncompressed uint8 images may spell a string-heap header; only heaps outside dataset
    values count (the check that finds damaged heaps must not refuse a valid file)."""
    from magical_prune import _h5safe

    images = np.zeros((4, 16, 16, 6), np.uint8)
    fake = np.frombuffer(b"GCOL\x01\0\0\0" + (1 << 20).to_bytes(8, "little"), np.uint8)
    images.reshape(-1)[100 : 100 + len(fake)] = fake
    path = tmp_path / "data.hdf5"
    with h5py.File(path, "w") as f:
        g = f.create_group("OTA1_Offset_Voltage_False")
        g.create_dataset("images", data=images)
        g.create_dataset("meta", data=np.zeros((4, 1)))
        f.attrs["note"] = "a variable-length string"
    assert read_utanlay(path)[0].images.tobytes() == images.tobytes()
    monkeypatch.setattr(_h5safe, "_data_ranges", lambda f: [])
    with pytest.raises(MagicalPruneError, match="string heap"):
        read_utanlay(path)
