"""benchmarks/learning_curve.py on the committed example set: rows, report, and the same
numbers in one process, in a process pool and on a Dask LocalCluster (run as the script
is run, in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "learning_curve.py"
LEARNERS = ("random", "ridge (baseline)", "trees (baseline)", "geometry (default)")


def _run(tmp_path: Path, name: str, *extra: str) -> list[dict]:
    out = tmp_path / name
    args = [sys.executable, str(SCRIPT), "ota3", "--runs", str(ROOT / "examples"),
            "--budgets", "6", "--seeds", "2", "--out", str(out),
            "--cache", str(tmp_path / f"cache_{name}"), *extra]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "learning_curve.md").read_text().startswith("# Learning curves")
    assert (out / "learning_curve.png").stat().st_size > 1000
    rows = json.loads((out / "learning_curve.json").read_text())
    for row in rows:
        for seed in row["seeds"]:
            seed.pop("fit_s")
    return rows


def test_rows_and_same_numbers_with_workers(tmp_path):
    serial = _run(tmp_path, "serial")
    # 20 layouts: budgets 6 and 16 (80%), four learners, two seeds each
    assert {(r["budget"], r["learner"]) for r in serial} == {
        (b, n) for b in (6, 16) for n in LEARNERS
    }
    assert all(len(r["seeds"]) == 2 for r in serial)
    assert all(len(r["chosen"]) == 2 for r in serial if r["learner"] == "geometry (default)")
    assert _run(tmp_path, "pool", "--jobs", "2") == serial
    pytest.importorskip("distributed")
    assert _run(tmp_path, "dask", "--scheduler", "local", "--jobs", "2") == serial


def test_cnn_transfer_rows(tmp_path):
    from click.testing import CliRunner

    from magical_prune.cli import main

    data = tmp_path / "data"
    data.mkdir()
    built = CliRunner().invoke(main, ["dataset", "build", str(ROOT / "examples" / "ota3"),
                                      "-o", str(data / "ota3.h5")])  # fmt: skip
    assert built.exit_code == 0, built.output
    rows = _run(tmp_path, "cnn", "--cnn-data", str(data), "--cnn-budgets", "0", "6")
    cnn = [r for r in rows if r["learner"] == "cnn (bundled, fine-tuned)"]
    assert [r["budget"] for r in cnn] == [0, 6]
    assert all(len(r["seeds"]) == 1 and 0 <= r["seeds"][0]["for"] <= 1 for r in cnn)
