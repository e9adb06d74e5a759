"""``magical-prune inspect``: what the tool reads from a netlist or a layout.

Shows the devices (type, model, sub-circuits, terminal nets), nets, symmetry and, for a
placed layout, the bounding box, device rectangles and per-net wirelength, so a user can
check that a flow's files are understood before scoring thousands of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from magical_prune.cli._common import companion_options, echo_json


def _um(nm: float) -> float:
    return round(float(nm) / 1000.0, 3)


def circuit_facts(circuit: Any) -> dict[str, Any]:
    """The JSON-ready description of a circuit (devices, nets, ports, symmetry)."""
    from magical_prune.circuit import SUBCIRCUITS
    from magical_prune.subcircuits import subcircuits_of

    channels = subcircuits_of(circuit)
    return {
        "design": circuit.name,
        "source": circuit.source,
        "ports": list(circuit.ports),
        "devices": [
            {
                "name": d.name,
                "type": d.type.value,
                "model": d.model,
                "channels": list(channels.get(d.name, ())),
                "subcircuits": [SUBCIRCUITS[c] for c in channels.get(d.name, ())],
                "pins": dict(zip(d.pins, d.nets)),
                "params": dict(d.params),
            }
            for d in circuit.devices.values()
        ],
        "nets": [
            {"name": n.name, "pins": [list(p) for p in n.pins]} for n in circuit.nets.values()
        ],
        "unmodelled": [
            {"name": name, "element": what} for name, what in circuit.unmodelled.items()
        ],
        "symmetry": circuit.symmetry.as_json(),
        "symmetric_nets": {
            "pairs": [list(p) for p in circuit.symmetry.net_pairs],
            "self_symmetric": list(circuit.symmetry.self_symmetric_nets),
        },
    }


def placement_facts(placement: Any) -> dict[str, Any]:
    """Bounding box, device rectangles and wirelength of a placement, in µm."""
    bbox = placement.bbox.tolist()
    hpwl = placement.hpwl()
    return {
        "source": placement.source,
        "bbox": [_um(v) for v in bbox],
        "width": _um(bbox[2] - bbox[0]),
        "height": _um(bbox[3] - bbox[1]),
        "hpwl": {net: _um(v) for net, v in hpwl.items()},
        "total_hpwl": _um(sum(hpwl.values())),
        "devices": {
            name: [_um(v) for v in rect]
            for name, rect in zip(placement.names, placement.rects.tolist())
        },
        "weights": dict(placement.weights),
        "performance": dict(placement.performance),
    }


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def _human(facts: dict[str, Any]) -> list[str]:
    placed = facts.get("placement")
    lines = [
        f"design {facts['design']} ({facts['source']}): {len(facts['devices'])} devices, "
        f"{len(facts['nets'])} nets",
        f"ports: {' '.join(facts['ports']) or '-'}",
        "",
    ]
    head = ["DEVICE", "TYPE", "MODEL", "SUB-CIRCUITS", "PINS"]
    if placed:
        head.append("RECT um (xlo ylo xhi yhi)")
    rows = [head]
    for d in facts["devices"]:
        row = [
            d["name"], d["type"], d["model"] or "-", ",".join(d["subcircuits"]) or "-",
            " ".join(f"{p}={n}" for p, n in d["pins"].items()) or "-",
        ]  # fmt: skip
        if placed:
            rect = placed["devices"].get(d["name"])
            row.append(" ".join(f"{v:.3f}" for v in rect) if rect else "(not placed)")
        rows.append(row)
    lines += _table(rows) + [""]
    rows = [["NET", "HPWL um", "PINS"] if placed else ["NET", "PINS"]]
    for n in facts["nets"]:
        pins = " ".join(f"{d}.{p}" for d, p in n["pins"])
        if placed:
            hpwl = placed["hpwl"].get(n["name"])
            rows.append([n["name"], "-" if hpwl is None else f"{hpwl:.3f}", pins])
        else:
            rows.append([n["name"], pins])
    lines += _table(rows) + [""]
    pairs = [" / ".join(p) for g in facts["symmetry"] for p in g["pairs"]]
    singles = [s for g in facts["symmetry"] for s in g["self_symmetric"]]
    derived = " (derived from the circuit: no .sym)" if facts.get("symmetry_derived") else ""
    lines.append(
        f"symmetry{derived}: pairs {', '.join(pairs) or '-'}; "
        f"self-symmetric {', '.join(singles) or '-'}"
    )
    if facts["unmodelled"]:
        left = ", ".join(f"{e['name']} ({e['element']})" for e in facts["unmodelled"])
        lines.append(f"not modelled (left out): {len(facts['unmodelled'])}: {left}")
    if placed:
        b = placed["bbox"]
        lines.append(
            f"placement: bbox {b[0]:.3f} {b[1]:.3f} {b[2]:.3f} {b[3]:.3f} um "
            f"({placed['width']:.3f} x {placed['height']:.3f} um), "
            f"total HPWL {placed['total_hpwl']:.3f} um"
        )
        if placed["performance"]:
            perf = ", ".join(f"{k}={v:g}" for k, v in placed["performance"].items())
            lines.append(f"performance: {perf}")
    return lines


def _derived_symmetry(facts: dict[str, Any], circuit: Any) -> None:
    from magical_prune.constraints import derive_symmetry

    sym = derive_symmetry(circuit)
    facts["symmetry"] = sym.as_json() if sym.groups else []
    facts["symmetric_nets"] = {
        "pairs": [list(p) for p in sym.net_pairs],
        "self_symmetric": list(sym.self_symmetric_nets),
    }
    facts["symmetry_derived"] = True


def _floorplan(path: Path, as_json: bool) -> None:
    """Device outlines of a ``.floorplan.gds`` (names from its labels), in µm."""
    from magical_prune.adapters.gds import read_floorplan

    names, rects = read_floorplan(path)
    lo, hi = rects[:, :2].min(axis=0), rects[:, 2:].max(axis=0)
    facts = {
        "source": str(path),
        "bbox": [_um(v) for v in (*lo, *hi)],
        "devices": {n: [_um(v) for v in r] for n, r in zip(names, rects.tolist())},
    }
    if as_json:
        echo_json(facts)
        return
    b = facts["bbox"]
    click.echo(f"floorplan {path}: {len(names)} devices, bbox {b[0]:.3f} {b[1]:.3f} "
               f"{b[2]:.3f} {b[3]:.3f} um")  # fmt: skip
    rows = [["DEVICE", "RECT um (xlo ylo xhi yhi)"]]
    rows += [[n, " ".join(f"{v:.3f}" for v in r)] for n, r in facts["devices"].items()]
    for line in _table(rows):
        click.echo(line)


@click.command("inspect")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--top", default=None, metavar="CELL", help="Top cell of a netlist with several.")
@companion_options
def inspect(path: Path, as_json: bool, top: str | None, companions: dict[str, Any]) -> None:
    """Show devices, nets, sub-circuits and symmetry of PATH, plus placement facts (bounding
    box, device rectangles, wirelength) when PATH is a layout.

    PATH is a netlist (.sp/.scs/.spice/.cir) or MAGICAL's flow configuration naming one
    (<design>.json), a placement result file (any name) or a layout folder, a design
    folder (its netlist or first layout), or MAGICAL's debug <circuit>.floorplan.gds
    (device outlines and names; needs gdstk). Companion files are found beside PATH unless
    given.
    """
    from magical_prune.adapters import discovery, flow_config, spectre

    if path.is_file() and path.suffix.lower() == ".gds":  # MAGICAL's debug floorplan
        _floorplan(path, as_json)
        return
    is_netlist = path.is_file() and (
        path.suffix.lower() in spectre.NETLIST_SUFFIXES or flow_config.is_flow_config(path)
    )
    is_layout = path.is_file() and not is_netlist or path.is_dir() and discovery.has_layout(path)
    if is_layout:
        placement = discovery.load_placement(path, top=top, **companions)
        facts = circuit_facts(placement.circuit)
        facts["placement"] = placement_facts(placement)
    else:
        circuit = discovery.load_circuit(path, top=top, **companions)
        facts = circuit_facts(circuit)
    facts["symmetry_derived"] = False
    if not facts["symmetry"]:  # no .sym: show what would be derived, and say so
        _derived_symmetry(facts, placement.circuit if is_layout else circuit)
    if as_json:
        echo_json(facts)
    else:
        for line in _human(facts):
            click.echo(line)
