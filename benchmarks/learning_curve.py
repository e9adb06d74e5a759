"""Learning curves on reference designs: how well each learner prunes per label budget.

    python benchmarks/learning_curve.py --runs runs                 # every design in runs/
    python benchmarks/learning_curve.py --runs runs --quick         # 2 CPU cores, minutes
    python benchmarks/learning_curve.py --runs runs ota2 ota3 --seeds 5

``runs/<design>/`` is what ``magical-prune refflow generate <design> -o runs`` writes (any
design folder with labelled layouts works). Per design the last 20% of the layouts (in
generation order, as ``dataset build``'s split) are the fixed test set; each budget draws
its training layouts from the rest, once per seed. A layout is bad when its metric lies in
the design's worst 25% (over all its layouts), so random pruning keeps 25% bad ones.

Columns: FOR when pruning the 25% of the test set with the highest scores; the least
prune rate that brings the FOR of the kept layouts to 10% or below (read off the test set's
own curve, as ``calibrate`` chooses; lower is better: a perfect ranking needs 16.7% when
25% are bad, random pruning needs nearly everything); Spearman correlation of score and badness;
fit time. Rows: random pruning, the two baselines a user would write in an afternoon
(ridge and gradient-boosted trees on :func:`magical_prune.geometry.layout_vector`, fitted
to the metric's badness) and the product's default learner,
:class:`magical_prune.geolearn.GeometryLearner` (signed targets, pair separations and heat
asymmetry, the models weighed by cross-validation on the training labels, those it cannot
tell apart averaged; the report says which candidates it kept).

Writes ``docs/results/learning_curve.{md,json,png}`` (``--out``).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import json
import multiprocessing
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from magical_prune.adapters.discovery import find_layouts, load_placement
from magical_prune.errors import MagicalPruneError
from magical_prune.geolearn import CV_MIN_LABELS, GeometryLearner, LearnerConfig, Tables
from magical_prune.geometry import geometry_vectors
from magical_prune.labels import get_metric
from magical_prune.predict import for_curve
from magical_prune.refflow.bench import design_metric
from magical_prune.roleprior import AdaptedPrior, DesignStats, RolePrior, raw_inputs

REFERENCE_DESIGNS = ("ota1", "ota2", "ota3", "ota4")
BUDGETS = (16, 64, 200, 800, 1600)
PRUNE_SHARE = 0.25
FOR_TARGET = 0.10
#: share of a design's layouts outside the test set
TRAIN_SHARE = 0.8


@dataclass
class DesignData:
    """Geometry and metric of every labelled layout of one design, in generation order."""

    name: str
    metric: str
    layout: np.ndarray
    pairs: np.ndarray
    heat: np.ndarray
    roles: np.ndarray
    value: np.ndarray
    ids: np.ndarray  # layout folder names (a data set's ids), to line up with its images
    devices: int = 0  # devices per layout (the layout vector's first block)
    prior: RolePrior | None = None  # the design-agnostic prior fitted on the *other* designs

    @property
    def badness(self) -> np.ndarray:
        return get_metric(self.metric).badness(self.value)

    @property
    def pool(self) -> np.ndarray:
        """Layouts outside the test set (training subsets are drawn from them)."""
        return np.arange(int(TRAIN_SHARE * len(self.value)))

    @property
    def test(self) -> np.ndarray:
        """The fixed test set: the last layouts in generation order (as `dataset build`)."""
        return np.arange(int(TRAIN_SHARE * len(self.value)), len(self.value))


def load_design(folder: Path, metric: str, cache: Path) -> DesignData:
    """Read (or reuse the cache of) a generated design folder's layouts."""
    cache.mkdir(parents=True, exist_ok=True)
    layouts = find_layouts(folder)
    stamp = f"{folder.name}_{len(layouts)}_{metric}_v4.npz"
    if (cache / stamp).exists():
        z = np.load(cache / stamp)
        return DesignData(folder.name, metric, z["layout"], z["pairs"], z["heat"], z["roles"],
                          z["value"], z["ids"], devices_of(folder))  # fmt: skip
    rows, pairs, heat, roles, values, ids = [], [], [], [], [], []
    for path in tqdm(layouts, desc=f"read {folder.name}", unit="layout"):
        placement = load_placement(path)
        if metric not in placement.performance:
            continue  # failed simulation: no label
        vectors = geometry_vectors(placement)
        rows.append(vectors.layout)
        pairs.append(vectors.pairs)
        heat.append(vectors.heat)
        roles.append(vectors.roles)
        values.append(placement.performance[metric])
        ids.append(path.name)
    if not rows:
        raise SystemExit(f"{folder}: no layout has a {metric} value in its performance.txt")
    data = DesignData(folder.name, metric, np.stack(rows), np.stack(pairs), np.stack(heat),
                      np.stack(roles), np.array(values), np.array(ids),
                      devices_of(folder))  # fmt: skip
    np.savez(cache / stamp, layout=data.layout, pairs=data.pairs, heat=data.heat,
             roles=data.roles, value=data.value, ids=data.ids)  # fmt: skip
    return data


def devices_of(folder: Path) -> int:
    """Devices per layout of a generated design folder (the layout vector's first block)."""
    return len(load_placement(find_layouts(folder)[0]).names)


def with_priors(designs: list[DesignData]) -> None:
    """Give each design the prior fitted on the others (leave one design out), if any."""
    raw = {d.name: raw_inputs(d.layout, d.roles, d.devices) for d in designs}
    for d in designs:
        sources = [(raw[o.name], o.badness) for o in designs if o.name != d.name]
        d.prior = RolePrior.fit(sources) if sources else None


# -- learners: fit(train features, train target) -> score function -------------------------
Learner = Callable[[DesignData, np.ndarray, np.ndarray, int], np.ndarray]


def _ridge() -> object:
    return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))


def _trees(n: int) -> HistGradientBoostingRegressor:
    # the afternoon baseline: 200 iterations at learning rate 0.05, sklearn's other defaults
    # but early stopping, which sklearn turns on above 10,000 rows and which stops after 10
    # trees on metrics in volts (its tolerance is absolute: see magical_prune.geolearn._trees)
    return HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, random_state=0,
                                         early_stopping=False)  # fmt: skip


def random_scores(d: DesignData, train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(len(test))


def ridge_baseline(d: DesignData, train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    model = _ridge().fit(d.layout[train], d.badness[train])
    return model.predict(d.layout[test])


def trees_baseline(d: DesignData, train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    model = _trees(len(train)).fit(d.layout[train], d.badness[train])
    return model.predict(d.layout[test])


class Scores(np.ndarray):
    """Scores with a note of which candidate a learner chose (``chosen``)."""

    chosen: str | None = None


def geometry_learner(d: DesignData, train: np.ndarray, test: np.ndarray, seed: int,
                     use_prior: bool = True) -> np.ndarray:  # fmt: skip
    """The product's learner (:class:`magical_prune.geolearn.GeometryLearner`), with the
    prior pretrained on the other designs, adapted on the unlabelled training pool."""
    tables = Tables(d.layout, d.pairs, d.heat, d.roles)
    pool = d.pool
    prior = None
    if use_prior and d.prior is not None:
        prior = AdaptedPrior.of(d.prior, d.layout[pool], d.roles[pool], d.devices)
    learner = GeometryLearner(LearnerConfig(metric=d.metric, seed=seed))
    learner.fit(tables.take(train), d.value[train], prior, tables.take(pool))
    scores = learner.scores(tables.take(test)).view(Scores)
    scores.chosen = learner.chosen
    return scores


def geometry_without_prior(
    d: DesignData, train: np.ndarray, test: np.ndarray, seed: int
) -> np.ndarray:
    return geometry_learner(d, train, test, seed, use_prior=False)


#: the learner without the prior: rows only where the prior is used (under CV_MIN_LABELS)
NO_PRIOR = "geometry (no prior)"
LEARNERS: dict[str, Learner] = {
    "random": random_scores,
    "ridge (baseline)": ridge_baseline,
    "trees (baseline)": trees_baseline,
    "geometry (default)": geometry_learner,
    NO_PRIOR: geometry_without_prior,
}


# -- measures ---------------------------------------------------------------------------------
def for_at_share(scores: np.ndarray, bad: np.ndarray) -> float:
    """FOR of the layouts kept when the ``PRUNE_SHARE`` with the highest scores are pruned."""
    order = np.argsort(-scores, kind="stable")
    return float(bad[order[int(round(PRUNE_SHARE * len(scores))) :]].mean())


def measures(scores: np.ndarray, badness: np.ndarray, bad: np.ndarray) -> dict[str, float]:
    curve = for_curve(scores, bad.astype(int))
    ok = np.nan_to_num(curve["for"], nan=1.0) <= FOR_TARGET
    return {
        "for": for_at_share(scores, bad),
        # the least pruning that brings the kept layouts' FOR to 10% (what calibrate picks);
        # lower is better, a perfect ranking needs 16.7% when 25% are bad; 1.0 if never
        "prune_at_for10": float(curve["prune_rate"][np.argmax(ok)]) if ok.any() else 1.0,
        # constant scores (trees with too few labels to split) rank nothing: correlation 0
        "spearman": 0.0 if np.ptp(scores) == 0 else float(spearmanr(scores, badness).statistic),
    }


def fit_one(d: DesignData, budget: int, name: str, seed: int) -> dict:
    """One learner at one budget and seed: its measures on the fixed test split."""
    test = d.test
    bad = d.badness > np.quantile(d.badness, 1 - PRUNE_SHARE)
    train = np.sort(np.random.default_rng(seed).choice(d.pool, budget, replace=False))
    start = time.perf_counter()
    scores = LEARNERS[name](d, train, test, seed)
    fit_s = time.perf_counter() - start
    chosen = getattr(scores, "chosen", None)
    scores = np.asarray(scores)
    return {**measures(scores, d.badness[test], bad[test]), "fit_s": fit_s, "chosen": chosen}


def run_design(
    d: DesignData, budgets: list[int], seeds: int, executor: cf.Executor | None = None
) -> list[dict]:
    """Every (budget, learner, seed) of one design, on ``executor`` when given (a Dask
    cluster's or a process pool; the same numbers as in this process: all seeded)."""
    jobs = [(b, name, seed) for b in budgets if b <= len(d.pool)
            for name in LEARNERS for seed in range(seeds)
            if name != NO_PRIOR or (b < CV_MIN_LABELS and d.prior is not None)]  # fmt: skip
    if executor is None:
        results = [fit_one(d, *job) for job in jobs]
    else:
        results = [f.result() for f in [executor.submit(fit_one, d, *job) for job in jobs]]
    rows: dict[tuple[int, str], dict] = {}
    for (budget, name, _), result in zip(jobs, results):
        row = rows.setdefault((budget, name), {"design": d.name, "budget": budget,
                                               "learner": name, "seeds": []})  # fmt: skip
        chosen = result.pop("chosen")
        row["seeds"].append(result)
        if chosen is not None:
            row.setdefault("chosen", []).append(chosen)
    return list(rows.values())


def _stat(row: dict, key: str) -> tuple[float, float]:
    values = np.array([s[key] for s in row["seeds"]])
    return float(values.mean()), float(values.std())


def write_report(rows: list[dict], out: Path, header: str, stem: str = "learning_curve") -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = [header, ""]
    for design in dict.fromkeys(r["design"] for r in rows):
        lines += [f"## {design}", "",
                  "| budget | learner | FOR % at 25% pruned | least prune rate % for FOR <= 10% "
                  "| Spearman | fit s |", "|---|---|---|---|---|---|"]  # fmt: skip
        for r in (r for r in rows if r["design"] == design):
            f, p, s, t = (_stat(r, k) for k in ("for", "prune_at_for10", "spearman", "fit_s"))
            lines.append(
                f"| {r['budget']} | {r['learner']} | {100 * f[0]:.1f} ± {100 * f[1]:.1f} "
                f"| {100 * p[0]:.1f} ± {100 * p[1]:.1f} | {s[0]:.2f} ± {s[1]:.2f} | {t[0]:.2f} |"
                + (f" chose {', '.join(r['chosen'])}" if r.get("chosen") else "")
            )
        lines.append("")
    lines.append(f"![FOR vs label budget]({stem}.png)")
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    plot(rows, out / f"{stem}.png")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    designs = list(dict.fromkeys(r["design"] for r in rows))
    fig, axes = plt.subplots(1, len(designs), figsize=(4 * len(designs), 3.6), squeeze=False)
    learners = list(dict.fromkeys(r["learner"] for r in rows))
    colour = {name: f"C{i % 10}" for i, name in enumerate(learners)}  # one colour per learner
    for ax, design in zip(axes[0], designs):
        for learner in learners:
            mine = [r for r in rows if r["design"] == design and r["learner"] == learner]
            if not mine:
                continue
            x = [max(r["budget"], 4) for r in mine]  # zero labels drawn at the left edge
            mean, std = np.array([_stat(r, "for") for r in mine]).T * 100
            ax.errorbar(x, mean, yerr=std, marker="o", capsize=3, label=learner,
                        color=colour[learner])  # fmt: skip
        ax.set_xscale("log")
        ax.set_title(design)
        ax.set_xlabel("labelled layouts of the design")
        ax.set_ylabel("FOR % at 25% pruned")
        ax.grid(alpha=0.3)
    handles = {}
    for ax in axes[0]:  # one legend for every learner any panel shows
        handles.update(zip(ax.get_legend_handles_labels()[1], ax.get_legend_handles_labels()[0]))
    axes[0][0].legend(handles.values(), handles.keys(), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("designs", nargs="*", help="design folders under --runs (default: all)")
    parser.add_argument(
        "--runs",
        type=Path,
        default=Path("runs"),
        help="folder of refflow runs, one sub-folder per design (default: runs)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=5,
        help="training-subset seeds per budget (the spread shown; default 5)",
    )
    parser.add_argument(
        "--budgets",
        type=int,
        nargs="*",
        default=list(BUDGETS),
        help=f"label budgets (default: {' '.join(map(str, BUDGETS))})",
    )
    parser.add_argument(
        "--no-all",
        action="store_true",
        help="only the --budgets, not also every layout outside the test set",
    )
    parser.add_argument("--quick", action="store_true", help="3 seeds (2 CPU cores, minutes)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("docs/results"),
        help="where learning_curve.{md,json,png} go (default: docs/results)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path("runs/.geometry"),
        help="geometry rows cached per design (default: runs/.geometry)",
    )
    parser.add_argument("--metric", default=None,
                        help="learn this metric on every design instead of its own (e.g. CMRR "
                        "on the offset designs); the priors still learn the other designs' own "
                        "metrics, as the shipped prior did. Writes learning_curve_<metric>.*")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (or Dask workers)")
    parser.add_argument("--cnn-data", type=Path, default=None,
                        help="folder of <design>.h5 data sets (dataset build of the same runs): "
                        "adds rows of the bundled CNN, zero-shot and fine-tuned")  # fmt: skip
    parser.add_argument("--no-transfer", action="store_true",
                        help="leave out the role-vector transfer rows (pretrained on the other "
                        "designs given)")  # fmt: skip
    parser.add_argument(
        "--cnn-budgets",
        type=int,
        nargs="*",
        default=[0, 16, 64, 200, 800],
        help="budgets of the CNN rows (default: 0 16 64 200 800)",
    )
    parser.add_argument(
        "--cnn-seeds",
        type=int,
        default=1,
        help="seeds of the CNN rows (a fine-tune each; default 1)",
    )
    parser.add_argument("--scheduler", default=None,
                        help="Dask scheduler address, or 'local' for a LocalCluster of --jobs "
                        "workers (pip install 'magical-prune[cluster]')")  # fmt: skip
    args = parser.parse_args()
    if args.metric is not None and args.cnn_data is not None:
        parser.error("--cnn-data measures the data sets' own metric: not with --metric")
    if args.metric is not None:
        try:
            get_metric(args.metric)
        except MagicalPruneError as err:
            parser.error(f"--metric: {err}")
    with contextlib.ExitStack() as stack:
        executor = None
        if args.scheduler is not None:
            from magical_prune.cluster import dask_pool

            executor = stack.enter_context(dask_pool(args.scheduler, args.jobs)).executor
        elif args.jobs > 1:
            # spawn: a forked child of a process with running torch/OpenMP threads can hang
            spawn = multiprocessing.get_context("spawn")
            executor = stack.enter_context(cf.ProcessPoolExecutor(args.jobs, mp_context=spawn))
        run(args, executor)


def _cnn(args: argparse.Namespace, d: DesignData) -> list[dict]:
    """The bundled CNN's rows for a design it never saw (``--cnn-data``)."""
    if args.cnn_data is None or not (args.cnn_data / f"{d.name}.h5").exists():
        return []
    from cnn_rows import cnn_rows, source_design

    if d.name == source_design():
        print(f"  {d.name}: no CNN transfer rows (the bundled model learnt it)")
        return []
    budgets = [b for b in args.cnn_budgets if b <= len(d.pool)]
    return cnn_rows(d, args.cnn_data / f"{d.name}.h5", budgets, args.cnn_seeds, measures,
                    PRUNE_SHARE)  # fmt: skip


def _transfer(args: argparse.Namespace, d: DesignData, designs: list, seeds: int) -> list[dict]:
    """Role-vector rows pretrained on the other designs (never ``d``): benchmarks/transfer_rows."""
    from transfer_rows import pretrain_prior, transfer_rows

    prior = None if args.no_transfer else pretrain_prior([o for o in designs if o.name != d.name])
    out = [] if d.prior is None else [zero_shot_row(d)]
    if prior is not None:
        out += transfer_rows(d, prior, sorted(set(args.budgets)), seeds, measures, PRUNE_SHARE)
    for r in out:
        f = _stat(r, "for")
        print(f"  {r['budget']:>5} {r['learner']:<18} FOR {100 * f[0]:5.1f} ± {100 * f[1]:.1f}")
    return out


#: the zero-shot row of the product's prior (what ``default`` uses on a new design)
ZERO_SHOT_PRIOR = "prior (zero-shot)"


def zero_shot_row(d: DesignData) -> dict:
    """The prior fitted on the other designs, adapted on the unlabelled training pool."""
    test, pool = d.test, d.pool
    raw = raw_inputs(d.layout, d.roles, d.devices)
    assert d.prior is not None
    scores = d.prior.predict(DesignStats.of(raw[pool]).standardise(raw[test]))
    bad = d.badness > np.quantile(d.badness, 1 - PRUNE_SHARE)
    return {"design": d.name, "budget": 0, "learner": ZERO_SHOT_PRIOR,
            "seeds": [{**measures(scores, d.badness[test], bad[test]), "fit_s": 0.0}]}  # fmt: skip


def run(args: argparse.Namespace, executor: cf.Executor | None) -> None:
    seeds = 3 if args.quick else args.seeds
    names = args.designs or sorted(p.name for p in args.runs.iterdir() if p.is_dir()
                                   and not p.name.startswith("."))  # fmt: skip
    rows, sizes = [], {}
    own = [load_design(args.runs / name, design_metric(args.runs / name), args.cache)
           for name in names]  # fmt: skip
    if not args.no_transfer:
        with_priors(own)
    designs = own if args.metric is None else [
        replace(load_design(args.runs / d.name, args.metric, args.cache), prior=d.prior)
        for d in own
    ]  # fmt: skip
    for d in designs:
        name = d.name
        sizes[name] = len(d.value)
        start = time.perf_counter()
        budgets = sorted({*args.budgets, *([] if args.no_all else [len(d.pool)])})
        design_rows = run_design(d, budgets, seeds, executor)
        rows += design_rows
        print(f"{name}: {len(design_rows)} rows in {time.perf_counter() - start:.0f} s", flush=True)
        for r in design_rows:
            f = _stat(r, "for")
            print(f"  {r['budget']:>5} {r['learner']:<18} FOR {100 * f[0]:5.1f} ± {100 * f[1]:.1f}")
        rows += _transfer(args, d, own, seeds)
        rows += _cnn(args, d)
    header = (
        "# Learning curves on reference designs\n\n"
        f"Written by `python benchmarks/learning_curve.py{' --quick' if args.quick else ''}` "
        f"({seeds} seeds; {platform.machine()}, {platform.python_version()}). Layouts per "
        f"design: {', '.join(f'{k} {v}' for k, v in sizes.items())}; test set = the last 20%; "
        "bad = the design's worst 25% (random pruning: FOR 25%); the last budget of each "
        "design is every layout outside the test set. Metric: |Offset_Voltage| for ota1-3, "
        "CMRR for ota4 (as benchmarks/paper.py). Rows `cnn (bundled, fine-tuned)`: the bundled "
        "CNN (pretrained on ota1 only, so never on the target) at zero labels and fine-tuned "
        "on each budget (`--cnn-data`; seeds: `--cnn-seeds`). Rows `roles prior`: a ridge of "
        "the signed offset on the role vector pretrained on the *other* designs listed "
        "(benchmarks/transfer_rows.py), zero-shot and combined with the target's labels; "
        "row `|input-pair separation|`: that one number of the role vector as the score, "
        "untrained. Row `prior (zero-shot)`: the product's design-agnostic prior "
        "(magical_prune.roleprior) fitted on the *other* designs listed, the target's typical "
        "layout read off its unlabelled training pool; `geometry (default)` averages that "
        "prior in under 32 labels (`geometry (no prior)`: the same learner without it)."
    )
    if args.metric is not None:
        header += (
            f"\n\n**Metric {args.metric} on every design** (`--metric {args.metric}`), not each "
            "design's own: the learners learn and are measured on it; the priors (rows `prior`, "
            "`roles prior` and the one `geometry (default)` averages in) still learnt the other "
            "designs' own metrics, as the shipped prior did."
        )
    write_report(
        rows, args.out, header, "learning_curve" + (f"_{args.metric}" if args.metric else "")
    )


if __name__ == "__main__":
    main()
