"""The data-set and learning commands through click's CliRunner."""

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from _synthetic import SIZE, blob_images, write_blob_set
from click.testing import CliRunner

from magical_prune.cli import main
from magical_prune.dataset import DataSetWriter, open_dataset
from magical_prune.features import IMAGE_NAMES

FIXTURE = Path(__file__).parent / "data" / "adapters" / "tiny"
TINY_OPTS = ["--epochs", "4", "--steps-per-epoch", "8", "--lr", "3e-3", "--threads", "1"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def blob(tmp_path_factory):
    return write_blob_set(tmp_path_factory.mktemp("cli") / "blob.h5", n=120)


@pytest.fixture(scope="module")
def model(blob):
    out = blob.parent / "m.pt"
    # the default-width efficient network, trained briefly: the CLI has no width option
    code, stdout, stderr = run("train", blob, "-o", out, "--quiet", *TINY_OPTS)
    assert code == 0, stderr
    return out


def test_dataset_build_and_failures(tmp_path):
    design = tmp_path / "tiny"
    shutil.copytree(FIXTURE, design)
    shutil.copytree(design / "tiny_1", design / "tiny_2")
    (design / "tiny_2" / "performance.txt").unlink()
    out = tmp_path / "tiny.h5"
    code, stdout, stderr = run("dataset", "build", design, "-o", out, "--size", "16", "-q")
    assert code == 0, stderr
    assert "1 of 2 layouts" in stdout
    assert "tiny_2: no simulation result" in stderr
    data = open_dataset(out)
    assert data.ids.tolist() == ["tiny_1"] and data.image_size == 16
    assert "dataset build" in data.attrs["created_by"]
    # an existing output is not overwritten without --force
    code, _, stderr = run("dataset", "build", design, "-o", out, "-q")
    assert code == 2 and "--force" in stderr
    code, stdout, _ = run(
        "dataset", "build", design, "-o", out, "--force", "--json", "--size", "16"
    )
    report = json.loads(stdout)
    assert report["written"] == 1 and report["failed"][0]["id"] == "tiny_2"


def test_import_utanlay(tmp_path):
    src = tmp_path / "data.hdf5"
    rng = np.random.default_rng(0)
    with h5py.File(src, "w") as f:
        for name in ("OTA1_Offset_Voltage_False", "OTA4_CMRR_True"):
            g = f.create_group(name)
            g.create_dataset(
                "images", data=rng.integers(0, 255, (8, SIZE, SIZE, 6), dtype=np.uint8)
            )
            g.create_dataset("meta", data=(np.arange(8) % 4 == 0).astype(np.float64).reshape(8, 1))
    code, _, stderr = run("dataset", "import-utanlay", src, "-o", tmp_path / "u.h5")
    assert code == 2 and "--group" in stderr and "OTA4_CMRR_True" in stderr
    code, stdout, stderr = run("dataset", "import-utanlay", src, "-o", tmp_path / "u.h5",
                               "--group", "OTA4_CMRR_True")  # fmt: skip
    assert code == 0, stderr
    assert "8 layouts of OTA4" in stdout
    data = open_dataset(tmp_path / "u.h5")
    assert data.stored_labels.tolist() == [1, 0, 0, 0, 1, 0, 0, 0]
    assert bool(data.attrs["source_balanced"]) is True


def test_train_evaluate_finetune_fewshot(blob, model, tmp_path):
    code, stdout, stderr = run("evaluate", model, blob, "--json")
    assert code == 0, stderr
    m = json.loads(stdout)
    assert m["n"] == 24 and m["split"] == "test"
    assert set(m) >= {"accuracy", "precision", "recall", "f1", "for", "prune_rate", "random_for",
                      "tp", "fp", "tn", "fn"}  # fmt: skip
    code, stdout, _ = run("evaluate", model, blob, "--split", "all")
    assert code == 0 and "FOR" in stdout and "random" in stdout and "120 layouts" in stdout

    child = tmp_path / "child.pt"
    curves = tmp_path / "curves.png"
    code, stdout, stderr = run("finetune", model, blob, "-o", child, "--alpha", "0.1",
                               "--freeze", "features", "--plot", curves, "--json", *TINY_OPTS)  # fmt: skip
    assert code == 0, stderr
    out = json.loads(stdout)
    assert out["data"]["n_train"] == 12
    assert curves.read_bytes()[:4] == b"\x89PNG"
    meta = torch.load(child, weights_only=True)["meta"]
    assert meta["parent"]["path"] == str(model)
    assert meta["train_config"]["freeze"] == "features"

    code, stdout, stderr = run("fewshot", model, blob, "--shots", "8", "--repeats", "2",
                               "--epochs", "1", "--steps-per-epoch", "2", "--json",
                               "--details", tmp_path / "fs.json")  # fmt: skip
    assert code == 0, stderr
    res = json.loads(stdout)
    assert (
        res["settings"]["shots"] == 8
        and res["summary"]["for"]["n"] + res["summary"]["for"]["n_undefined"] == 2
    )
    assert len(json.loads((tmp_path / "fs.json").read_text())["repeats"]) == 2


def test_train_prints_epochs(blob, tmp_path):
    code, stdout, stderr = run("train", blob, "-o", tmp_path / "m.pt", "--epochs", "2",
                               "--steps-per-epoch", "2", "--threads", "1", "--balanced")  # fmt: skip
    assert code == 0, stderr
    assert "epoch 1/2" in stdout and "epoch 2/2" in stdout
    assert "test (12 layouts)" in stdout  # balanced: 60 kept, 20% test


def test_errors_are_one_line(blob, model, tmp_path):
    small = tmp_path / "other.h5"  # a data set of 32x32 images for a 16x16 model
    images, _ = blob_images(np.random.default_rng(0), 20, size=32)
    with DataSetWriter(small, 32, IMAGE_NAMES) as writer:
        for i, image in enumerate(images):
            writer.add(f"o{i}", image, {"Offset_Voltage": float(i)})
    code, stdout, stderr = run("evaluate", model, small)
    assert code == 2
    assert stderr.startswith("error: ") and "expects 16x16 images" in stderr
    assert len(stderr.strip().splitlines()) == 1
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"nope")
    code, _, stderr = run("evaluate", junk, blob)
    assert code == 2 and "not a readable model file" in stderr
    code, _, stderr = run("train", blob, "-o", model)
    assert code == 2 and "--force" in stderr
    code, _, stderr = run(
        "train", blob, "-o", tmp_path / "x.pt", "--arch", "eficient", "--epochs", "1"
    )
    assert code == 2 and "did you mean" in stderr
    code, _, stderr = run("train", blob, "-o", tmp_path / "x.pt", "--metric", "PSRR")
    assert code == 2 and "no metric 'PSRR'" in stderr


def test_fewshot_shows_progress_inside_a_repeat(blob, model):
    """Fine-tuning the whole model per repeat can take minutes: its updates are shown too."""
    code, stdout, stderr = run("fewshot", model, blob, "--shots", "8", "--repeats", "2",
                               "--epochs", "1", "--steps-per-epoch", "3", "--threads", "1")  # fmt: skip
    assert code == 0, stderr
    assert "few-shot" in stderr and "training" in stderr  # outer bar and the inner one
    assert "0/3 [" in stderr  # the inner bar counts a repeat's 3 updates
    assert "FOR" in stdout
