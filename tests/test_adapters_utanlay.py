"""The UT-AnLay HDF5 reader on a tiny synthetic file written here."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from magical_prune.adapters.utanlay import parse_group_name, read_utanlay
from magical_prune.errors import MagicalPruneError


def _write(path, groups):
    with h5py.File(path, "w") as f:
        for name, (images, meta) in groups.items():
            g = f.create_group(name)
            if images is not None:
                g.create_dataset("images", data=images)
            if meta is not None:
                g.create_dataset("meta", data=meta)


def _images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 64, 64, 6), dtype=np.uint8)


def test_reads_groups_with_names_images_and_labels(tmp_path):
    path = tmp_path / "data.hdf5"
    a, b = _images(3, 1), _images(2, 2)
    _write(path, {
        "OTA1_Offset_Voltage_False": (a, np.array([[1], [0], [1]])),
        "OTA2_CMRR_True": (b, np.array([[0.0], [1.0]])),
    })  # fmt: skip
    groups = read_utanlay(path)
    assert [g.name for g in groups] == ["OTA1_Offset_Voltage_False", "OTA2_CMRR_True"]
    g = groups[0]
    assert (g.design, g.metric, g.balanced) == ("OTA1", "Offset_Voltage", False)
    assert g.images.dtype == np.uint8 and np.array_equal(g.images, a)
    assert g.labels.tolist() == [1, 0, 1] and len(g) == 3
    assert groups[1].balanced is True and groups[1].labels.dtype == np.int64
    only = read_utanlay(path, groups=["OTA2_CMRR_True"])
    assert [g.metric for g in only] == ["CMRR"]


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("OTA1_Offset_Voltage_False", ("OTA1", "Offset_Voltage", False)),
        ("Telescopic_Three_stage_CMRR_True", ("Telescopic_Three_stage", "CMRR", True)),
        ("OTA3_Slew_Rate_False", ("OTA3", "Slew_Rate", False)),
    ],
)
def test_group_names(name, parsed):
    assert parse_group_name(name) == parsed


def test_not_a_data_set(tmp_path):
    (tmp_path / "x.hdf5").write_text("hello")
    with pytest.raises(MagicalPruneError, match="not an HDF5 file"):
        read_utanlay(tmp_path / "x.hdf5")
    with pytest.raises(MagicalPruneError, match="file not found"):
        read_utanlay(tmp_path / "missing.hdf5")
    _write(tmp_path / "empty.hdf5", {"foo": (None, None)})
    with pytest.raises(MagicalPruneError, match="not a UT-AnLay data set"):
        read_utanlay(tmp_path / "empty.hdf5")


@pytest.mark.parametrize(
    ("images", "meta", "message"),
    [
        (np.zeros((2, 64, 64, 5), np.uint8), np.zeros((2, 1)), "images must be"),
        (np.zeros((2, 64, 64, 6), np.uint8), np.zeros((3, 1)), "meta must be"),
        (np.zeros((2, 64, 64, 6), np.uint8), np.array([[0], [2]]), "0 or 1"),
        (np.zeros((2, 64, 64, 6), np.uint8), np.array([[0], [np.nan]]), "0 or 1"),
        (np.zeros((2, 64, 64, 6), np.uint8), np.zeros((2, 2)), "one number"),
    ],
)
def test_malformed_groups(tmp_path, images, meta, message):
    _write(tmp_path / "d.hdf5", {"OTA1_CMRR_False": (images, meta)})
    with pytest.raises(MagicalPruneError, match=message):
        read_utanlay(tmp_path / "d.hdf5")


def test_bad_group_name_and_missing_group(tmp_path):
    _write(tmp_path / "d.hdf5", {"whatever": (_images(1), np.zeros((1, 1)))})
    with pytest.raises(MagicalPruneError, match="not <design>_<metric>"):
        read_utanlay(tmp_path / "d.hdf5")
    with pytest.raises(MagicalPruneError, match="no group 'OTA9_CMRR_True'"):
        read_utanlay(tmp_path / "d.hdf5", groups=["OTA9_CMRR_True"])
