"""Every model command with the geometry learner: train, evaluate, calibrate, score, explain,
model-info; and the bundled model named ``default`` wherever a model is taken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from magical_prune.cli import main
from magical_prune.predict import bundled_model_path


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def geo_model(tiny, tmp_path_factory) -> Path:  # noqa: ANN001
    out = tmp_path_factory.mktemp("geo") / "geo.pt"
    code, stdout, stderr = run("train", tiny.data, "--learner", "geometry", "-o", out,
                               "--target-for", 0.15, "--json")  # fmt: skip
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["learner"] == "geometry" and report["test_metrics"]["n"] == 32
    return out


def test_train_writes_a_geometry_model_with_its_card(geo_model):  # noqa: ANN001
    code, stdout, _ = run("model-info", geo_model, "--json")
    assert code == 0
    info = json.loads(stdout)
    assert info["family"] == "geometry" and info["input_kind"] == "geometry"
    assert info["train_config"]["learner"] == "geometry"
    assert info["calibration"]["split"] == "out-of-fold"
    code, stdout, _ = run("model-info", geo_model)
    assert code == 0 and "geometry:" in stdout


def test_evaluate_gives_the_training_runs_test_metrics(geo_model, tiny):  # noqa: ANN001
    code, stdout, stderr = run("evaluate", geo_model, tiny.data, "--json")
    assert code == 0, stderr
    metrics = json.loads(stdout)
    card_metrics = json.loads(run("model-info", geo_model, "--json")[1])["test_metrics"]
    for key in ("tp", "fp", "tn", "fn", "for"):
        assert metrics[key] == card_metrics[key]


def test_calibrate_then_score_and_explain(geo_model, tiny, tmp_path):  # noqa: ANN001
    out = tmp_path / "cal.pt"
    code, stdout, stderr = run("calibrate", geo_model, tiny.data, "--target-for", 0.2,
                               "--split", "all", "-o", out, "--json")  # fmt: skip
    assert code == 0, stderr
    threshold = json.loads(stdout)["threshold"]
    code, stdout, stderr = run("score", *tiny.layouts[:5], "-m", out, "--json")
    assert code == 0, stderr
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert len(rows) == 5 and all(r["threshold"] == threshold for r in rows)
    code, stdout, stderr = run("explain", tiny.layouts[0], "-m", out, "--json")
    assert code == 0, stderr
    explained = json.loads(stdout)
    assert explained["score"] == pytest.approx(rows[0]["score"], abs=1e-6)
    assert set(explained["devices"]) >= {"M0", "M1"}


def test_another_designs_layout_is_one_clear_error(geo_model):  # noqa: ANN001
    other = Path(__file__).resolve().parents[1] / "examples" / "ota3" / "ota3_0"
    code, _, stderr = run("score", other, "-m", geo_model)
    assert code == 2
    assert "own design only" in stderr and "Traceback" not in stderr


def test_default_names_the_bundled_model(tmp_path, monkeypatch):  # noqa: ANN001
    monkeypatch.chdir(tmp_path)  # no file called "default" here
    code, stdout, _ = run("model-info", "default", "--json")
    assert code == 0 and json.loads(stdout)["path"] == str(bundled_model_path())
    info = json.loads(stdout)
    assert info["bundled"] is True and sorted(info["design_models"]) == ["ota1", "ota2",
                                                                          "ota3", "ota4"]  # fmt: skip
    (tmp_path / "default").write_bytes(b"not a model")  # a user's file of that name wins
    code, _, stderr = run("model-info", "default")
    assert code != 0 and "default" in stderr


def test_model_info_of_a_users_file_without_a_bundled_model(geo_model, monkeypatch):  # noqa: ANN001
    import magical_prune.predict as predict
    from magical_prune.errors import CheckpointError

    def missing():  # an installation that ships no bundled model
        raise CheckpointError("this installation has no bundled model")

    monkeypatch.setattr(predict, "bundled_model_path", missing)
    code, stdout, stderr = run("model-info", geo_model, "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["bundled"] is False


def test_the_cli_offers_every_registered_learner():
    from magical_prune.cli.learn_cmd import train
    from magical_prune.learners import LEARNERS

    option = next(p for p in train.params if p.name == "learner")
    assert list(option.type.choices) == list(LEARNERS)


def test_finetune_refuses_a_geometry_model_saying_what_to_do(geo_model, tiny, tmp_path):  # noqa: ANN001
    code, _, stderr = run("finetune", geo_model, tiny.data, "-o", tmp_path / "x.pt")
    assert code == 2 and "--learner geometry" in stderr and "Traceback" not in stderr


def test_fewshot_fits_the_geometry_learner_on_each_repeats_shots(geo_model, tiny, tmp_path):  # noqa: ANN001
    details = tmp_path / "repeats.json"
    code, stdout, stderr = run("fewshot", geo_model, tiny.data, "--shots", 24, "--repeats", 3,
                               "--json", "--details", details)  # fmt: skip
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["settings"]["learner"] == "geometry" and summary["settings"]["repeats"] == 3
    rows = json.loads(details.read_text())["repeats"]
    assert len(rows) == 3 and all(len(r["shot_ids"]) == 24 for r in rows)
    assert len({tuple(r["shot_ids"]) for r in rows}) == 3  # a fresh draw per repeat
    assert all(0.0 <= r["for_at_share"] <= 1.0 for r in rows)  # the ranking, at 25% pruned
    # the model learnt this design: its own FOR is reported beside the fitted ones
    assert all(r["pretrained_for"] is not None for r in rows)
    again = run("fewshot", geo_model, tiny.data, "--shots", 24, "--repeats", 3, "--json")[1]
    assert json.loads(again) == summary  # seeded: the same figures
    code, stdout, _ = run("fewshot", geo_model, tiny.data, "--shots", 24, "--repeats", 2, "-q")
    assert code == 0 and "fit on shots" in stdout
