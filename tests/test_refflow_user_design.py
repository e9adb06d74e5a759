"""The reference flow on a user's design folder (issue 9, section 5).

A design the evaluator cannot bench correctly is an error before any placement; with
conventional port names a default bench is derived and printed; a layout whose operating
point is broken fails with its reason and gets no label. The user designs are copies of the
bundled ota3 with renamed ports.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from magical_prune.adapters import magical
from magical_prune.cli import main
from magical_prune.errors import MagicalPruneError
from magical_prune.refflow import benchcheck
from magical_prune.refflow.designs import DESIGNS_DIR, load_design
from magical_prune.refflow.generate import GenerateOptions, generate
from magical_prune.refflow.placer import PlacerConfig

pytestmark = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice missing")
OPTIONS = GenerateOptions(n=2, batch_size=2, placer=PlacerConfig(iterations=40))
BENCH = json.loads((DESIGNS_DIR / "ota3" / "ota3.bench.json").read_text())


def user_design(root: Path, name: str, ports: dict[str, str] | None = None) -> Path:
    """A copy of ota3 named ``name`` with ports renamed (``old -> new``), no bench file."""
    folder = root / name
    folder.mkdir(parents=True)
    ports = {"ota3": name, **(ports or {})}
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, ports)) + r")\b")
    for suffix in (".sp", ".sym", ".symnet", ".json", ".channel"):
        text = (DESIGNS_DIR / "ota3" / f"ota3{suffix}").read_text()
        (folder / f"{name}{suffix}").write_text(pattern.sub(lambda m: ports[m.group(1)], text))
    return folder


def write_bench(folder: Path, **changes: object) -> Path:
    bench = {k: v for k, v in BENCH.items() if k != "critical_nets"}
    path = folder / f"{folder.name}.bench.json"
    path.write_text(json.dumps({**bench, **changes}))
    return path


def test_unconventional_ports_without_bench_say_what_to_write(tmp_path: Path) -> None:
    folder = user_design(tmp_path, "u1", {"VSS": "AGND"})
    out = tmp_path / "out"
    with pytest.raises(MagicalPruneError) as err:
        generate(folder, out, OPTIONS, progress=False)
    message = str(err.value)
    assert "no u1.bench.json" in message and "lack VSS" in message
    assert '"supplies"' in message and '"bias_currents"' in message
    assert not out.exists()


def test_floating_port_is_an_error_before_any_placement(tmp_path: Path) -> None:
    folder = user_design(tmp_path, "u2", {"IBIAS": "IREF"})
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["refflow", "generate", str(folder), "-o", str(out), "-q"])
    assert result.exit_code == 2
    note, error = result.stderr.strip().splitlines()
    assert note.startswith("note: no u2.bench.json") and '"bias_currents": {}' in note
    assert error.startswith("error: ") and "port IREF of 'u2' floating" in error
    assert "write u2.bench.json" in error
    assert not out.exists()


def test_conventional_ports_get_a_derived_bench_and_real_labels(tmp_path: Path) -> None:
    folder = user_design(tmp_path, "u3")
    out = tmp_path / "out"
    args = ["refflow", "generate", str(folder), "-o", str(out), "-n", "2", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "note: no u3.bench.json" in result.stderr
    assert '"bias_currents": {"IBIAS": 2e-05}' in result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["simulated"], summary["failed"]) == (2, {})
    for k in range(2):
        perf = magical.read_performance(out / "u3" / f"u3_{k}" / "performance.txt")
        assert perf["Gain"] > 40 and abs(perf["Offset_Voltage"]) < 1e-3


def test_wrong_bias_is_an_error_before_any_placement(tmp_path: Path) -> None:
    folder = user_design(tmp_path, "u4")
    write_bench(folder, bias_currents={"IBIAS": -2e-5})  # current out of the port: wrong sign
    out = tmp_path / "out"
    with pytest.raises(MagicalPruneError, match=r"DC gain -?[\d.]+ dB is below 0 dB") as err:
        generate(folder, out, OPTIONS, progress=False)
    assert "fix u4.bench.json" in str(err.value)
    assert not out.exists()


def test_layouts_with_a_broken_operating_point_fail_with_their_reason(tmp_path: Path) -> None:
    folder = user_design(tmp_path, "u5")
    out = tmp_path / "out"
    generate(folder, out, replace(OPTIONS, simulate=False), progress=False)
    write_bench(out / "u5", bias_currents={"IBIAS": -2e-5})  # the labels' bench, wrong sign
    result = CliRunner().invoke(main, ["refflow", "evaluate", str(out / "u5"), "-q"])
    assert result.exit_code == 1
    failed = [line for line in result.stdout.splitlines() if "FAILED" in line]
    assert len(failed) == 2 and all("operating point broken: DC gain" in f for f in failed)
    assert not any((out / "u5" / f"u5_{k}" / "performance.txt").exists() for k in range(2))


def test_one_broken_layout_fails_alone_in_generate(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from magical_prune.refflow import evaluator
    from magical_prune.refflow.lde import layout_seed

    real = evaluator.Evaluator.layout_netlist

    def shorted(self, placement, mismatch, seed, title="* mp_layout 0"):  # noqa: ANN001, ANN202
        text = real(self, placement, mismatch, seed, title)
        if seed == layout_seed("u6", "u6_1"):  # pull one output of this layout to ground
            outp = re.search(r"^efb fbd 0 (\S+) ", text, re.M).group(1)
            text = text.replace(".end\n", f"rshort {outp} 0 50\n.end\n")
        return text

    monkeypatch.setattr(evaluator.Evaluator, "layout_netlist", shorted)
    summary = generate(user_design(tmp_path, "u6"), tmp_path / "out", OPTIONS, progress=False)
    assert summary.simulated == 1 and list(summary.failed) == ["u6_1"]
    assert "operating point broken" in summary.failed["u6_1"]
    assert not (tmp_path / "out" / "u6" / "u6_1" / "performance.txt").exists()
    assert (tmp_path / "out" / "u6" / "u6_0" / "performance.txt").is_file()


def test_operating_problem_by_hand() -> None:
    bench = load_design("ota3").bench
    assert benchcheck.output_target(bench) == 0.6  # the VCM bias voltage
    assert benchcheck.operating_problem(60.0, 0.61, bench) is None
    assert "below 0 dB" in benchcheck.operating_problem(-0.5, 0.6, bench)
    assert "0.200 V from its target 0.6 V" in benchcheck.operating_problem(60.0, 0.4, bench)
    assert benchcheck.operating_problem(60.0, 0.49, bench) is None  # within 0.12 V
    assert benchcheck.operating_problem(float("nan"), 0.6, bench) is not None
    free = replace(bench, bias_voltages={})  # no CMFB reference: the common mode is free
    assert benchcheck.output_target(free) is None
    assert benchcheck.operating_problem(60.0, 0.1, free) is None
    assert benchcheck.output_target(replace(free, output_common_mode=0.5)) == 0.5
