"""Data sets: build from layout folders, storage precision, labels on use, leak-free splits."""

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from _synthetic import SIZE, write_blob_set
from hypothesis import given, settings
from hypothesis import strategies as st

from magical_prune.adapters import magical
from magical_prune.adapters.magical import find_layouts, load_placement
from magical_prune.cli.dataset_cmd import read_layout_performance
from magical_prune.dataset import (
    DataSetWriter,
    LabelledDataset,
    build_dataset,
    check_performance,
    import_groups,
    open_dataset,
    split_positions,
    to_float16,
)
from magical_prune.errors import MagicalPruneError
from magical_prune.features import IMAGE_NAMES, add_coordinate_channels, rasterize
from magical_prune.labels import LabelSpec

FIXTURE = Path(__file__).parent / "data" / "adapters" / "tiny"


@pytest.fixture
def design(tmp_path: Path) -> Path:
    """The tiny fixture design with 6 layouts: C0 moved right by 0.5 um per layout; layout
    5 has no performance.txt, layout 6 lacks CMRR (both simulations failed)."""
    root = tmp_path / "tiny"
    root.mkdir()
    for f in FIXTURE.iterdir():
        if f.is_file():
            shutil.copy(f, root / f.name)
    for k in range(1, 7):
        d = root / f"tiny_{k}"
        shutil.copytree(FIXTURE / "tiny_1", d)
        names, rects = magical.read_place_result(d / "place.result")
        rects = rects.copy()
        rects[names.index("C0"), [0, 2]] += 500 * k
        magical.write_place_result(d / "place.result", names, rects)
        if k == 5:
            (d / "performance.txt").unlink()
        elif k == 6:
            magical.write_performance(d / "performance.txt", {"Offset_Voltage": 1e-3, "Gain": 40})
        else:
            perf = {"Offset_Voltage": (-1) ** k * k * 1e-4, "CMRR": 60.0 + k, "Gain": 40.0}
            magical.write_performance(d / "performance.txt", perf)
    return root


def _build(design: Path, out: Path, jobs: int = 1):
    return build_dataset(
        find_layouts(design),
        out,
        load=load_placement,
        read_performance=read_layout_performance,
        size=32,
        jobs=jobs,
        attrs={"design": "tiny", "created_by": "test"},
        progress=False,
    )


def test_build_round_trip_leaves_failed_simulations_out(design, tmp_path):
    report = _build(design, tmp_path / "tiny.h5")
    assert report.n_layouts == 6 and report.n_written == 5
    assert {f.layout_id: f.reason.split(":")[0] for f in report.failed} == {
        "tiny_5": "no simulation result (performance.txt missing or empty)",
    }
    data = open_dataset(tmp_path / "tiny.h5")
    assert data.ids.tolist() == ["tiny_1", "tiny_2", "tiny_3", "tiny_4", "tiny_6"]
    assert data.metric_names == ["Offset_Voltage", "CMRR", "Gain"]
    # tiny_6 simulated but reported no CMRR: stored as NaN, not a failure
    assert data.metric("CMRR")[:4].tolist() == [61.0, 62.0, 63.0, 64.0]
    assert np.isnan(data.metric("CMRR")[4])
    assert data.image_size == 32 and data.channel_order == list(IMAGE_NAMES)
    assert data.design == "tiny" and data.attrs["created_by"] == "test"
    assert data.attrs["feature_config"] == {"size": 32, "rasterizer": "exact"}
    assert data.attrs["failed_ids"] == ["tiny_5"]
    assert data.stored_labels is None
    # the stored images are the feature images of each placement, to float16 precision
    expected = rasterize(load_placement(design / "tiny_3"), 32)
    got = data.read_images(np.array([2]))[0].astype(np.float32)
    assert np.allclose(got, expected, rtol=2**-11, atol=1e-7)
    assert ((got != 0) == (expected != 0)).all()
    # labels are made on use: |offset| 1e-4..4e-4 and 1e-3 -> the worst one (tiny_6) is 1
    ds = LabelledDataset(data)
    assert ds.metric == "Offset_Voltage"
    assert ds.labels.tolist() == [0, 0, 0, 0, 1]
    assert ds.critical_value == pytest.approx(1e-3)
    # labelled by CMRR, the layout without a CMRR is left out, never labelled
    by_cmrr = LabelledDataset(data, LabelSpec("CMRR"))
    assert by_cmrr.ids.tolist() == ["tiny_1", "tiny_2", "tiny_3", "tiny_4"]
    assert by_cmrr.n_unmeasured == 1 and by_cmrr.labels.tolist() == [1, 0, 0, 0]


def test_build_is_byte_identical_with_workers(design, tmp_path):
    _build(design, tmp_path / "a.h5")
    _build(design, tmp_path / "b.h5", jobs=2)
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()


def test_build_with_no_usable_layout_fails(design, tmp_path):
    for d in find_layouts(design):
        (d / "performance.txt").unlink(missing_ok=True)
    with pytest.raises(MagicalPruneError, match="none of the 6 layouts"):
        _build(design, tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()


def test_check_performance_majority_columns():
    perf = {"a": {"X": 1.0, "Y": 2.0}, "b": {"X": 1.0, "Y": 2.0, "Z": 3.0}, "c": {"X": 1.0},
            "d": None, "e": {"X": float("nan"), "Y": 1.0}}  # fmt: skip
    columns, failed = check_performance(perf)
    assert columns == ["X", "Y"]  # Z: only 1 of 5 layouts reports it
    assert set(failed) == {"d"}  # c lacks Y, e has a NaN X: kept, the gaps stored as NaN
    columns, failed = check_performance({"a": {"X": 1.0}, "b": {"X": float("nan")}})
    assert failed == {"b": "simulation result has no finite metric"}


def test_float16_keeps_nonzero_mask_and_coordinates():
    images = np.array([[0.0, 1e-9, 0.25, 0.3333333, 17.123456]], dtype=np.float32)
    half = to_float16(images)
    assert half.dtype == np.float16
    assert ((half != 0) == (images != 0)).all()
    big = images >= 6.1e-5
    assert np.allclose(half[big], images[big], rtol=2**-11, atol=0)
    imgs = np.zeros((6, 4, 4), np.float32)
    imgs[2, 1, 2] = 1e-9
    back = to_float16(imgs).astype(np.float32)
    assert np.array_equal(
        add_coordinate_channels(back)[:, 1:], add_coordinate_channels(imgs)[:, 1:]
    )
    with pytest.raises(MagicalPruneError, match="NaN"):
        to_float16(np.array([np.nan]))


def test_features_and_lazy_loading(tmp_path):
    path = write_blob_set(tmp_path / "blob.h5", n=40)
    eager = LabelledDataset.open(path)
    lazy = LabelledDataset.open(path, preload=False)
    pos = np.array([5, 0, 17])
    x = eager.features(pos)
    assert tuple(x.shape) == (3, 6, 3, SIZE, SIZE) and str(x.dtype) == "torch.float32"
    assert np.array_equal(x.numpy(), lazy.features(pos).numpy())
    images = open_dataset(path).read_images(eager.rows[pos]).astype(np.float32)
    assert np.array_equal(x.numpy(), add_coordinate_channels(images))


def test_balanced_and_metric_choice(tmp_path):
    path = write_blob_set(tmp_path / "blob.h5", n=40)
    whole = LabelledDataset.open(path, metric="CMRR")
    assert len(whole) == 40 and whole.labels.sum() == 10
    bal = LabelledDataset.open(path, metric="CMRR", balanced=True)
    assert len(bal) == 20 and bal.labels.sum() == 10
    assert bal.label_meta()["balanced"] and bal.label_meta()["better"] == "larger"
    # the balanced set keeps the extremes: every kept good layout beats every bad one
    assert bal.metric_values[bal.labels == 0].min() > bal.metric_values[bal.labels == 1].max()
    with pytest.raises(MagicalPruneError, match="no metric 'PSRR'"):
        LabelledDataset.open(path, metric="PSRR")


@pytest.mark.parametrize("balanced", [False, True])
def test_split_never_leaks_test_layouts(tmp_path, balanced):
    path = write_blob_set(tmp_path / "blob.h5", n=200)
    ds = LabelledDataset.open(path, balanced=balanced)
    tests = set()
    previous: set = set()
    for alpha in (0.0, 0.01, 0.1, 0.5, 0.8):
        split = ds.split(alpha, seed=3)
        train_ids = set(ds.ids[split.train])
        test_ids = set(ds.ids[split.test])
        assert not train_ids & test_ids
        assert len(split.test) == round(0.2 * len(ds))
        assert len(split.train) == int(np.floor(alpha * len(ds) + 0.5))
        assert previous <= train_ids  # more data only adds layouts
        previous = train_ids
        tests.add(frozenset(test_ids))
    assert len(tests) == 1  # the test set does not depend on alpha
    with pytest.raises(MagicalPruneError, match="alpha"):
        ds.split(0.9)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 500), st.floats(0, 0.8), st.integers(0, 10**6))
def test_split_positions_properties(n, alpha, seed):
    s = split_positions(n, alpha, seed)
    assert not set(s.train) & set(s.test)
    assert set(s.train) <= set(s.pool)
    assert sorted(np.concatenate([s.pool, s.test]).tolist()) == list(range(n))
    assert np.array_equal(s.test, split_positions(n, 0.8, seed).test)


def test_stored_labels_import(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(10, SIZE, SIZE, 6), dtype=np.uint8)
    labels = np.array([1, 0, 0, 0, 1, 0, 0, 1, 0, 0])
    report = import_groups(tmp_path / "ut.h5", ids=[f"u{i}" for i in range(10)],
                           images_nhwc=images, labels=labels, scale=1 / 255)  # fmt: skip
    assert report.n_written == 10
    data = open_dataset(tmp_path / "ut.h5")
    assert data.stored_labels.tolist() == labels.tolist()
    assert data.metric_names == []
    got = data.read_images(np.array([3]))[0].astype(np.float32)
    assert np.allclose(got, images[3].transpose(2, 0, 1) / 255, rtol=2**-11)
    ds = LabelledDataset(data)
    assert ds.metric is None and ds.labels.tolist() == labels.tolist()
    assert ds.label_meta()["source"] == "stored"
    with pytest.raises(MagicalPruneError, match="stored labels"):
        LabelledDataset.open(tmp_path / "ut.h5", balanced=True)
    with pytest.raises(MagicalPruneError, match="no metric"):
        LabelledDataset.open(tmp_path / "ut.h5", metric="CMRR")


def test_open_errors(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(MagicalPruneError, match="not an HDF5 file"):
        open_dataset(junk)
    ut = tmp_path / "data.hdf5"
    with h5py.File(ut, "w") as f:
        f.create_group("OTA1_Offset_Voltage_False").create_dataset(
            "images", data=np.zeros((1, 4, 4, 6))
        )
    with pytest.raises(MagicalPruneError, match="import-utanlay"):
        open_dataset(ut)
    with pytest.raises(MagicalPruneError, match="not found"):
        open_dataset(tmp_path / "missing.h5")


def test_writer_rejects_wrong_shapes_and_cleans_up(tmp_path):
    out = tmp_path / "w.h5"
    with pytest.raises(MagicalPruneError, match="shape"), DataSetWriter(out, 8, IMAGE_NAMES) as w:
        w.add("a", np.zeros((6, 8, 8)), {"CMRR": 1.0})
        w.add("b", np.zeros((6, 4, 4)), {"CMRR": 1.0})
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))
