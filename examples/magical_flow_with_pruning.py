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

``--learner geometry`` (no ``--model``) decides with a hook that learns the design from its
own results instead of a pretrained model's: every candidate is kept until ``--min-results``
results came back (docs/model.md measures it on designs no model saw).

``--simulate MODULE:FUNCTION`` names your extraction and simulation: a function taking
the candidate (:class:`magical_prune.integrations.magical.Candidate`: ``index``,
``weights``, ``placement``, ``folder``, ``placed`` = MAGICAL's ``PnR`` after routing) and
returning a dict of results, or None. Without it, kept candidates are routed only.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Learning:
    """Which hook decides: the model's (``cnn``, fine-tuned on the results) or one that
    learns the design from its own results alone (``geometry``; docs/model.md measures it
    on designs no model saw)."""

    learner: str = "cnn"
    metric: str = "Offset_Voltage"
    min_results: int = 64
    target_for: float = 0.10
    min_prune_share: float = 0.0
    for_margin: float = 0.0


class _LoggedHook:
    """A geometry hook that appends each decision to a JSON-lines file, as ``PruneHook``
    does with ``log=``."""

    def __init__(self, hook: Any, log: Path | None) -> None:
        self.hook, self.log = hook, log

    def __call__(self, placement: Any) -> Any:
        decision = self.hook(placement)
        if self.log is None:
            return decision
        record = {"source": getattr(placement, "source", None),
                  "score": _finite(decision.score), "threshold": _finite(decision.threshold),
                  "prune": decision.prune, "reason": decision.reason,
                  "fits": self.hook.fits}  # fmt: skip
        try:
            with open(self.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
        except OSError as err:  # a log that cannot be written never stops the flow
            logging.getLogger("magical_prune.hook").warning("cannot write %s: %s", self.log, err)
        return decision

    def update(self, placement: Any, performance: Any) -> bool:
        return self.hook.update(placement, performance)


def _finite(value: float) -> float | None:
    """JSON has no NaN or infinity: a missing score or a threshold that prunes nothing."""
    return value if math.isfinite(value) else None


def _hook(model: str | None, log: Path | None, learning: Learning) -> tuple[Any, Any]:
    """The hook the enumeration calls, and the object that saves its state."""
    if learning.learner == "geometry":
        from magical_prune.geohook import GeometryHook, GeometryHookConfig

        hook = GeometryHook(GeometryHookConfig(
            metric=learning.metric, target_for=learning.target_for,
            min_results=learning.min_results, min_prune_share=learning.min_prune_share,
            for_margin=learning.for_margin,
        ))  # fmt: skip
        return _LoggedHook(hook, log), hook
    from magical_prune import PruneHook
    from magical_prune.hook import HookConfig

    config = HookConfig(background=False, for_margin=learning.for_margin)
    hook = PruneHook(model, log=log, config=config)
    return hook, hook


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
    learning: Learning = Learning(),
) -> dict[str, Any]:
    """The flow above; returns the enumeration's summary as a dict."""
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

    hook, learner = _hook(model, log, learning)
    enumeration = NetWeightEnumeration(
        hook,
        m["IdeaPlaceExPy"],
        EnumerationConfig(critical_nets=critical or None, count=count, seed=seed, layouts=layouts),
        simulate=_callback(simulate),
        netlist=getattr(params, "spectre_netlist", None),
    )
    summary = enumeration.run_pnr(flow.pnrs[-1], top, params.resultDir)
    if state is not None:
        learner.save(state)
    out = summary.as_dict()
    out["learner"] = learning.learner
    out["finetunes"] = learner.counters["finetunes"]
    return out


@click.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", default=None, help="Model file (default: the bundled model).")
@click.option(
    "--learner",
    type=click.Choice(["cnn", "geometry"]),
    default="cnn",
    show_default=True,
    help="cnn: the model decides and fine-tunes on the results; geometry: no model, the "
    "hook learns the design from its first --min-results results (a design no model saw).",
)
@click.option(
    "--metric",
    default="Offset_Voltage",
    show_default=True,
    help="--learner geometry: the result your --simulate returns that it learns.",
)
@click.option(
    "--min-results",
    type=click.IntRange(min=8),
    default=64,
    show_default=True,
    help="--learner geometry: results before its first fit (every candidate kept until then).",
)
@click.option(
    "--target-for",
    type=click.FloatRange(0, 1),
    default=0.10,
    show_default=True,
    help="--learner geometry: the FOR its threshold is calibrated for.",
)
@click.option(
    "--min-prune-share",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="--learner geometry: once fitted, prune at least this share of the candidates.",
)
@click.option(
    "--for-margin",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Standard errors of the hook's FOR estimate kept under its target when it (re)calibrates.",
)
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
    config: Path, model: str | None, learner: str, metric: str, min_results: int,
    target_for: float, min_prune_share: float, for_margin: float, count: int | None,
    seed: int, critical: tuple[str, ...], simulate: str | None, layouts: Path | None,
    log: Path | None, state: Path | None, force: bool, as_json: bool,
) -> None:  # fmt: skip
    """Run MAGICAL on CONFIG (its flow configuration JSON) with pruning in a net-weight
    enumeration of the top circuit."""
    learning = Learning(learner, metric, min_results, target_for, min_prune_share, for_margin)
    try:
        if learner == "geometry" and model is not None:
            raise MagicalPruneError("--model is for --learner cnn; geometry learns without one")
        for folder in (layouts, state):
            if folder is not None and folder.is_dir() and any(folder.iterdir()) and not force:
                raise MagicalPruneError("not empty; use --force to write into it", folder)
        summary = run(config, model, count, seed, critical, simulate, layouts, log, state,
                      learning)  # fmt: skip
    except MagicalPruneError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(summary, separators=(",", ":")))
        return
    click.echo(
        f"{summary['candidates']} candidates on {len(summary['critical_nets'])} critical nets: "
        f"{summary['pruned']} pruned, {summary['routed']} routed, "
        f"{summary['simulated']} simulated, {summary['finetunes']} "
        + ("fits" if learner == "geometry" else "fine-tunings")
    )


if __name__ == "__main__":
    main()
