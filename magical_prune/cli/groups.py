"""Command groups with sub-commands in their own modules (imported on first use)."""

from __future__ import annotations

import click

from magical_prune.cli import LazyGroup

REFFLOW_COMMANDS = {
    "generate": (
        "refflow_generate_cmd",
        "generate",
        "Place a design over many net weightings and label each layout.",
    ),
    "evaluate": ("refflow_evaluate_cmd", "evaluate", "(Re-)simulate layout folders with ngspice."),
}
DATASET_COMMANDS = {
    "build": ("dataset_cmd", "build", "Extract features and metrics of every layout of a design."),
    "import-utanlay": (
        "dataset_cmd",
        "import_utanlay",
        "Convert the paper's public UT-AnLay data set.",
    ),
}


@click.group(cls=LazyGroup, table=REFFLOW_COMMANDS)
def refflow() -> None:
    """The open reference flow: example OTAs (ota1..ota4), an analytical placer with
    net-weight enumeration, and an ngspice evaluator that labels every placement."""


@click.group(cls=LazyGroup, table=DATASET_COMMANDS)
def dataset() -> None:
    """Labelled data sets: features of every layout plus raw metrics, in HDF5."""
