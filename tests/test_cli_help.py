"""Help texts a new user follows: examples name paths the README's tour makes, and each
command's label options state that command's defaults."""

from __future__ import annotations

import re
from pathlib import Path

import click
from click.testing import CliRunner

from magical_prune.cli import main

ROOT = Path(__file__).parent.parent


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="magical-prune")


def _all_commands(group, prefix=()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


def _examples(help_text: str) -> list[str]:
    lines = [line.strip() for line in help_text.splitlines()]
    out = []
    for i, line in enumerate(lines):
        if "Example:" in line:
            rest = line.split("Example:", 1)[1].strip() or lines[i + 1]
            out.append(rest)
    return out


#: options whose value the example writes (not an input that must exist)
_OUTPUTS = {"-o", "--output", "--plot", "--png", "--details"}


def test_help_examples_name_paths_the_readme_tour_makes():
    readme_tokens = set(re.split(r"\s+", (ROOT / "README.md").read_text()))
    examples = [(name, ex) for name, cmd in _all_commands(main) for ex in _examples(cmd.help)]
    assert len(examples) >= 6  # train, finetune, evaluate, calibrate, score, dataset build
    for name, example in examples:
        tokens = example.split()
        assert tokens[0] == "magical-prune", example
        for before, token in zip(tokens, tokens[1:]):
            if before in _OUTPUTS or not ("/" in token or token.endswith((".h5", ".pt"))):
                continue
            assert token in readme_tokens, f"{' '.join(name)}: {token} is not made by the README"


def test_label_option_help_fits_each_command():
    train, evaluate = run("train", "--help").stdout, run("evaluate", "--help").stdout
    assert "evaluate:" not in train and "as the model was trained" in evaluate
    assert "[default: the model's]" in " ".join(evaluate.split())
