"""Nothing a user made is overwritten or deleted without --force (issue 9, section 4).

``refflow generate`` redoing unfinished layouts, ``refflow evaluate`` over existing labels
and ``fewshot --details``. Placement-only runs and a stand-in evaluator keep these fast;
the real evaluator is exercised in ``test_refflow_generate.py``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from magical_prune.adapters import magical
from magical_prune.cli import main
from magical_prune.errors import MagicalPruneError
from magical_prune.refflow import evaluator
from magical_prune.refflow.generate import GenerateOptions, generate
from magical_prune.refflow.placer import PlacerConfig

OPTIONS = GenerateOptions(n=4, simulate=False, batch_size=4, placer=PlacerConfig(iterations=40))
LABELLED = replace(OPTIONS, simulate=True)
FAKE = {"Offset_Voltage": 1e-5, "CMRR": 90.0, "Gain": 60.0, "UGF": 1e8}


@pytest.fixture()
def fake_evaluator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Label every layout with the same numbers instead of running ngspice."""

    def fake(placements, design, mismatch=0.0, *, layout_ids=None, failures=None, **kw):  # noqa: ANN001, ANN003, ANN202
        return [dict(FAKE) for _ in placements]

    monkeypatch.setattr(evaluator, "evaluate", fake)


@pytest.fixture()
def placed(tmp_path: Path) -> Path:
    """A placement-only run: every layout folder is unfinished for a labelled run."""
    generate("ota3", tmp_path, OPTIONS, progress=False)
    return tmp_path / "ota3"


def test_user_file_in_an_unfinished_layout_is_refused_before_any_work(
    placed: Path, fake_evaluator: None
) -> None:
    notes = placed / "ota3_1" / "notes.txt"
    notes.write_text("my measurements\n")
    with pytest.raises(MagicalPruneError, match=r"ota3_1 holds notes\.txt.*--force"):
        generate("ota3", placed.parent, LABELLED, progress=False)
    assert notes.read_text() == "my measurements\n"
    assert not any((placed / f"ota3_{k}" / "performance.txt").exists() for k in range(4))


def test_cli_names_folder_file_and_force_on_one_line(tmp_path: Path, fake_evaluator: None) -> None:
    args = ["refflow", "generate", "ota3", "-o", str(tmp_path), "-n", "4", "--batch-size", "4",
            "-q"]  # fmt: skip
    runner = CliRunner()
    assert runner.invoke(main, [*args, "--no-simulate"]).exit_code == 0
    placed = tmp_path / "ota3"
    (placed / "ota3_2" / "notes.txt").write_text("keep me\n")
    (placed / "ota3_3" / "plots").mkdir()
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "ota3_2 holds notes.txt" in line and "1 more folder" in line and "--force" in line
    assert (placed / "ota3_2" / "notes.txt").read_text() == "keep me\n"
    assert (placed / "ota3_3" / "plots").is_dir()


def test_force_replaces_the_folder(placed: Path, fake_evaluator: None) -> None:
    (placed / "ota3_1" / "notes.txt").write_text("scratch\n")
    summary = generate("ota3", placed.parent, LABELLED, progress=False, force=True)
    assert (summary.placed, summary.simulated, summary.failed) == (4, 4, {})
    assert not (placed / "ota3_1" / "notes.txt").exists()
    assert magical.read_performance(placed / "ota3_1" / "performance.txt") == FAKE


def test_resume_still_redoes_unfinished_layouts(placed: Path, fake_evaluator: None) -> None:
    before = {k: (placed / f"ota3_{k}" / "place.result").read_bytes() for k in range(4)}
    summary = generate("ota3", placed.parent, LABELLED, progress=False)
    assert (summary.already_done, summary.placed, summary.simulated) == (0, 4, 4)
    for k in range(4):
        folder = placed / f"ota3_{k}"
        assert (folder / "place.result").read_bytes() == before[k]
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            ["place.result", "place.pin", "place.connection", "weight.txt", "performance.txt"]
        )
    again = generate("ota3", placed.parent, LABELLED, progress=False)
    assert (again.already_done, again.placed) == (4, 0)


def test_hand_edited_layout_file_is_kept_and_reported(placed: Path, fake_evaluator: None) -> None:
    result = placed / "ota3_0" / "place.result"
    edited = result.read_text().replace("M1 ", "M1  ", 1)
    result.write_text(edited)
    summary = generate("ota3", placed.parent, LABELLED, progress=False)
    assert list(summary.failed) == ["ota3_0"]
    assert "place.result differs" in summary.failed["ota3_0"]
    assert "--force" in summary.failed["ota3_0"]
    assert result.read_text() == edited
    assert not (placed / "ota3_0" / "performance.txt").exists()
    assert summary.simulated == 3


def test_user_files_in_finished_layouts_are_never_touched(placed: Path) -> None:
    notes = placed / "ota3_0" / "notes.txt"
    notes.write_text("finished layouts are left alone\n")
    summary = generate("ota3", placed.parent, replace(OPTIONS, n=6), progress=False)
    assert (summary.already_done, summary.placed) == (4, 2)
    assert notes.read_text() == "finished layouts are left alone\n"


# -- refflow evaluate ----------------------------------------------------------------------
@pytest.fixture()
def stub_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Evaluator.evaluate`` without ngspice: fixed metrics for every placement."""

    def fake(self, placements, mismatch=0.0, layout_ids=None, progress=None):  # noqa: ANN001, ANN202
        self.failures = {}
        return [dict(FAKE) for _ in placements]

    monkeypatch.setattr(evaluator.Evaluator, "evaluate", fake)
    monkeypatch.setattr(evaluator.Evaluator, "_check_bench", lambda self: None)


def test_evaluate_keeps_an_existing_label_without_force(
    placed: Path, stub_simulation: None
) -> None:
    label = placed / "ota3_1" / "performance.txt"
    label.write_text("Offset_Voltage=0.00123\n")
    runner = CliRunner()
    refused = runner.invoke(main, ["refflow", "evaluate", str(placed), "-q"])
    assert refused.exit_code == 2
    assert "ota3_1/performance.txt exists" in refused.output and "--force" in refused.output
    assert label.read_text() == "Offset_Voltage=0.00123\n"
    assert not (placed / "ota3_0" / "performance.txt").exists()  # stopped before any work

    printed = runner.invoke(main, ["refflow", "evaluate", str(placed), "-q", "--no-write"])
    assert printed.exit_code == 0 and printed.output.count("Offset_Voltage=1e-05") == 4
    assert label.read_text() == "Offset_Voltage=0.00123\n"
    assert not (placed / "ota3_0" / "performance.txt").exists()

    forced = runner.invoke(main, ["refflow", "evaluate", str(placed), "-q", "--force"])
    assert forced.exit_code == 0, forced.output
    assert magical.read_performance(label) == FAKE


def test_evaluate_writes_new_labels_without_force(placed: Path, stub_simulation: None) -> None:
    result = CliRunner().invoke(main, ["refflow", "evaluate", str(placed / "ota3_2"), "-q"])
    assert result.exit_code == 0, result.output
    assert magical.read_performance(placed / "ota3_2" / "performance.txt") == FAKE


# -- fewshot --details ---------------------------------------------------------------------
def test_fewshot_details_needs_force(tiny, tmp_path: Path) -> None:  # noqa: ANN001
    details = tmp_path / "fs.json"
    details.write_text('{"mine": true}\n')
    args = ["fewshot", str(tiny.model), str(tiny.data), "--shots", "8", "--repeats", "1",
            "--epochs", "1", "--steps-per-epoch", "1", "--json", "--details", str(details)]  # fmt: skip
    runner = CliRunner()
    refused = runner.invoke(main, args)
    assert refused.exit_code == 2 and "use --force" in refused.output
    assert details.read_text() == '{"mine": true}\n'
    forced = runner.invoke(main, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert len(json.loads(details.read_text())["repeats"]) == 1
