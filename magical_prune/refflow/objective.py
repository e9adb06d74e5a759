"""The smoothed global-placement cost of a batch of net-weight vectors, in torch.

``sum_k w_k * WL_k + lambda_ov * overlap + lambda_bnd * f_BND`` over device centres that are
mirror-symmetric by construction (see :mod:`.placer`); its own module so the placer holds
only the optimisation loop.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from magical_prune.refflow.problem import PlacementProblem, PlacerConfig

__all__ = ["UM", "Objective"]

#: nm per um (the global placer works in micrometres).
UM = 1000.0


class Objective:
    """The smoothed placement cost of a batch, as torch tensors (um).

    Gathers (pins of nets, device pairs) are written as products with constant 0/+-1
    matrices: their backward passes are dense products instead of scatter-adds, which is
    faster for these small problems.
    """

    def __init__(self, problem: PlacementProblem, config: PlacerConfig) -> None:
        n = len(problem.names)
        dtype = torch.float32  # plenty for um coordinates, and faster than float64
        size = torch.tensor(problem.size / UM, dtype=dtype)
        self.half = size / 2
        pairs, selfs, free = problem.pairs, problem.self_symmetric, problem.free
        q, s = len(pairs), len(selfs)
        self.dx_min = (
            torch.tensor((problem.size[pairs[:, 0], 0] + problem.size[pairs[:, 1], 0]) / 4.0) / UM
            + config.spacing / 2 / UM
        ).to(dtype)
        # x = [axis, dx, free_x] @ to_x ;  y = [pair_y, self_y, free_y] @ to_y
        to_x = np.zeros((1 + q + len(free), n))
        to_x[0, pairs.reshape(-1)] = 1.0
        to_x[0, selfs] = 1.0
        to_x[1 + np.arange(q), pairs[:, 0]] = -1.0
        to_x[1 + np.arange(q), pairs[:, 1]] = 1.0
        to_x[1 + q + np.arange(len(free)), free] = 1.0
        to_y = np.zeros((q + s + len(free), n))
        to_y[np.arange(q), pairs[:, 0]] = 1.0
        to_y[np.arange(q), pairs[:, 1]] = 1.0
        to_y[q + np.arange(s), selfs] = 1.0
        to_y[q + s + np.arange(len(free)), free] = 1.0
        self.to_x = torch.tensor(to_x, dtype=dtype)
        self.to_y = torch.tensor(to_y, dtype=dtype)
        self.target = torch.tensor(problem.target / UM, dtype=dtype)

        # Overlap: every device pair once, except symmetric partners (kept apart by dx_min);
        # pair differences come from one product with a (N, O) +1/-1 matrix.
        iu, ju = np.triu_indices(n, k=1)
        partner = np.full(n, -1)
        partner[pairs[:, 0]], partner[pairs[:, 1]] = pairs[:, 1], pairs[:, 0]
        keep = partner[iu] != ju
        iu, ju = iu[keep], ju[keep]
        diff = np.zeros((n, len(iu)))
        diff[iu, np.arange(len(iu))] = 1.0
        diff[ju, np.arange(len(iu))] = -1.0
        self.pair_diff = torch.tensor(diff, dtype=dtype)
        gap = config.spacing / UM
        self.reach = self.half[iu] + self.half[ju] + gap  # (O, 2)

        # Nets as a padded (K, D) table of pins: device -> table slot matrix, pin offsets,
        # and an additive mask (-inf on padding) for the log-sum-exp.
        ptr = problem.net_ptr
        k = len(ptr) - 1
        degree = np.diff(ptr)
        depth = int(degree.max()) if k else 1
        to_pins = np.zeros((n, k * depth))
        offset = np.zeros((2, k * depth))
        pad = np.full(k * depth, -math.inf)
        for net in range(k):
            for slot, pin in enumerate(range(ptr[net], ptr[net + 1])):
                column = net * depth + slot
                to_pins[problem.pin_device[pin], column] = 1.0
                offset[:, column] = problem.pin_offset[pin] / UM
                pad[column] = 0.0
        self.shape = (k, depth)
        self.to_pins = torch.tensor(to_pins, dtype=dtype)
        self.pin_offset = torch.tensor(offset, dtype=dtype)
        self.pad = torch.tensor(pad.reshape(k, depth), dtype=dtype)

    def centres(self, v: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Device centres ``(B, N)`` x and y from the variables (symmetry exact)."""
        dx = self.dx_min + torch.nn.functional.softplus(v["pair_u"])
        x = torch.cat([v["axis"], dx, v["free_x"]], dim=1) @ self.to_x
        y = torch.cat([v["pair_y"], v["self_y"], v["free_y"]], dim=1) @ self.to_y
        return x, y

    def wirelength(self, x: torch.Tensor, y: torch.Tensor, gamma: float) -> torch.Tensor:
        """``(B, K)`` log-sum-exp HPWL of every net."""
        total = 0.0
        for coord, axis in ((x, 0), (y, 1)):
            table = (coord @ self.to_pins + self.pin_offset[axis]).view(-1, *self.shape) / gamma
            hi = torch.logsumexp(table + self.pad, dim=2)
            lo = torch.logsumexp(self.pad - table, dim=2)
            total = total + gamma * (hi + lo)
        return total

    def overlap(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``(B,)`` smoothed overlap area of all device pairs (um^2)."""
        dx = torch.sqrt((x @ self.pair_diff) ** 2 + 1e-4)
        dy = torch.sqrt((y @ self.pair_diff) ** 2 + 1e-4)
        ox = _smooth_relu(self.reach[:, 0] - dx)
        oy = _smooth_relu(self.reach[:, 1] - dy)
        return (ox * oy).sum(dim=1)

    def boundary(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``(B,)`` f_BND: squared excursion outside the target outline."""
        out = 0.0
        for coord, axis in ((x, 0), (y, 1)):
            lo = torch.relu(self.half[:, axis] - coord)
            hi = torch.relu(coord + self.half[:, axis] - self.target[axis])
            out = out + (lo**2 + hi**2).sum(dim=1)
        return out


def _smooth_relu(z: torch.Tensor, width: float = 0.1) -> torch.Tensor:
    """max(z, 0) rounded over about ``width`` um (cheaper than softplus: no exp/log)."""
    return 0.5 * (z + torch.sqrt(z * z + width * width))
