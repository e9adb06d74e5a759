"""Caches of layout discovery: what is the same for thousands of layouts is read once.

A design's circuit is keyed by its files' signatures (path, mtime, size), pin and
connection files by content, folder listings by (folder, mtime). A timestamp too recent to
tell two versions of a file apart is not trusted alone: the key then holds the bytes.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from magical_prune._files import check_regular, read_bytes
from magical_prune.errors import MagicalPruneError

T = TypeVar("T")


class LRU:
    """A tiny bounded cache (most recent ``size`` entries)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        try:
            self.data.move_to_end(key)
            return self.data[key]  # type: ignore[no-any-return]
        except KeyError:
            value = make()
            self.data[key] = value
            if len(self.data) > self.size:
                self.data.popitem(last=False)
            return value

    def clear(self) -> None:
        self.data.clear()


CIRCUITS = LRU(16)  # design circuits by file signatures
TEXTS = LRU(64)  # parsed pin / connection files by content
LISTINGS = LRU(256)  # folder listings by (folder, mtime)
PICKS = LRU(1024)  # companion look-ups by (folder, mtime, names)


def clear_caches() -> None:
    """Forget every cached circuit, parsed file and folder listing."""
    for cache in (CIRCUITS, TEXTS, LISTINGS, PICKS):
        cache.clear()


#: A timestamp younger than this may not yet tell two versions of a file or folder apart
#: (file systems stamp with a clock tick of a few ms), so such entries are not trusted alone.
_RACY_NS = 2_000_000_000


def _racy(mtime_ns: int) -> bool:
    return time.time_ns() - mtime_ns < _RACY_NS


def signature(path: Path | None) -> Hashable:
    """Cache key of a design file: (path, mtime, size), plus its bytes while the mtime is
    too recent to be trusted."""
    if path is None:
        return None
    name = os.path.abspath(path)
    try:
        st = os.stat(name)
    except OSError:
        check_regular(path)  # says why: missing, a symlink loop, no permission
        raise MagicalPruneError("file not found", path) from None
    if _racy(st.st_mtime_ns):  # read safely: a FIFO here would block a plain read forever
        return (name, st.st_mtime_ns, st.st_size, read_bytes(path))
    return (name, st.st_mtime_ns, st.st_size)


def listing(folder: Path) -> frozenset[str]:
    """Names in ``folder`` (cached per modification time: a design folder holding 16,000
    layout folders is listed once, not once per layout)."""
    try:
        mtime = os.stat(folder).st_mtime_ns
        if _racy(mtime):
            return frozenset(os.listdir(folder))
        return LISTINGS.get((str(folder), mtime), lambda: frozenset(os.listdir(folder)))
    except OSError:
        return frozenset()
