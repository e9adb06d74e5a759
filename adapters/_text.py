"""Small helpers shared by the line-oriented readers and writers: text decoding, numbers,
µm -> nm, and the names and numbers a writer may print.

The flow's files are tiny (a few hundred lines); the readers are hand-written loops over
``str.split`` because that is the fastest way to read them in CPython and because every
malformed line must be reported with its number, which no generic CSV/TOML reader does.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from magical_prune._files import read_bytes
from magical_prune.errors import MagicalPruneError, ParseError

#: Largest coordinate accepted, in µm (10 m): beyond it a number is a typo, and keeping
#: values bounded keeps every integer-nm sum far inside int64.
MAX_UM = 1.0e7
_UTF8_BOM = b"\xef\xbb\xbf"
#: byte-order marks of UTF-16 (little/big endian): such text is refused with a clear hint
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def read_text(path: str | os.PathLike[str]) -> str:
    """The text of a flow file; a missing, unreadable, non-regular (FIFO, device) or
    non-UTF-8 file is the user's error, reported on one line."""
    return decode(read_bytes(path), path)


def decode(data: bytes, path: str | os.PathLike[str]) -> str:
    """UTF-8 text without a leading byte-order mark, or a ParseError naming the line of the
    first undecodable byte.

    Editors on Windows save UTF-8 with a BOM; kept, it would become part of the first name
    in the file (device ``\\ufeffM0`` has no pins, metric ``\\ufeffGain`` is unknown) and
    JSON parsers refuse it, so every reader drops it here. Line endings need nothing:
    the readers split with ``str.splitlines``, which takes ``\\r\\n`` and ``\\r`` too.
    """
    if data.startswith(_UTF16_BOMS):
        raise ParseError("UTF-16 text; save the file as UTF-8", path, 1)
    skip = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as err:
        offset = skip + err.start
        line = data.count(b"\n", 0, offset) + 1
        raise ParseError(
            f"not a text file (invalid UTF-8 byte at offset {offset})", path, line
        ) from None


def number(token: str, path: str | os.PathLike[str], line: int, what: str = "value") -> float:
    """A finite float from ``token``; anything else (words, NaN, inf) is a ParseError."""
    try:
        value = float(token)
    except ValueError:
        raise ParseError(f"{what} {token!r} is not a number", path, line) from None
    if not math.isfinite(value):
        raise ParseError(f"{what} {token!r} is not finite", path, line)
    return value


def um_to_nm(token: str, path: str | os.PathLike[str], line: int, what: str = "coordinate") -> int:
    """Micrometres as written in a file -> integer nanometres (rounded half to even,
    like :func:`magical_prune.placement.um_to_nm`)."""
    value = number(token, path, line, what)
    if abs(value) > MAX_UM:
        raise ParseError(f"{what} {token!r} is out of range (|x| > {MAX_UM:g} um)", path, line)
    return round(value * 1000.0)


def quads_to_nm(tokens: list[str]) -> np.ndarray | None:
    """Tokens read four per shape (µm) -> ``(N, 4)`` int64 nm, all at once; None when any
    token is not a number or out of range (the caller then walks the lines with
    :func:`um_to_nm` to name the bad one). The fast path of the place.* readers."""
    try:
        um = np.array(tokens, dtype=np.float64).reshape(-1, 4)
    except ValueError:
        return None
    if not np.all(np.abs(um) <= MAX_UM):  # False for NaN too
        return None
    return np.rint(um * 1000.0).astype(np.int64)


def nm_to_um_text(nm: int) -> str:
    """Integer nm -> µm with exactly three decimals, exact (no float rounding)."""
    nm = int(nm)
    sign = "-" if nm < 0 else ""
    whole, frac = divmod(abs(nm), 1000)
    return f"{sign}{whole}.{frac:03d}"


def write_lines(path: str | os.PathLike[str], lines: list[str]) -> None:
    """Write ``lines`` with ``\\n`` endings (byte-identical output on every platform)."""
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8", newline="\n")


def field_lines(text: str) -> Iterable[tuple[int, list[str]]]:
    """(line number, whitespace-separated fields) of every non-blank line."""
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if fields:
            yield lineno, fields


def check_name(name: str) -> None:
    """Names are whitespace-separated tokens in these files: refuse ones that would not
    read back as written."""
    if not isinstance(name, str) or not name or len(name.split()) != 1 or name != name.strip():
        raise MagicalPruneError(f"name {name!r} cannot be written (empty or contains whitespace)")
    if "(" in name or ")" in name:
        raise MagicalPruneError(f"name {name!r} cannot be written (contains parentheses)")


def number_text(value: float) -> str:
    v = float(value)
    if not math.isfinite(v):
        raise MagicalPruneError(f"cannot write non-finite value {value!r}")
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
