"""Spectre (and SPICE) netlist reader: the design's devices, their nets, models and sizes.

Reads what analog flows write for a design: ``subckt``/``topckt`` ... ``ends`` cells,
``\\`` continuation lines, ``//`` and ``*`` comments, ``simulator lang=`` switches, and
instances ``name (terminals) master key=value ...`` whose numbers carry SI suffixes
(``120.0n``, ``60u``, ``10meg``). SPICE decks (``.subckt``/``.ends``, ``+`` continuations,
element letters ``M``/``C``/``R``/``X``) are read by the same code: the dialect is taken
from the content and from ``simulator lang=`` lines.

A top cell that instantiates other cells of the file is flattened: devices are named by
their instance path (``X1/M0``) and nets inside a sub-cell get the same prefix (``X1/net3``)
unless they are ports (mapped to the parent's nets) or global (``0``, ``gnd!``, ``global``
declarations). The device type comes from the model name (see
:meth:`~magical_prune.circuit.DeviceType.from_model`), from ``model``/``.model`` cards of the
file, or from a ``types`` mapping the caller gives (device name -> type), which wins.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from magical_prune.adapters._text import read_text
from magical_prune.circuit import Circuit, Device, DeviceType
from magical_prune.errors import MagicalPruneError, ParseError

__all__ = ["read_netlist", "parse_netlist", "parse_number", "NETLIST_SUFFIXES"]

PathLike = str | os.PathLike[str]

#: File suffixes recognised as netlists by discovery and the CLI.
NETLIST_SUFFIXES: tuple[str, ...] = (".sp", ".scs", ".spice", ".cir", ".spi")

# Spectre suffixes are case-sensitive (M = mega, m = milli); SPICE ones are not (m = milli,
# meg = mega) and SPICE ignores letters after the scale factor (``1pF``). Scales are powers
# of ten applied in the decimal text, so ``120n`` reads as exactly the float of ``120e-9``.
_SPECTRE_EXP = {
    "T": 12, "G": 9, "M": 6, "K": 3, "k": 3, "_": 0, "%": -2, "c": -2,
    "m": -3, "u": -6, "n": -9, "p": -12, "f": -15, "a": -18,
}  # fmt: skip
_SPICE_EXP = {"t": 12, "g": 9, "k": 3, "m": -3, "u": -6, "n": -9, "p": -12, "f": -15, "a": -18}
_NUMBER = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([A-Za-z_%]*)")
_TOKEN = re.compile(r'(?:[^\s()"]*"[^"]*")+[^\s()"]*|\(|\)|[^\s()"]+')

#: Masters that are not layout devices: sources, probes and analyses of a testbench.
_NOT_DEVICES = frozenset(
    str.split(
        "vsource isource vcvs vccs ccvs cccs pvcvs pvccs pccvs pcccs iprobe port bsource "
        "dc ac tran noise sp stb xf pz pss pac pnoise hb info options set alter altergroup "
        "montecarlo sweep check checklimit assert save ic nodeset"
    )
)
#: Statements that are skipped wherever they occur.
_SPECTRE_SKIP = frozenset(
    str.split(
        "parameters include ahdl_include library endlibrary section endsection real "
        "statistics process mismatch vary correlate truncate export paramset"
    )
)
_SPICE_ELEMENT_TYPES = {"C": DeviceType.CAP, "R": DeviceType.RES}


def parse_number(text: str, spice: bool = False) -> float | None:
    """A number with an optional scale suffix (``60u`` -> 6e-05), or None if ``text`` is
    not a plain number (an expression or a parameter name)."""
    m = _NUMBER.fullmatch(text)
    if m is None:
        return None
    mantissa, suffix = m.group(1), m.group(2)
    exp: int | None = 0
    if suffix and spice:
        low = suffix.lower()
        if low.startswith("mil"):
            value = float(mantissa) * 25.4e-6
            return value if math.isfinite(value) else None
        exp = 6 if low.startswith("meg") else _SPICE_EXP.get(low[0], 0)
    elif suffix:
        exp = 6 if suffix.lower() == "meg" else _SPECTRE_EXP.get(suffix)
    if exp is None:
        return None
    if "e" in mantissa.lower():
        value = float(mantissa) * 10.0**exp
    else:
        value = float(f"{mantissa}e{exp}")
    return value if math.isfinite(value) else None


@dataclass
class _Instance:
    name: str
    terminals: list[str]
    master: str  # model or sub-circuit name ("" for SPICE C/R given only a value)
    params: dict[str, float]
    raw: dict[str, str]
    line: int
    letter: str = ""  # SPICE element letter, "" in Spectre syntax
    #: SPICE ``C1 a b word 1p``: ``word`` is a model if a model card names it, else a terminal
    last_may_be_model: bool = False


@dataclass
class _Cell:
    name: str
    ports: list[str]
    line: int
    explicit_top: bool = False
    instances: list[_Instance] = field(default_factory=list)


@dataclass
class _Netlist:
    cells: dict[str, _Cell] = field(default_factory=dict)
    toplevel: list[_Instance] = field(default_factory=list)
    model_types: dict[str, DeviceType] = field(default_factory=dict)
    globals: set[str] = field(default_factory=lambda: {"0"})


def _statements(text: str, path: PathLike) -> list[tuple[int, str, bool]]:
    """Logical statements ``(first line, text, spice)`` with comments removed and
    continuation lines (``\\`` at the end, ``+`` at the start) joined."""
    spice = _looks_like_spice(text)
    out: list[tuple[int, str, bool]] = []
    pending: list[str] = []
    start = 0
    brace_depth = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("//", 1)[0]
        stripped = line.strip()
        if stripped.startswith("*"):
            continue
        if spice:
            line = re.split(r"\s[$;]|^[$;]", line, maxsplit=1)[0]
            stripped = line.strip()
        if spice and stripped.startswith("+") and out and not pending:
            first, previous, mode = out.pop()
            pending, start = [previous, stripped[1:]], first
            stripped = ""
        elif not stripped and not pending:
            continue
        if stripped:
            if not pending:
                start = lineno
            pending.append(stripped)
        if pending and pending[-1].endswith("\\"):
            pending[-1] = pending[-1][:-1]
            continue
        statement = " ".join(pending).strip()
        pending = []
        if not statement:
            continue
        # Spectre `statistics { ... }` and similar blocks hold no devices.
        opened, closed = statement.count("{"), statement.count("}")
        if brace_depth or opened:
            brace_depth = max(0, brace_depth + opened - closed)
            continue
        low = statement.lower()
        if low.startswith("simulator") and "lang" in low:
            m = re.search(r"lang\s*=\s*(\w+)", low)
            if m is None:
                raise ParseError("expected 'simulator lang=spectre|spice'", path, start)
            spice = m.group(1) != "spectre"
            continue
        out.append((start, statement, spice))
    if pending:
        out.append((start, " ".join(pending), spice))
    return out


def _looks_like_spice(text: str) -> bool:
    """A SPICE deck has dot-cards; a Spectre file that embeds SPICE sections says so with
    ``simulator lang=`` lines (and starts in Spectre mode)."""
    if re.search(r"(?im)^\s*simulator\s+lang", text):
        return False
    return re.search(r"(?im)^\s*\.(subckt|ends|end|model|param|global|include)\b", text) is not None


def _tokens(statement: str) -> list[str]:
    return _TOKEN.findall(re.sub(r"\s*=\s*", "=", statement))


def _split_params(
    tokens: list[str], spice: bool
) -> tuple[list[str], dict[str, str], dict[str, float]]:
    positional: list[str] = []
    raw: dict[str, str] = {}
    numeric: dict[str, float] = {}
    for tok in tokens:
        key, eq, value = tok.partition("=")
        if eq and key:
            raw[key] = value
            number = parse_number(value, spice)
            if number is not None:
                numeric[key] = number
        elif tok.lower() != "params:":
            positional.append(tok)
    return positional, raw, numeric


def _parse(text: str, path: PathLike) -> _Netlist:
    netlist = _Netlist()
    cell: _Cell | None = None
    seen_title = False
    for lineno, statement, spice in _statements(text, path):
        tokens = _tokens(statement)
        if not tokens:
            continue
        head = tokens[0].lower()
        if spice and head.startswith("."):
            if head == ".subckt":
                cell = _open_cell(netlist, cell, tokens[1:], lineno, path, spice, False)
            elif head == ".ends":
                cell = _close_cell(cell, tokens[1:], lineno, path)
            elif head == ".model" and len(tokens) >= 3:
                _note_model(netlist, tokens[1], tokens[2].lower(), {}, spice)
            elif head == ".global":
                netlist.globals.update(tokens[1:])
            elif head == ".end":
                break
            continue
        if not spice:
            if head == "inline" and len(tokens) > 1 and tokens[1].lower() == "subckt":
                tokens, head = tokens[1:], "subckt"
            if head in ("subckt", "topckt"):
                cell = _open_cell(netlist, cell, tokens[1:], lineno, path, spice, head == "topckt")
                continue
            if head == "ends":
                cell = _close_cell(cell, tokens[1:], lineno, path)
                continue
            if head == "global":
                netlist.globals.update(t for t in tokens[1:] if t not in "()")
                continue
            if head == "model":
                if len(tokens) >= 3:
                    _, raw, _ = _split_params(tokens[3:], spice)
                    _note_model(netlist, tokens[1], tokens[2].lower(), raw, spice)
                continue
            if head in _SPECTRE_SKIP:
                continue
        elif cell is None and not seen_title and lineno == 1:
            seen_title = True  # a SPICE deck's first line is its title
            continue
        instance = _instance(tokens, lineno, path, spice)
        if instance is None:
            continue
        target = cell.instances if cell is not None else netlist.toplevel
        if cell is not None and any(i.name == instance.name for i in cell.instances):
            raise ParseError(
                f"instance {instance.name!r} is defined twice in {cell.name!r}", path, lineno
            )
        target.append(instance)
    if cell is not None:
        raise ParseError(f"sub-circuit {cell.name!r} is never closed (no 'ends')", path, cell.line)
    return netlist


def _open_cell(
    netlist: _Netlist,
    cell: _Cell | None,
    tokens: list[str],
    lineno: int,
    path: PathLike,
    spice: bool,
    explicit_top: bool,
) -> _Cell:
    if cell is not None:
        raise ParseError(
            f"sub-circuit defined inside {cell.name!r} (nested definitions are not supported)",
            path,
            lineno,
        )
    positional, _, _ = _split_params(tokens, spice)
    names = [t for t in positional if t not in "()"]
    if not names:
        raise ParseError("sub-circuit without a name", path, lineno)
    name = names[0]
    if name in netlist.cells:
        raise ParseError(
            f"sub-circuit {name!r} is defined twice (also line {netlist.cells[name].line})",
            path, lineno,
        )  # fmt: skip
    new = _Cell(name, names[1:], lineno, explicit_top)
    netlist.cells[name] = new
    return new


def _close_cell(cell: _Cell | None, tokens: list[str], lineno: int, path: PathLike) -> None:
    if cell is None:
        raise ParseError("'ends' without an open sub-circuit", path, lineno)
    if tokens and tokens[0] != cell.name:
        raise ParseError(f"'ends {tokens[0]}' closes sub-circuit {cell.name!r}", path, lineno)
    return None


def _note_model(
    netlist: _Netlist, name: str, kind: str, raw: Mapping[str, str], spice: bool
) -> None:
    """Remember the device type a ``model`` card declares for its name."""
    kind_type = {"nmos": DeviceType.NMOS, "pmos": DeviceType.PMOS, "c": DeviceType.CAP,
                 "cap": DeviceType.CAP, "capacitor": DeviceType.CAP, "r": DeviceType.RES,
                 "res": DeviceType.RES, "resistor": DeviceType.RES}.get(kind)  # fmt: skip
    polarity = raw.get("type", "").lower()
    if kind_type is None and polarity in ("n", "p"):
        kind_type = DeviceType.NMOS if polarity == "n" else DeviceType.PMOS
    if kind_type is None:
        kind_type = DeviceType.from_model(kind)
    if kind_type is not None:
        netlist.model_types[name] = kind_type


def _instance(tokens: list[str], lineno: int, path: PathLike, spice: bool) -> _Instance | None:
    name = tokens[0]
    if name in "()":
        raise ParseError(f"unexpected {name!r} at the start of a statement", path, lineno)
    rest = tokens[1:]
    if spice:
        letter = name[0].upper()
        if letter not in "MCRX":
            return None  # sources, diodes, controlled sources: not layout devices we image
        if "(" in rest:
            rest = [t for t in rest if t not in "()"]
        positional, raw, numeric = _split_params(rest, spice)
        if letter in "CR":
            return _spice_passive(name, letter, positional, raw, numeric, lineno, path)
        if len(positional) < 2:
            raise ParseError(f"instance {name!r} needs terminals and a model name", path, lineno)
        return _Instance(name, positional[:-1], positional[-1], numeric, raw, lineno, letter)
    if rest and rest[0] == "(":
        try:
            close = rest.index(")")
        except ValueError:
            raise ParseError(f"instance {name!r}: unclosed '('", path, lineno) from None
        terminals = rest[1:close]
        after = rest[close + 1 :]
        if "(" in terminals or ")" in after or "(" in after:
            raise ParseError(f"instance {name!r}: unbalanced parentheses", path, lineno)
        positional, raw, numeric = _split_params(after, spice)
        if not positional:
            raise ParseError(f"instance {name!r} has no model or sub-circuit name", path, lineno)
        if len(positional) > 1:
            raise ParseError(
                f"instance {name!r}: unexpected {positional[1]!r} after the model name",
                path,
                lineno,
            )
        return _Instance(name, terminals, positional[0], numeric, raw, lineno)
    if "(" in rest or ")" in rest:
        raise ParseError(f"instance {name!r}: misplaced parentheses", path, lineno)
    positional, raw, numeric = _split_params(rest, spice)
    if not positional:
        if raw:
            return None  # `name key=value`: an options-like statement, not an instance
        raise ParseError(
            f"statement {name!r} is not an instance (no model or sub-circuit)", path, lineno
        )
    return _Instance(name, positional[:-1], positional[-1], numeric, raw, lineno)


def _spice_passive(
    name: str,
    letter: str,
    positional: list[str],
    raw: dict[str, str],
    numeric: dict[str, float],
    lineno: int,
    path: PathLike,
) -> _Instance:
    """``C1 a b [bulk] [model] [value]``: the value is the trailing number, the model the
    trailing word when a model card or the name's pattern says it is one."""
    pos = list(positional)
    value = parse_number(pos[-1], True) if pos else None
    if value is not None:
        pos.pop()
        numeric.setdefault("c" if letter == "C" else "r", value)
    master = ""
    if len(pos) == 4 or (len(pos) == 3 and (value is None or DeviceType.from_model(pos[2]))):
        master = pos.pop()
    if len(pos) not in (2, 3):
        raise ParseError(
            f"{name!r}: expected 2 or 3 terminals, a model and/or a value", path, lineno
        )
    return _Instance(name, pos, master, numeric, raw, lineno, letter, len(pos) == 3)


def _device_type(
    instance: _Instance,
    flat_name: str,
    netlist: _Netlist,
    types: Mapping[str, DeviceType] | None,
    path: PathLike,
) -> DeviceType | None:
    if types is not None and flat_name in types:
        return types[flat_name]
    master = instance.master
    found = netlist.model_types.get(master) if master else None
    if found is None and master:
        found = DeviceType.from_model(master)
    if found is None and instance.letter:
        found = _SPICE_ELEMENT_TYPES.get(instance.letter)
    if found is None:
        if master.lower() in _NOT_DEVICES or instance.name.lower() in _NOT_DEVICES:
            return None
        raise ParseError(
            f"unknown model {master!r} of {flat_name!r}: not a sub-circuit of this file and "
            "its name says no device type (give a types file, e.g. --types design.json)",
            path, instance.line,
        )  # fmt: skip
    return found


def _flatten(
    netlist: _Netlist,
    instances: list[_Instance],
    prefix: str,
    netmap: Mapping[str, str],
    stack: tuple[str, ...],
    types: Mapping[str, DeviceType] | None,
    path: PathLike,
    out: list[Device],
) -> None:
    def net(name: str) -> str:
        if name in netmap:
            return netmap[name]
        if not prefix or name in netlist.globals or name.endswith("!"):
            return name
        return prefix + name

    for inst in instances:
        flat_name = prefix + inst.name
        if inst.last_may_be_model and inst.terminals[-1] in netlist.model_types:
            inst = replace(inst, terminals=inst.terminals[:-1], master=inst.terminals[-1])
        sub = netlist.cells.get(inst.master)
        if sub is not None and inst.letter in ("", "X"):
            if sub.name in stack:
                chain = " -> ".join((*stack, sub.name))
                raise ParseError(f"sub-circuit instantiates itself ({chain})", path, inst.line)
            if len(inst.terminals) != len(sub.ports):
                raise ParseError(
                    f"instance {inst.name!r} of {sub.name!r} has {len(inst.terminals)} "
                    f"terminals, the sub-circuit has {len(sub.ports)} ports",
                    path, inst.line,
                )  # fmt: skip
            child = dict(zip(sub.ports, (net(t) for t in inst.terminals)))
            _flatten(
                netlist, sub.instances, flat_name + "/", child, (*stack, sub.name), types, path, out
            )
            continue
        if inst.letter == "X":
            raise ParseError(
                f"{inst.name!r} instantiates unknown sub-circuit {inst.master!r}", path, inst.line
            )
        device_type = _device_type(inst, flat_name, netlist, types, path)
        if device_type is None:
            continue
        n = len(inst.terminals)
        if device_type.is_mos and n not in (3, 4):
            raise ParseError(
                f"MOS {inst.name!r} needs terminals (D G S B), got {n}", path, inst.line
            )
        if not device_type.is_mos and n not in (2, 3):
            raise ParseError(
                f"{device_type.value} {inst.name!r} needs 2 or 3 terminals, got {n}",
                path,
                inst.line,
            )
        nets = tuple(net(t) for t in inst.terminals)
        out.append(Device(flat_name, device_type, nets, inst.master, dict(inst.params)))


def _choose_top(netlist: _Netlist, top: str | None, path: PathLike) -> _Cell | None:
    cells = netlist.cells
    if top is not None:
        if top not in cells:
            have = ", ".join(cells) or "none"
            raise MagicalPruneError(f"no sub-circuit named {top!r} (defined: {have})", path)
        return cells[top]
    if not cells:
        return None
    explicit = [c for c in cells.values() if c.explicit_top]
    if len(explicit) == 1:
        return explicit[0]
    used = {i.master for c in cells.values() for i in c.instances if i.master != c.name}
    candidates = [c for c in cells.values() if c.name not in used]
    if not candidates:
        raise ParseError("every sub-circuit is instantiated by another: no top cell", path)
    if len(candidates) > 1:
        in_bench = {i.master for i in netlist.toplevel}
        tested = [c for c in candidates if c.name in in_bench]
        if len(tested) == 1:
            return tested[0]
        names = ", ".join(c.name for c in candidates)
        raise MagicalPruneError(
            f"several top-level sub-circuits ({names}); choose one (top=NAME)", path
        )
    return candidates[0]


def parse_netlist(
    text: str,
    path: PathLike = "<string>",
    top: str | None = None,
    *,
    types: Mapping[str, DeviceType] | None = None,
) -> Circuit:
    """Build the :class:`~magical_prune.circuit.Circuit` of a netlist text.

    Args:
        text: Spectre or SPICE netlist.
        path: file name for messages (and the circuit name of a netlist with no sub-circuit).
        top: the top cell; by default the ``topckt``, else the one sub-circuit no other
            instantiates (a testbench instance at file level breaks a tie).
        types: device name (flattened, ``X1/M0``) -> type; wins over the model name and
            makes an unknown model name acceptable.

    Raises:
        ParseError: malformed statement, unknown model, wrong terminal count, recursion.
    """
    netlist = _parse(text, path)
    cell = _choose_top(netlist, top, path)
    devices: list[Device] = []
    if cell is None:
        _flatten(netlist, netlist.toplevel, "", {}, (), types, path, devices)
        name, ports = Path(str(path)).stem or "netlist", ()
    else:
        _flatten(netlist, cell.instances, "", {}, (cell.name,), types, path, devices)
        name, ports = cell.name, tuple(cell.ports)
    if not devices:
        where = f"sub-circuit {name!r}" if cell is not None else "the netlist"
        raise ParseError(f"{where} has no devices", path, cell.line if cell else None)
    try:
        return Circuit.from_devices(name, devices, ports, source=os.fspath(path))
    except MagicalPruneError as err:
        raise err.at(path) from None


def read_netlist(
    path: PathLike, top: str | None = None, *, types: Mapping[str, DeviceType] | None = None
) -> Circuit:
    """Read a Spectre/SPICE netlist file (see :func:`parse_netlist`)."""
    return parse_netlist(read_text(path), path, top, types=types)
