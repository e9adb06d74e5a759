"""The net-weight design space of a design: its candidates and how each one is placed.

One definition for ``refflow generate`` and for any flow that enumerates the same
candidates (``examples/flow_with_pruning.py``), so candidate ``k`` of either is the same
layout bit for bit:

- candidate ``k`` raises the weights of the critical-net subset ``netweights.subsets([k],
  ...)`` (:mod:`.netweights`); the critical nets are the bench's, else every signal net the
  placer sees;
- candidates are placed in fixed chunks of ``batch_size`` consecutive indices, one batched
  global placement each (a candidate's last bits can depend on the batch it is solved in),
  so a layout depends only on its index, the seed and the batch size: not on how many
  candidates a run asks for, on ``jobs``, or on what an earlier run already finished.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from magical_prune.errors import MagicalPruneError
from magical_prune.refflow import netweights
from magical_prune.refflow.designs import Design
from magical_prune.refflow.genoptions import GenerateOptions
from magical_prune.refflow.legalize import legalize
from magical_prune.refflow.placer import global_place
from magical_prune.refflow.problem import LegalLayout, PlacementProblem

__all__ = ["DesignSpace"]


@dataclass(frozen=True)
class DesignSpace:
    """The candidates of one design under one run's settings.

    Attributes:
        design: the design.
        problem: its circuit compiled for the placer (``options.placer``).
        critical: the critical nets whose weights are enumerated.
        options: seed, raised weight, chunk size (``batch_size``), placer settings and the
            number of candidates ``n`` (None: all ``2**k``).
    """

    design: Design
    problem: PlacementProblem
    critical: tuple[str, ...]
    options: GenerateOptions

    @classmethod
    def of(cls, design: Design, options: GenerateOptions) -> DesignSpace:
        """Compile the design and find its critical nets."""
        problem = PlacementProblem.from_circuit(design.circuit, config=options.placer)
        critical = netweights.critical_nets(
            design.circuit, given=design.critical_nets or None, placed=problem.nets
        )
        return cls(design, problem, critical, options)

    @property
    def total(self) -> int:
        """Candidates of the run: ``options.n``, or the full enumeration.

        Raises:
            MagicalPruneError: ``n`` below 1 or beyond the ``2**k`` distinct subsets.
        """
        return netweights.count_for(self.options.n, len(self.critical))

    def masks(self, indices: Iterable[int]) -> np.ndarray:
        """The critical-net subset (bit mask) of each candidate index."""
        return netweights.subsets(list(indices), len(self.critical), self.options.seed)

    def weights(self, indices: Iterable[int]) -> list[dict[str, float]]:
        """``net -> weight`` of every net, per candidate index."""
        nets = self.problem.circuit.nets
        return [
            netweights.weights_for(int(m), self.critical, nets, high=self.options.weight)
            for m in self.masks(indices)
        ]

    def raised_nets(self, k: int) -> tuple[str, ...]:
        """The critical nets candidate ``k`` raises."""
        return netweights.subset_nets(int(self.masks([k])[0]), self.critical)

    def layout_name(self, k: int) -> str:
        """Candidate ``k``'s layout folder name (``ota3_17``)."""
        return f"{self.design.name}_{k}"

    def chunks(self) -> list[tuple[int, int]]:
        """``(start, stop)`` of each placement chunk of the run's candidates."""
        total, size = self.total, self.options.batch_size
        return [(start, min(start + size, total)) for start in range(0, total, size)]

    def place_chunk(
        self, start: int, stop: int, todo: Iterable[int] | None = None
    ) -> list[tuple[int, LegalLayout | str]]:
        """Globally place candidates ``start..stop-1`` in one batch (always the whole chunk,
        so the bits do not depend on what is left to do) and legalise those in ``todo``
        (default: all). A candidate whose legalisation fails comes back with the reason
        instead of a layout."""
        placer = self.options.placer
        weights = self.problem.weight_matrix(self.weights(range(start, stop)))
        centres = global_place(self.problem, weights, placer)
        out: list[tuple[int, LegalLayout | str]] = []
        for k in range(start, stop) if todo is None else todo:
            b = k - start
            try:
                out.append((k, legalize(self.problem, centres[b], weights[b], placer)))
            except MagicalPruneError as err:
                out.append((k, f"placement failed: {err.message}"))
        return out
