"""Small helpers shared by the line-oriented readers: text decoding, numbers, µm -> nm.

The flow's files are tiny (a few hundred lines); the readers are hand-written loops over
``str.split`` because that is the fastest way to read them in CPython and because every
malformed line must be reported with its number, which no generic CSV/TOML reader does.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from magical_prune.errors import MagicalPruneError, ParseError

#: Largest coordinate accepted, in µm (10 m): beyond it a number is a typo, and keeping
#: values bounded keeps every integer-nm sum far inside int64.
MAX_UM = 1.0e7


def read_text(path: str | os.PathLike[str]) -> str:
    """The text of a flow file; a missing, unreadable or non-UTF-8 file is the user's error."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise MagicalPruneError("file not found", path) from None
    except IsADirectoryError:
        raise MagicalPruneError("is a directory, expected a file", path) from None
    except OSError as err:
        raise MagicalPruneError(f"cannot read: {err.strerror or err}", path) from None
    return decode(data, path)


def decode(data: bytes, path: str | os.PathLike[str]) -> str:
    """UTF-8 text, or a ParseError naming the line of the first undecodable byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ParseError(
            f"not a text file (invalid UTF-8 byte at offset {err.start})", path, line
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


def nm_to_um_text(nm: int) -> str:
    """Integer nm -> µm with exactly three decimals, exact (no float rounding)."""
    nm = int(nm)
    sign = "-" if nm < 0 else ""
    whole, frac = divmod(abs(nm), 1000)
    return f"{sign}{whole}.{frac:03d}"


def write_lines(path: str | os.PathLike[str], lines: list[str]) -> None:
    """Write ``lines`` with ``\\n`` endings (byte-identical output on every platform)."""
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8", newline="\n")
