"""Symmetry constraints derived from circuit structure (``.sym`` and ``.symnet``).

Hand-written designs often come without a ``.sym`` file, yet the placer needs the matched
pairs and the reference flow mirrors them. Two devices are paired here only when they are
electrically matched: same type, same model, same sizes, and mirrored connections, that
is every terminal either on one shared net or on two nets that are themselves mirror
partners. Mirror partners start from the differential ports (``INP``/``INM``,
``VOUTP``/``VOUTN``: names that differ only in a trailing P against M or N) and grow from
every accepted pair (the input pair's drains become partners, then the cascodes on them,
the loads, the next stage, the Miller and CMFB passives ...). A differential pair needs no
known partner: two devices on one shared, non-supply source with different gates are one.

Pairs are accepted in rounds, most evidence first (terminals on known partner nets), and
only when the choice is unique for both devices; an ambiguous device stays unpaired
rather than risk a pair that is not matched. Self-symmetric devices are the tails: an
unpaired transistor whose drain is the shared source of a pair (or the source of another
tail, for cascoded tails). Net symmetry follows: two nets are a pair when every device pin
on one has its partner's pin on the other; a net is self-symmetric when every pin on it is
a self-symmetric device's or has its partner's pin on the same net (and some pair or two
tails meet on it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from magical_prune.circuit import Circuit, Device, Symmetry

__all__ = ["derive_symmetry", "port_pairs"]

_SUPPLY = re.compile(
    r"^(vdd|vss|gnd|vcc|vee|avdd|avss|dvdd|dvss|agnd|dgnd|vdda|vssa|vddd|vssd|0)[!_0-9a-z]*$",
    re.IGNORECASE,
)
#: passives' two terminals are interchangeable (a capacitor or resistor has no direction)
_SWAPS: dict[str, tuple[dict[str, str], ...]] = {
    "mos": ({},),
    "passive": ({}, {"PLUS": "MINUS", "MINUS": "PLUS"}),
}


def _is_supply(net: str) -> bool:
    return bool(_SUPPLY.match(net))


def port_pairs(ports: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    """Differential ports by name: ``X...P`` with ``X...M`` or ``X...N`` (any case)."""
    names = set(ports)
    out = []
    for port in ports:
        if port[-1:] not in ("P", "p") or _is_supply(port):
            continue
        for tail in ("M", "N", "m", "n"):
            other = port[:-1] + tail
            if other in names and other != port:
                out.append((port, other))
                break
    return out


def _signature(device: Device) -> tuple[object, ...]:
    params = tuple(sorted((k, float(f"{v:.9g}")) for k, v in device.params.items()
                          if isinstance(v, (int, float)) and math.isfinite(v)))  # fmt: skip
    return (device.type, device.model.lower(), len(device.nets), params)


@dataclass(frozen=True)
class _Match:
    score: int  # terminals on known partner nets
    proposals: dict[str, str]  # new net partners this pair implies (both directions)
    swap: dict[str, str]  # terminal of a -> terminal of b (passives may swap)


def _match(a: Device, b: Device, partner: Mapping[str, str]) -> _Match | None:
    """How well ``b`` mirrors ``a`` under the known net partners, or None if it cannot."""
    best: _Match | None = None
    for swap in _SWAPS["mos" if a.type.is_mos else "passive"]:
        b_nets = dict(zip(b.pins, b.nets))
        score, proposals, ok = 0, {}, True
        for pin, na in zip(a.pins, a.nets):
            nb = b_nets.get(swap.get(pin, pin))
            if nb is None:
                ok = False
            elif na == nb:
                continue
            elif partner.get(na) == nb:
                score += 1
            elif (
                na in partner
                or nb in partner
                or _is_supply(na)
                or _is_supply(nb)
                or proposals.get(na, nb) != nb
                or proposals.get(nb, na) != na
            ):
                ok = False  # a net already mirrored elsewhere, a supply, or a conflict
            else:
                proposals[na], proposals[nb] = nb, na
            if not ok:
                break
        if not ok:
            continue
        shared_tail = (
            a.type.is_mos
            and a.net("S") == b.net("S")
            and not _is_supply(a.net("S") or "")
            and a.net("G") != b.net("G")
        )
        if score == 0 and not shared_tail:
            continue  # no evidence that the two mirror each other
        found = _Match(score, proposals, {p: swap.get(p, p) for p in a.pins})
        if best is None or (found.score, -len(found.proposals)) > (
            best.score, -len(best.proposals)
        ):  # fmt: skip
            best = found
    return best


def _pairs(circuit: Circuit, partner: dict[str, str]) -> dict[tuple[str, str], dict[str, str]]:
    """Accepted device pairs ``(left, right) -> terminal map``, in rounds."""
    order = {name: i for i, name in enumerate(circuit.devices)}
    groups: dict[tuple[object, ...], list[Device]] = {}
    for device in circuit.devices.values():
        if any(device.nets):
            groups.setdefault(_signature(device), []).append(device)
    paired: dict[tuple[str, str], dict[str, str]] = {}
    taken: set[str] = set()
    while True:
        options: dict[str, list[tuple[tuple[int, int], str, _Match]]] = {}
        for members in groups.values():
            free = [d for d in members if d.name not in taken]
            for i, a in enumerate(free):
                for b in free[i + 1 :]:
                    m = _match(a, b, partner)
                    if m is None:
                        continue
                    key = (m.score, -len(m.proposals))
                    options.setdefault(a.name, []).append((key, b.name, m))
                    options.setdefault(b.name, []).append((key, a.name, m))
        best: dict[str, str] = {}
        for name, found in options.items():
            found.sort(key=lambda o: o[0], reverse=True)
            if len(found) == 1 or found[0][0] > found[1][0]:
                best[name] = found[0][1]
        accepted = False
        for name in sorted(best, key=order.__getitem__):
            other = best[name]
            if best.get(other) != name or name in taken or other in taken:
                continue
            a, b = sorted((name, other), key=order.__getitem__)
            m = _match(circuit.devices[a], circuit.devices[b], partner)  # partners grew
            if m is None:
                continue
            partner.update(m.proposals)
            paired[(a, b)] = m.swap
            taken.update((a, b))
            accepted = True
        if not accepted:
            return paired


def _tails(circuit: Circuit, pairs: Mapping[tuple[str, str], dict[str, str]]) -> list[str]:
    """Unpaired transistors feeding the shared source of a pair, and their cascode chain."""
    in_pair = {n for pair in pairs for n in pair}
    sources = {
        circuit.devices[a].net("S")
        for a, b in pairs
        if circuit.devices[a].type.is_mos
        and circuit.devices[a].net("S") == circuit.devices[b].net("S")
    }
    sources = {s for s in sources if s and not _is_supply(s)}
    tails: list[str] = []
    grew = True
    while grew:
        grew = False
        for device in circuit.devices.values():
            if device.name in in_pair or device.name in tails or not device.type.is_mos:
                continue
            if device.net("D") in sources:
                tails.append(device.name)
                source = device.net("S")
                if source and not _is_supply(source):
                    sources.add(source)
                grew = True
    return tails


def _net_symmetry(
    circuit: Circuit, pairs: Mapping[tuple[str, str], dict[str, str]], selfs: list[str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """Net pairs whose pins all mirror, and nets that mirror onto themselves."""
    mate: dict[tuple[str, str], tuple[str, str]] = {}  # (device, pin) -> partner's pin
    for (a, b), swap in pairs.items():
        for pin, other in swap.items():
            mate[(a, pin)] = (b, other)
            mate[(b, other)] = (a, pin)
    self_set = set(selfs)
    net_of = {(d.name, p): n for d in circuit.devices.values() for p, n in zip(d.pins, d.nets)}
    images: dict[str, set[str]] = {}
    for net in circuit.nets.values():
        targets = set()
        for device, pin in net.pins:
            if device in self_set:
                targets.add(net.name)
            elif (device, pin) in mate:
                targets.add(net_of[mate[(device, pin)]])
            else:
                targets.add("")  # an unmatched pin: this net has no mirror
        images[net.name] = targets
    pairs_out, selfs_out, seen = [], [], set()
    for name, targets in images.items():
        if _is_supply(name) or len(targets) != 1 or "" in targets:
            continue
        (image,) = targets
        pins = circuit.nets[name].pins
        mirrored = any(net_of.get(mate.get(p, ("", ""))) == image for p in pins)
        tails_only = len(pins) >= 2 and all(d in self_set for d, _ in pins)  # a cascoded tail
        if image == name and (mirrored or tails_only):
            selfs_out.append(name)
        elif image != name and images.get(image) == {name} and name not in seen:
            pairs_out.append((name, image))
            seen.update((name, image))
    return pairs_out, selfs_out


def derive_symmetry(circuit: Circuit) -> Symmetry:
    """Matched pairs, self-symmetric tails and the net symmetry of ``circuit``.

    Returns:
        A :class:`Symmetry` with one group (pairs in netlist order of their left device,
        then the self-symmetric devices), as ``.sym``/``.symnet`` writers take it.
    """
    partner: dict[str, str] = {}
    for p, m in port_pairs(circuit.ports):
        partner[p], partner[m] = m, p
    pairs = _pairs(circuit, partner)
    selfs = _tails(circuit, pairs)
    net_pairs, self_nets = _net_symmetry(circuit, pairs, selfs)
    order = {name: i for i, name in enumerate(circuit.devices)}
    pair_list = sorted(pairs, key=lambda p: order[p[0]])
    members: tuple[tuple[str, ...], ...] = (*pair_list, *((s,) for s in selfs))
    return Symmetry(
        pairs=tuple(pair_list),
        self_symmetric=tuple(selfs),
        net_pairs=tuple(net_pairs),
        self_symmetric_nets=tuple(self_nets),
        groups=(members,) if members else (),
    )
