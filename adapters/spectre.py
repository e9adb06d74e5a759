"""Spectre (and SPICE) netlist reader: the design's devices, their nets, models and sizes.

Reads what analog flows write for a design: ``subckt``/``topckt`` ... ``ends`` cells,
``\\`` continuation lines, ``//`` and ``*`` comments, ``simulator lang=`` switches, and
instances ``name (terminals) master key=value ...`` whose numbers carry SI suffixes
(``120.0n``, ``60u``, ``10meg``). SPICE decks (``.subckt``/``.ends``, ``+`` continuations,
element letters) are read by the same code: the dialect is taken from the content and from
``simulator lang=`` lines. Parameter values may be expressions (``multi=(1)``,
``w=(2*wp)``, ``w='2*wn'``) over ``parameters``/``.param`` names and sub-circuit
parameters; they are evaluated by :mod:`magical_prune.adapters._expr`, never by ``eval``.

A top cell that instantiates other cells of the file is flattened: devices are named by
their instance path (``X1/M0``) and nets inside a sub-cell get the same prefix (``X1/net3``)
unless they are ports (mapped to the parent's nets) or global (``0``, ``gnd!``, ``global``
declarations). What each instance is (sub-circuit, device, or an element the tool does not
model) is decided by :mod:`magical_prune.adapters._elements` once the whole file is read;
the elements left out are listed in :attr:`Circuit.unmodelled` and in one warning.

A malformed statement inside a sub-circuit is reported only when that sub-circuit is used
(the top cell or one it instantiates), so one broken library cell does not block the rest.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from magical_prune.adapters._elements import Instance, Tables, note_model, resolve
from magical_prune.adapters._expr import Scope, evaluate, parse_number
from magical_prune.adapters._text import read_text
from magical_prune.circuit import Circuit, Device, DeviceType
from magical_prune.errors import MagicalPruneError, MagicalPruneWarning, ParseError

__all__ = ["read_netlist", "parse_netlist", "parse_number", "NETLIST_SUFFIXES"]

PathLike = str | os.PathLike[str]

#: File suffixes recognised as netlists by discovery and the CLI.
NETLIST_SUFFIXES: tuple[str, ...] = (".sp", ".scs", ".spice", ".cir", ".spi")

#: Statements that are skipped wherever they occur (``parameters`` is read separately).
_SPECTRE_SKIP = frozenset(
    str.split(
        "include ahdl_include library endlibrary section endsection real "
        "statistics process mismatch vary correlate truncate export paramset"
    )
)
#: Opening characters of a value that runs to its matching closing character.
_CLOSERS = {"(": ")", "{": "}", '"': '"', "'": "'"}
#: Most unmodelled elements named in the warning (the rest are counted).
_NAMED_IN_WARNING = 12


@dataclass
class _Cell:
    name: str
    ports: list[str]
    line: int
    explicit_top: bool = False
    instances: list[Instance] = field(default_factory=list)
    #: default parameters ``(name, text, spice)``: header ``w=1u`` and ``parameters`` inside
    params: list[tuple[str, str, bool]] = field(default_factory=list)
    #: the first malformed statement, raised only when the cell is used
    error: ParseError | None = None
    names: set[str] = field(default_factory=set)  # instance names seen, for duplicates


@dataclass
class _Netlist:
    cells: dict[str, _Cell] = field(default_factory=dict)
    toplevel: _Cell = field(default_factory=lambda: _Cell("", [], 0))
    tables: Tables = field(default_factory=Tables)
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
        # Spectre `statistics { ... }` and similar blocks hold no devices; a statement
        # whose braces balance (`w={2*wn}`) is not a block.
        opened, closed = statement.count("{"), statement.count("}")
        if brace_depth or opened > closed:
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


def _closing(text: str, i: int, path: PathLike, lineno: int) -> int:
    """Index after the character that closes the quote, parenthesis or brace at ``text[i]``."""
    opener, closer = text[i], _CLOSERS[text[i]]
    if opener == closer:
        end = text.find(closer, i + 1)
        if end >= 0:
            return end + 1
    else:
        depth = 0
        for j in range(i, len(text)):
            depth += (text[j] == opener) - (text[j] == closer)
            if depth == 0:
                return j + 1
    raise ParseError(f"unclosed {opener!r} in {text[i : i + 24]!r}", path, lineno)


def _tokens(statement: str, path: PathLike, lineno: int) -> list[str]:
    """Words, ``(`` and ``)``; a quoted word and a value ``key=(...)``, ``key='...'``,
    ``key={...}`` stay one token even with spaces inside."""
    text = re.sub(r"\s*=\s*", "=", statement)
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "()":
            tokens.append(c)
            i += 1
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] not in "()":
            if text[i] in "\"'{":
                i = _closing(text, i, path, lineno)
            elif text[i] == "=" and i + 1 < n and text[i + 1] in _CLOSERS:
                i = _closing(text, i + 1, path, lineno)
            else:
                i += 1
        tokens.append(text[start:i])
    return tokens


def _split_params(tokens: list[str]) -> tuple[list[str], dict[str, str]]:
    positional: list[str] = []
    raw: dict[str, str] = {}
    for tok in tokens:
        key, eq, value = tok.partition("=")
        if eq and key:
            raw[key] = value
        elif tok.lower() != "params:":
            positional.append(tok)
    return positional, raw


def _is_boundary(head: str, spice: bool) -> bool:
    """Whether a statement starting with ``head`` opens or closes a cell (or ends the deck)."""
    if spice:
        return head in (".subckt", ".ends", ".end")
    return head in ("subckt", "topckt", "ends", "inline")


def _structural(head: str, tokens: list[str], spice: bool) -> str | None:
    """``open``/``close``/``end`` for statements that shape the cells, else None."""
    if spice:
        return {".subckt": "open", ".ends": "close", ".end": "end"}.get(head)
    if head == "inline" and len(tokens) > 1 and tokens[1].lower() == "subckt":
        return "open"
    return {"subckt": "open", "topckt": "open", "ends": "close"}.get(head)


def _parse(text: str, path: PathLike) -> _Netlist:
    netlist = _Netlist()
    cell: _Cell | None = None
    for lineno, statement, spice in _statements(text, path):
        here = cell if cell is not None else netlist.toplevel
        head = statement.split(None, 1)[0].lower() if statement.split() else ""
        try:
            tokens = _tokens(statement, path, lineno)
        except ParseError as err:
            if _is_boundary(head, spice):
                raise
            here.error = here.error or err
            continue
        if not tokens:
            continue
        shape = _structural(head, tokens, spice)
        if shape == "open":
            if head == "inline":
                tokens = tokens[1:]
            explicit = head == "topckt"
            cell = _open_cell(netlist, cell, tokens[1:], lineno, path, spice, explicit)
            continue
        if shape == "close":
            cell = _close_cell(cell, tokens[1:], lineno, path)
            continue
        if shape == "end":
            break
        if spice and lineno == 1 and cell is None and not head.startswith("."):
            continue  # a SPICE deck's first line is its title
        try:
            _statement(netlist, here, tokens, lineno, path, spice)
        except ParseError as err:
            here.error = here.error or err
    if cell is not None:
        raise ParseError(f"sub-circuit {cell.name!r} is never closed (no 'ends')", path, cell.line)
    return netlist


def _statement(
    netlist: _Netlist, here: _Cell, tokens: list[str], lineno: int, path: PathLike, spice: bool
) -> None:
    """Read one statement that is not a cell boundary into ``here`` (a cell or file level)."""
    head = tokens[0].lower()
    if head in ("parameters", ".param", ".params"):
        _, raw = _split_params(tokens[1:])
        here.params.extend((k, v, spice) for k, v in raw.items())
        return
    if spice and head.startswith("."):
        if head == ".model" and len(tokens) >= 3:
            _, raw = _split_params(tokens[3:])
            note_model(netlist.tables, tokens[1], tokens[2], raw)
        elif head == ".global":
            netlist.globals.update(tokens[1:])
        return
    if not spice:
        if head == "global":
            netlist.globals.update(t for t in tokens[1:] if t not in "()")
            return
        if head == "model":
            if len(tokens) >= 3:
                _, raw = _split_params(tokens[3:])
                note_model(netlist.tables, tokens[1], tokens[2], raw)
            return
        if head in _SPECTRE_SKIP:
            return
    instance = _instance(tokens, lineno, path, spice)
    if instance is None:
        return
    if here.name and instance.name in here.names:
        raise ParseError(
            f"instance {instance.name!r} is defined twice in {here.name!r}", path, lineno
        )
    here.names.add(instance.name)
    here.instances.append(instance)


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
    positional, raw = _split_params(tokens)
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
    new.params.extend((k, v, spice) for k, v in raw.items())
    netlist.cells[name] = new
    netlist.tables.ports[name] = len(new.ports)
    return new


def _close_cell(cell: _Cell | None, tokens: list[str], lineno: int, path: PathLike) -> None:
    if cell is None:
        raise ParseError("'ends' without an open sub-circuit", path, lineno)
    if tokens and tokens[0] != cell.name:
        raise ParseError(f"'ends {tokens[0]}' closes sub-circuit {cell.name!r}", path, lineno)
    return None


def _instance(tokens: list[str], lineno: int, path: PathLike, spice: bool) -> Instance | None:
    name = tokens[0]
    if name in "()" or "=" in name:
        raise ParseError(f"unexpected {name!r} at the start of a statement", path, lineno)
    rest = tokens[1:]
    if spice:
        positional, raw = _split_params([t for t in rest if t not in "()"])
        return Instance(name, positional, "", raw, lineno, name[0].upper())
    if rest and rest[0] == "(":
        try:
            close = rest.index(")")
        except ValueError:
            raise ParseError(f"instance {name!r}: unclosed '('", path, lineno) from None
        terminals = rest[1:close]
        after = rest[close + 1 :]
        if "(" in terminals or ")" in after or "(" in after:
            raise ParseError(f"instance {name!r}: unbalanced parentheses", path, lineno)
        positional, raw = _split_params(after)
        if not positional:
            raise ParseError(f"instance {name!r} has no model or sub-circuit name", path, lineno)
        if len(positional) > 1:
            raise ParseError(
                f"instance {name!r}: unexpected {positional[1]!r} after the model name",
                path,
                lineno,
            )
        return Instance(name, terminals, positional[0], raw, lineno)
    if "(" in rest or ")" in rest:
        raise ParseError(f"instance {name!r}: misplaced parentheses", path, lineno)
    positional, raw = _split_params(rest)
    if not positional:
        if raw:
            return None  # `name key=value`: an options-like statement, not an instance
        raise ParseError(
            f"statement {name!r} is not an instance (no model or sub-circuit)", path, lineno
        )
    return Instance(name, positional[:-1], positional[-1], raw, lineno)


@dataclass
class _Flat:
    """What flattening collects: devices and the elements left out."""

    netlist: _Netlist
    types: Mapping[str, DeviceType] | None
    path: PathLike
    globals_scope: Scope
    devices: list[Device] = field(default_factory=list)
    unmodelled: dict[str, str] = field(default_factory=dict)


def _values(raw: Mapping[str, str], spice: bool, scope: Scope) -> dict[str, float]:
    """The parameters that are numbers or arithmetic over known names."""
    out = {}
    for key, text in raw.items():
        value = evaluate(text, spice, scope.get)
        if value is not None:
            out[key] = value
    return out


def _flatten(
    flat: _Flat,
    cell: _Cell,
    prefix: str,
    netmap: Mapping[str, str],
    stack: tuple[str, ...],
    scope: Scope,
) -> None:
    if cell.error is not None:
        raise cell.error
    netlist, path = flat.netlist, flat.path

    def net(name: str) -> str:
        if name in netmap:
            return netmap[name]
        if not prefix or name in netlist.globals or name.endswith("!"):
            return name
        return prefix + name

    for inst in cell.instances:
        flat_name = prefix + inst.name
        element = resolve(inst, flat_name, netlist.tables, flat.types, path)
        if element.kind == "skip":
            continue
        if element.kind == "unmodelled":
            flat.unmodelled[flat_name] = element.what
            continue
        params = _values({**element.values, **inst.raw}, inst.spice, scope)
        if element.kind == "cell":
            sub = netlist.cells[element.master]
            if sub.name in stack:
                chain = " -> ".join((*stack, sub.name))
                raise ParseError(f"sub-circuit instantiates itself ({chain})", path, inst.line)
            if len(element.terminals) != len(sub.ports):
                raise ParseError(
                    f"instance {inst.name!r} of {sub.name!r} has {len(element.terminals)} "
                    f"terminals, the sub-circuit has {len(sub.ports)} ports",
                    path, inst.line,
                )  # fmt: skip
            child = Scope(flat.globals_scope)
            for key, value in params.items():
                child.set(key, value, inst.spice)
            child.define(sub.params, skip=frozenset(params))
            nets = dict(zip(sub.ports, (net(t) for t in element.terminals)))
            _flatten(flat, sub, flat_name + "/", nets, (*stack, sub.name), child)
            continue
        device_type = element.device_type
        assert device_type is not None  # resolve() types every "device"
        n = len(element.terminals)
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
        nets_of = tuple(net(t) for t in element.terminals)
        flat.devices.append(Device(flat_name, device_type, nets_of, element.master, params))


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
    used = {i.callee for c in cells.values() for i in c.instances if i.callee != c.name}
    candidates = [c for c in cells.values() if c.name not in used]
    if len(candidates) > 1:
        in_bench = {i.callee for i in netlist.toplevel.instances}
        tested = [c for c in candidates if c.name in in_bench]
        candidates = tested if len(tested) == 1 else candidates
    if len(candidates) != 1:
        # a malformed line may hide the instance that decides the top cell: report it
        for broken in (*cells.values(), netlist.toplevel):
            if broken.error is not None:
                raise broken.error
    if not candidates:
        raise ParseError("every sub-circuit is instantiated by another: no top cell", path)
    if len(candidates) > 1:
        names = ", ".join(c.name for c in candidates)
        raise MagicalPruneError(
            f"several top-level sub-circuits ({names}); choose one with --top NAME", path
        )
    return candidates[0]


def _warn_unmodelled(unmodelled: Mapping[str, str], path: PathLike) -> None:
    names = [f"{name} ({what})" for name, what in unmodelled.items()]
    shown = ", ".join(names[:_NAMED_IN_WARNING])
    more = f" and {len(names) - _NAMED_IN_WARNING} more" if len(names) > _NAMED_IN_WARNING else ""
    warnings.warn(
        MagicalPruneWarning(
            f"{os.fspath(path)}: {len(names)} element(s) the tool does not model are left out "
            f"of the circuit: {shown}{more}"
        ),
        stacklevel=3,
    )


def parse_netlist(
    text: str,
    path: PathLike = "<string>",
    top: str | None = None,
    *,
    types: Mapping[str, DeviceType] | None = None,
) -> Circuit:
    """Build the :class:`~magical_prune.circuit.Circuit` of a netlist text.

    Elements the tool does not model (sources, diodes, bipolars, inductors, ...) are left
    out, listed in ``Circuit.unmodelled`` and named in a :class:`MagicalPruneWarning`.

    Args:
        text: Spectre or SPICE netlist.
        path: file name for messages (and the circuit name of a netlist with no sub-circuit).
        top: the top cell; by default the ``topckt``, else the one sub-circuit no other
            instantiates (a testbench instance at file level breaks a tie).
        types: device name (flattened, ``X1/M0``) or model name -> type; wins over the
            model name's pattern and makes an unknown model name acceptable.

    Raises:
        ParseError: malformed statement in a used cell, unknown model, wrong terminal
            count, recursion.
    """
    netlist = _parse(text, path)
    cell = _choose_top(netlist, top, path)
    globals_scope = Scope()
    globals_scope.define(netlist.toplevel.params)
    flat = _Flat(netlist, types, path, globals_scope)
    if cell is None:
        _flatten(flat, netlist.toplevel, "", {}, (), globals_scope)
        name, ports = Path(str(path)).stem or "netlist", ()
    else:
        scope = Scope(globals_scope)
        scope.define(cell.params)
        _flatten(flat, cell, "", {}, (cell.name,), scope)
        name, ports = cell.name, tuple(cell.ports)
    if not flat.devices:
        where = f"sub-circuit {name!r}" if cell is not None else "the netlist"
        left = f" ({len(flat.unmodelled)} element(s) not modelled)" if flat.unmodelled else ""
        raise ParseError(f"{where} has no devices{left}", path, cell.line if cell else None)
    if flat.unmodelled:
        _warn_unmodelled(flat.unmodelled, path)
    try:
        return Circuit.from_devices(
            name, flat.devices, ports, source=os.fspath(path), unmodelled=dict(flat.unmodelled)
        )
    except MagicalPruneError as err:
        raise err.at(path) from None


def read_netlist(
    path: PathLike, top: str | None = None, *, types: Mapping[str, DeviceType] | None = None
) -> Circuit:
    """Read a Spectre/SPICE netlist file (see :func:`parse_netlist`)."""
    return parse_netlist(read_text(path), path, top, types=types)
