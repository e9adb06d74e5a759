"""Netlist text into logical statements and tokens (Spectre and SPICE alike).

Comments go, continuation lines (``\\`` at the end, ``+`` at the start) are joined, the
dialect follows ``simulator lang=`` switches, and a value such as ``w=(2*wp)`` or a quoted
string stays one token, so the cell reader (:mod:`._netlist_cells`) sees whole statements.
"""

from __future__ import annotations

import os
import re

from magical_prune.errors import ParseError

PathLike = str | os.PathLike[str]

#: Opening characters of a value that runs to its matching closing character.
_CLOSERS = {"(": ")", "{": "}", '"': '"', "'": "'"}


def logical_statements(text: str, path: PathLike) -> list[tuple[int, str, bool]]:
    """Logical statements ``(first line, text, spice)`` with comments removed and
    continuation lines (``\\`` at the end, ``+`` at the start) joined."""
    spice = looks_like_spice(text)
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


def looks_like_spice(text: str) -> bool:
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


def tokenize(statement: str, path: PathLike, lineno: int) -> list[str]:
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


def split_params(tokens: list[str]) -> tuple[list[str], dict[str, str]]:
    positional: list[str] = []
    raw: dict[str, str] = {}
    for tok in tokens:
        key, eq, value = tok.partition("=")
        if eq and key:
            raw[key] = value
        elif tok.lower() != "params:":
            positional.append(tok)
    return positional, raw
