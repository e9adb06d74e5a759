"""`magical-prune score`, `model-info`, `calibrate` and `explain` through click's runner."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from pruning_fixtures import SIZE

from magical_prune.adapters.magical import load_placement
from magical_prune.checkpoint import read_checkpoint, save_checkpoint
from magical_prune.cli import main
from magical_prune.features import IMAGE_NAMES
from magical_prune.models import create_model


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def one_line_error(result):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def variant(path, tiny, touch=None, **meta_changes):
    state, meta = read_checkpoint(tiny.model)
    model = create_model("efficient", image_size=SIZE, **meta["model_kwargs"])
    model.load_state_dict(state)
    if touch:
        touch(model)
    save_checkpoint(path, model, {**meta, **meta_changes})
    return path


def test_score_one_layout(tiny, predictor):
    result = run("score", tiny.layouts[0], "--model", tiny.model)
    assert result.exit_code == 0, result.output
    row, summary = result.stdout.strip().splitlines()
    path, score, decision, threshold = row.split("\t")
    expected = predictor.score(load_placement(tiny.layouts[0]))[0]
    assert path == str(tiny.layouts[0]) and float(score) == pytest.approx(expected, abs=1e-4)
    assert decision == ("prune" if expected >= 0.5 else "keep") and float(threshold) == 0.5
    assert summary.startswith("scored 1 placement(s): ") and "\t" not in summary


def test_score_quoted_glob_and_design_folder_in_one_batch(tiny, predictor):
    result = run("score", f"{tiny.design}/*", "-m", tiny.model, "--json", "--batch-size", 7)
    assert result.exit_code == 0, result.output
    rows = json_lines(result.stdout)
    # design files (tiny.sp, tiny.json, ...) beside the layouts are not taken
    assert [r["path"] for r in rows] == [str(p) for p in tiny.layouts]
    expected = predictor.score([load_placement(p) for p in tiny.layouts])
    np.testing.assert_allclose([r["score"] for r in rows], expected, atol=1e-6)
    assert all(r["prune"] == (r["decision"] == "prune") == (r["score"] >= 0.5) for r in rows)
    same = run("score", tiny.design, "-m", tiny.model, "--json")
    assert json_lines(same.stdout) == rows
    placed = run("score", tiny.layouts[1] / "place.result", tiny.layouts[1], "-m", tiny.model)
    rows = [line for line in placed.stdout.splitlines() if "\t" in line]
    assert len(rows) == 2  # a file and a folder: two inputs


def test_threshold_override(tiny):
    rows = json_lines(run("score", tiny.design, "-m", tiny.model, "--json", "-t", 0).stdout)
    assert all(r["prune"] and r["threshold"] == 0 for r in rows)
    rows = json_lines(run("score", tiny.design, "-m", tiny.model, "--json", "-t", 1).stdout)
    assert not any(r["prune"] for r in rows)
    assert run("score", tiny.design, "-m", tiny.model, "-t", 1.5).exit_code == 2


def test_empty_glob_and_no_inputs(tiny, tmp_path):
    assert "matches" in one_line_error(run("score", f"{tmp_path}/*", "-m", tiny.model))
    assert "no placement" in one_line_error(run("score", "-m", tiny.model))
    assert "no such file" in one_line_error(run("score", tmp_path / "nope", "-m", tiny.model))
    (tmp_path / "notes.txt").write_text("x")
    assert "no layout folder" in one_line_error(run("score", f"{tmp_path}/*", "-m", tiny.model))


def broken_design(tmp_path, tiny):
    design = tmp_path / "tiny"
    keep = {f"tiny_{k}" for k in range(10)}
    shutil.copytree(tiny.design, design,
                    ignore=lambda _, names: [n for n in names if "_" in n and n not in keep])  # fmt: skip
    result = design / "tiny_1" / "place.result"
    lines = result.read_text().splitlines()
    lines[2] = " ".join(lines[2].split()[:4])
    result.write_text("\n".join(lines) + "\n")
    return design


def test_bad_input_fails_or_is_reported_with_keep_going(tmp_path, tiny):
    design = broken_design(tmp_path, tiny)
    error = one_line_error(run("score", design, "-m", tiny.model))
    assert "tiny_1/place.result:3" in error
    result = run("score", design, "-m", tiny.model, "--json", "--keep-going")
    assert result.exit_code == 1
    rows = json_lines(result.stdout)
    assert len(rows) == 10  # tiny_0 .. tiny_9 were copied
    failed = [r for r in rows if "error" in r]
    assert len(failed) == 1 and "place.result:3" in failed[0]["error"]
    assert all("score" in r for r in rows if "error" not in r)
    assert "1 of 10 input(s) could not be scored" in result.stderr


def test_bad_model_files_are_one_line_errors(tmp_path, tiny):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"PK\x03\x04 nonsense")
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    for path, why in [(junk, "not a readable model file"), (foreign, "not a magical-prune model"),
                      (tmp_path / "none.pt", "not found")]:  # fmt: skip
        assert why in one_line_error(run("score", tiny.layouts[0], "-m", path))
    order = variant(tmp_path / "order.pt", tiny, channel_order=list(reversed(IMAGE_NAMES)))
    assert "order" in one_line_error(run("score", tiny.layouts[0], "-m", order))


def test_nan_scores_are_one_line_errors(tmp_path, tiny):
    def poison(model):
        with torch.no_grad():
            model.fc.bias.fill_(float("nan"))

    nan = variant(tmp_path / "nan.pt", tiny, touch=poison)
    assert "NaN" in one_line_error(run("score", tiny.layouts[0], "-m", nan))
    result = run("score", tiny.layouts[0], "-m", nan, "--keep-going", "--json")
    assert result.exit_code == 1 and "NaN" in json_lines(result.stdout)[0]["error"]


def test_model_info_text_and_json(tiny):
    text = run("model-info", tiny.model)
    assert text.exit_code == 0, text.output
    for fact in ("efficient", f"{SIZE}x{SIZE}", "Offset_Voltage", "worst 25%", "not calibrated",
                 "training data:  tiny", "test metrics:", "magical-prune 0."):  # fmt: skip
        assert fact in text.stdout, fact
    info = json.loads(run("model-info", tiny.model, "--json").stdout)
    assert info["arch"] == "efficient" and info["image_size"] == SIZE
    assert info["channel_order"] == list(IMAGE_NAMES) and len(info["sha256"]) == 64
    assert info["label"]["metric"] == "Offset_Voltage" and info["bundled"] is False


def test_model_info_without_bundled_model(monkeypatch, tiny):
    from magical_prune import predict

    monkeypatch.setattr(predict.predictor, "BUNDLED_MODEL", "assets/not-there.pt")
    assert "no bundled model" in one_line_error(run("model-info"))
    assert "no bundled model" in one_line_error(run("score", tiny.layouts[0]))


def test_calibrate_writes_threshold_used_by_score(tmp_path, tiny):
    out = tmp_path / "calibrated.pt"
    result = run("calibrate", tiny.model, tiny.data, "--target-for", 0.15, "-o", out)
    assert result.exit_code == 0, result.output
    assert "FOR" in result.stdout and "prune rate" in result.stdout and out.is_file()
    meta = read_checkpoint(out)[1]
    cal = meta["calibration"]
    assert cal["target_for"] == 0.15 and cal["achieved_for"] <= 0.15 and cal["split"] == "test"
    assert meta["threshold"] == cal["threshold"]
    assert "calibration:" in run("model-info", out).stdout
    rows = json_lines(run("score", tiny.design, "-m", out, "--json").stdout)
    assert all(r["threshold"] == meta["threshold"] for r in rows)
    again = run("calibrate", tiny.model, tiny.data, "--target-for", 0.1, "-o", out)
    assert "--force" in one_line_error(again)
    forced = run("calibrate", tiny.model, tiny.data, "--target-for", 0.2, "-o", out, "--force",
                 "--json", "--split", "all")  # fmt: skip
    assert forced.exit_code == 0 and json_lines(forced.stdout)[0]["split"] == "all"
    assert "optimistic" not in forced.stderr  # --json prints the record only


def test_calibrate_infeasible_writes_nothing(tmp_path, tiny):
    def constant(model):  # every layout gets the same score: only "all" or "none"
        with torch.no_grad():
            model.fc.weight.zero_()

    flat = variant(tmp_path / "flat.pt", tiny, touch=constant)
    out = tmp_path / "out.pt"
    error = one_line_error(run("calibrate", flat, tiny.data, "--target-for", 0.05, "-o", out))
    assert "no threshold keeps FOR <= 5.00%" in error and "no model written" in error
    assert not out.exists()


def test_explain_png_and_json(tmp_path, tiny):
    png = tmp_path / "explain.png"
    result = run("explain", tiny.layouts[2], "-m", tiny.model, "-o", png, "--json")
    assert result.exit_code == 0, result.output
    summary = json_lines(result.stdout)[0]
    assert png.read_bytes()[:4] == b"\x89PNG" and summary["output"] == str(png)
    assert sum(summary["shares"].values()) == pytest.approx(1.0)
    assert set(summary["shares"]) == set(IMAGE_NAMES)
    assert {"x_um", "y_um", "devices", "image"} <= set(summary["hotspot"])
    assert "--force" in one_line_error(run("explain", tiny.layouts[2], "-m", tiny.model, "-o", png))
    text = run("explain", tiny.layouts[2], "-m", tiny.model)
    assert (
        text.exit_code == 0 and "hotspot in" in text.stdout and "% of the evidence" in text.stdout
    )


def test_score_command_module_does_not_import_torch():
    code = "import sys, magical_prune.cli.score_cmd, magical_prune.cli.explain_cmd; " \
           "print('torch' in sys.modules)"  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_feature_files_are_scored_and_checked_against_the_model(tmp_path, tiny, predictor):
    right, wrong = tmp_path / "f16.npz", tmp_path / "f32.npz"
    assert run("features", tiny.layouts[4], "-o", right, "--size", SIZE).exit_code == 0
    assert run("features", tiny.layouts[4], "-o", wrong, "--size", 32).exit_code == 0
    rows = json_lines(run("score", right, "-m", tiny.model, "--json").stdout)
    assert rows[0]["score"] == pytest.approx(
        predictor.score(load_placement(tiny.layouts[4]))[0], abs=1e-6
    )
    error = one_line_error(run("score", wrong, "-m", tiny.model))
    assert "expects 16x16 images" in error and "32x32" in error
