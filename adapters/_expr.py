"""Numbers and parameter expressions of netlists, evaluated without ``eval``.

Schematic tools write sizes as plain numbers with scale suffixes (``120.0n``, ``60u``),
but also as expressions: ``multi=(1)``, ``w=(2*1u)`` in Spectre, ``w='2*wn'`` or
``{2*wn}`` in HSPICE/ngspice, with names defined by ``parameters``/``.param`` statements
and sub-circuit parameters. This module reads exactly that arithmetic -- numbers with
suffixes, names, ``+ - * /``, unary signs and parentheses -- with a small recursive-descent
parser, so a netlist can never run code. Anything else (functions, ``**``, unknown names,
division by zero) is "not a number": the raw text is kept and the value left out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable

__all__ = ["parse_number", "evaluate", "Scope"]

# Spectre suffixes are case-sensitive (M = mega, m = milli); SPICE ones are not (m = milli,
# meg = mega) and SPICE ignores letters after the scale factor (``1pF``). Scales are powers
# of ten applied in the decimal text, so ``120n`` reads as exactly the float of ``120e-9``.
_SPECTRE_EXP = {
    "T": 12, "G": 9, "M": 6, "K": 3, "k": 3, "_": 0, "%": -2, "c": -2,
    "m": -3, "u": -6, "n": -9, "p": -12, "f": -15, "a": -18,
}  # fmt: skip
_SPICE_EXP = {"t": 12, "g": 9, "k": 3, "m": -3, "u": -6, "n": -9, "p": -12, "f": -15, "a": -18}
_NUMBER = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([A-Za-z_%]*)")
#: One token of an expression: a number with its suffix, a name, or an operator.
_LEXEME = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[A-Za-z_%]*)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_.!]*)|(?P<op>[-+*/()]))"
)
#: Deepest nesting of parentheses and signs read (a guard against pathological input).
_MAX_DEPTH = 64


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


class _NotANumber(Exception):
    """Internal: the text is not arithmetic this module reads (never leaves the module)."""


class _Parser:
    """Recursive descent over ``expr := term (+|- term)*``, ``term := unary (*|/ unary)*``,
    ``unary := (+|-) unary | atom``, ``atom := number | name | ( expr )``."""

    def __init__(self, tokens: list[tuple[str, str]], spice: bool, lookup: Callable) -> None:
        self.tokens = tokens
        self.pos = 0
        self.spice = spice
        self.lookup = lookup

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.pos += 1
        return token

    def expr(self, depth: int) -> float:
        value = self.term(depth)
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            right = self.term(depth)
            value = value + right if op == "+" else value - right
        return value

    def term(self, depth: int) -> float:
        value = self.unary(depth)
        while self.peek() in (("op", "*"), ("op", "/")):
            op = self.take()[1]
            right = self.unary(depth)
            if op == "*":
                value *= right
            elif right == 0:
                raise _NotANumber
            else:
                value /= right
        return value

    def unary(self, depth: int) -> float:
        if depth > _MAX_DEPTH:
            raise _NotANumber
        if self.peek() in (("op", "+"), ("op", "-")):
            sign = -1.0 if self.take()[1] == "-" else 1.0
            return sign * self.unary(depth + 1)
        return self.atom(depth)

    def atom(self, depth: int) -> float:
        kind, text = self.take()
        if kind == "num":
            value = parse_number(text, self.spice)
        elif kind == "name":
            value = self.lookup(text)
        elif (kind, text) == ("op", "("):
            value = self.expr(depth + 1)
            if self.take() != ("op", ")"):
                raise _NotANumber
        else:
            value = None
        if value is None:
            raise _NotANumber
        return value


def _lex(text: str) -> list[tuple[str, str]] | None:
    tokens: list[tuple[str, str]] = []
    pos, end = 0, len(text.rstrip())
    while pos < end:
        m = _LEXEME.match(text, pos)
        if m is None or m.end() == pos:
            return None
        kind = m.lastgroup or "op"
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


def _unwrap(text: str) -> str:
    """Drop the quotes or braces an expression value may be written in: ``'2*w'``,
    ``"2*w"``, ``{2*w}``."""
    text = text.strip()
    while len(text) >= 2 and (text[0], text[-1]) in (("'", "'"), ('"', '"'), ("{", "}")):
        text = text[1:-1].strip()
    return text


def evaluate(
    text: str, spice: bool = False, lookup: Callable[[str], float | None] | None = None
) -> float | None:
    """The value of a parameter as written in a netlist, or None when it is not arithmetic
    over known names.

    Args:
        text: ``60u``, ``(2*1u)``, ``'wn*3'``, ``{w/2}``, ``-(-4)/2``.
        spice: read suffixes the SPICE way (case-insensitive, ``meg``, ``1pF``).
        lookup: value of a parameter name (None when unknown).
    """
    body = _unwrap(text)
    plain = parse_number(body, spice)
    if plain is not None or not body:
        return plain
    tokens = _lex(body)
    if not tokens:
        return None
    parser = _Parser(tokens, spice, lookup or (lambda name: None))
    try:
        value = parser.expr(0)
    except _NotANumber:
        return None
    if parser.pos != len(tokens) or not math.isfinite(value):
        return None
    return value


class Scope:
    """Parameter values visible at one level of the hierarchy.

    Spectre names are case-sensitive, SPICE names are not; a name defined in a SPICE
    statement is therefore also found by its lower-case spelling.
    """

    def __init__(self, parent: Scope | None = None) -> None:
        self.values: dict[str, float] = dict(parent.values) if parent else {}
        self.folded: dict[str, float] = dict(parent.folded) if parent else {}

    def get(self, name: str) -> float | None:
        found = self.values.get(name)
        return found if found is not None else self.folded.get(name.lower())

    def set(self, name: str, value: float, spice: bool) -> None:
        self.values[name] = value
        if spice:
            self.folded[name.lower()] = value

    def define(
        self, params: Iterable[tuple[str, str, bool]], skip: frozenset[str] = frozenset()
    ) -> None:
        """Evaluate ``(name, text, spice)`` definitions in order, repeating while any that
        refer to a later one become known; those never known stay undefined."""
        pending = [p for p in params if p[0] not in skip]
        while pending:
            left = []
            for name, text, spice in pending:
                value = evaluate(text, spice, self.get)
                if value is None:
                    left.append((name, text, spice))
                else:
                    self.set(name, value, spice)
            if len(left) == len(pending):
                return
            pending = left
