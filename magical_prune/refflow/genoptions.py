"""Settings of a ``refflow generate`` run (own module so the worker tasks can use them
without importing the orchestration)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from magical_prune.errors import MagicalPruneError
from magical_prune.refflow.problem import PlacerConfig

__all__ = ["GenerateOptions"]


@dataclass(frozen=True)
class GenerateOptions:
    """Settings of one generation run (see :func:`generate`).

    Attributes:
        n: number of candidates; None for the full enumeration (``2**k``).
        seed: seed of the subset order and of the placer's initial placement.
        jobs: worker processes for placement and simulation.
        simulate: run the ngspice evaluator and write ``performance.txt``.
        mismatch: scale of random Pelgrom mismatch in the labels. 0 (default): nominal
            post-layout simulation, as the paper's labels (PEX + Spectre, no Monte Carlo),
            so the label is what the placement decides; 1: the published A_VT, a realistic
            die, whose random offset (~1 mV) is 30-100x the placement-dependent one (tens of
            µV), so labels then hardly depend on the placement. Recorded in
            ``refflow.json``.
        weight: the raised weight of a critical net (others weigh 1).
        batch_size: candidates per batched placement solve; part of the result's identity
            (same seed and batch size -> same bits), so keep the default to resume a run.
        placer: global placement and legalisation settings (its seed is replaced by ``seed``).
    """

    n: int | None = None
    seed: int = 0
    jobs: int = 1
    simulate: bool = True
    mismatch: float = 0.0
    weight: float = 10.0
    batch_size: int = 64
    placer: PlacerConfig = field(default_factory=PlacerConfig)

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise MagicalPruneError(f"--jobs must be at least 1, got {self.jobs}")
        if self.batch_size < 1:
            raise MagicalPruneError(f"batch size must be at least 1, got {self.batch_size}")
        if not math.isfinite(self.weight) or self.weight <= 0:
            raise MagicalPruneError(f"--weight must be positive, got {self.weight}")
        if not math.isfinite(self.mismatch) or self.mismatch < 0:
            raise MagicalPruneError(f"--mismatch must be >= 0, got {self.mismatch}")
        if self.placer.seed != self.seed:
            object.__setattr__(self, "placer", replace(self.placer, seed=self.seed))
