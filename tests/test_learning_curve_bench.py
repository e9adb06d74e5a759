"""benchmarks/learning_curve.py on the committed example set: rows, report, and the same
numbers in one process, in a process pool and on a Dask LocalCluster (run as the script
is run, in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
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


def _design(name: str, metric: str, seed: int, n: int = 300):  # noqa: ANN202
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from learning_curve import DesignData

    rng = np.random.default_rng(seed)
    roles = rng.normal(0, 5, (n, 8))
    pairs, heat = rng.normal(0, 5, (n, 6)), rng.normal(0, 0.1, (n, 3))
    offset = (-4.0 * roles[:, 0] + 0.5 * roles[:, 1] + rng.normal(0, 2, n)) * 1e-6
    value = offset if metric == "Offset_Voltage" else 120 - 1e6 * np.abs(offset)
    return DesignData(name, metric, rng.normal(0, 1, (n, 10)), pairs, heat, roles, value,
                      np.array([f"{name}_{i}" for i in range(n)]))  # fmt: skip


def test_transfer_rows_never_see_the_target(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from learning_curve import PRUNE_SHARE, measures
    from transfer_rows import COMBINED, RULE, ZERO_SHOT, pretrain_prior, transfer_rows

    sources = [_design("a", "Offset_Voltage", 1), _design("b", "Offset_Voltage", 2)]
    prior = pretrain_prior(sources + [_design("c", "CMRR", 3)])  # a CMRR source is skipped
    assert prior.coef_[0] < 0  # the shared input-pair weight, learnt from the sources
    target = _design("t", "Offset_Voltage", 4)
    rows = transfer_rows(target, prior, [16, 64], 2, measures, PRUNE_SHARE)
    by = {(r["learner"], r["budget"]): r for r in rows}
    assert set(by) == {(ZERO_SHOT, 0), (RULE, 0), (COMBINED, 16), (COMBINED, 64)}
    assert by[(ZERO_SHOT, 0)]["seeds"][0]["for"] < 0.15  # the mechanism carries: random is 25%
    assert all(len(by[(COMBINED, b)]["seeds"]) == 2 for b in (16, 64))
    cmrr = transfer_rows(_design("u", "CMRR", 5), prior, [16], 2, measures, PRUNE_SHARE)
    assert {r["learner"] for r in cmrr} == {ZERO_SHOT, RULE}  # no sign to correct a prior with
    assert pretrain_prior([_design("c", "CMRR", 3)]) is None


def test_candidates_alone_report(tmp_path):
    """benchmarks/candidates_alone.py: every candidate's FOR beside the learner's; under 32
    labels with no other design for a prior, the learner *is* its few-label candidate."""
    script = ROOT / "benchmarks" / "candidates_alone.py"
    args = [sys.executable, str(script), "ota3", "--runs", str(ROOT / "examples"),
            "--budgets", "6", "--seeds", "2", "--out", str(tmp_path),
            "--cache", str(tmp_path / "cache")]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = json.loads((tmp_path / "candidates_alone.json").read_text())
    assert (row["design"], row["budget"], row["seeds"]) == ("ota3", 6, 2)
    assert {"ridge (baseline)", "trees (baseline)", "geometry (default)", "ridge-roles",
            "ridge-layout"} <= set(row["for"])  # fmt: skip
    assert "trees" not in row["for"]  # trees need 64 labels
    assert row["for"]["geometry (default)"] == row["for"]["ridge-roles"]
    assert all(len(v) == 2 and all(0 <= f <= 1 for f in v) for v in row["for"].values())
    report = (tmp_path / "candidates_alone.md").read_text()
    assert report.startswith("# Each candidate") and "| ota3 | 6 |" in report


def test_another_metric_writes_its_own_report(tmp_path):
    """--metric CMRR learns CMRR on an offset design and writes learning_curve_CMRR.*,
    leaving learning_curve.* alone; the CNN rows (the data sets' own metric) are refused."""
    common = [sys.executable, str(SCRIPT), "ota3", "--runs", str(ROOT / "examples"),
              "--budgets", "6", "--seeds", "2", "--out", str(tmp_path),
              "--cache", str(tmp_path / "cache"), "--no-transfer"]  # fmt: skip
    done = subprocess.run([*common, "--metric", "CMRR"], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (tmp_path / "learning_curve.md").exists()
    assert "**Metric CMRR on every design**" in (tmp_path / "learning_curve_CMRR.md").read_text()
    assert (tmp_path / "learning_curve_CMRR.png").stat().st_size > 1000
    cmrr = json.loads((tmp_path / "learning_curve_CMRR.json").read_text())
    offset = _run(tmp_path, "offset", "--no-transfer")
    pick = {(r["budget"], r["learner"]): [s["spearman"] for s in r["seeds"]] for r in cmrr}
    assert set(pick) == {(r["budget"], r["learner"]) for r in offset}
    ridge = [s["spearman"] for r in offset if r["learner"] == "ridge (baseline)" and r["budget"] == 6
             for s in r["seeds"]]  # fmt: skip
    assert pick[(6, "ridge (baseline)")] != ridge  # another target, another fit
    refused = subprocess.run([*common, "--metric", "CMRR", "--cnn-data", str(tmp_path)],
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert refused.returncode == 2 and "not with --metric" in refused.stderr
    unknown = subprocess.run([*common, "--metric", "Gainz"], capture_output=True, text=True,
                             timeout=300)  # fmt: skip
    assert unknown.returncode == 2 and "unknown metric 'Gainz'" in unknown.stderr
    absent = subprocess.run([*common, "--metric", "PSRR"], capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert absent.returncode == 1 and "Traceback" not in absent.stderr
    assert (
        absent.stderr.strip()
        .splitlines()[-1]
        .endswith("no layout has a PSRR value in its performance.txt")
    )
