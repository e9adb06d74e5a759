"""``magical-prune refflow generate``: place a design over many net weightings and label each."""

from __future__ import annotations

from pathlib import Path

import click

from magical_prune.cli._cluster import scheduler_option
from magical_prune.cli._common import echo_json


def _note_derived_bench(design: str) -> None:
    """Print the testbench derived from the port names of a folder without a bench file,
    so the user sees what the labels assume and can save it to change it."""
    import json

    from magical_prune.refflow.designs import load_design

    loaded = load_design(design)
    if loaded.bench_path is None:
        target = loaded.folder / f"{loaded.netlist.stem}.bench.json"
        bench = json.dumps(loaded.bench.to_dict(), separators=(", ", ": "))
        click.echo(
            f"note: no {target.name}; using the testbench derived from the port names: "
            f"{bench} (save it as {target} to change it)",
            err=True,
        )


def _note_derived_symmetry(design: str) -> None:
    """Say so when the design has no .sym and its symmetry is derived from the circuit."""
    from magical_prune.refflow.designs import load_design

    loaded = load_design(design)
    if loaded.derived_symmetry:
        sym = loaded.circuit.symmetry
        pairs = " ".join("/".join(p) for p in sym.pairs) or "-"
        click.echo(
            f"note: no {loaded.netlist.stem}.sym; using the symmetry derived from the circuit "
            f"(magical-prune constraints): pairs {pairs}; self-symmetric "
            f"{' '.join(sym.self_symmetric) or '-'} (written beside the layouts; save a .sym "
            "beside the netlist to change it)",
            err=True,
        )


@click.command("generate")
@click.argument("design")
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output root; layouts go to OUT/<design>/<design>_<k>/.",
)
@click.option(
    "-n",
    "count",
    type=click.IntRange(min=1),
    default=None,
    help="Number of candidates, drawn without repetition from the 2^k subsets of critical "
    "nets (default: all of them).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of subsets and placer.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes (placement batches and ngspice runs).",
)
@click.option(
    "--simulate/--no-simulate",
    default=True,
    show_default=True,
    help="Label each layout with ngspice (performance.txt).",
)
@click.option(
    "--mismatch",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Scale of random Pelgrom mismatch in the labels. 0: off, nominal post-layout "
    "simulation like the paper's labels, so a label is what the placement decides. 1: the "
    "published A_VT = 3 mV·µm (a realistic die); its random offset (~1 mV) is 30-100x the "
    "placement-dependent one (tens of µV), so such labels hardly depend on the placement. "
    "Recorded in OUT/<design>/refflow.json.",
)
@click.option(
    "--weight",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Raised weight of a selected critical net (others weigh 1).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Candidates per batched placement solve (keep it fixed to resume a run).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace unfinished layout folders even when they hold other files than those "
    "generate writes, or layout files that differ from the new ones (edited by hand).",
)
@scheduler_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON line.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def generate(
    design: str,
    out: Path,
    count: int | None,
    seed: int,
    jobs: int,
    simulate: bool,
    mismatch: float,
    weight: float,
    batch_size: int,
    force: bool,
    scheduler: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Place DESIGN for many net weightings and (unless --no-simulate) label each layout.

    DESIGN is a bundled design (ota1, ota2, ota3, ota4), a folder with a netlist, or the
    netlist itself. Without a .sym file the symmetry is derived from the circuit (as
    `magical-prune constraints` does), printed and written beside the layouts; the critical
    nets default to the multi-pin signal nets. Without a bench file, a bench is derived
    from conventional port names (INP INM OUTP OUTM VDD VSS, IBIAS*, VCM) and printed; a
    bench that leaves a port floating or gives a broken operating point without any layout
    effects is an error before any placement, and a layout whose operating point is broken
    (DC gain below 0 dB, outputs far from VCM) fails with its reason, unlabelled. Each
    candidate raises the weight of one subset of the design's critical nets. Writes OUT/<design>/<design>_<k>/ with
    place.result, place.pin, place.connection, weight.txt and performance.txt, plus the
    design-level files in OUT/<design>/.

    OUT/<design>/refflow.json records the settings the layouts and labels come from (seed,
    weight, mismatch scale, evaluator constants, versions); `refflow evaluate` re-simulates
    a layout with the recorded mismatch scale.

    Resumable: run the same command again after an interruption and only unfinished
    layouts are done; a rerun with other settings than the recorded ones is refused. Failed
    simulations are reported and left without performance.txt (no label is invented).
    Redoing an unfinished layout removes only files generate wrote: a layout folder holding
    other files is refused before any work, one with hand-edited layout files is kept and
    reported (--force replaces both). Finished layouts are never touched.

    With --scheduler the placements and simulations run on a Dask cluster and come back
    to this process, which writes them: the same files as a local run with the same seed.
    """
    from magical_prune.refflow.generate import GenerateOptions
    from magical_prune.refflow.generate import generate as run

    options = GenerateOptions(
        n=count,
        seed=seed,
        jobs=jobs,
        simulate=simulate,
        mismatch=mismatch,
        weight=weight,
        batch_size=batch_size,
    )
    _note_derived_symmetry(design)
    if simulate:
        _note_derived_bench(design)
    summary = run(
        design, out, options, progress=not quiet and not as_json, force=force, scheduler=scheduler
    )
    if as_json:
        echo_json(summary.as_dict())
        return
    line = (
        f"{summary.design}: {summary.candidates} candidates ({len(summary.critical_nets)} "
        f"critical nets), {summary.already_done} already done, {summary.placed} placed, "
        f"{summary.simulated} simulated, {len(summary.failed)} failed "
        f"in {summary.seconds:.1f} s -> {summary.folder}"
    )
    click.echo(line)
    for name, reason in summary.failed.items():
        click.echo(f"  failed: {name}: {reason}")
