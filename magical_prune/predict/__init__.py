"""Scoring placements with a trained model, and choosing its decision threshold: the public
import path of the scoring side, gathered from the modules that do each job.

* :class:`Predictor` (:mod:`magical_prune.predict.predictor`): a model and its card, scoring
  placements -- the one scoring path of the package;
* :func:`load_scorer` (:mod:`magical_prune.predict.loading`): any model file (CNN or
  geometry learner, or ``"default"``: the bundled model) as a Scorer;
* :func:`calibrate_checkpoint` (:mod:`magical_prune.predict.calibrate_data`): a model's
  threshold calibrated on a labelled data set;
* :func:`calibrate_threshold`, :func:`for_curve` (:mod:`magical_prune.calibrate`): the
  threshold for a target FOR, for any learner's scores;
* :func:`fast_inference`, :func:`torch_threads` (:mod:`magical_prune.models.fast`).
"""

from __future__ import annotations

from magical_prune.calibrate import (
    NO_PRUNE,
    Calibration,
    calibrate_threshold,
    check_threshold,
    for_curve,
)
from magical_prune.models.fast import fast_inference, torch_threads
from magical_prune.predict.calibrate_data import CalibrationResult, calibrate_checkpoint
from magical_prune.predict.loading import (
    BUNDLED_GEOMETRY,
    BUNDLED_PRIOR,
    DEFAULT_CNN_NAME,
    DEFAULT_NAME,
    bundled_design_models,
    bundled_prior_path,
    design_digest,
    is_default,
    load_scorer,
    refuse_prior,
    resolve_model_path,
)
from magical_prune.predict.predictor import (
    BUNDLED_MODEL,
    DEFAULT_BATCH,
    SCORE_DECIMALS,
    Predictor,
    bundled_model_path,
)

__all__ = [
    "BUNDLED_MODEL",
    "DEFAULT_BATCH",
    "DEFAULT_CNN_NAME",
    "DEFAULT_NAME",
    "NO_PRUNE",
    "SCORE_DECIMALS",
    "Calibration",
    "CalibrationResult",
    "Predictor",
    "BUNDLED_GEOMETRY",
    "BUNDLED_PRIOR",
    "bundled_design_models",
    "bundled_model_path",
    "bundled_prior_path",
    "design_digest",
    "is_default",
    "calibrate_checkpoint",
    "calibrate_threshold",
    "check_threshold",
    "for_curve",
    "load_scorer",
    "refuse_prior",
    "resolve_model_path",
    "fast_inference",
    "torch_threads",
]
