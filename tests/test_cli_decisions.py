"""What a user sees of the decisions: `score`'s summary, histogram and --keep-going;
`calibrate`'s refusals, trade-off plot and curve; `evaluate`'s trade-off plot and curve."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from matplotlib.image import imread

from magical_prune.checkpoint import read_checkpoint
from magical_prune.cli import calibrate_cmd, main


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def one_line_error(result):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def png_size(path):
    pixels = imread(path)
    assert pixels[..., :3].std() > 0.05  # drawn, not blank
    return pixels.shape[:2]


# -- score ----------------------------------------------------------------------------------
def test_score_ends_with_a_summary_line(tiny):
    result = run("score", tiny.design, "-m", tiny.model)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    rows = [line.split("\t") for line in lines if "\t" in line]
    assert len(rows) == len(tiny.layouts) and len(lines) == len(rows) + 1
    pruned = sum(r[2] == "prune" for r in rows)
    scores = sorted(float(r[1]) for r in rows)
    summary = lines[-1]
    assert summary.startswith(f"scored {len(rows)} placement(s): {pruned} prune ")
    assert f"{len(rows) - pruned} keep at threshold 0.5000" in summary
    assert f"min {scores[0]:.4f}" in summary and f"max {scores[-1]:.4f}" in summary


def test_score_json_keeps_stdout_pure_and_summarises_on_stderr(tiny):
    result = run("score", tiny.layouts[0], tiny.layouts[1], "-m", tiny.model, "--json")
    assert result.exit_code == 0, result.output
    assert len(json_lines(result.stdout)) == 2  # every stdout line is JSON
    assert result.stderr.startswith("scored 2 placement(s): ")


def test_score_plot_is_a_histogram_png(tiny, tmp_path):
    png = tmp_path / "scores.png"
    result = run("score", tiny.design, "-m", tiny.model, "--plot", png)
    assert result.exit_code == 0, result.output
    assert f"wrote {png}" in result.stdout
    assert png_size(png) == (380, 640)
    assert "--force" in one_line_error(run("score", tiny.layouts[0], "-m", tiny.model,
                                           "--plot", png))  # fmt: skip
    assert run("score", tiny.layouts[0], "-m", tiny.model, "--plot", png, "--force").exit_code == 0


def test_keep_going_scores_the_rest_when_a_path_is_missing(tiny, tmp_path):
    missing = tmp_path / "not-there"
    args = ("score", missing, tiny.layouts[0], tiny.layouts[1], "-m", tiny.model)
    assert "no such file or folder" in one_line_error(run(*args))
    result = run(*args, "--keep-going", "--json")
    assert result.exit_code == 1
    rows = json_lines(result.stdout)
    assert rows[0] == {"path": str(missing), "error": f"{missing}: no such file or folder"}
    assert [r["path"] for r in rows[1:]] == [str(tiny.layouts[0]), str(tiny.layouts[1])]
    assert all("score" in r for r in rows[1:])
    assert "1 of 3 input(s) could not be scored" in result.stderr
    assert "scored 2 placement(s)" in result.stderr and "1 failed" in result.stderr
    alone = run("score", missing, "-m", tiny.model, "--keep-going")
    assert alone.exit_code == 1 and "1 of 1 input(s)" in alone.stderr


# -- calibrate ------------------------------------------------------------------------------
def test_calibrate_json_has_the_curve_and_a_threshold_at_most_one(tiny, tmp_path):
    out, png = tmp_path / "cal.pt", tmp_path / "tradeoff.png"
    result = run("calibrate", tiny.model, tiny.data, "--target-for", 0.15, "-o", out,
                 "--plot", png, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    rec = json_lines(result.stdout)[0]
    assert 0 <= rec["threshold"] <= 1 and read_checkpoint(out)[1]["threshold"] == rec["threshold"]
    curve = rec["curve"]
    assert curve["chosen"]["threshold"] == pytest.approx(rec["threshold"], abs=5e-7)
    assert curve["chosen"]["prune_rate"] == pytest.approx(rec["prune_rate"], abs=5e-7)
    assert curve["target_for"] == 0.15 and curve["n"] == rec["data"]["n_calibration"]
    assert len(curve["prune_rate"]) == len(curve["for"]) == len(curve["good_pruned"])
    assert curve["prune_rate"][0] == 0 and curve["prune_rate"][-1] == 1
    assert rec["plot"] == str(png) and png_size(png) == (620, 640)


def test_calibrate_refuses_when_keeping_everything_meets_the_target(tiny, tmp_path):
    out, png = tmp_path / "cal.pt", tmp_path / "tradeoff.png"
    error = one_line_error(run("calibrate", tiny.model, tiny.data, "--target-for", 0.9,
                               "-o", out, "--plot", png))  # fmt: skip
    assert "keeping every layout already gives FOR" in error and "no model written" in error
    assert not out.exists() and png.is_file()  # the picture shows why


def test_calibrate_refuses_a_threshold_that_prunes_too_many_good_layouts(tiny, tmp_path):
    out = tmp_path / "cal.pt"
    args = ("calibrate", tiny.model, tiny.data, "--target-for", 0.15, "-o", out)
    allowed = json_lines(run(*args, "--json").stdout)[0]
    good = allowed["good_pruned"]
    assert 0 < good <= 0.5  # the tiny model has to prune some good layouts for 15%
    out.unlink()
    error = one_line_error(run(*args, "--max-good-pruned", good / 2))
    assert f"needs pruning {100 * good:.1f}% of the good layouts" in error
    assert "--max-good-pruned" in error and not out.exists()


def test_calibrate_warns_about_a_costly_threshold_it_was_allowed(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(calibrate_cmd, "WARN_GOOD_PRUNED", 0.0)
    result = run("calibrate", tiny.model, tiny.data, "--target-for", 0.15,
                 "-o", tmp_path / "cal.pt")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "warning: this threshold prunes" in result.stderr
    assert "of the good layouts" in result.stderr


def test_refusal_reasons_by_hand():
    from magical_prune.predict import calibrate_threshold

    scores, labels = [0.9, 0.8, 0.6, 0.3, 0.2, 0.1], [1, 0, 1, 0, 0, 0]
    keep_all = calibrate_threshold(scores, labels, 0.5)  # 2/6 bad already <= 50%
    assert keep_all.threshold > 1 and "nothing to prune for" in calibrate_cmd.refusal(keep_all, 1)
    cut = calibrate_threshold(scores, labels, 0.0)  # needs the top three pruned: 1 of 4 good
    assert cut.good_pruned == pytest.approx(0.25)
    assert calibrate_cmd.refusal(cut, 0.5) is None
    assert "25.0% of the good layouts" in calibrate_cmd.refusal(cut, 0.2)
    infeasible = calibrate_threshold([0.5] * 4, [1, 0, 1, 0], 0.1)
    assert "no threshold keeps FOR" in calibrate_cmd.refusal(infeasible, 1)


# -- evaluate -------------------------------------------------------------------------------
def test_evaluate_plot_and_curve_match_the_metrics(tiny, tmp_path):
    png = tmp_path / "tradeoff.png"
    result = run("evaluate", tiny.model, tiny.data, "--json", "--plot", png, "--threads", 1)
    assert result.exit_code == 0, result.output
    m = json_lines(result.stdout)[0]
    chosen = m["curve"]["chosen"]
    assert chosen["threshold"] == m["threshold"] == 0.5
    # the curve's numbers are rounded to 6 decimals for JSON (tradeoff._num), the metrics not
    assert chosen["prune_rate"] == pytest.approx(m["prune_rate"], abs=5e-7)
    assert chosen["for"] == pytest.approx(m["for"], abs=5e-7)
    assert m["curve"]["base_rate"] == pytest.approx(m["random_for"], abs=5e-7)
    assert "scores" not in m and "labels" not in m
    assert png_size(png) == (620, 640)
    again = run("evaluate", tiny.model, tiny.data, "--plot", png, "--threads", 1)
    assert "--force" in one_line_error(again)
    text = run("evaluate", tiny.model, tiny.data, "--plot", png, "--force", "--threads", 1)
    assert text.exit_code == 0 and f"wrote {png}" in text.stdout
