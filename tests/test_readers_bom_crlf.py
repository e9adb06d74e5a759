"""Every reader gives the same result for a file saved with a UTF-8 byte-order mark and/or
Windows (``\\r\\n``) or old Mac (``\\r``) line endings as for the plain file."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from magical_prune.adapters import discovery, magical, spectre
from magical_prune.adapters._text import decode
from magical_prune.circuit import Circuit
from magical_prune.cli.dataset_cmd import read_layout_performance
from magical_prune.errors import ParseError
from magical_prune.features import rasterize
from magical_prune.placement import Placement
from magical_prune.subcircuits import subcircuits_of

TINY = Path(__file__).parent / "data" / "adapters" / "tiny"
BOM = b"\xef\xbb\xbf"

#: reader -> file it reads (relative to the tiny design)
READERS = {
    "place.result": (magical.read_place_result, "tiny_1/place.result"),
    "place.pin shapes": (magical.read_pin_shapes, "tiny_1/place.pin"),
    "place.pin boxes": (magical.read_place_pin, "tiny_1/place.pin"),
    "place.connection": (magical.read_connection, "tiny_1/place.connection"),
    "weight.txt": (magical.read_weights, "tiny_1/weight.txt"),
    "performance.txt": (magical.read_performance, "tiny_1/performance.txt"),
    ".sym": (magical.read_sym, "tiny.sym"),
    ".symnet": (magical.read_symnet, "tiny.symnet"),
    ".json types": (magical.read_types, "tiny.json"),
    ".channel": (magical.read_channels, "tiny.channel"),
    "spectre netlist": (spectre.read_netlist, "tiny.sp"),
}

variant = st.fixed_dictionaries(
    {
        "bom": st.booleans(),
        "newline": st.sampled_from(["\n", "\r\n", "\r"]),
        "final_newline": st.booleans(),
    }
)


def _apply(plain: str, bom: bool, newline: str, final_newline: bool) -> bytes:
    lines = plain.splitlines()
    text = newline.join(lines) + (newline if final_newline else "")
    return (BOM if bom else b"") + text.encode("utf-8")


def _plain(value: Any) -> Any:
    """A comparable form of a reader's result (arrays as lists, circuits without paths)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Circuit):
        devices = {n: (d, dict(d.params)) for n, d in value.devices.items()}
        return (value.name, devices, value.nets, value.ports, value.symmetry,
                value.channel_overrides, subcircuits_of(value))  # fmt: skip
    if isinstance(value, Placement):
        fields = ("names", "rects", "pin_device", "pin_names", "pin_boxes", "net_names",
                  "net_ptr", "net_pins")  # fmt: skip
        return [_plain(getattr(value, f)) for f in fields] + [_plain(value.circuit)]
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return tuple(_plain(v) for v in value)
    if dataclasses.is_dataclass(value):
        return value
    return value


@pytest.mark.parametrize("name", sorted(READERS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v=variant)
def test_every_reader_ignores_bom_and_line_endings(name, v, tmp_path_factory):
    read, rel = READERS[name]
    src = TINY / rel
    expected = _plain(read(src))
    path = tmp_path_factory.mktemp("v") / src.name
    path.write_bytes(_apply(src.read_text(encoding="utf-8"), **v))
    assert _plain(read(path)) == expected


names = st.from_regex(r"[A-Za-zµΩ][A-Za-z0-9_µΩ]{0,7}", fullmatch=True)


@settings(max_examples=40, deadline=None)
@given(
    net_names=st.lists(names, min_size=1, max_size=5, unique=True),
    weights=st.lists(st.integers(1, 20), min_size=5, max_size=5),
    v=variant,
)
def test_first_name_survives_a_bom(net_names, weights, v):
    """The first name of a line file is never glued to the BOM, whatever it is."""
    plain = "".join(f"{n} {w}\n" for n, w in zip(net_names, weights))
    perf = "".join(f"{n}={w}e-3\n" for n, w in zip(net_names, weights))
    raw_w, raw_p = _apply(plain, **v), _apply(perf, **v)
    assert magical.parse_weights(decode(raw_w, "w")) == magical.parse_weights(plain)
    assert magical.parse_performance(decode(raw_p, "p")) == magical.parse_performance(perf)
    assert next(iter(magical.parse_weights(decode(raw_w, "w")))) == net_names[0]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_whole_layout_with_mixed_variants_loads_and_rasterizes_the_same(data):
    """Each file of a layout and its design gets its own variant; the placement, circuit
    and feature images are those of the plain files (the score cannot change)."""
    discovery.clear_caches()
    plain = magical.load_placement(TINY / "tiny_1")
    with tempfile.TemporaryDirectory() as tmp:
        design = Path(tmp) / "tiny"
        shutil.copytree(TINY, design)
        for f in sorted(design.rglob("*")):
            if f.is_file():
                f.write_bytes(_apply(f.read_text(encoding="utf-8"), **data.draw(variant)))
        discovery.clear_caches()
        got = magical.load_placement(design / "tiny_1")
        assert _plain(got) == _plain(plain)
        assert np.array_equal(rasterize(got, 16), rasterize(plain, 16))
        assert _plain(magical.load_circuit(design)) == _plain(magical.load_circuit(TINY))
        metrics = read_layout_performance(design / "tiny_1")
        assert metrics == read_layout_performance(TINY / "tiny_1")
        assert all(not k.startswith("\ufeff") for k in metrics)


def test_utf16_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "place.result"
    path.write_bytes("M0 0 0 1 1\n".encode("utf-16"))
    with pytest.raises(ParseError, match="UTF-16.*UTF-8"):
        magical.read_place_result(path)


def test_invalid_byte_after_a_bom_names_the_right_line_and_offset(tmp_path):
    path = tmp_path / "weight.txt"
    path.write_bytes(BOM + b"a 1\nb \xff\n")
    with pytest.raises(ParseError, match="offset 9") as err:
        magical.read_weights(path)
    assert err.value.line == 2


def test_dataset_build_of_bom_files_stores_clean_metric_names(tmp_path):
    """Saved with a BOM, performance.txt used to give a metric named '\\ufeffOffset_Voltage'."""
    from click.testing import CliRunner

    from magical_prune.cli import main
    from magical_prune.dataset import open_dataset

    design = tmp_path / "tiny"
    shutil.copytree(TINY, design)
    for k in (2, 3):
        shutil.copytree(design / "tiny_1", design / f"tiny_{k}")
    for f in sorted(design.rglob("*")):
        if f.is_file():
            bom = f.name == "performance.txt"  # the case of the report; other files: CRLF
            f.write_bytes(_apply(f.read_text(encoding="utf-8"), bom, "\r\n", True))
    out = tmp_path / "tiny.h5"
    result = CliRunner().invoke(main, ["dataset", "build", str(design), "-o", str(out),
                                       "--size", "16"])  # fmt: skip
    assert result.exit_code == 0, result.output
    expected = list(magical.read_performance(TINY / "tiny_1" / "performance.txt"))
    assert open_dataset(out).metric_names == expected
