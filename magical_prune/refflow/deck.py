"""The text of the ngspice decks the evaluator runs: circuit lines and control scripts.

Pure string building, kept apart from running and reading back (:mod:`.simulate`,
:mod:`.readout`) so that a netlist can be read and tested on its own. Every layout is its
own circuit (``* mp_layout <k>`` title) with its wires as RC trees, the testbench of
:mod:`.bench`, and ``.nodeset`` values from the design's nominal operating point.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from magical_prune.circuit import Device, DeviceType
from magical_prune.errors import SimulationError
from magical_prune.placement import Placement
from magical_prune.refflow.bench import Bench
from magical_prune.refflow.parasitics import NetTree, WireModel
from magical_prune.refflow.spice import capacitance, model_card, number, resistance

__all__ = [
    "DECADES",
    "OPTIONS",
    "PER_DECADE",
    "LayoutNodes",
    "bench_lines",
    "device_lines",
    "layout_driver",
    "nodeset_lines",
    "nominal_driver",
    "output_nodes",
    "wire_lines",
]

DECADES, PER_DECADE = 10, 10  # AC sweep: 10 decades from ~1 Hz, 10 points per decade
OPTIONS = ".options reltol=1e-5 vntol=1e-9 abstol=1e-15 keepopinfo"
#: No transient fallback for the operating point. When Newton, gmin and source stepping
#: all fail, ngspice (>= 36) integrates the circuit in time for 1/(10 f_start) = 0.1 s of
#: the AC sweep's 1 Hz start at 100 ns steps: minutes for one layout, and it could not
#: give the right answer anyway (the 1 GOhm / 1 F DC feedback has a 1e9 s time constant),
#: so a layout that fails the three DC methods is reported as failed instead. A zero step
#: switches the fallback off; the three flags keep the DC methods on.
NO_OPTRAN = "optran 1 1 1 0 0 0"
#: One OpenMP thread per ngspice process: the evaluator runs one process per job already,
#: and ngspice's own default of several threads made idle threads spin-wait at every
#: device evaluation, which cost up to 40x the CPU time of the solve itself on a loaded
#: machine (3-37 s instead of 0.8 s for one failing layout, measured).
ONE_THREAD = "set num_threads=1"
#: Title of a layout's circuit; the batch runner renumbers ``0`` per layout.
LAYOUT_TITLE = "* mp_layout 0"


# -- circuit lines --------------------------------------------------------------------------
def device_lines(
    devices: Sequence[Device],
    node: Callable[[Device, int], str],
    vth_shift: Mapping[str, float],
    mulu0: Mapping[str, float],
) -> list[str]:
    """One element line per device; MOS devices in ``vth_shift`` get their layout shifts."""
    lines = []
    for i, device in enumerate(devices):
        terms = [node(device, t) for t in range(len(device.nets))]
        if device.type.is_mos:
            p = device.params
            if len(terms) < 4:
                terms += [terms[2]] * (4 - len(terms))
            extra = ""
            if device.name in vth_shift:
                extra = (
                    f" delvto={number(vth_shift[device.name])} mulu0={number(mulu0[device.name])}"
                )
            lines.append(
                f"m{i} {' '.join(terms[:4])} {model_card(device)}"
                f" w={number(p.get('w', 1e-6))} l={number(p.get('l', 1e-7))}"
                f" nf={int(round(p.get('nf', 1.0)))} m={int(round(p.get('m', 1.0)))}{extra}"
            )
        elif len(terms) >= 2 and terms[0] != terms[1]:
            if device.type is DeviceType.CAP:
                lines.append(f"c{i} {terms[0]} {terms[1]} {number(capacitance(device))}")
            else:
                lines.append(f"r{i} {terms[0]} {terms[1]} {number(resistance(device))}")
    return lines


def bench_lines(bench: Bench, root: Callable[[str], str], ground: str, positive: str) -> list[str]:
    """Supplies, biases, the input drive with its DC-only differential feedback, loads."""
    vg = bench.supplies[ground]
    lines = ["* testbench"]
    for k, (net, volts) in enumerate(sorted(bench.supplies.items())):
        if net != ground:
            lines.append(f"vsup{k} {root(net)} 0 {number(volts - vg)}")
    for k, (net, volts) in enumerate(sorted(bench.bias_voltages.items())):
        lines.append(f"vbias{k} {root(net)} 0 {number(volts - vg)}")
    for k, (net, amps) in enumerate(sorted(bench.bias_currents.items())):
        lines.append(f"ibias{k} {root(positive)} {root(net)} {number(amps)}")
    inp, inm = (root(n) for n in bench.inputs)
    outp, outm = (root(n) for n in bench.outputs)
    lines += [
        f"vcmi cmi 0 {number(bench.input_common_mode - vg)}",
        "vad ad 0 dc 0 ac 1",
        "vacm acm 0 dc 0 ac 0",
        f"bip {inp} 0 v=v(cmi)+v(acm)+0.5*v(ad)-0.5*v(fbl)",
        f"bim {inm} 0 v=v(cmi)+v(acm)-0.5*v(ad)+0.5*v(fbl)",
        f"efb fbd 0 {outp} {outm} 1",
        "rfb fbd fbl 1e9",
        "cfb fbl 0 1",
    ]
    for k, (net, farads) in enumerate(sorted(bench.loads.items())):
        lines.append(f"cload{k} {root(net)} 0 {number(farads)}")
    return lines


@dataclass(frozen=True)
class LayoutNodes:
    """Node names of one layout's circuit: a routed net's tree nodes (its pins on their own
    nodes), an ideal net's single node; the ground's tree root is node ``0``.

    Attributes:
        trees: RC tree of each routed net.
        net_index: net -> its number in node names (``n<j>``, ``n<j>_<k>``).
        ground: the net tied to the simulator's ground.
        pin_node: ``(device, pin) -> node`` of every placed pin on a routed net.
    """

    trees: Mapping[str, NetTree]
    net_index: Mapping[str, int]
    ground: str
    pin_node: Mapping[tuple[str, str], str]

    @classmethod
    def of(
        cls,
        placement: Placement,
        trees: Mapping[str, NetTree],
        net_index: Mapping[str, int],
        ground: str,
    ) -> LayoutNodes:
        nodes = cls(trees, net_index, ground, {})
        pin_node: dict[tuple[str, str], str] = {}
        for k, net in enumerate(placement.net_names):
            if net not in trees:
                continue
            members = placement.net_pins[placement.net_ptr[k] : placement.net_ptr[k + 1]]
            for p, node in zip(members, trees[net].pin_node):
                device = placement.names[placement.pin_device[p]]
                pin_node[(device, placement.pin_names[p])] = nodes.tree_node(net, int(node))
        return cls(trees, net_index, ground, pin_node)

    def base(self, net: str) -> str:
        """The single node of an ideal net."""
        return "0" if net == self.ground else f"n{self.net_index[net]}"

    def tree_node(self, net: str, k: int) -> str:
        if net == self.ground and k == self.trees[net].root:
            return "0"
        return f"n{self.net_index[net]}_{k}"

    def root(self, net: str) -> str:
        """Where the bench connects to a net (a tree's root)."""
        if net in self.trees:
            return self.tree_node(net, self.trees[net].root)
        return self.base(net)

    def device_node(self, device: Device, t: int) -> str:
        """The node of terminal ``t`` of a device."""
        net = device.nets[t]
        if not net:
            return "0"
        found = self.pin_node.get((device.name, device.pins[t]))
        return found if found is not None else self.root(net)


def wire_lines(
    nodes: LayoutNodes, wires: WireModel, voltages: Mapping[str, float]
) -> tuple[list[str], dict[str, float]]:
    """A resistor per wire piece, a capacitor per tree node (half of each adjacent piece's
    capacitance), and the nominal voltage of every tree node for ``.nodeset``."""
    lines = ["* wires"]
    nodeset: dict[str, float] = {}
    for net, tree in nodes.trees.items():
        j = nodes.net_index[net]
        r_per_um = wires.resistance_per_um(tree.supply)
        cap = np.zeros(len(tree.xy))
        for e, ((a, b), length) in enumerate(zip(tree.edges, tree.lengths)):
            na, nb = nodes.tree_node(net, int(a)), nodes.tree_node(net, int(b))
            lines.append(f"rw{j}_{e} {na} {nb} {number(r_per_um * float(length))}")
            half = wires.cap_per_um * float(length) / 2.0
            cap[a] += half
            cap[b] += half
        for k, c in enumerate(cap):
            node = nodes.tree_node(net, k)
            if node != "0":
                nodeset[node] = voltages.get(net, 0.0)
                if c > 0:
                    lines.append(f"cw{j}_{k} {node} 0 {number(float(c))}")
    return lines, nodeset


def nodeset_lines(nodeset: Mapping[str, float]) -> list[str]:
    """``.nodeset`` lines, eight nodes a line."""
    items = [f"v({n})={number(v)}" for n, v in nodeset.items()]
    return [".nodeset " + " ".join(items[start : start + 8]) for start in range(0, len(items), 8)]


def output_nodes(netlist: str) -> tuple[str, str]:
    """The output port nodes, read back from the netlist's feedback source line."""
    m = re.search(r"^efb fbd 0 (\S+) (\S+) 1$", netlist, re.M)
    if m is None:  # pragma: no cover - the netlist writer always emits it
        raise SimulationError("internal: no feedback source in the netlist")
    return m.group(1), m.group(2)


# -- control scripts ------------------------------------------------------------------------
def nominal_driver() -> str:
    """Control script of the nominal operating point (``nominal.cir`` -> ``nominal.raw``)."""
    return (
        f"* mp driver\n.control\nset filetype=ascii\n{ONE_THREAD}\n{NO_OPTRAN}\n"
        "source nominal.cir\nop\n"
        "write nominal.raw\nquit\n.endc\n.end\n"
    )


def sweep_start(fc: float) -> float:
    """Start of the AC sweep: in (0.1, 1] Hz, a whole number of decades below ``fc`` so the
    sweep has a point at ``fc``."""
    return fc / 10 ** math.ceil(math.log10(fc) - 1e-9)


def layout_driver(outs: Iterable[tuple[str, str]], cmrr_frequency: float) -> str:
    """Control script of a batch (``l<k>.cir`` -> ``out.raw``): per layout the differential
    sweep, its operating point, and the common-mode response at ``cmrr_frequency``."""
    fc = number(cmrr_frequency)
    start = sweep_start(cmrr_frequency)
    stop, per_decade = start * 10**DECADES, PER_DECADE
    lines = [
        "* mp driver",
        ".control",
        "set filetype=ascii",
        "set appendwrite",
        ONE_THREAD,
        NO_OPTRAN,
    ]
    for k, (a, b) in enumerate(outs):
        probe = f"v({a}) v({b})"
        lines += [
            f"source l{k}.cir",
            f"ac dec {per_decade} {number(start)} {number(stop)}",
            f"write out.raw {probe}",
            "setplot op1",  # the sweep's operating point (keepopinfo)
            f"write out.raw v(fbl) {probe}",
            "alter @vad[acmag]=0",
            "alter @vacm[acmag]=1",
            f"ac lin 1 {fc} {fc}",
            f"write out.raw {probe}",
            "destroy all",
            "remcirc",
        ]
    lines += ["quit", ".endc", ".end"]
    return "\n".join(lines) + "\n"
