"""Analytical placement of a circuit for a batch of net-weight vectors at once.

The objective is the one the paper's data came from (Sec. III-A):
``sum_k w_k * WL_k + lambda_ov * overlap + lambda_bnd * f_BND``, with

- ``WL_k`` the log-sum-exp smoothed half-perimeter wirelength of net ``k`` over its pin centres,
- ``overlap`` the smoothed pairwise overlap area of the device outlines (plus spacing),
- ``f_BND`` the squared excursion of every device outside the target outline, whose area
  is the device area over ``1 - whitespace`` and whose width/height is ``aspect_ratio``.

Symmetry is built into the variables rather than penalised: one vertical axis ``a`` is shared
by all groups; a pair ``(A, B)`` is placed at ``x = a -/+ dx`` with one shared ``y``, and
``dx`` never lets the two overlap (``dx = dx_min + softplus(u)``); a self-symmetric device has
``x = a``. So every global placement is exactly symmetric, and its left/right and above/below
relations are consistent with the mirror, which the legaliser (:mod:`.legalize`) relies on.

All ``B`` weight vectors are solved together as one batched torch problem (float32, one
thread, fixed iteration count): the same batch gives the same bits. (A candidate's last bits
can depend on the batch it is solved in, through the kernels torch picks for the shape, so
:mod:`.designspace` always solves the same fixed chunks of candidates.) The initial placement
depends on the seed only, so differences between the ``B`` results come from the weights.

The compiled circuit and the settings are in :mod:`.problem`, the cost in :mod:`.objective`;
this module holds the optimisation loop.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np
import torch

from magical_prune.errors import MagicalPruneError
from magical_prune.refflow.legalize import legalize
from magical_prune.refflow.objective import UM, Objective
from magical_prune.refflow.problem import LegalLayout, PlacementProblem, PlacerConfig

__all__ = [
    "LegalLayout",
    "PlacementProblem",
    "PlacerConfig",
    "global_place",
    "initial_state",
    "place",
    "single_thread",
]


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread: faster for these small tensors, and bit-reproducible."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def initial_state(problem: PlacementProblem, seed: int) -> dict[str, np.ndarray]:
    """Seeded random start inside the target outline (um), the same for every weight set."""
    rng = np.random.default_rng(seed)
    width, height = problem.target / UM
    q, s, f = len(problem.pairs), len(problem.self_symmetric), len(problem.free)
    return {
        "axis": np.array([width / 2]),
        "pair_u": rng.uniform(-1.0, 1.0, q) * width / 8,
        "pair_y": rng.uniform(0.2, 0.8, q) * height,
        "self_y": rng.uniform(0.2, 0.8, s) * height,
        "free_x": rng.uniform(0.2, 0.8, f) * width,
        "free_y": rng.uniform(0.2, 0.8, f) * height,
    }


def global_place(
    problem: PlacementProblem, weights: np.ndarray, config: PlacerConfig | None = None
) -> np.ndarray:
    """Global placement of ``B`` weight vectors in one batched solve.

    Args:
        problem: the compiled circuit.
        weights: ``(B, K)`` weight of each of ``problem.nets`` per candidate.
        config: placer settings (the seed fixes the start).

    Returns:
        ``(B, N, 2)`` device centres (nm, float), exactly mirror-symmetric.
    """
    config = config or PlacerConfig()
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2 or weights.shape[1] != len(problem.nets):
        raise MagicalPruneError(
            f"weights must be (B, {len(problem.nets)}), got {tuple(weights.shape)}"
        )
    batch = weights.shape[0]
    with single_thread():
        objective = Objective(problem, config)
        start = initial_state(problem, config.seed)
        variables = {
            k: torch.tensor(np.tile(v, (batch, 1)), dtype=torch.float32, requires_grad=True)
            for k, v in start.items()
        }
        w = torch.tensor(weights, dtype=torch.float32)
        optimiser = torch.optim.Adam(list(variables.values()), lr=config.learning_rate)
        steps = config.iterations
        g0, g1 = config.gamma
        l0, l1 = config.overlap_weight
        for t in range(steps):
            frac = t / max(steps - 1, 1)
            gamma = g0 * (g1 / g0) ** frac
            lam = l0 * (l1 / l0) ** frac
            for group in optimiser.param_groups:
                group["lr"] = config.learning_rate * (
                    0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac))
                )
            optimiser.zero_grad(set_to_none=True)
            x, y = objective.centres(variables)
            cost = (
                (w * objective.wirelength(x, y, gamma)).sum(dim=1)
                + lam * objective.overlap(x, y)
                + config.boundary_weight * objective.boundary(x, y)
            )
            cost.sum().backward()
            optimiser.step()
        with torch.no_grad():
            x, y = objective.centres(variables)
    return np.stack([x.numpy(), y.numpy()], axis=2).astype(np.float64) * UM


def place(
    problem: PlacementProblem,
    weights: np.ndarray,
    config: PlacerConfig | None = None,
) -> list[LegalLayout]:
    """Global placement of a batch of weight vectors, then legalisation of each result."""
    config = config or PlacerConfig()
    weights = np.asarray(weights, dtype=np.float64)
    centres = global_place(problem, weights, config)
    return [legalize(problem, centres[b], weights[b], config) for b in range(len(weights))]
