"""Reference tests of the core types on a hand-sized circuit."""

import networkx as nx
import numpy as np
import pytest

from magical_prune.circuit import Circuit, Device, DeviceType
from magical_prune.errors import MagicalPruneError
from magical_prune.placement import Placement
from magical_prune.registry import Registry


def small_circuit() -> Circuit:
    devices = [
        Device("M0", DeviceType.NMOS, ("out", "inp", "tail", "VSS")),
        Device("M1", DeviceType.NMOS, ("x", "inm", "tail", "VSS")),
        Device("C0", DeviceType.CAP, ("out", "x")),
    ]
    return Circuit.from_devices("tiny", devices, ports=("inp", "inm", "out", "VSS"))


def small_placement(circuit: Circuit) -> Placement:
    rects = np.array([[0, 0, 1000, 2000], [2000, 0, 3000, 2000], [0, 3000, 3000, 4000]])
    pins = {
        ("M0", "D"): (100, 100, 200, 1900), ("M0", "G"): (0, 0, 1000, 100),
        ("M0", "S"): (800, 100, 900, 1900),
        ("M1", "D"): (100, 100, 200, 1900), ("M1", "G"): (0, 0, 1000, 100),
        ("M1", "S"): (800, 100, 900, 1900),
        ("C0", "PLUS"): (0, 0, 100, 1000), ("C0", "MINUS"): (2900, 0, 3000, 1000),
    }  # fmt: skip
    return Placement.build(circuit, ["M0", "M1", "C0"], rects, pins, mirrored=["M1"])


def test_nets_from_devices():
    c = small_circuit()
    assert c.nets["tail"].pins == (("M0", "S"), ("M1", "S"))
    assert c.nets["VSS"].routed_pins == ()
    assert c.devices["C0"].pins == ("PLUS", "MINUS")


def test_graph_is_bipartite_one_node_per_device():
    g = small_circuit().graph()
    devices = [n for n, d in g.nodes(data=True) if d["kind"] == "device"]
    assert len(devices) == 3
    assert nx.is_bipartite(g)
    assert g.edges[("device", "M0"), ("net", "VSS")]["pins"] == ("B",)


def test_mirrored_pins_and_net_boxes():
    p = small_placement(small_circuit())
    i = p.pin_names.index("D", 3)  # M1's drain: mirrored about M1's centre line
    assert p.pin_device[i] == 1
    assert p.pin_boxes[i].tolist() == [2000 + 800, 100, 2000 + 900, 1900]
    boxes = dict(zip(p.net_names, p.net_boxes().tolist()))
    # tail: M0.S at x 800..900, M1.S mirrored to 100..200 -> 2100..2200
    assert boxes["tail"] == [800, 100, 2200, 1900]
    assert "VSS" not in boxes  # only bulk pins: not routed
    assert p.hpwl()["tail"] == pytest.approx((2150 - 850) + 0)


def test_translation_and_bbox():
    p = small_placement(small_circuit())
    q = p.translated(500, -700)
    assert (q.bbox - p.bbox).tolist() == [500, -700, 500, -700]
    assert q.hpwl() == p.hpwl()


@pytest.mark.parametrize(
    "rects, message",
    [
        ([[0, 0, 0, 10], [0, 0, 5, 5], [0, 0, 5, 5]], "zero or negative size"),
        ([[0, 0, np.nan, 10], [0, 0, 5, 5], [0, 0, 5, 5]], "non-finite"),
    ],
)
def test_bad_rects(rects, message):
    with pytest.raises(MagicalPruneError, match=message):
        Placement.build(small_circuit(), ["M0", "M1", "C0"], np.array(rects, dtype=float), {})


def test_unplaced_device_on_net():
    with pytest.raises(MagicalPruneError, match="'C0' on net .* is not placed"):
        Placement.build(small_circuit(), ["M0", "M1"], np.array([[0, 0, 5, 5], [6, 0, 9, 5]]), {})


def test_registry_suggests():
    r: Registry[int] = Registry("architecture")
    r.add("feat3d", 1)
    r.add("efficient", 2)
    with pytest.raises(MagicalPruneError, match="did you mean feat3d"):
        r.get("feat3")
    assert r.names("feat*") == ["feat3d"]


def test_error_location_format():
    err = MagicalPruneError("bad\nthing", "place.result", 7)
    assert str(err) == "place.result:7: bad thing"
