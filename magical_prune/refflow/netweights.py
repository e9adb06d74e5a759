"""Net-weight enumeration: the design space of the reference flow.

As in the paper (Sec. III-A), every placement candidate raises the weight of one subset of
the critical nets (default 1, raised 10). With ``k`` critical nets there are ``2**k``
subsets. Candidate ``c`` of a run maps to subset ``order(seed)[c]``, where ``order`` is a
seeded permutation of all subsets: a run of ``n`` candidates takes the first ``n`` of it
(drawn without repetition), a full run takes all of it, and a resumed or partial run maps
every candidate index to the same subset. Subsets are bit masks: bit ``i`` set means
critical net ``i`` gets the raised weight.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from magical_prune.circuit import Circuit
from magical_prune.errors import MagicalPruneError

#: Supply and ground names (case-insensitive) that are never critical.
SUPPLY_NET = re.compile(
    r"^(vdd|vss|gnd|vcc|vee|avdd|avss|dvdd|dvss|agnd|dgnd|vdda|vssa|vddd|vssd|0)[!_0-9a-z]*$",
    re.IGNORECASE,
)
#: Above this many critical nets the permutation is computed per index, not as an array.
_ARRAY_LIMIT = 20
_MASK64 = (1 << 64) - 1


def is_supply(net: str) -> bool:
    """Whether a net name is a supply or ground (``VDD``, ``vss!``, ``GND``, ``0``)."""
    return bool(SUPPLY_NET.match(net))


def critical_nets(
    circuit: Circuit, given: Sequence[str] | None = None, placed: Iterable[str] | None = None
) -> tuple[str, ...]:
    """The critical nets whose weights are enumerated.

    Args:
        circuit: the design.
        given: the designer's list, used as is (each must be a net of the circuit).
        placed: nets the placer sees (two or more routed pins); by default every signal net
            that the placer sees is critical (a one-pin net's weight changes nothing).
    """
    if given is not None:
        unknown = [n for n in given if n not in circuit.nets]
        if unknown:
            raise MagicalPruneError(
                f"critical net {unknown[0]!r} is not a net of {circuit.name!r}", circuit.source
            )
        if len(set(given)) != len(given):
            raise MagicalPruneError(f"the critical nets of {circuit.name!r} repeat a name")
        return tuple(given)
    seen = set(placed) if placed is not None else None
    return tuple(
        name
        for name, net in circuit.nets.items()
        if not is_supply(name) and (len(net.routed_pins) >= 2 if seen is None else name in seen)
    )


def space_size(num_critical: int) -> int:
    """Number of subsets (candidates of a full enumeration)."""
    return 1 << num_critical


def subsets(indices: Sequence[int] | np.ndarray, num_critical: int, seed: int) -> np.ndarray:
    """Bit masks of the given candidate indices (no two indices share a mask).

    Raises:
        MagicalPruneError: an index outside ``[0, 2**num_critical)``.
    """
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    total = space_size(num_critical)
    if len(idx) and (idx.min() < 0 or idx.max() >= total):
        raise MagicalPruneError(
            f"candidate index out of range: {num_critical} critical nets give {total} subsets"
        )
    if num_critical <= _ARRAY_LIMIT:
        return _permutation(num_critical, seed)[idx]
    return np.array([_feistel(int(i), num_critical, seed) for i in idx], dtype=np.int64)


def count_for(n: int | None, num_critical: int) -> int:
    """Candidates of a run: ``n``, or the full enumeration when ``n`` is None."""
    total = space_size(num_critical)
    if n is None:
        return total
    if n < 1:
        raise MagicalPruneError(f"the number of candidates must be at least 1, got {n}")
    if n > total:
        raise MagicalPruneError(
            f"asked for {n} candidates, but {num_critical} critical nets give only {total} "
            "distinct weightings (omit -n for the full enumeration)"
        )
    return n


def weights_for(
    mask: int, critical: Sequence[str], nets: Iterable[str], high: float = 10.0, low: float = 1.0
) -> dict[str, float]:
    """``net -> weight`` for every net: ``high`` for the critical nets in ``mask``."""
    raised = {critical[i] for i in range(len(critical)) if (int(mask) >> i) & 1}
    return {net: (high if net in raised else low) for net in nets}


def subset_nets(mask: int, critical: Sequence[str]) -> tuple[str, ...]:
    return tuple(critical[i] for i in range(len(critical)) if (int(mask) >> i) & 1)


def mask_of(weights: Mapping[str, float], critical: Sequence[str], high: float = 10.0) -> int:
    """Inverse of :func:`weights_for` (for reading a ``weight.txt`` back)."""
    return sum(1 << i for i, net in enumerate(critical) if weights.get(net) == high)


@functools.lru_cache(maxsize=8)
def _permutation(num_critical: int, seed: int) -> np.ndarray:
    out = np.random.default_rng(seed).permutation(space_size(num_critical))
    out.setflags(write=False)
    return out


def _mix(value: int) -> int:
    """splitmix64 finaliser: a well-spread 64-bit hash (numpy has no scalar hash to reuse)."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def _feistel(index: int, bits: int, seed: int, rounds: int = 6) -> int:
    """A seeded bijection of ``[0, 2**bits)``: a balanced Feistel network on an even number
    of bits, cycle-walking back into range when ``bits`` is odd. Used where an explicit
    permutation array of ``2**bits`` entries would be too large."""
    half = (bits + 1) // 2
    lo_mask = (1 << half) - 1
    limit = 1 << bits
    key = _mix(seed & _MASK64)
    value = index
    while True:
        left, right = value >> half, value & lo_mask
        for r in range(rounds):
            left, right = right, left ^ (_mix(key ^ (r << 56) ^ right) & lo_mask)
        value = (left << half) | right
        if value < limit:
            return value
