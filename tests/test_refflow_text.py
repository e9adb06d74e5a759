"""The reference flow reads its text files like the adapters do: a UTF-8 byte-order mark
and CRLF line endings (a file saved by a Windows editor) change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from magical_prune.errors import MagicalPruneError
from magical_prune.refflow.designs import DESIGNS_DIR, read_bench
from magical_prune.refflow.provenance import PROVENANCE_FILE, read_provenance
from magical_prune.refflow.spice import read_raw

BOM = b"\xef\xbb\xbf"


def _windows(text: str) -> bytes:
    """``text`` as a Windows editor saves it: BOM first, CRLF line endings."""
    return BOM + text.replace("\n", "\r\n").encode("utf-8")


def test_bench_with_bom_and_crlf_reads_like_plain(tmp_path: Path) -> None:
    text = (DESIGNS_DIR / "ota3" / "ota3.bench.json").read_text(encoding="utf-8")
    assert "\n" in text
    plain = tmp_path / "plain.bench.json"
    plain.write_bytes(text.encode("utf-8"))
    windows = tmp_path / "windows.bench.json"
    windows.write_bytes(_windows(text))
    assert read_bench(windows) == read_bench(plain)


def test_provenance_with_bom_and_crlf_reads_like_plain(tmp_path: Path) -> None:
    record = {
        "format": 1,
        "generator": "magical-prune refflow generate",
        "version": "0.1.0",
        "design": "ota3",
        "placement": {"seed": 0, "weight": 10.0, "batch_size": 64, "placer": {}},
        "labels": {"mismatch": 0.5, "simulator": "ngspice-39", "evaluator": {}},
    }
    text = json.dumps(record, indent=2) + "\n"
    plain, windows = tmp_path / "plain", tmp_path / "windows"
    plain.mkdir()
    windows.mkdir()
    (plain / PROVENANCE_FILE).write_bytes(text.encode("utf-8"))
    (windows / PROVENANCE_FILE).write_bytes(_windows(text))
    assert read_provenance(windows) == read_provenance(plain) == record


def test_provenance_not_utf8_is_one_error(tmp_path: Path) -> None:
    (tmp_path / PROVENANCE_FILE).write_bytes(b'{"format": 1, "design": "\xff"}\n')
    with pytest.raises(MagicalPruneError, match="refflow.json:1: not a text file"):
        read_provenance(tmp_path)


def test_raw_with_crlf_reads_like_plain(tmp_path: Path) -> None:
    text = (
        "Title: * mp_layout 0\n"
        "Date: today\n"
        "Plotname: Operating Point\n"
        "Flags: real\n"
        "No. Variables: 2\n"
        "No. Points: 1\n"
        "Variables:\n"
        "\t0\tv(out)\tvoltage\n"
        "\t1\tv(in)\tvoltage\n"
        "Values:\n"
        " 0\t6.000000e-01\n"
        "\t3.000000e-01\n"
    )
    plain = tmp_path / "plain.raw"
    plain.write_bytes(text.encode("utf-8"))
    windows = tmp_path / "windows.raw"
    windows.write_bytes(_windows(text))
    (a,) = read_raw(plain)
    (b,) = read_raw(windows)
    assert (a.title, a.name, sorted(a.vectors)) == (b.title, b.name, sorted(b.vectors))
    assert a.vectors["v(out)"][0] == b.vectors["v(out)"][0] == 0.6
