"""Role-vector transfer rows of the learning curve (imported by ``learning_curve.py``).

The role vector (:func:`magical_prune.geometry.role_vector`) has the same eight columns on
every design, so a model of it can be pretrained on other designs. The prior here is a ridge
fit of the signed offset (centred per design: each design's nominal offset is its own) on
the role vectors of every *other* design whose metric is an offset; the target design is
never seen. Rows:

* ``roles prior (zero-shot)``, budget 0: the prior's |predicted offset| as the score (for a
  metric without a sign, such as CMRR, the same magnitude);
* ``|input-pair separation| (zero-shot, untrained)``, budget 0: the first entry of the role
  vector alone, as a rule anyone could apply to any design (the input pair's mismatch from a
  process gradient grows with its separation); no design, labelled or not, is used;
* ``roles prior + design ridge`` (signed metrics): the geometry learner's ridge-roles
  inputs fitted on the budget's labels of the target to the *residual* of the prior (an
  unscaled ridge with an intercept), so the target's labels correct the prior's weights and
  the penalty shrinks towards the prior instead of towards zero. (Adding the prior's
  prediction as one more column changes nothing: it is a linear function of the roles.)
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.linear_model import RidgeCV

from magical_prune.geolearn import Tables, unscaled_ridge
from magical_prune.labels import get_metric

ZERO_SHOT = "roles prior (zero-shot)"
RULE = "|input-pair separation| (zero-shot, untrained)"
COMBINED = "roles prior + design ridge"


def _signed(metric: str) -> bool:
    return get_metric(metric).better == "smaller_abs"


def pretrain_prior(sources: list[Any]) -> Any | None:
    """Ridge of the centred signed offset on the role vector, over the source designs."""
    usable = [d for d in sources if _signed(d.metric)]
    if not usable:
        return None
    x = np.vstack([d.roles for d in usable])
    y = np.concatenate([d.value - d.value.mean() for d in usable])
    return RidgeCV(alphas=np.logspace(-4, 4, 17)).fit(x, y)


def transfer_rows(
    d: Any, prior: Any, budgets: list[int], seeds: int, measures: Any, prune_share: float
) -> list[dict]:
    """Zero-shot and prior-plus-design rows of design ``d`` (prior: :func:`pretrain_prior`)."""
    test, pool = d.test, d.pool
    badness = d.badness
    bad = badness > np.quantile(badness, 1 - prune_share)
    signed = _signed(d.metric)
    prior_signed = prior.predict(d.roles)
    zero = measures(np.abs(prior_signed[test]), badness[test], bad[test])
    rule = measures(np.abs(d.roles[test, 0]), badness[test], bad[test])
    rows = [{"design": d.name, "budget": 0, "learner": ZERO_SHOT,
             "seeds": [{**zero, "fit_s": 0.0}]},
            {"design": d.name, "budget": 0, "learner": RULE,
             "seeds": [{**rule, "fit_s": 0.0}]}]  # fmt: skip
    if not signed:
        return rows  # the prior predicts an offset; a CMRR has no sign to correct it with
    inputs = Tables(d.layout, d.pairs, d.heat, d.roles).role_inputs(signed)
    for budget in (b for b in budgets if b <= len(pool)):
        row = {"design": d.name, "budget": budget, "learner": COMBINED, "seeds": []}
        for seed in range(seeds):
            train = np.sort(np.random.default_rng(seed).choice(pool, budget, replace=False))
            start = time.perf_counter()
            model = unscaled_ridge().fit(inputs[train], d.value[train] - prior_signed[train])
            raw = prior_signed[test] + model.predict(inputs[test])
            fit_s = time.perf_counter() - start
            row["seeds"].append({**measures(np.abs(raw), badness[test], bad[test]),
                                 "fit_s": fit_s})  # fmt: skip
        rows.append(row)
    return rows
