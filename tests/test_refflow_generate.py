"""``refflow generate``: layout folders the adapters read, determinism, resuming, the CLI.

Placement-only runs (``simulate=False``) keep most tests fast; the labelled runs need
ngspice and the evaluator.
"""

from __future__ import annotations

import filecmp
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from magical_prune.adapters import magical
from magical_prune.cli import main
from magical_prune.errors import MagicalPruneError
from magical_prune.refflow import generate as gen
from magical_prune.refflow import netweights
from magical_prune.refflow.generate import GenerateOptions, generate
from magical_prune.refflow.placer import PlacerConfig

FAST = PlacerConfig(iterations=60)
OPTIONS = GenerateOptions(n=6, simulate=False, batch_size=4, placer=FAST)

TINY_NETLIST = """\
// a five-device differential pair for tests
subckt tiny INP INM OUTP OUTM VDD VSS
M0 (tail VSS VSS VSS) nch l=1u w=4u m=1 nf=2
M1 (OUTM INP tail VSS) nch l=0.5u w=8u m=1 nf=4
M2 (OUTP INM tail VSS) nch l=0.5u w=8u m=1 nf=4
R1 (VDD OUTM) poly_res l=10u w=1u segments=2
R2 (VDD OUTP) poly_res l=10u w=1u segments=2
ends tiny
"""


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted run of ota3 (placement only)."""
    out = tmp_path_factory.mktemp("ref")
    summary = generate("ota3", out, OPTIONS, progress=False)
    assert (summary.placed, summary.already_done, summary.failed) == (6, 0, {})
    return out


def test_layout_folders_read_back(reference):
    folder = reference / "ota3"
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == [
        f"ota3_{k}" for k in sorted(range(6), key=str)
    ]
    for name in ("ota3.sp", "ota3.sym", "ota3.json", "ota3.channel"):
        assert (folder / name).is_file()
    assert magical.find_layouts(folder)[0].name == "ota3_0"
    placement = magical.load_placement(folder / "ota3_2")
    assert set(placement.names) == set(placement.circuit.devices)
    assert not (folder / "ota3_2" / "performance.txt").exists()
    # The weight file says which subset of critical nets was raised.
    critical = gen._context("ota3", str(folder), OPTIONS).space.critical
    expected = netweights.subsets([2], len(critical), OPTIONS.seed)[0]
    assert gen.read_mask(folder / "ota3_2", critical) == expected
    raised = {n for n, w in placement.weights.items() if w == 10}
    assert raised == set(netweights.subset_nets(expected, critical))


def test_written_layouts_are_legal(reference):
    folder = reference / "ota3"
    for k in range(6):
        p = magical.load_placement(folder / f"ota3_{k}")
        r = p.rects
        i, j = np.triu_indices(len(r), k=1)
        apart = (np.maximum(r[j, 0] - r[i, 2], r[i, 0] - r[j, 2]) >= FAST.spacing) | (
            np.maximum(r[j, 1] - r[i, 3], r[i, 1] - r[j, 3]) >= FAST.spacing
        )
        assert apart.all()
        index = {n: t for t, n in enumerate(p.names)}
        sums = {int(r[index[a], 0] + r[index[b], 2]) for a, b in p.circuit.symmetry.pairs}
        sums |= {int(r[index[s], 0] + r[index[s], 2]) for s in p.circuit.symmetry.self_symmetric}
        assert len(sums) == 1  # one axis for every pair and self-symmetric device
        for a, b in p.circuit.symmetry.pairs:
            assert r[index[a], 1] == r[index[b], 1]


def test_same_seed_same_bytes_and_jobs_do_not_matter(reference, tmp_path):
    summary = generate("ota3", tmp_path, replace_opts(jobs=2), progress=False)
    assert summary.placed == 6
    assert tree(tmp_path) == tree(reference)


def test_other_seed_other_layouts(reference, tmp_path):
    generate("ota3", tmp_path, replace_opts(n=2, seed=1), progress=False)
    a = (reference / "ota3" / "ota3_0" / "place.result").read_bytes()
    b = (tmp_path / "ota3" / "ota3_0" / "place.result").read_bytes()
    assert a != b


def test_weightings_give_different_placements(reference):
    results = {(reference / "ota3" / f"ota3_{k}" / "place.result").read_bytes() for k in range(6)}
    assert len(results) == 6


def test_resume_after_interruption(reference, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = magical.write_connection

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:  # writing the last layout (the first chunk of 4 is done)
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(magical, "write_connection", dying)
    with pytest.raises(KeyboardInterrupt):
        generate("ota3", tmp_path, OPTIONS, progress=False)
    monkeypatch.setattr(magical, "write_connection", real)
    design = tmp_path / "ota3"
    assert (design / gen.STAGING).is_dir()  # a half-written layout was left behind
    finished = sorted(p.name for p in design.iterdir() if p.name.startswith("ota3_"))
    assert 0 < len(finished) < 6
    before = {n: (design / n / "place.result").stat().st_mtime_ns for n in finished}

    summary = generate("ota3", tmp_path, OPTIONS, progress=False)
    assert summary.already_done == len(finished)
    assert summary.placed == 6 - len(finished)
    assert tree(tmp_path) == tree(reference)
    for name, mtime in before.items():  # finished layouts are not redone
        assert (design / name / "place.result").stat().st_mtime_ns == mtime


def test_partial_run_then_more(reference, tmp_path):
    generate("ota3", tmp_path, replace_opts(n=3), progress=False)
    (tmp_path / "ota3" / gen.STAGING / "ota3_4.123").mkdir(parents=True)
    (tmp_path / "ota3" / gen.STAGING / "ota3_4.123" / "place.result").write_text("M0 0 0")
    summary = generate("ota3", tmp_path, OPTIONS, progress=False)
    assert (summary.already_done, summary.placed) == (3, 3)
    assert tree(tmp_path) == tree(reference)


def test_refuses_to_mix_designs(tmp_path):
    generate("ota3", tmp_path, replace_opts(n=1), progress=False)
    (tmp_path / "ota3" / "ota3.sym").write_text("M1 M2\n")
    with pytest.raises(MagicalPruneError, match="another version"):
        generate("ota3", tmp_path, replace_opts(n=1), progress=False)


def test_provenance_is_recorded_and_checked(reference, tmp_path):
    record = json.loads((reference / "ota3" / "refflow.json").read_text())
    assert record["design"] == "ota3" and record["labels"] is None  # placement only
    assert record["placement"]["seed"] == 0 and record["placement"]["weight"] == 10.0
    assert record["placement"]["batch_size"] == 4
    generate("ota3", tmp_path, replace_opts(n=1), progress=False)
    with pytest.raises(MagicalPruneError, match="weight: 5.0 now, 10.0 recorded"):
        generate("ota3", tmp_path, replace_opts(n=2, weight=5.0), progress=False)


def test_labels_without_provenance_are_not_extended(tmp_path):
    generate("ota3", tmp_path, replace_opts(n=1), progress=False)
    design = tmp_path / "ota3"
    (design / "refflow.json").unlink()  # as left by an older version, with a label
    (design / "ota3_0" / "performance.txt").write_text("Offset_Voltage=1e-3\n")
    with pytest.raises(MagicalPruneError, match="no refflow.json"):
        generate("ota3", tmp_path, replace_opts(n=2), progress=False)


def test_too_many_candidates(tmp_path):
    with pytest.raises(MagicalPruneError, match="distinct weightings"):
        generate("ota3", tmp_path, replace_opts(n=2**14 + 1), progress=False)


def test_design_folder(tmp_path):
    src = tmp_path / "tiny"
    src.mkdir()
    (src / "tiny.sp").write_text(TINY_NETLIST)
    (src / "tiny.sym").write_text("M1 M2\nR1 R2\nM0\n")
    out = tmp_path / "out"
    summary = generate(src, out, replace_opts(n=None), progress=False)
    # Critical nets by default: signal nets with two or more routed pins.
    assert summary.critical_nets == ("tail", "OUTM", "OUTP")
    assert summary.candidates == 8 and summary.placed == 8
    assert filecmp.cmp(src / "tiny.sym", out / "tiny" / "tiny.sym", shallow=False)
    layouts = magical.find_layouts(out / "tiny")
    assert len({(p / "place.result").read_bytes() for p in layouts}) > 1


def test_cli(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["refflow", "generate", "ota3", "-o", str(tmp_path), "-n", "2", "--no-simulate",
         "--batch-size", "2", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["placed"] == 2 and summary["simulated"] == 0 and summary["failed"] == {}
    again = runner.invoke(
        main, ["refflow", "generate", "ota3", "-o", str(tmp_path), "-n", "2", "--no-simulate",
               "--batch-size", "2", "-q"],
    )  # fmt: skip
    assert again.exit_code == 0
    assert "2 already done, 0 placed" in again.output
    bad = runner.invoke(main, ["refflow", "generate", "ota7", "-o", str(tmp_path)])
    assert bad.exit_code == 2 and "did you mean" in bad.output


def test_simulator_giving_up_on_a_group_fails_only_the_bad_layout(tmp_path, monkeypatch):
    from magical_prune.errors import SimulationError
    from magical_prune.refflow import evaluator, spice

    def fake(placements, design, mismatch=1.0, *, layout_ids=None, failures=None, **kw):
        if "ota3_2" in layout_ids:  # hangs: the simulator stops the whole batch
            raise SimulationError("ngspice ran longer than 30 s")
        return [{"Offset_Voltage": 1e-3 * len(i), "CMRR": 80.0} for i in layout_ids]

    monkeypatch.setattr(spice, "find_ngspice", lambda: "ngspice")
    monkeypatch.setattr(evaluator, "evaluate", fake)
    summary = generate("ota3", tmp_path, replace_opts(simulate=True), progress=False)
    assert summary.placed == 6 and summary.simulated == 5
    assert "ran longer" in summary.failed["ota3_2"]
    design = tmp_path / "ota3"
    assert not (design / "ota3_2" / "performance.txt").exists()
    perf = magical.read_performance(design / "ota3_3" / "performance.txt")
    assert perf == {"Offset_Voltage": 6e-3, "CMRR": 80.0}


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ota3"


#: Across numpy/scipy/torch releases or CPUs with other vector kernels, a placement may move
#: by a few grid steps (10 nm), and now and then the placer's solve lands on another optimum:
#: made on AVX2, regenerated on AVX512 with the same versions, 15 of the 20 example layouts
#: moved by 0.01-0.14 µm and one (ota3_13) by 6.6 µm. A real change of the placer moves every
#: layout by micrometres (test_tolerance_check_catches_a_placer_change: 20 of 20, 5-38 µm).
#: So elsewhere: every coordinate within the tolerance in all but CROSS_ENV_MAX_MOVED layouts.
CROSS_ENV_TOLERANCE_UM = 0.2
CROSS_ENV_MAX_MOVED = 2


def _numbers(path: Path) -> tuple[list[str], np.ndarray]:
    """The words and the numbers of a placement file, in file order."""
    words, numbers = [], []
    for token in path.read_text().replace("(", " ").replace(")", " ").split():
        try:
            numbers.append(float(token))
        except ValueError:
            words.append(token)
    return words, np.asarray(numbers)


def placement_differences(expected: Path, fresh: Path, tolerance_um: float) -> list[str]:
    """Files of two design folders that differ: byte for byte at tolerance 0, else the same
    words (names, nets, layers) and every coordinate within ``tolerance_um``."""
    diffs = []
    for layout in magical.find_layouts(expected):
        for name in ("place.result", "place.pin", "place.connection", "weight.txt"):
            a, b = layout / name, fresh / layout.name / name
            if a.read_bytes() == b.read_bytes():
                continue
            (wa, na), (wb, nb) = _numbers(a), _numbers(b)
            exact = name in ("place.connection", "weight.txt") or tolerance_um == 0
            if exact or wa != wb or na.shape != nb.shape or np.abs(na - nb).max() > tolerance_um:
                diffs.append(f"{layout.name}/{name}")
    return diffs


def _tolerance_for(record: dict) -> tuple[float, int]:
    """(tolerance, layouts allowed beyond it): (0, 0), byte for byte, in the environment that
    made the committed set; else the cross-environment ones."""
    from magical_prune.refflow.provenance import numeric_environment

    if record.get("environment") == numeric_environment():
        return 0.0, 0
    return CROSS_ENV_TOLERANCE_UM, CROSS_ENV_MAX_MOVED


@pytest.mark.skipif(not EXAMPLE.is_dir(), reason="no committed example set")
def test_committed_example_set_is_reproducible(tmp_path):
    """examples/ota3 is what its recorded command makes: byte for byte in the recorded
    environment; elsewhere within CROSS_ENV_TOLERANCE_UM but for CROSS_ENV_MAX_MOVED layouts."""
    layouts = magical.find_layouts(EXAMPLE)
    assert [p.name for p in layouts] == [f"ota3_{k}" for k in range(20)]
    committed = json.loads((EXAMPLE / "refflow.json").read_text())
    generate("ota3", tmp_path, GenerateOptions(n=20, seed=0, simulate=False), progress=False)
    tolerance, allowed = _tolerance_for(committed)
    moved = {d.split("/")[0] for d in placement_differences(EXAMPLE, tmp_path / "ota3", tolerance)}
    assert len(moved) <= allowed, sorted(moved)
    for layout in layouts:
        perf = magical.read_performance(layout / "performance.txt")
        assert set(perf) >= {"Offset_Voltage", "CMRR", "Gain"}
    for name in ("ota3.sp", "ota3.sym", "ota3.json", "ota3.channel"):
        assert (EXAMPLE / name).read_bytes() == (tmp_path / "ota3" / name).read_bytes()
    # the recorded settings: the same placement settings, nominal labels
    fresh = json.loads((tmp_path / "ota3" / "refflow.json").read_text())
    assert committed["placement"] == fresh["placement"]
    assert committed["labels"]["mismatch"] == 0.0


def test_tolerance_check_catches_a_placer_change(tmp_path):
    """A slightly different placer (one setting changed) fails the cross-environment check."""
    changed = GenerateOptions(
        n=20, seed=0, simulate=False, placer=replace(PlacerConfig(), learning_rate=0.45)
    )
    generate("ota3", tmp_path, changed, progress=False)
    diffs = placement_differences(EXAMPLE, tmp_path / "ota3", CROSS_ENV_TOLERANCE_UM)
    assert len(diffs) >= 10


def test_tolerance_check_accepts_grid_step_noise(tmp_path):
    """One coordinate moved by a grid step passes the tolerance check, not the byte check."""
    shutil.copytree(EXAMPLE, tmp_path / "ota3")
    result = tmp_path / "ota3" / "ota3_4" / "place.result"
    lines = result.read_text().splitlines(keepends=True)
    name, x, rest = lines[1].split(" ", 2)
    lines[1] = f"{name} {float(x) + 0.01:.3f} {rest}"
    result.write_text("".join(lines))
    assert placement_differences(EXAMPLE, tmp_path / "ota3", 0.0) == ["ota3_4/place.result"]
    assert placement_differences(EXAMPLE, tmp_path / "ota3", CROSS_ENV_TOLERANCE_UM) == []


# -- labelled runs (ngspice) ----------------------------------------------------------------
needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice missing")
LABELLED = GenerateOptions(n=4, batch_size=4, placer=FAST)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    if shutil.which("ngspice") is None:
        pytest.skip("ngspice missing")
    out = tmp_path_factory.mktemp("labelled")
    summary = generate("ota3", out, LABELLED, progress=False)
    assert (summary.placed, summary.simulated, summary.failed) == (4, 4, {})
    return out


@pytest.mark.ngspice
@needs_ngspice
def test_labelled_layouts(labelled):
    from magical_prune.refflow.evaluator import evaluate_layouts

    folder = labelled / "ota3"
    perf = magical.read_performance(folder / "ota3_1" / "performance.txt")
    assert list(perf) == ["Offset_Voltage", "CMRR", "Gain", "UGF"]
    assert abs(perf["Offset_Voltage"]) < 0.1 and perf["Gain"] > 20
    # Re-simulating the folder (as `refflow evaluate` does) gives the same label: the
    # mismatch draw is seeded by the layout's folder name in both.
    again = evaluate_layouts([folder / "ota3_1"], LABELLED.mismatch, write=False)
    assert again[0].metrics == perf


@pytest.mark.ngspice
@needs_ngspice
def test_labels_are_nominal_by_default_and_re_evaluated_at_the_recorded_scale(labelled, tmp_path):
    from magical_prune.refflow.evaluator import evaluate_layouts, label_settings

    record = json.loads((labelled / "ota3" / "refflow.json").read_text())
    assert record["labels"]["mismatch"] == 0.0
    assert record["labels"]["evaluator"] == json.loads(json.dumps(label_settings()))
    # a folder labelled at another scale: re-evaluating it uses that scale by default
    generate("ota3", tmp_path, replace(LABELLED, n=1, mismatch=0.5), progress=False)
    folder = tmp_path / "ota3" / "ota3_0"
    stored = magical.read_performance(folder / "performance.txt")
    (again,) = evaluate_layouts([folder], write=False)
    assert again.mismatch == 0.5 and again.metrics == stored
    (nominal,) = evaluate_layouts([folder], 0.0, write=False)
    assert nominal.metrics["Offset_Voltage"] != stored["Offset_Voltage"]
    assert nominal.metrics == magical.read_performance(
        labelled / "ota3" / "ota3_0" / "performance.txt"
    )
    runner = CliRunner()
    result = runner.invoke(main, ["refflow", "evaluate", str(folder), "--json", "--no-write"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["mismatch"] == 0.5


@pytest.mark.ngspice
@needs_ngspice
def test_failed_simulation_is_reported_and_redone(labelled, tmp_path, monkeypatch):
    from magical_prune.refflow import evaluator

    real = evaluator.evaluate

    def flaky(placements, design, mismatch=1.0, *, layout_ids=None, failures=None, **kw):
        results = real(placements, design, mismatch, layout_ids=layout_ids, failures=failures)
        if "ota3_2" in layout_ids:
            i = layout_ids.index("ota3_2")
            results[i] = None
            failures[i] = "did not converge"
        return results

    monkeypatch.setattr(evaluator, "evaluate", flaky)
    messages: list[str] = []
    summary = generate("ota3", tmp_path, LABELLED, progress=False, report=messages.append)
    assert summary.placed == 4 and summary.simulated == 3
    assert list(summary.failed) == ["ota3_2"] and "did not converge" in summary.failed["ota3_2"]
    assert messages and "ota3_2" in messages[0]
    folder = tmp_path / "ota3" / "ota3_2"
    assert (folder / "place.result").is_file() and not (folder / "performance.txt").exists()

    monkeypatch.setattr(evaluator, "evaluate", real)
    summary = generate("ota3", tmp_path, LABELLED, progress=False)
    assert (summary.already_done, summary.placed, summary.simulated) == (3, 1, 1)
    assert tree(tmp_path) == tree(labelled)


@pytest.mark.ngspice
@needs_ngspice
def test_labelled_run_is_reproducible_and_resumes_placed_only(labelled, tmp_path):
    # A placement-only run first, then a labelled run over it: same files as one labelled run.
    generate("ota3", tmp_path, replace(LABELLED, simulate=False), progress=False)
    summary = generate("ota3", tmp_path, LABELLED, progress=False)
    assert (summary.already_done, summary.simulated) == (0, 4)
    assert tree(tmp_path) == tree(labelled)


def replace_opts(**changes) -> GenerateOptions:
    return replace(OPTIONS, **changes)


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path):
    yield
    shutil.rmtree(tmp_path, ignore_errors=True)
