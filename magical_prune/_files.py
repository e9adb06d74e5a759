"""Opening the user's files safely: one clear error instead of a traceback or a hang.

A path given by a user can name anything: a FIFO (``open`` blocks until a writer comes,
forever), a character device (``/dev/zero`` reads without end), a symlink loop, a file we
may not read. Every reader of the package checks the kind of file first and reports the
operating system's reason on one line, as :class:`~magical_prune.errors.MagicalPruneError`.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from magical_prune.errors import MagicalPruneError

__all__ = ["check_regular", "content_kind", "os_error_message", "read_bytes"]

#: what a non-regular file is, for messages
_KINDS = (
    (stat.S_ISDIR, "is a directory, expected a file"),
    (stat.S_ISFIFO, "is a FIFO (named pipe), expected a regular file"),
    (stat.S_ISCHR, "is a character device, expected a regular file"),
    (stat.S_ISBLK, "is a block device, expected a regular file"),
    (stat.S_ISSOCK, "is a socket, expected a regular file"),
)


def os_error_message(err: OSError) -> str:
    """The operating system's reason in a few words (``No space left on device``)."""
    if err.errno == errno.ENOENT:
        return "file not found"
    text = err.strerror or str(err) or type(err).__name__
    return " ".join(text.split())


#: leading bytes -> what a file is, for "this is not a placement / model" messages
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (a data set?)"),
    (b"PK\x03\x04", "a zip archive (a model or .npz file?)"),
    (b"\x1f\x8b", "a gzip file"),
    (b"\x00\x02\x00\x04", "a GDS layout"),
)


def content_kind(head: bytes) -> str | None:
    """What a file whose first bytes are ``head`` is, when it is clearly not text (an
    image, an archive, binary data); ``None`` for text (including empty files)."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if b"\x00" in head:
        return "binary data"
    return None


def _kind_problem(mode: int) -> str | None:
    for test, message in _KINDS:
        if test(mode):
            return message
    return None if stat.S_ISREG(mode) else "is not a regular file"


def check_regular(path: str | os.PathLike[str], what: str = "file") -> Path:
    """``path`` as a Path if it names a regular file (symlinks followed).

    Raises:
        MagicalPruneError: naming ``path`` and why (missing, a directory, a FIFO, a device,
            a symlink loop, no permission to look at it).
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        if err.errno == errno.ENOENT:
            raise MagicalPruneError(f"{what} not found", path) from None
        raise MagicalPruneError(f"cannot open {what}: {os_error_message(err)}", path) from None
    problem = _kind_problem(mode)
    if problem is not None:
        raise MagicalPruneError(problem, path)
    return path


def read_bytes(path: str | os.PathLike[str], what: str = "file", limit: int | None = None) -> bytes:
    """All bytes of a regular file (the first ``limit`` when given); never blocks on a FIFO
    or reads a device without end.

    The file is opened non-blocking and checked with ``fstat`` on the open descriptor, so
    a FIFO swapped in after a ``stat`` cannot make the read hang either.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if err.errno in (errno.ENOENT, errno.EISDIR):
            check_regular(path, what)  # the same message as a stat would give
        raise MagicalPruneError(f"cannot read: {os_error_message(err)}", path) from None
    try:
        problem = _kind_problem(os.fstat(fd).st_mode)
        if problem is not None:
            raise MagicalPruneError(problem, path)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read() if limit is None else handle.read(limit)
    except OSError as err:
        raise MagicalPruneError(f"cannot read: {os_error_message(err)}", path) from None
    finally:
        os.close(fd)
