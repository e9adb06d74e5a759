"""MAGICAL with the pruning hook: a net-weight enumeration of the top circuit, pruned.

Runs inside a MAGICAL checkout: MAGICAL's flow modules (``Params``, ``MagicalDB``,
``Flow``, ``IdeaPlaceExPy``) import each other by bare name, so put its ``flow/python``
folder on ``PYTHONPATH``::

    PYTHONPATH=$MAGICAL/flow/python python examples/magical_flow_with_pruning.py ota.json \\
        --model calibrated.pt -n 64 --simulate my_sim:evaluate --layouts runs/ota --json

What it does, in MAGICAL's own order:

1. reads the flow configuration and the design as ``Magical.py`` does (``Params``,
   ``MagicalDB``) and lets ``Flow.implCktLayout`` implement the design once: devices,
   symmetry constraints (``<circuit>.sym``/``.symnet``), flips, and a first placement of
   every circuit; the sub-circuits are routed as ``Flow.run`` would route them;
2. enumerates net weights on the top circuit: for each candidate ``PnR.placeOnly`` places
   on a fresh IdeaPlaceEx (recorded by magical-prune, the critical nets' weights set right
   before ``solve``), the hook decides, and only kept candidates are routed
   (``PnR.routeOnly``) and handed to the simulation callback;
3. the callback's results (``{"Offset_Voltage": ...}``) go back to the hook
   (``hook.update``), which fine-tunes on them once it has enough.

``--simulate MODULE:FUNCTION`` names your extraction and simulation: a function taking
the candidate (:class:`magical_prune.integrations.magical.Candidate`: ``index``,
``weights``, ``placement``, ``folder``, ``placed`` = MAGICAL's ``PnR`` after routing) and
returning a dict of results, or None. Without it, kept candidates are routed only.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from magical_prune.errors import MagicalPruneError


def _magical_modules() -> dict[str, Any]:
    """MAGICAL's flow modules, or the package's error saying how to make them importable."""
    modules = {}
    for name in ("Params", "MagicalDB", "Flow", "IdeaPlaceExPy"):
        try:
            modules[name] = importlib.import_module(name)
        except ImportError as err:
            raise MagicalPruneError(
                f"cannot import MAGICAL's {name} ({err}); run with MAGICAL's flow/python "
                "folder on PYTHONPATH"
            ) from None
    return modules


def _callback(spec: str | None) -> Callable[..., Any] | None:
    """``module:function`` -> the function (the module is imported from PYTHONPATH)."""
    if spec is None:
        return None
    module_name, _, function = spec.partition(":")
    if not module_name or not function:
        raise MagicalPruneError(f"--simulate must be MODULE:FUNCTION, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise MagicalPruneError(f"--simulate: cannot import {module_name!r} ({err})") from None
    found = getattr(module, function, None)
    if not callable(found):
        raise MagicalPruneError(f"--simulate: {module_name!r} has no function {function!r}")
    return found


def run(
    config: Path,
    model: str | None,
    count: int | None,
    seed: int,
    critical: tuple[str, ...],
    simulate: str | None,
    layouts: Path | None,
    log: Path | None,
    state: Path | None,
) -> dict[str, Any]:
    """The flow above; returns the enumeration's summary as a dict."""
    from magical_prune import PruneHook
    from magical_prune.hook import HookConfig
    from magical_prune.integrations.magical import EnumerationConfig, NetWeightEnumeration

    m = _magical_modules()
    params = m["Params"].Params()
    params.load(str(config))
    if not params.resultDir:
        raise MagicalPruneError("the flow configuration names no resultDir", config)
    db = m["MagicalDB"].MagicalDB(params)
    db.parse()
    flow = m["Flow"].Flow(db)
    flow.resultName = params.resultDir
    top = db.topCktIdx()
    flow.implCktLayout(top)  # devices, constraints, flips, one placement of every circuit
    for pnr in flow.pnrs[:-1]:  # sub-circuits are routed as Flow.run routes them
        pnr.routeOnly()

    hook = PruneHook(model, log=log, config=HookConfig(background=False))
    enumeration = NetWeightEnumeration(
        hook,
        m["IdeaPlaceExPy"],
        EnumerationConfig(critical_nets=critical or None, count=count, seed=seed, layouts=layouts),
        simulate=_callback(simulate),
        netlist=getattr(params, "spectre_netlist", None),
    )
    summary = enumeration.run_pnr(flow.pnrs[-1], top, params.resultDir)
    if state is not None:
        hook.save(state)
    out = summary.as_dict()
    out["finetunes"] = hook.counters["finetunes"]
    return out


@click.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", default=None, help="Model file (default: the bundled model).")
@click.option(
    "-n",
    "count",
    type=click.IntRange(min=1),
    default=None,
    help="Candidates (default: all 2^k subsets of the critical nets).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Order of the subsets.")
@click.option(
    "--critical",
    multiple=True,
    metavar="NET",
    help="A critical net (repeat; default: every multi-pin signal net).",
)
@click.option(
    "--simulate",
    default=None,
    metavar="MODULE:FUNCTION",
    help="Your extraction + simulation: candidate -> dict of results.",
)
@click.option(
    "--layouts",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write every candidate's layout folder here.",
)
@click.option(
    "--log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Append the hook's decisions to this JSON-lines file.",
)
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Save the hook's state (model, collected results) here at the end.",
)
@click.option("--force", is_flag=True, help="Write into a non-empty --layouts or --state folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def main(
    config: Path, model: str | None, count: int | None, seed: int, critical: tuple[str, ...],
    simulate: str | None, layouts: Path | None, log: Path | None, state: Path | None,
    force: bool, as_json: bool,
) -> None:  # fmt: skip
    """Run MAGICAL on CONFIG (its flow configuration JSON) with pruning in a net-weight
    enumeration of the top circuit."""
    try:
        for folder in (layouts, state):
            if folder is not None and folder.is_dir() and any(folder.iterdir()) and not force:
                raise MagicalPruneError("not empty; use --force to write into it", folder)
        summary = run(config, model, count, seed, critical, simulate, layouts, log, state)
    except MagicalPruneError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(summary, separators=(",", ":")))
        return
    click.echo(
        f"{summary['candidates']} candidates on {len(summary['critical_nets'])} critical nets: "
        f"{summary['pruned']} pruned, {summary['routed']} routed, "
        f"{summary['simulated']} simulated, {summary['finetunes']} fine-tunings"
    )


if __name__ == "__main__":
    main()
