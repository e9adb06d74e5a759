"""The `magical-prune models` command."""

import json

from click.testing import CliRunner

from magical_prune.cli import main
from magical_prune.models import list_models


def test_models_table_lists_every_architecture():
    result = CliRunner().invoke(main, ["models", "--size", "32"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:5] == ["arch", "params", "MACs", "RF", "pixels"]
    rows = {line.split()[0]: line for line in lines[1:-1]}
    assert list(rows) == list_models()
    assert "efficient *" in rows["efficient"]  # the default is marked
    assert "100%" in rows["feat3d"] and "6/6" in rows["feat3d"]
    assert "32x32" in lines[-1]


def test_models_json_one_object_per_architecture():
    result = CliRunner().invoke(main, ["models", "--json", "--size", "32"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["name"] for r in rows] == list_models()
    by_name = {r["name"]: r for r in rows}
    eff, feat3d = by_name["efficient"], by_name["feat3d"]
    assert eff["default"] and not feat3d["default"]
    assert eff["macs"] * 50 <= feat3d["macs"]
    assert eff["rf_spatial"] == 1.0 and eff["rf_sets"] == eff["sets_total"] == 6
    assert all(r["image_size"] == 32 and r["params"] > 0 for r in rows)


def test_models_pattern_and_unbuildable_size():
    result = CliRunner().invoke(main, ["models", "--json", "--size", "16", "*feat3d"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["name"] for r in rows] == ["nofeat3d", "feat3d"]
    assert all("too small" in r["error"] for r in rows)


def test_models_unknown_name_suggests_the_nearest():
    result = CliRunner().invoke(main, ["models", "feat3x"])  # "feat3" is a prefix: it lists
    assert result.exit_code == 2
    assert "did you mean feat3d" in result.output
    assert "Traceback" not in result.output
