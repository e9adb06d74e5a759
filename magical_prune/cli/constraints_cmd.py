"""``magical-prune constraints``: symmetry constraints derived from a netlist's structure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from magical_prune.cli._common import check_output, echo_json


def _lines(pairs: Any, singles: Any) -> list[str]:
    return [" ".join(p) for p in pairs] + list(singles)


@click.command("constraints")
@click.argument("netlist", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write <design>.sym and <design>.symnet into this folder (default: print them).",
)
@click.option("--top", default=None, metavar="CELL", help="Top cell of a netlist with several.")
@click.option("--force", is_flag=True, help="Overwrite existing .sym/.symnet files.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def constraints(
    netlist: Path, out: Path | None, top: str | None, force: bool, as_json: bool
) -> None:
    """Derive MAGICAL's symmetry constraints of NETLIST from its structure.

    Matched pairs are devices of the same type, model and size whose connections mirror
    each other (input pairs, loads, cascodes, later stages, Miller and CMFB passives);
    the tails feeding a pair's shared source are self-symmetric. Net pairs and
    self-symmetric nets follow from the device pairs. NETLIST is a Spectre/SPICE netlist
    or MAGICAL's flow configuration naming one; an existing .sym beside it is ignored.
    """
    from magical_prune.adapters import discovery, magical
    from magical_prune.constraints import derive_symmetry

    circuit = discovery.load_circuit(netlist, top=top)
    sym = derive_symmetry(circuit)
    written: list[str] = []
    if out is not None:
        targets = [out / f"{circuit.name}.sym", out / f"{circuit.name}.symnet"]
        for target in targets:  # refuse before writing anything
            check_output(target, force)
        magical.write_sym(targets[0], sym)
        magical.write_symnet(targets[1], sym)
        written = [str(t) for t in targets]
    if as_json:
        echo_json(
            {
                "design": circuit.name,
                "source": circuit.source,
                "pairs": [list(p) for p in sym.pairs],
                "self_symmetric": list(sym.self_symmetric),
                "net_pairs": [list(p) for p in sym.net_pairs],
                "self_symmetric_nets": list(sym.self_symmetric_nets),
                "written": written,
            }
        )
        return
    if written:
        click.echo(
            f"{circuit.name}: {len(sym.pairs)} pairs, {len(sym.self_symmetric)} self-symmetric, "
            f"{len(sym.net_pairs)} net pairs, {len(sym.self_symmetric_nets)} self-symmetric "
            f"nets -> {written[0]}, {written[1]}"
        )
        return
    click.echo(f"# {circuit.name}.sym")
    for line in _lines(sym.pairs, sym.self_symmetric):
        click.echo(line)
    click.echo(f"# {circuit.name}.symnet")
    for line in _lines(sym.net_pairs, sym.self_symmetric_nets):
        click.echo(line)
