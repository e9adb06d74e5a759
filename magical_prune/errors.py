"""The one error type users see.

Everything a user can get wrong (a malformed file, a device that is not placed, an unknown
architecture name, a checkpoint that does not fit the data) raises :class:`MagicalPruneError`
with the file and line where that is known. The command line prints ``str(error)`` on one
line and exits with status 2; the pruning hook logs it and keeps the candidate.
"""

from __future__ import annotations

import os
import re

#: terminal escape sequences (colours, bold) that other libraries put into their messages
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
#: longest word a message shows whole; a longer one (a megabyte line of junk read from a
#: damaged file) is shortened, so an error stays one readable line
MAX_WORD = 120


def tidy_message(text: object) -> str:
    """``text`` as one short printable line: whitespace collapsed, terminal escapes dropped,
    other control characters shown as ``?``, words longer than :data:`MAX_WORD` shortened."""
    words = []
    for word in _ANSI.sub("", str(text)).split():
        if len(word) > MAX_WORD:
            word = f"{word[:60]}...{word[-20:]} [{len(word):,} characters]"
        words.append("".join(c if c.isprintable() else "?" for c in word))
    return " ".join(words)


class MagicalPruneError(Exception):
    """A problem with the user's input, reported as ``path:line: message``.

    Args:
        message: what is wrong, in one sentence (no trailing period needed).
        path: the file the problem is in, if any.
        line: 1-based line number inside ``path``, if known.
    """

    def __init__(
        self, message: str, path: str | os.PathLike[str] | None = None, line: int | None = None
    ) -> None:
        self.message = tidy_message(message)  # always one short line
        self.path = os.fspath(path) if path is not None else None
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
            where += ": "
        return f"{where}{self.message}"

    def at(self, path: str | os.PathLike[str] | None, line: int | None = None) -> MagicalPruneError:
        """Return a copy that names ``path`` (and ``line``) unless a location is already set."""
        if self.path is not None:
            return self
        return type(self)(self.message, path, line if line is not None else self.line)


class MagicalPruneWarning(UserWarning):
    """Input that was read but partly left unused (netlist elements the tool does not
    model); the command line prints it as one ``warning: ...`` line and carries on."""


class ParseError(MagicalPruneError):
    """A file of the flow could not be read as its format says."""


class UnknownNameError(MagicalPruneError):
    """A name (architecture, rasterizer, design, metric) is not registered."""


class CheckpointError(MagicalPruneError):
    """A model file is unreadable, foreign, or does not fit the data it is used on."""


class SimulationError(MagicalPruneError):
    """The circuit simulator is missing or a simulation did not converge."""
