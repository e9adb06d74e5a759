"""`magical-prune features` on the tiny fixture layout (a 5-transistor OTA with a cap)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from magical_prune.cli import main
from magical_prune.features import IMAGE_NAMES

TINY = Path(__file__).parent / "data" / "adapters" / "tiny"
LAYOUT = TINY / "tiny_1"


def run(*args: str):
    return CliRunner().invoke(main, ["features", *map(str, args)])


def test_features_npz_and_json(tmp_path):
    out = tmp_path / "f.npz"
    result = run(LAYOUT, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["shape"] == [6, 3, 64, 64] and summary["devices"] == 6
    assert summary["nets"] == 8  # every net of place.connection has a non-bulk pin
    with np.load(out) as data:
        features, names = data["features"], tuple(data["names"])
    assert names == IMAGE_NAMES and features.dtype == np.float32
    energy = features[:, 0].sum(axis=(1, 2))
    on = {n for n, e in zip(names, energy) if e > 0}
    assert on == {"routing", "first_stage", "feedback", "bias"}  # M4 is in 1 and 5, C0 in 3


def test_png_size_paper_and_determinism(tmp_path):
    a = run(LAYOUT, "-o", tmp_path / "a.npz", "--png", tmp_path / "png", "--size", 16,
            "--rasterizer", "paper")  # fmt: skip
    assert a.exit_code == 0, a.output
    pngs = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert pngs == sorted([f"{n}.png" for n in IMAGE_NAMES] + ["contact_sheet.png"])
    b = run(LAYOUT, "-o", tmp_path / "b.npz", "--size", 16, "--rasterizer", "paper")
    assert b.exit_code == 0, b.output
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz") as data:
        f = data["features"]
    assert f.shape == (6, 3, 16, 16)
    assert set(np.unique(f[1:, 0])) <= {0.0, 0.25, 0.5, 0.75, 1.0}


def test_refuses_to_overwrite_without_force(tmp_path):
    out = tmp_path / "f.npz"
    out.write_bytes(b"keep me")
    result = run(LAYOUT, "-o", out)
    assert result.exit_code == 2 and "--force" in result.output
    assert "Traceback" not in result.output and out.read_bytes() == b"keep me"
    (tmp_path / "png").mkdir()
    (tmp_path / "png" / "bias.png").write_bytes(b"keep")
    result = run(LAYOUT, "-o", tmp_path / "g.npz", "--png", tmp_path / "png")
    assert result.exit_code == 2 and not (tmp_path / "g.npz").exists()
    assert run(LAYOUT, "-o", out, "--png", tmp_path / "png", "--force").exit_code == 0
    assert out.read_bytes() != b"keep me"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rasterizer", "exakt"], "did you mean exact"),
        (["--channels", TINY / "missing.channel"], "not found"),
    ],
)
def test_user_errors_are_one_line(tmp_path, args, message):
    result = run(LAYOUT, "-o", tmp_path / "f.npz", *args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_folder_without_layout(tmp_path):
    result = run(tmp_path, "-o", tmp_path / "f.npz")
    assert result.exit_code == 2 and "no layout" in result.output
