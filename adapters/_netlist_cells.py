"""Netlist statements into cells: sub-circuit definitions, their instances and parameters.

Nothing is interpreted yet (what an instance is depends on the whole file, see
:mod:`magical_prune.adapters._elements`); a malformed statement is kept on its cell and
raised only if that cell is used, so one broken library cell does not block the rest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from magical_prune.adapters._elements import Instance, Tables, note_model
from magical_prune.adapters._netlist_text import logical_statements, split_params, tokenize
from magical_prune.errors import ParseError

PathLike = str | os.PathLike[str]

#: Statements that are skipped wherever they occur (``parameters`` is read separately).
_SPECTRE_SKIP = frozenset(
    str.split(
        "include ahdl_include library endlibrary section endsection real "
        "statistics process mismatch vary correlate truncate export paramset"
    )
)


@dataclass
class Cell:
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
class Netlist:
    cells: dict[str, Cell] = field(default_factory=dict)
    toplevel: Cell = field(default_factory=lambda: Cell("", [], 0))
    tables: Tables = field(default_factory=Tables)
    globals: set[str] = field(default_factory=lambda: {"0"})


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


def parse_cells(text: str, path: PathLike) -> Netlist:
    netlist = Netlist()
    cell: Cell | None = None
    for lineno, statement, spice in logical_statements(text, path):
        here = cell if cell is not None else netlist.toplevel
        head = statement.split(None, 1)[0].lower() if statement.split() else ""
        try:
            tokens = tokenize(statement, path, lineno)
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
    netlist: Netlist, here: Cell, tokens: list[str], lineno: int, path: PathLike, spice: bool
) -> None:
    """Read one statement that is not a cell boundary into ``here`` (a cell or file level)."""
    head = tokens[0].lower()
    if head in ("parameters", ".param", ".params"):
        _, raw = split_params(tokens[1:])
        here.params.extend((k, v, spice) for k, v in raw.items())
        return
    if spice and head.startswith("."):
        if head == ".model" and len(tokens) >= 3:
            _, raw = split_params(tokens[3:])
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
                _, raw = split_params(tokens[3:])
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
    netlist: Netlist,
    cell: Cell | None,
    tokens: list[str],
    lineno: int,
    path: PathLike,
    spice: bool,
    explicit_top: bool,
) -> Cell:
    if cell is not None:
        raise ParseError(
            f"sub-circuit defined inside {cell.name!r} (nested definitions are not supported)",
            path,
            lineno,
        )
    positional, raw = split_params(tokens)
    names = [t for t in positional if t not in "()"]
    if not names:
        raise ParseError("sub-circuit without a name", path, lineno)
    name = names[0]
    if name in netlist.cells:
        raise ParseError(
            f"sub-circuit {name!r} is defined twice (also line {netlist.cells[name].line})",
            path, lineno,
        )  # fmt: skip
    new = Cell(name, names[1:], lineno, explicit_top)
    new.params.extend((k, v, spice) for k, v in raw.items())
    netlist.cells[name] = new
    netlist.tables.ports[name] = len(new.ports)
    return new


def _close_cell(cell: Cell | None, tokens: list[str], lineno: int, path: PathLike) -> None:
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
        positional, raw = split_params([t for t in rest if t not in "()"])
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
        positional, raw = split_params(after)
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
    positional, raw = split_params(rest)
    if not positional:
        if raw:
            return None  # `name key=value`: an options-like statement, not an instance
        raise ParseError(
            f"statement {name!r} is not an instance (no model or sub-circuit)", path, lineno
        )
    return Instance(name, positional[:-1], positional[-1], raw, lineno)
