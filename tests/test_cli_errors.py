"""One error style everywhere: click's usage errors, foreign model files, megabyte tokens and
non-placements are one short `error: ...` line; and `models` takes a bare prefix."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from matplotlib.image import imsave

from magical_prune.cli import main
from magical_prune.errors import MagicalPruneError, tidy_message

ROOT = Path(__file__).parent.parent
OTA3 = ROOT / "examples" / "ota3"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="magical-prune")


def one_line_error(result):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "Usage:" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "\x1b" not in lines[0] and len(lines[0]) < 400
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["explain", "nope.txt"], "error: nope.txt: no such file or folder (PLACEMENT; see "
                                  "'magical-prune explain --help')"),
        (["score", "x", "--batch-size", "x"], "error: --batch-size: 'x' is not a valid integer"),
        (["evaluate"], "error: missing argument 'MODEL' (see 'magical-prune evaluate --help')"),
        (["score", "x", "--bogus"], "error: no such option"),
        (["--bogus"], "(see 'magical-prune --help')"),
        (["bogus"], "error: no such command 'bogus'"),
        (["refflow", "bogus"], "(see 'magical-prune refflow --help')"),
        (["calibrate", "m.pt", "d.h5"], "error: missing option '-o' / '--output'"),
        (["evaluate", "a", "b", "--split", "x"], "error: --split: 'x' is not one of 'test', 'all'"),
    ],
)  # fmt: skip
def test_click_usage_errors_are_one_line(args, expected):
    line = one_line_error(run(*args))
    assert line.startswith(expected) or expected in line, line


def test_bare_commands_still_show_their_help():
    assert "Usage:" in run().output and "Commands:" in run("refflow").output


def test_foreign_model_files_are_named_without_torch_advice(tmp_path):
    text = tmp_path / "readme.pt"
    text.write_text("# not a model\n" * 20)
    pickled = tmp_path / "numpy.pt"
    torch.save({"a": np.zeros(3)}, pickled)  # needs an unsafe global to load
    image = tmp_path / "picture.pt"
    imsave(image, np.zeros((4, 4)), format="png")
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    layout = OTA3 / "ota3_0"
    for path, why in [(text, "not a PyTorch file: a text file"),
                      (pickled, "holds Python objects besides tensors"),
                      (image, "not a PyTorch file: a PNG image"), (empty, "the file is empty")]:  # fmt: skip
        line = one_line_error(run("score", layout, "--model", path))
        assert line == f"error: {path}: not a readable model file ({why})" or why in line, line
        assert "weights_only" not in line and "torch.load" not in line


def test_megabyte_tokens_are_shortened(tmp_path):
    layout = tmp_path / "ota3" / "ota3_0"
    shutil.copytree(OTA3, tmp_path / "ota3")
    (layout / "weight.txt").write_text(f"net {'q' * 300_000}\n")
    line = one_line_error(run("score", layout))
    assert "weight.txt:1:" in line and "[300,002 characters]" in line


def test_messages_lose_escape_codes_and_control_characters():
    err = MagicalPruneError("\x1b[1mbold\x1b[0m and a \x07bell\nand a new line", "f.txt", 3)
    assert str(err) == "f.txt:3: bold and a ?bell and a new line"
    assert tidy_message("x" * 121).endswith("[121 characters]")
    assert tidy_message("y" * 120) == "y" * 120


def test_an_image_or_a_netlist_is_not_a_placement(tmp_path):
    png = tmp_path / "routing.png"
    imsave(png, np.zeros((8, 8)))
    for command in ("score", "explain"):
        line = one_line_error(run(command, png))
        assert line.startswith(f"error: {png}: not a placement: a PNG image; give a placement")
    line = one_line_error(run("score", OTA3 / "ota3.sp"))
    assert "not a placement: a netlist" in line
    binary = tmp_path / "place.result"
    binary.write_bytes(b"M1 \x00\x01\x02")
    assert "not a placement: binary data" in one_line_error(run("score", binary))


def test_models_takes_a_bare_prefix():
    prefix = run("models", "feat", "--json", "--size", "16")
    glob = run("models", "feat*", "--json", "--size", "16")
    assert prefix.exit_code == 0, prefix.output
    assert prefix.stdout == glob.stdout and prefix.stdout.count("\n") == 2
    assert "did you mean efficient" in one_line_error(run("models", "eficient"))
