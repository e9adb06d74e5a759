"""Automatic sub-circuit (channel) assignment for OTA-like circuits, from structure alone.

The feature images split the devices of an operational transconductance amplifier into
five sub-circuits (:data:`magical_prune.circuit.SUBCIRCUITS`): 1 first stage (input pair,
its loads and cascodes, its tail), 2 the other gain stages, 3 compensation/feedback
passives, 4 common-mode feedback (CMFB) and 5 bias. The paper labelled them by hand; here
they follow from the netlist topology, with no labels, by rules that hold for OTAs because
of how an amplifier has to be built:

* **Supplies are barriers.** Nets named like VDD/VSS/GND/AVDD/VCC/VEE (or, when no such
  name is used, the net most NMOS resp. PMOS bulks tie to) carry no signal; every graph walk
  stops there.
* **Stages are channel-connected components.** The signal current of a stage flows through
  the drain-source channels of its transistors between the supplies: input pair, cascodes,
  loads and tail of a telescopic or folded-cascode stage are all joined drain/source to
  drain/source, while the next stage only touches them at a *gate*. So the components of
  the graph "transistor -- its D and S nets", cut at the supplies, are the building blocks
  (stages, the CMFB amplifier, bias branches).
* **The input pair names the first stage.** The first stage is the block holding the
  differential input pair: two same-type transistors with their sources on one (non-supply)
  net and their gates on two different nets, the gates being the input ports (INP/INM,
  VIN+/VIN-, VIP/VIM, IN, ...) -- or, when the ports say nothing, nets that only drive
  gates, as an external input does.
* **A feed-forward path is not the first stage.** A second input pair driving the outputs
  directly (a feed-forward amplifier) shares the output nets with the second stage, so both
  fall into one block with input devices. A transistor of such a block whose gate is
  another first-stage block's output and whose drain is an output makes the block a later
  stage; only its input pair, with the pair's tail, stays in the first stage.
* **Signal flows drain -> gate.** A block whose transistor is gated by a net of stage k is
  stage k + 1 (breadth-first, the shortest path counts). Everything reached that way from
  the first stage is a gain stage (channel 2), unless it is common-mode feedback, or an
  auxiliary amplifier whose output only goes back into gates of an earlier stage (a
  gain-boosting amplifier of a cascode): that one belongs to the stage it serves, since a
  real gain stage drives a later stage, an output or nothing.
* **CMFB senses the outputs' average and compares it with a reference.** A common-mode
  sense network is two (or more) equal-kind passives from two signal nets of the same depth
  (the differential outputs) to one node that is not itself an amplifier node (the
  resistive/capacitive averaging node); a block gated by such a node is the CMFB amplifier,
  unless the signal also enters it as a common-source input (a gain stage whose loads are
  set by its own resistive CM loop stays a gain stage). A differential pair with exactly
  one gate on a signal net and the other on a reference (VCM) is a CMFB pair when its block
  sees the common mode -- the sense node, or both complementary outputs as in a
  difference-difference amplifier; a gain stage's pair sees the signal on both gates, and a
  pair that sees one side only is a local loop of that side. Blocks driven from the CMFB
  amplifier up to the amplifier device it controls carry the CMFB control voltage
  (channel 4); so do level shifters/followers whose only load is the sense network or the
  CMFB pair. A transistor of a stage whose gate sits on a *later* stage's output, or that
  runs in parallel (same drain and source) with a device gated by the complementary output,
  is a CMFB sensing device (triode CM sensing: parallel channels sum, so they sense the
  outputs' average).
* **Passives between stages are compensation.** A capacitor or resistor (or a series RC
  through a node only passives touch, including a MOS used as a capacitor or a triode
  nulling resistor) that joins nets of two different stage depths (an input and an output
  of a stage, or across stages as in nested Miller) is a feedback passive (channel 3), and
  so is a capacitor from an inner stage node to a rail (pole placement: nobody puts a load
  there). Resistors from one stage's nets to a rail, and capacitors on an output port, are
  that stage's loads; passives on CMFB nets are CMFB; the rest are bias.
* **What remains biases the amplifier.** Diode-connected references, mirrors and bias
  generators are not driven by the signal; every block never reached from the input pair
  or the CMFB loop is bias (channel 5). Dummy transistors (all terminals on supplies) take
  the channel of the nearest same-type device in netlist order, as designers place them
  next to the devices they flank.

The result is one channel per device (a device may in principle carry several, but one
honest answer is preferred). The rules only use sets and breadth-first depths, so the
result does not depend on device or net names (except ports and supply names) and is the
same on every run.

:func:`subcircuits_of` is the membership the feature images use (``.channel`` overrides
applied, cached on the circuit); :func:`classify` is the automatic answer alone. The data
model (:mod:`magical_prune.circuit`) knows nothing of this module, which builds on it.
"""

from __future__ import annotations

from magical_prune.circuit import Circuit
from magical_prune.subcircuits._classifier import Classifier
from magical_prune.subcircuits._names import is_input_name, is_supply_name
from magical_prune.subcircuits._rules import BIAS, CMFB, FEEDBACK, FIRST_STAGE, OTHER_STAGES
from magical_prune.subcircuits._topology import find_supplies

__all__ = [
    "classify", "subcircuits_of", "find_supplies", "is_input_name", "is_supply_name",
    "FIRST_STAGE", "OTHER_STAGES", "FEEDBACK", "CMFB", "BIAS",
]  # fmt: skip


def classify(circuit: Circuit) -> dict[str, tuple[int, ...]]:
    """Sub-circuit channel(s) of every device of an OTA-like circuit (see the module doc).

    Steps, each a rule an OTA obeys: find the supplies; cut the transistors into
    channel-connected blocks; the block with the input pair is the first stage; walk
    drain->gate from it to find the later stages (depth = stage number); find common-mode
    sense networks (passives from two same-depth signal nets to an averaging node) and CMFB
    pairs (one gate on the signal, one on a reference) and keep those blocks, with the
    blocks they drive up to the amplifier, as CMFB; followers feeding only the CMFB are
    CMFB too; all other blocks are bias; passives across stage depths are compensation.

    Args:
        circuit: the design; device types and terminal nets are used, plus port names
            (input ports, outputs) and supply names when present.

    Returns:
        ``{device: (channel,)}`` for every device, in the circuit's device order, channels
        1..5 as in :data:`magical_prune.circuit.SUBCIRCUITS`.
    """
    return Classifier(circuit).run()


def subcircuits_of(circuit: Circuit) -> dict[str, tuple[int, ...]]:
    """Sub-circuit ids (1..5, see :data:`~magical_prune.circuit.SUBCIRCUITS`) of every device.

    :func:`classify`'s answer with the circuit's ``.channel`` overrides applied (a device an
    override names takes its ids). A circuit whose nets are a layout's ``place.connection``
    (:attr:`Circuit.topology` set) is classified on its netlist topology. Computed once per
    circuit and kept on it: every layout of a design shares one circuit.
    """
    if circuit.topology is not None:
        return subcircuits_of(circuit.topology)
    if circuit._subcircuits is None:
        result = dict(classify(circuit))
        for device, channels in (circuit.channel_overrides or {}).items():
            if device in circuit.devices:
                result[device] = tuple(channels)
        circuit._subcircuits = result
    return circuit._subcircuits
