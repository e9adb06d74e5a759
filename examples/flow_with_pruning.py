"""Example flow: the reference placer's net-weight enumeration with the pruning hook inside.

::

    python examples/flow_with_pruning.py --design ota4 -n 400            # bundled model
    python examples/flow_with_pruning.py --design ota4 -n 400 --model m.pt --json

For every candidate net-weight set (the paper's design space, Sec. III-A) the flow

1. places it with the reference placer (global placement solved for a chunk of candidates
   at once, as :mod:`magical_prune.refflow.generate` does, then legalised one by one);
2. asks the hook, right after placement and before anything else: ``decision =
   hook(placement)``;
3. skips a pruned candidate; evaluates a kept one with the ngspice evaluator (the stand-in
   for routing, parasitic extraction and simulation) and feeds the result back with
   ``hook.update(placement, performance)``, from which the hook fine-tunes (few-shot) and
   recalibrates its threshold.

Kept candidates are simulated in small groups (``--sim-group``, on ``--jobs`` ngspice
processes), as a flow with a simulation farm would; the feedback of a group reaches the
hook before the next candidates are decided.

**Measuring the FOR honestly.** What pruning costs is the share of bad placements among
those it lets through (false omission rate, FOR). To know it, a seeded random sample of
candidates (``--holdout``, 20%) is evaluated in full whatever the hook decided. The flow
itself does not know which candidates are in the sample and behaves exactly as it would
without it: held-out candidates that the hook *kept* are simulated by the flow and fed back
like any other (the decision was made before the result existed); held-out candidates that
it *pruned* are simulated afterwards for measurement only: never fed back, and not counted
as simulations the flow needed. "Bad" means in the worst 25% of the design's metric
(``--metric``, default the design's own: CMRR for ota4, offset for the others) over the
held-out sample, whose distribution is the estimate of the whole design space's. The
FOR achieved is the share of bad among the held-out candidates that were kept; pruning at
random would keep it at the base rate, 25%.

**Determinism.** Same arguments, same figures (wall times aside): the placer, the candidate
order, the held-out sample, the hook's exploration and its fine-tuning are seeded, and the
hook fine-tunes inside ``update`` (``background=False``). ``--background`` fine-tunes in a
thread instead, as a production flow would (decisions never wait), at the price of
decisions that depend on timing.

**Layouts.** Everything stays in memory unless ``--out DIR`` is given; then every evaluated
candidate is written as a MAGICAL layout folder ``DIR/<design>/<design>_<k>/`` (with the
design files beside them, so ``magical-prune score 'DIR/<design>/*'`` reads them), plus
``flow.jsonl`` (one line per candidate: decision, score, held out, result),
``summary.json``, and the hook's state (``hook_state/``, resumable with
``PruneHook.resume``). Candidate ``k`` gets the same net weights, placement and result as
layout ``<design>_<k>`` of ``magical-prune refflow generate`` with the same seed and ``-n``:
both take their candidates, and the chunks they are placed in, from the same
:class:`~magical_prune.refflow.designspace.DesignSpace`.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np

from magical_prune.errors import MagicalPruneError

#: Share of the metric's worst values called bad (the paper's cut).
WORST_PERCENT = 25.0


@dataclass(frozen=True)
class FlowOptions:
    """Settings of one flow run (see the command's ``--help`` for each)."""

    design: str = "ota4"
    n: int = 400
    learner: str = "cnn"
    model: str | None = None
    threshold: float | None = None
    target_for: float | None = None
    holdout: float = 0.2
    seed: int = 0
    jobs: int = 2
    metric: str | None = None
    mismatch: float = 0.0
    min_results: int = 16
    refit_every: int = 16
    explore: float = 0.05
    background: bool = False
    feedback: bool = True
    freeze: str | None = None
    finetune_epochs: int | None = None
    max_good_pruned: float | None = 0.5
    min_prune_share: float = 0.0
    for_margin: float = 0.0
    sim_group: int = 8
    out: Path | None = None
    log: Path | None = None
    force: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        if self.n < 1:
            raise MagicalPruneError(f"-n must be at least 1, got {self.n}")
        if not 0.0 <= self.holdout <= 1.0:
            raise MagicalPruneError(f"--holdout must be in [0, 1], got {self.holdout}")
        if self.jobs < 1 or self.sim_group < 1:
            raise MagicalPruneError("--jobs and --sim-group must be at least 1")
        if self.min_prune_share and self.learner != "geometry":
            raise MagicalPruneError("--min-prune-share needs --learner geometry")


@dataclass
class Candidate:
    """What happened to one candidate (one line of ``flow.jsonl``)."""

    k: int
    name: str
    raised_nets: list[str]
    held_out: bool
    placed: bool = False
    error: str | None = None
    score: float | None = None
    prune: bool | None = None
    explored: bool = False
    model_version: int | None = None
    simulated_by_flow: bool = False
    measured_only: bool = False
    fed_back: bool = False
    performance: dict[str, float] | None = None


@dataclass
class Timing:
    """Wall seconds per stage of the flow."""

    placement: float = 0.0
    hook_decisions: float = 0.0
    hook_feedback: float = 0.0  # hook.update, including fine-tuning when in the foreground
    simulation: float = 0.0  # simulations the flow needed
    measurement: float = 0.0  # held-out simulations for measurement only
    total: float = 0.0


@dataclass
class FlowResult:
    """Everything a run measured; :meth:`summary` is the JSON the command prints."""

    options: FlowOptions
    metric: str
    model: dict[str, Any]
    candidates: list[Candidate]
    hook: dict[str, Any]
    held_out: dict[str, Any]
    timing: Timing
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        c = self.candidates
        placed = [x for x in c if x.placed]
        pruned = sum(bool(x.prune) for x in placed)
        simulated = sum(x.simulated_by_flow for x in c)
        sim_failed = sum(x.simulated_by_flow and x.performance is None for x in c)
        return {
            "design": self.options.design,
            "metric": self.metric,
            "seed": self.options.seed,
            "model": self.model,
            "candidates": len(c),
            "placed": len(placed),
            "placement_failures": len(c) - len(placed),
            "pruned": pruned,
            "kept": len(placed) - pruned,
            "explored": sum(x.explored for x in placed),
            "simulated": simulated,
            "simulation_failures": sim_failed,
            "simulations_saved": pruned,
            "simulations_without_pruning": len(placed),
            "prune_rate": pruned / len(placed) if placed else None,
            "hook": self.hook,
            "held_out": self.held_out,
            "seconds": {k: round(v, 3) for k, v in asdict(self.timing).items()},
            "warnings": self.warnings,
        }


# -- the flow -------------------------------------------------------------------------------
def run_flow(options: FlowOptions) -> FlowResult:
    """Run the enumeration loop with the hook; measure the FOR on the held-out sample."""
    from tqdm import tqdm

    from magical_prune.hook import HookConfig, PruneHook
    from magical_prune.labels import get_metric
    from magical_prune.placement import Placement
    from magical_prune.predict import Predictor
    from magical_prune.refflow.designs import load_design
    from magical_prune.refflow.designspace import DesignSpace
    from magical_prune.refflow.evaluator import evaluate
    from magical_prune.refflow.generate import GenerateOptions
    from magical_prune.refflow.spice import find_ngspice

    started = time.perf_counter()
    timing = Timing()
    notes: list[str] = []
    design = load_design(options.design)
    metric = options.metric or design.bench.metric
    get_metric(metric)  # unknown name -> "did you mean"
    find_ngspice()  # fail before any work when the evaluator cannot run

    # The model: load it here (not inside the hook) so that a missing model is an error of
    # the example rather than a flow that silently keeps everything (the hook fails open).
    # The geometry learner has none: it learns the design from the flow's own results.
    predictor = None
    if options.learner == "geometry":
        model = {"path": None, "arch": "geometry", "design": None, "metric": metric,
                 "threshold": None, "calibrated_for": None}  # fmt: skip
    else:
        predictor = Predictor.load(options.model, threshold=options.threshold)
        model = _model_info(predictor)
    if model["design"] == design.name:
        notes.append(
            f"the model was trained on {design.name} itself: this run does not measure "
            "transfer to an unseen design (use another --design)"
        )
    if model["metric"] and model["metric"] != metric:
        notes.append(
            f"the model predicts the worst quarter of {model['metric']}, this flow labels by "
            f"{metric}: until the hook has fine-tuned on the flow's results its decisions "
            "rest on what the two have in common"
        )
    for note in notes:
        click.echo(f"warning: {note}", err=True)
    out_dir = _prepare_out(options, design)

    hook = (
        _geometry_hook(options, metric)
        if predictor is None
        else PruneHook(
            predictor,
            threshold=options.threshold,
            target_for=options.target_for,
            log=options.log,
            config=HookConfig(
                metric=metric,
                worst_percent=WORST_PERCENT,
                min_results=options.min_results,
                refit_every=options.refit_every,
                explore=options.explore,
                background=options.background,
                freeze=options.freeze,
                epochs=options.finetune_epochs,
                max_good_pruned=options.max_good_pruned,
                for_margin=options.for_margin,
                seed=options.seed,
            ),
        )
    )

    # The design space of `refflow generate` with the same seed and -n: candidate k raises
    # the weights of subset k of the critical nets, placed in the same chunks.
    space = DesignSpace.of(design, GenerateOptions(n=options.n, seed=options.seed))
    problem, total = space.problem, space.total
    tables = space.weights(range(total))
    local_pins = problem.local_pins()
    held = _held_out(total, options.holdout, options.seed)
    cands = [
        Candidate(k, space.layout_name(k), list(space.raised_nets(k)), bool(held[k]))
        for k in range(total)
    ]
    placements: dict[int, Placement] = {}
    group: list[int] = []  # kept candidates waiting for simulation

    def simulate(ks: list[int], measure: bool) -> None:
        t0 = time.perf_counter()
        results = evaluate([placements[k] for k in ks], design, options.mismatch,
                           layout_ids=[cands[k].name for k in ks], jobs=options.jobs)  # fmt: skip
        seconds = time.perf_counter() - t0
        if measure:
            timing.measurement += seconds
        else:
            timing.simulation += seconds
        for k, perf in zip(ks, results):
            cand = cands[k]
            cand.performance = None if perf is None else dict(perf)
            cand.simulated_by_flow, cand.measured_only = not measure, measure
            if out_dir is not None:
                _write_layout(out_dir / cand.name, placements[k], problem, tables[k], perf)
            placement = placements.pop(k)  # evaluated: the flow is done with it
            if measure or perf is None or not options.feedback:
                continue
            t0 = time.perf_counter()
            cand.fed_back = hook.update(placement, perf)
            timing.hook_feedback += time.perf_counter() - t0

    bar = tqdm(total=total, desc=f"{design.name} flow", unit="cand", disable=not options.progress,
               dynamic_ncols=True, file=sys.stderr)  # fmt: skip
    try:
        for start, stop in space.chunks():
            t0 = time.perf_counter()
            chunk = space.place_chunk(start, stop)  # global placement, then legalisation
            timing.placement += time.perf_counter() - t0
            for k, layout in chunk:
                cand = cands[k]
                if isinstance(layout, str):  # legalisation failed: the reason
                    cand.error = layout
                    bar.update(1)
                    continue
                t0 = time.perf_counter()
                placement = Placement.build(
                    design.circuit, problem.names, layout.rects, local_pins,
                    mirrored=problem.mirrored, weights=tables[k], source=cand.name,
                )  # fmt: skip
                timing.placement += time.perf_counter() - t0
                cand.placed = True
                placements[k] = placement

                t0 = time.perf_counter()
                cand.model_version = hook.version
                decision = hook(placement)  # <- the hook: right after placement
                timing.hook_decisions += time.perf_counter() - t0
                cand.prune = decision.prune
                cand.score = None if math.isnan(decision.score) else decision.score
                cand.explored = decision.reason.startswith("explore")
                if not decision.prune:  # kept: route + extract + simulate (stand-in)
                    group.append(k)
                    if len(group) >= options.sim_group:
                        simulate(group, measure=False)
                        group = []
                elif not cand.held_out:
                    del placements[k]  # pruned: nothing more to do with it
                bar.update(1)
                bar.set_postfix(pruned=hook.counters["pruned"], sims=hook.counters["kept"],
                                finetunes=hook.counters["finetunes"], refresh=False)  # fmt: skip
        if group:
            simulate(group, measure=False)
        t0 = time.perf_counter()
        hook.wait()
        timing.hook_feedback += time.perf_counter() - t0
    finally:
        bar.close()

    # Held-out candidates the hook pruned: evaluated for the measurement only.
    measure = [c.k for c in cands if c.held_out and c.placed and c.prune]
    if measure:
        simulate(measure, measure=True)
    held_out = measure_for(cands, metric)
    timing.total = time.perf_counter() - started
    hook_info = {
        "threshold_start": model["threshold"],
        "threshold_end": hook.threshold,
        "target_for": hook.target_for,
        "finetunes": hook.counters["finetunes"],
        "finetune_failures": hook.counters["finetune_failures"],
        "results_fed_back": hook.counters["results"],
        "pruned_before_first_finetune": sum(
            bool(c.prune) for c in cands if c.placed and c.model_version == 0
        ),
        "decided_before_first_finetune": sum(c.placed and c.model_version == 0 for c in cands),
        "background": options.background,
        "feedback": options.feedback,
        "freeze": options.freeze,
        "finetune_epochs": options.finetune_epochs,
    }
    result = FlowResult(options, metric, model, cands, hook_info, held_out, timing, notes)
    if out_dir is not None:
        _write_records(out_dir, result)
        hook.save(out_dir / "hook_state")
    return result


def measure_for(cands: list[Candidate], metric: str) -> dict[str, Any]:
    """FOR of the hook's decisions on the held-out sample, against its own worst quarter.

    The cut (critical value) is the worst 25% of the metric over the held-out candidates
    that have a result: their distribution stands for the design space's. With that cut
    every kept candidate the flow simulated can be labelled too, which gives a second,
    larger-sample estimate of the FOR (``for_all_kept``; not independent of the first, and
    it includes the candidates decided before the hook learnt anything).
    """
    from scipy.stats import binomtest

    from magical_prune.labels import label_at, label_by_rank
    from magical_prune.metrics import confusion, summarize

    sample = [c for c in cands if c.held_out and c.placed]
    known = [c for c in sample if c.performance and metric in c.performance]
    out: dict[str, Any] = {
        "candidates": sum(c.held_out for c in cands),
        "placed": len(sample),
        "with_result": len(known),
        "measured_only": sum(c.measured_only for c in sample),
        "worst_percent": WORST_PERCENT,
    }
    if len(known) < 4:
        out["note"] = "too few held-out results to measure a FOR"
        return out
    values = np.array([c.performance[metric] for c in known])  # type: ignore[index]
    labels = label_by_rank(values, metric, WORST_PERCENT)
    pruned = np.array([bool(c.prune) for c in known], dtype=np.int64)
    stats = summarize(confusion(labels.labels, pruned))
    kept_bad, kept = stats["fn"], stats["fn"] + stats["tn"]
    interval = None
    if kept:
        ci = binomtest(kept_bad, kept).proportion_ci(0.95, method="wilson")
        interval = [float(ci.low), float(ci.high)]
    flow_kept = [
        c for c in cands if c.simulated_by_flow and c.performance and metric in c.performance
    ]
    flow_values = np.array([c.performance[metric] for c in flow_kept])  # type: ignore[index]
    all_bad = label_at(flow_values, metric, labels.critical_value).astype(bool)
    explored = np.array([c.explored for c in flow_kept], dtype=bool)
    out.update(
        {
            "critical_value": labels.critical_value,
            "bad": stats["tp"] + stats["fn"],
            "kept": kept,
            "kept_bad": kept_bad,
            "for": stats["for"],
            "for_ci95": interval,
            "base_rate": stats["random_for"],
            "prune_rate": stats["prune_rate"],
            "bad_pruned": stats["recall"],
            "good_pruned": stats["fp"] / (stats["fp"] + stats["tn"])
            if stats["fp"] + stats["tn"]
            else None,
            "for_all_kept": float(all_bad.mean()) if len(all_bad) else None,
            "all_kept": len(all_bad),
            # the same without the candidates kept only to explore: the model's own keeps
            "for_all_kept_not_explored": float(all_bad[~explored].mean())
            if (~explored).any()
            else None,
        }
    )
    return out


def _held_out(total: int, share: float, seed: int) -> np.ndarray:
    """A seeded random sample of ``round(share * total)`` candidates (boolean mask)."""
    count = int(round(share * total))
    rng = np.random.default_rng([seed, 0x5EED])  # independent of the placer's stream
    mask = np.zeros(total, dtype=bool)
    mask[rng.choice(total, size=count, replace=False)] = True
    return mask


def _geometry_hook(options: FlowOptions, metric: str) -> Any:
    """A :class:`~magical_prune.geohook.GeometryHook` with this run's settings."""
    from magical_prune.geohook import GeometryHook, GeometryHookConfig

    return GeometryHook(GeometryHookConfig(
        metric=metric, target_for=0.10 if options.target_for is None else options.target_for,
        worst_percent=WORST_PERCENT, min_results=max(8, options.min_results),
        explore=options.explore, max_good_pruned=options.max_good_pruned or 1.0,
        min_prune_share=options.min_prune_share, for_margin=options.for_margin,
        seed=options.seed,
    ))  # fmt: skip


def _model_info(predictor: Any) -> dict[str, Any]:
    card = predictor.card
    parent = card.parent.design if card.parent is not None else None
    return {
        "path": predictor.source,
        "arch": card.arch,
        "design": card.design or parent,
        "metric": card.metric,
        "threshold": predictor.threshold,
        "calibrated_for": card.calibrated_for,
    }


# -- writing layouts (--out) ------------------------------------------------------------------
def _prepare_out(options: FlowOptions, design: Any) -> Path | None:
    if options.out is None:
        return None
    folder = Path(options.out) / design.name
    if folder.exists() and any(folder.iterdir()):
        if not options.force:
            raise MagicalPruneError(f"{folder} exists and is not empty; use --force to replace it")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for path in design.files.values():
        shutil.copyfile(path, folder / Path(path).name)
    return folder


def _write_layout(
    folder: Path, placement: Any, problem: Any, weights: dict[str, float], perf: Any
) -> None:
    from magical_prune.adapters import magical

    folder.mkdir()
    magical.write_place_result(folder / "place.result", problem.names, placement.rects)
    magical.write_place_pin(
        folder / "place.pin",
        {
            (n, pin): list(s)
            for n in problem.names
            for pin, s in problem.footprints[n].shapes.items()
        },
    )
    nets = problem.circuit.nets.values()
    magical.write_connection(folder / "place.connection", {n.name: list(n.pins) for n in nets})
    magical.write_weights(folder / "weight.txt", weights)
    if perf is not None:
        magical.write_performance(folder / "performance.txt", perf)


def _write_records(folder: Path, result: FlowResult) -> None:
    with open(folder / "flow.jsonl", "w", encoding="utf-8") as f:
        for c in result.candidates:
            f.write(json.dumps(asdict(c), separators=(",", ":")) + "\n")
    summary = result.summary()
    (folder / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")


# -- printing ---------------------------------------------------------------------------------
def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def report(result: FlowResult) -> str:
    """The human-readable summary the command prints."""
    s = result.summary()
    m, h, ho, t = s["model"], s["hook"], s["held_out"], s["seconds"]
    unit = {"Offset_Voltage": "V", "CMRR": "dB", "Gain": "dB", "UGF": "Hz"}.get(s["metric"], "")
    lines = [
        f"design {s['design']}, {s['candidates']} candidates (seed {s['seed']}); model "
        f"{Path(m['path']).name} ({m['arch']}, trained on {m['design'] or 'unknown'}, "
        f"{m['metric'] or 'unknown metric'}); labels: worst {ho['worst_percent']:g}% of "
        f"{s['metric']} = bad",
        f"candidates placed       {s['placed']:6d}   (placement failures {s['placement_failures']})",
        f"pruned                  {s['pruned']:6d}   prune rate {_pct(s['prune_rate'])}",
        f"simulated by the flow   {s['simulated']:6d}   (of which explored {s['explored']}, "
        f"failed {s['simulation_failures']})",
        f"simulations saved       {s['simulations_saved']:6d}   (= pruned; "
        f"{s['simulations_without_pruning']} without pruning)",
        f"hook fine-tunes         {h['finetunes']:6d}   (failed {h['finetune_failures']}; "
        f"threshold {h['threshold_start']:.3f} -> {h['threshold_end']:.3f}, target FOR "
        f"{_pct(h['target_for'])}; {h['pruned_before_first_finetune']} of the first "
        f"{h['decided_before_first_finetune']} pruned before the first fine-tuning)",
    ]
    if "for" in ho:
        ci = ho["for_ci95"]
        ci_text = f", 95% CI {_pct(ci[0])}-{_pct(ci[1])}" if ci else ""
        bad = "<=" if s["metric"] != "Offset_Voltage" else "|offset| >="
        cut = (f"{s['metric']} {bad} {ho['critical_value']:.4g} {unit}" if bad == "<="
               else f"{bad} {ho['critical_value']:.4g} {unit}")  # fmt: skip
        lines += [
            f"held-out sample         {ho['with_result']:6d}   fully evaluated "
            f"({ho['measured_only']} pruned ones simulated for measurement only, not fed back)",
            f"  bad = {cut} (worst {ho['worst_percent']:g}% of the held-out sample)",
            f"  FOR achieved          {_pct(ho['for'])}  ({ho['kept_bad']} bad of {ho['kept']} "
            f"kept{ci_text})  vs. {_pct(ho['base_rate'])} without pruning or with random "
            "pruning",
            f"  bad pruned (recall)   {_pct(ho['bad_pruned'])}   good pruned "
            f"{_pct(ho['good_pruned'])}   prune rate {_pct(ho['prune_rate'])}",
            f"  FOR over all {ho['all_kept']} kept (held-out cut): {_pct(ho['for_all_kept'])} "
            f"({_pct(ho['for_all_kept_not_explored'])} without the explored ones)",
        ]
    else:
        lines.append(f"held-out sample: {ho.get('note')}")
    lines.append(
        f"wall time {t['total']:.1f} s: placement {t['placement']:.1f} s, hook "
        f"{t['hook_decisions']:.1f} s (decisions) + {t['hook_feedback']:.1f} s (feedback, "
        f"fine-tuning), simulation {t['simulation']:.1f} s (+ {t['measurement']:.1f} s "
        "measurement only)"
    )
    return "\n".join(lines)


# -- command line -----------------------------------------------------------------------------
@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--design",
    default="ota4",
    show_default=True,
    help="Bundled design (ota1..ota4) or design folder; pick one the model never saw.",
)
@click.option(
    "-n",
    "n",
    type=int,
    default=400,
    show_default=True,
    help="Candidates: the first N of the seeded order of net-weight subsets.",
)
@click.option(
    "--learner",
    type=click.Choice(["cnn", "geometry"]),
    default="cnn",
    show_default=True,
    help="cnn: the bundled (or --model) network, fine-tuned online; geometry: no pretrained "
    "model, a GeometryLearner fitted on the flow's own results once --min-results came back.",
)
@click.option(
    "--model",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Model file (default: the bundled model).",
)
@click.option(
    "--threshold",
    type=float,
    default=None,
    help="Start threshold (default: the model's). Fixed unless --target-for is given.",
)
@click.option(
    "--target-for",
    type=float,
    default=None,
    help="FOR the hook recalibrates to after each fine-tuning "
    "(default: the model's calibration target, else 0.08).",
)
@click.option(
    "--holdout",
    type=float,
    default=0.2,
    show_default=True,
    help="Share of candidates fully evaluated to measure the FOR.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the candidate order, placer, held-out sample and hook.",
)
@click.option("--jobs", type=int, default=2, show_default=True, help="ngspice processes.")
@click.option(
    "--metric",
    default=None,
    help="Metric that defines bad (default: the design's, e.g. CMRR for ota4).",
)
@click.option(
    "--mismatch",
    type=float,
    default=0.0,
    show_default=True,
    help="Random-mismatch scale of the evaluator (0: nominal labels).",
)
@click.option(
    "--min-results",
    type=int,
    default=16,
    show_default=True,
    help="Results before the hook's first fine-tuning (paper: 16 shots).",
)
@click.option(
    "--refit-every",
    type=int,
    default=16,
    show_default=True,
    help="Fine-tune again after this many new results.",
)
@click.option(
    "--explore",
    type=float,
    default=0.05,
    show_default=True,
    help="Share of would-be-pruned candidates kept anyway (unbiased feedback).",
)
@click.option(
    "--feedback/--no-feedback",
    default=True,
    show_default=True,
    help="Feed the kept candidates' results back to the hook (--no-feedback: the model as is).",
)
@click.option(
    "--freeze",
    default=None,
    help="Layers the hook's fine-tuning freezes: 'features' (head only) or a count "
    "(default: the hook's, none).",
)
@click.option(
    "--finetune-epochs",
    type=int,
    default=None,
    help="Passes over the collected results per fine-tuning (default: the architecture's).",
)
@click.option(
    "--max-good-pruned",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="A recalibration that would prune more than this share of the good results "
    "prunes nothing instead (the model does not know the design yet); 1 = no limit.",
)
@click.option(
    "--min-prune-share",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="--learner geometry: once fitted, prune at least this share of the candidates "
    "(the worst-scored), whatever --target-for asks; 0 = the target alone.",
)
@click.option(
    "--for-margin",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Standard errors of the hook's FOR estimate to keep under --target-for when it "
    "(re)calibrates (a guard against that estimate's noise on few results).",
)
@click.option(
    "--background",
    is_flag=True,
    help="Fine-tune in a thread (decisions never wait; results depend on timing).",
)
@click.option(
    "--sim-group",
    type=int,
    default=8,
    show_default=True,
    help="Kept candidates simulated together before their feedback reaches the hook.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write evaluated layouts, flow.jsonl, summary.json and the hook state "
    "to DIR/<design>/ (default: keep everything in memory).",
)
@click.option(
    "--log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Append every hook decision to this JSONL file.",
)
@click.option("--force", is_flag=True, help="Replace an existing --out design folder.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary instead.")
@click.option(
    "--progress/--no-progress", default=True, show_default=True, help="Progress bar on stderr."
)
@click.option("-v", "--verbose", is_flag=True, help="Log the hook's fine-tunings.")
def main(as_json: bool, verbose: bool, **kwargs: Any) -> None:
    """Net-weight enumeration of the reference placer with the pruning hook after each
    placement: kept candidates are simulated (ngspice stand-in for route + PEX + sim) and fed
    back; a held-out sample is fully evaluated to measure the FOR the pruning achieved.
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")  # fmt: skip
    if kwargs.get("model") is not None:
        kwargs["model"] = str(kwargs["model"])
    try:
        result = run_flow(FlowOptions(**kwargs))
    except MagicalPruneError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(result.summary(), separators=(",", ":")))
    else:
        click.echo(report(result))


if __name__ == "__main__":
    main()
