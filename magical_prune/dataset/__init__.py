"""Data sets of one design in HDF5: feature images, raw metrics and ids; labels on use.

File layout (``format = "magical-prune-dataset"``, version 1):

``images``
    ``(N, 6, H, W)`` float16, the six intensity images of each layout in the order of the
    ``channel_order`` attribute. Coordinate channels are not stored: they are a function of
    the intensity image (:func:`magical_prune.features.add_coordinate_channels`) and are
    recomputed per batch, which keeps 16,000 layouts at a few hundred MB on disk and in
    memory. float16 keeps 11 significant bits (relative error <= 2**-11 ~ 0.05%); a positive
    value too small for float16 is stored as the smallest positive float16 rather than 0, so
    the non-zero mask (which decides the coordinate channels) is kept exactly. Chunks of 16
    layouts, gzip level 4 (the images are mostly empty: about 2.4 kB per 64x64 layout).
``metrics``
    ``(N, M)`` float64 raw post-layout results, column names in the ``metric_names``
    attribute (every key of ``performance.txt``). Labels are computed from these when the
    data is used (:mod:`magical_prune.labels`), so one file serves any metric and cut.
``ids``
    ``(N,)`` layout ids (the layout folder names), for traceability.
``labels`` (only for data that come with fixed labels, e.g. the imported UT-AnLay set)
    ``(N,)`` int8, 1 = prune; such a file has no raw metrics (``M = 0``) and is used with
    its stored labels as they are: ranking options (``--metric``, ``--worst-percent``,
    ``--balanced``) are refused for it, and so is the few-shot protocol, which needs to
    relabel by rank.

Attributes record the provenance: design, image size, rasterizer, feature configuration,
channel order, package version, the command that made the file, the ids left out (failed
simulations) and a SHA-256 of the content (``content_hash``) that models record as the
identity of their training data.

Splits (:meth:`LabelledDataset.split`): the layouts are shuffled with a fixed seed; the last
``test_fraction`` (20%) of them is the test set, never used for training; ``alpha`` is the
share of the *whole* labelled set used for training, taken from the front of the shuffled
order, so it is at most ``1 - test_fraction`` and growing ``alpha`` only adds layouts.

Modules: :mod:`~magical_prune.dataset.codec` (how values are stored, the content hash),
:mod:`~magical_prune.dataset.writer` (writing a file), :mod:`~magical_prune.dataset.build`
(building from layout folders), :mod:`~magical_prune.dataset.utanlay` (importing fixed
labels), :mod:`~magical_prune.dataset.reader` (opening a file) and
:mod:`~magical_prune.dataset.labelled` (labels, splits, tensors). Every public name is
importable from this package.
"""

from __future__ import annotations

from magical_prune.dataset.build import (
    FEATURE_CONVENTIONS,
    BuildReport,
    Failed,
    build_dataset,
    check_performance,
)
from magical_prune.dataset.codec import FORMAT, FORMAT_VERSION, to_float16
from magical_prune.dataset.labelled import LabelledDataset, Split, split_positions
from magical_prune.dataset.reader import LOAD_BLOCK, DataFile, open_dataset
from magical_prune.dataset.utanlay import import_groups
from magical_prune.dataset.writer import CHUNK_LAYOUTS, DataSetWriter

__all__ = [
    "CHUNK_LAYOUTS", "FEATURE_CONVENTIONS", "FORMAT", "FORMAT_VERSION", "LOAD_BLOCK",
    "BuildReport", "DataFile", "DataSetWriter", "Failed", "LabelledDataset", "Split",
    "build_dataset", "check_performance", "import_groups", "open_dataset", "split_positions",
    "to_float16",
]  # fmt: skip
