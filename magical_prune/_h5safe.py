"""Reading HDF5 files defensively: a damaged file is one clear error, never a traceback or
a hang.

HDF5 trusts the sizes written in a file. A truncated copy, a flipped bit or a build killed
half-way makes h5py raise ``OSError``/``KeyError``/``UnicodeDecodeError`` from deep inside,
or allocate what a damaged header claims: an attribute whose dataspace says 10^12 values
makes ``numpy.zeros`` reserve terabytes and the read run for many minutes. So before the
library is asked for anything, the readers here check that the file is a regular file with
the HDF5 signature, that every object they use exists with the expected rank and dtype, and
that every size it claims fits in the file; every error of the library is wrapped into
:class:`~magical_prune.errors.MagicalPruneError`.
"""

from __future__ import annotations

import bisect
import math
import mmap
import os
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO

import h5py
import numpy as np

from magical_prune._files import check_regular, os_error_message
from magical_prune.errors import MagicalPruneError

__all__ = ["SIGNATURE", "check_hdf5", "check_global_heaps", "open_h5", "read_attr", "get_dataset",
           "check_storage", "check_string_lengths", "as_int"]  # fmt: skip

#: the eight bytes that start an HDF5 superblock
SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: exceptions h5py raises for damaged files (it maps library errors onto these)
H5_ERRORS = (OSError, KeyError, ValueError, RuntimeError, TypeError, IndexError, ArithmeticError)
_U16 = struct.Struct("<H").unpack_from
#: an attribute holding more values than this is damage, not provenance
MAX_ATTR_VALUES = 1_000_000


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _signature_offset(handle: BinaryIO, size: int) -> int | None:
    """Where the superblock starts: offset 0 or a user block size (512, 1024, ...)."""
    offset = 0
    while offset + len(SIGNATURE) <= size:
        handle.seek(offset)
        if handle.read(len(SIGNATURE)) == SIGNATURE:
            return offset
        offset = 512 if offset == 0 else 2 * offset
    return None


def check_hdf5(path: str | os.PathLike[str], what: str = "file") -> Path:
    """``path`` if it is a regular file whose HDF5 signature is at offset 0 or at a user
    block offset (512, 1024, 2048, ...); otherwise a one-line error saying what it is."""
    path = check_regular(path, what)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            if _signature_offset(handle, size) is not None:
                return path
    except OSError as err:
        raise MagicalPruneError(f"cannot read {what}: {os_error_message(err)}", path) from None
    if path.name.endswith(".tmp"):
        raise MagicalPruneError(
            f"unfinished temporary file of an interrupted write, not a {what}; "
            "run the command that makes it again",
            path,
        )
    if size == 0:
        raise MagicalPruneError(f"empty file, expected an HDF5 {what}", path)
    raise MagicalPruneError(f"not an HDF5 file (no HDF5 signature), expected a {what}", path)


def _field_sizes(head: bytes) -> tuple[int, int]:
    """Sizes (bytes) of "offset" and "length" fields, from the superblock that starts
    ``head`` (versions 0 and 1 keep them at bytes 13-14, versions 2 and 3 at 9-10)."""
    return (head[13], head[14]) if head[8] in (0, 1) else (head[9], head[10])


def _superblock_head(handle: BinaryIO, size: int) -> bytes:
    start = _signature_offset(handle, size)
    if start is None:
        return b""
    handle.seek(start)
    return handle.read(16)


def check_global_heaps(
    path: Path, what: str = "file", data: Sequence[tuple[int, int]] = ()
) -> None:
    """Refuse a file with a damaged global heap collection (where variable-length strings,
    e.g. attribute texts, live).

    The HDF5 library (2.0 and earlier) walks a collection's objects by their recorded
    sizes and, on an object header that reads as index 0 and size 0 (a zeroed block), never
    advances: the read hangs forever. Collections have no checksum, so they are found by
    their ``GCOL`` signature and walked here first, the way the library walks them.
    ``data``: sorted ``(start, end)`` byte ranges of raw dataset values, where the
    signature can only appear by chance (e.g. in uncompressed uint8 images).
    """
    starts = [start for start, _ in data]
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        head = _superblock_head(handle, len(mm))
        if len(head) < 16:
            return  # check_hdf5 refuses it
        length = _field_sizes(head)[1]
        if length not in (2, 4, 8):
            return  # h5py refuses such a superblock itself
        pos = mm.find(b"GCOL")
        while pos >= 0:
            if mm[pos + 4 : pos + 8] == b"\x01\0\0\0":  # version 1: a collection header
                try:
                    _walk_collection(mm, pos, length, path, what)
                except MagicalPruneError:
                    k = bisect.bisect_right(starts, pos) - 1
                    if k < 0 or pos >= data[k][1]:  # not a chance match inside values
                        raise
            pos = mm.find(b"GCOL", pos + 4)


def _walk_collection(mm: mmap.mmap, pos: int, length: int, path: Path, what: str) -> None:
    size_of = struct.Struct({2: "<H", 4: "<I", 8: "<Q"}[length]).unpack_from
    end, objhdr = pos + size_of(mm, pos + 8)[0], 8 + length
    p = pos + 8 + length
    if end > len(mm):
        raise MagicalPruneError(f"damaged {what}: a string heap runs past the end", path)
    while end - p >= objhdr:
        index, osize = _U16(mm, p)[0], size_of(mm, p + 8)[0]
        need = objhdr + -(-osize // 8) * 8 if index else osize
        if need == 0 or p + need > end:
            raise MagicalPruneError(f"damaged {what}: a string heap object is broken", path)
        p += need


def _open_message(err: OSError, path: Path) -> str:
    text = str(err).lower()
    if "truncated" in text:
        return "truncated (shorter than its header says): was a copy or build interrupted?"
    if "already open for write" in text or "file locking" in text or "consistency" in text:
        return "not closed by the program that wrote it (an interrupted build?)"
    if path.name.endswith(".tmp"):
        return "unfinished temporary file of an interrupted write; run the command again"
    return f"damaged HDF5 file ({_one_line(err)})"


@contextmanager
def open_h5(
    path: str | os.PathLike[str], what: str = "file", heaps: bool = True
) -> Iterator[h5py.File]:
    """Open an HDF5 file for reading; any h5py error inside the block becomes the
    package's one-line error naming ``path``. ``heaps``: check the string heaps first
    (:func:`check_global_heaps`; not needed to read numbers only)."""
    path = check_hdf5(path, what)
    try:
        handle = h5py.File(path, "r")
    except H5_ERRORS as err:
        if isinstance(err, OSError) and err.errno is not None:  # permission, vanished file
            raise MagicalPruneError(f"cannot read: {os_error_message(err)}", path) from None
        raise MagicalPruneError(_open_message(err, path), path) from None  # type: ignore[arg-type]
    try:
        if heaps:  # (listing datasets reads no string heap)
            check_global_heaps(path, what, _data_ranges(handle))
        yield handle
    except H5_ERRORS as err:
        raise MagicalPruneError(f"damaged {what}: {_one_line(err)}", path) from None
    except MemoryError:
        raise MagicalPruneError(f"{what} needs more memory than there is", path) from None
    finally:
        with suppress(*H5_ERRORS):
            handle.close()


def _data_ranges(f: h5py.File) -> list[tuple[int, int]]:
    """Sorted byte ranges of every dataset's raw values (contiguous storage and chunks)."""
    ranges: list[tuple[int, int]] = []

    def add(info: Any) -> None:
        if info.byte_offset is not None:
            ranges.append((int(info.byte_offset), int(info.byte_offset) + int(info.size)))

    def visit(_name: str, obj: Any) -> None:
        if not isinstance(obj, h5py.Dataset):
            return
        if obj.chunks is None:
            offset = obj.id.get_offset()
            if offset is not None:
                ranges.append((int(offset), int(offset) + int(obj.id.get_storage_size())))
        elif hasattr(obj.id, "chunk_iter"):
            obj.id.chunk_iter(add)
        else:
            for i in range(obj.id.get_num_chunks()):
                add(obj.id.get_chunk_info(i))

    f.visititems(visit)
    return sorted(ranges)


def _file_size(obj: h5py.HLObject) -> int:
    return int(obj.file.id.get_filesize())


def read_attr(obj: h5py.HLObject, name: str, path: Path) -> Any:
    """An attribute's value, after checking that its size is plausible for the file."""
    aid = obj.attrs.get_id(name)
    count = math.prod(aid.shape) if aid.shape else 1
    itemsize = max(1, aid.dtype.itemsize)
    if count > MAX_ATTR_VALUES or count * itemsize > _file_size(obj):
        raise MagicalPruneError(
            f"damaged file: attribute {name!r} claims {count} values, more than the file holds",
            path,
        )
    return obj.attrs[name]


def get_dataset(
    group: h5py.Group, name: str, path: Path, ndim: int | tuple[int, ...], kinds: str
) -> h5py.Dataset:
    """Dataset ``name`` of ``group`` with the given rank(s) and dtype kinds (numpy
    ``dtype.kind`` letters), whose stored bytes lie inside the file."""
    obj = group.get(name)
    if not isinstance(obj, h5py.Dataset):
        raise MagicalPruneError(f"damaged or foreign file: no dataset {name!r}", path)
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    if obj.ndim not in ranks or obj.dtype.kind not in kinds:
        raise MagicalPruneError(
            f"damaged or foreign file: dataset {name!r} has shape {obj.shape} and type "
            f"{obj.dtype}, expected rank {' or '.join(map(str, ranks))}",
            path,
        )
    check_storage(obj, path)
    return obj


def check_storage(ds: h5py.Dataset, path: Path, all_chunks: bool = False) -> None:
    """Refuse a dataset whose data would lie beyond the end of the file, or whose chunks
    do not match its shape (``all_chunks``: every chunk must be written, as our writer
    does; a finished file never lacks one)."""
    size = _file_size(ds)
    if ds.chunks is None:
        offset, stored = ds.id.get_offset(), int(ds.id.get_storage_size())
        need = math.prod(ds.shape) * ds.dtype.itemsize  # a lower bound for variable lengths
        if stored < need or (offset is not None and offset + stored > size):
            raise MagicalPruneError(f"damaged file: data of {ds.name!r} lie outside it", path)
        return
    per_axis = [math.ceil(n / c) if n else 0 for n, c in zip(ds.shape, ds.chunks)]
    expected = math.prod(per_axis)
    found = ds.id.get_num_chunks()
    if found > expected or (all_chunks and found != expected):
        raise MagicalPruneError(
            f"damaged file: {ds.name!r} has {found} data chunks, its shape needs {expected}", path
        )
    ends: list[int] = []
    if hasattr(ds.id, "chunk_iter"):  # one walk of the chunk index (h5py >= 3.8)
        ds.id.chunk_iter(lambda info: ends.append(_chunk_end(info)))
    else:
        ends = [_chunk_end(ds.id.get_chunk_info(i)) for i in range(found)]
    if ends and max(ends) > size:
        raise MagicalPruneError(f"damaged file: a chunk of {ds.name!r} lies outside it", path)


def _chunk_end(info: Any) -> int:
    """Where a chunk's bytes end (beyond any file when it has no address)."""
    return (1 << 62) if info.byte_offset is None else int(info.byte_offset) + int(info.size)


def check_string_lengths(ds: h5py.Dataset, path: Path, limit: int = 1 << 16) -> None:
    """Refuse a variable-length string dataset whose recorded string lengths exceed
    ``limit`` bytes (or the file): HDF5 allocates what an element's length field says
    before it finds the heap object does not match, so one flipped bit costs gigabytes
    and many seconds. Checked on the raw bytes of contiguous storage (``length`` u32,
    heap address, heap index u32 per element); other layouts are left to the library."""
    offset = ds.id.get_offset()
    if ds.dtype.kind != "O" or ds.chunks is not None or offset is None:
        return
    with open(path, "rb") as handle:
        head = _superblock_head(handle, os.fstat(handle.fileno()).st_size)
        if len(head) < 16:
            return
        item = 4 + _field_sizes(head)[0] + 4
        count = math.prod(ds.shape)
        if int(ds.id.get_storage_size()) != count * item:
            raise MagicalPruneError(f"damaged file: storage of {ds.name!r} does not fit", path)
        handle.seek(offset)
        raw = np.frombuffer(handle.read(count * item), dtype=np.uint8).reshape(count, item)
    lengths = raw[:, :4].copy().view("<u4").ravel()
    if lengths.size and int(lengths.max()) > min(limit, _file_size(ds)):
        raise MagicalPruneError(
            f"damaged file: a string of {ds.name!r} claims {int(lengths.max())} bytes", path
        )


def as_int(value: Any, name: str, path: Path, low: int, high: int) -> int:
    """An integer attribute in ``[low, high]`` (numpy scalars accepted, bools not)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise MagicalPruneError(f"damaged file: {name} is {value!r}, not an integer", path)
    if not low <= int(value) <= high:
        raise MagicalPruneError(f"damaged file: {name} {int(value)} is not in {low}..{high}", path)
    return int(value)
