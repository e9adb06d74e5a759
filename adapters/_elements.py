"""What one netlist element is: a device the images show, a sub-circuit, or something else.

The reader (:mod:`magical_prune.adapters.spectre`) collects statements; this module decides,
once every sub-circuit and model card of the file is known, what each instance means:

* an instance of a sub-circuit of the file (Spectre: any name; SPICE: ``X``, or another
  letter when the last word names a sub-circuit with as many ports, as MAGICAL's own
  HSPICE examples write ``I0 a z vss vdd inv``) -- flattened by the reader;
* a device (NMOS, PMOS, CAP, RES): a ``--types`` entry for the instance or its model, a
  model card, or the model name's foundry pattern (:meth:`DeviceType.from_model`), which
  is how PDK devices wrapped in sub-circuits (``xm8 d g s b nch_hvt_mac``) are typed;
* an element the tool does not model (sources, diodes, bipolars, inductors, ...): left out
  of the circuit but reported, never dropped silently;
* an analysis or option statement (``dcOp dc``, ``save``): not an element at all.

An instance named like a device (``cap1``) gets its type from what it instantiates, never
from its name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from magical_prune.adapters._expr import parse_number
from magical_prune.circuit import DeviceType
from magical_prune.errors import ParseError

PathLike = str | os.PathLike[str]

#: Spectre statements shaped like instances that are analyses or settings, not elements.
ANALYSES = frozenset(
    str.split(
        "dc ac tran noise sp stb xf pz pss pac pnoise hb info options set alter altergroup "
        "montecarlo sweep check checklimit assert save ic nodeset"
    )
)
#: Spectre primitives (and model-card kinds) that are elements the images have no type for.
_UNMODELLED_PRIMITIVES = {
    "vsource": "voltage source", "isource": "current source", "vcvs": "controlled source",
    "vccs": "controlled source", "ccvs": "controlled source", "cccs": "controlled source",
    "pvcvs": "controlled source", "pvccs": "controlled source", "pccvs": "controlled source",
    "pcccs": "controlled source", "bsource": "behavioural source", "iprobe": "current probe",
    "port": "port", "diode": "diode", "bjt": "bipolar transistor", "bjt301": "bipolar transistor",
    "vbic": "bipolar transistor", "hbt": "bipolar transistor", "jfet": "JFET",
    "inductor": "inductor", "mutual_inductor": "mutual inductance", "switch": "switch",
    "relay": "relay", "tline": "transmission line", "transformer": "transformer",
    "winding": "transformer winding",
}  # fmt: skip
#: SPICE element letters other than M, C, R and X.
_SPICE_LETTERS = {
    "B": "behavioural source", "D": "diode", "E": "controlled source", "F": "controlled source",
    "G": "controlled source", "H": "controlled source", "I": "current source", "J": "JFET",
    "K": "mutual inductance", "L": "inductor", "Q": "bipolar transistor", "S": "switch",
    "W": "switch", "T": "transmission line", "O": "transmission line", "U": "transmission line",
    "V": "voltage source", "Z": "MESFET",
}  # fmt: skip
#: SPICE ``.model`` kinds of elements the images have no type for.
_SPICE_MODEL_KINDS = {
    "d": "diode", "npn": "bipolar transistor", "pnp": "bipolar transistor",
    "lpnp": "bipolar transistor", "njf": "JFET", "pjf": "JFET", "sw": "switch", "csw": "switch",
    "ltra": "transmission line", "nmf": "MESFET", "pmf": "MESFET", "l": "inductor",
}  # fmt: skip
#: Foundry model names of diodes, bipolars and inductors (checked after the device types).
_UNMODELLED_NAMES = (
    (re.compile(r"npn|pnp|bjt"), "bipolar transistor"),
    (re.compile(r"diode"), "diode"),
    (re.compile(r"inductor|spiral"), "inductor"),
)
_LETTER_TYPES = {"C": DeviceType.CAP, "R": DeviceType.RES}


@dataclass
class Instance:
    """One element statement as written, interpreted later by :func:`resolve`.

    ``words`` are the terminals in Spectre syntax (``name (terminals) master``) and every
    positional word after the name in SPICE syntax, where the model, a value or a
    sub-circuit may come last.
    """

    name: str
    words: list[str]
    master: str  # Spectre: model or sub-circuit; SPICE: "" (decided by resolve)
    raw: dict[str, str]
    line: int
    letter: str = ""  # SPICE element letter, "" in Spectre syntax

    @property
    def spice(self) -> bool:
        return bool(self.letter)

    @property
    def callee(self) -> str:
        """The sub-circuit this statement may instantiate (for choosing the top cell)."""
        return self.words[-1] if self.letter and self.words else self.master


@dataclass
class Tables:
    """What the file declares: sub-circuit port counts and model cards."""

    ports: dict[str, int] = field(default_factory=dict)
    model_types: dict[str, DeviceType] = field(default_factory=dict)
    unmodelled_models: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Element:
    """What an instance is: ``kind`` is "cell", "device", "unmodelled" or "skip"."""

    kind: str
    terminals: tuple[str, ...] = ()
    master: str = ""
    device_type: DeviceType | None = None
    what: str = ""  # for "unmodelled": the kind of element, for the warning
    values: dict[str, str] = field(default_factory=dict)  # positional values (C1 a b 1p)


def note_model(tables: Tables, name: str, kind: str, raw: Mapping[str, str]) -> None:
    """Remember the device type (or the unmodelled kind) a model card declares for its name."""
    kind = kind.lower()
    kind_type = {"nmos": DeviceType.NMOS, "pmos": DeviceType.PMOS, "c": DeviceType.CAP,
                 "cap": DeviceType.CAP, "capacitor": DeviceType.CAP, "r": DeviceType.RES,
                 "res": DeviceType.RES, "resistor": DeviceType.RES}.get(kind)  # fmt: skip
    polarity = raw.get("type", "").lower()
    if kind_type is None and polarity in ("n", "p") and kind not in _UNMODELLED_PRIMITIVES:
        kind_type = DeviceType.NMOS if polarity == "n" else DeviceType.PMOS
    what = _SPICE_MODEL_KINDS.get(kind) or _UNMODELLED_PRIMITIVES.get(kind)
    if kind_type is None and what is None:
        kind_type = DeviceType.from_model(kind)
    if kind_type is not None:
        tables.model_types[name] = kind_type
    elif what is not None:
        tables.unmodelled_models[name] = what


def _is_value(word: str) -> bool:
    """A SPICE passive's trailing value: a number or a quoted/braced expression."""
    return parse_number(word, True) is not None or word[:1] in ("'", "{", '"')


def _typed(
    inst: Instance,
    flat_name: str,
    master: str,
    tables: Tables,
    types: Mapping[str, DeviceType] | None,
) -> DeviceType | None:
    if types is not None:
        given = types.get(flat_name) or (types.get(master) if master else None)
        if given is not None:
            return given
    found = tables.model_types.get(master) if master else None
    if found is None and master:
        found = DeviceType.from_model(master)
    if found is None:
        found = _LETTER_TYPES.get(inst.letter)
    return found


def _unmodelled(master: str, tables: Tables) -> str | None:
    if master in tables.unmodelled_models:
        return f"{tables.unmodelled_models[master]} {master}"
    low = master.lower()
    if low in _UNMODELLED_PRIMITIVES:
        return _UNMODELLED_PRIMITIVES[low]
    for pattern, what in _UNMODELLED_NAMES:
        if pattern.search(low):
            return f"{what} {master}"
    return None


def unknown_model(inst: Instance, flat_name: str, master: str, path: PathLike) -> ParseError:
    """The one error for a model nothing types: names the model and the option that fixes it."""
    return ParseError(
        f"unknown model {master!r} of {flat_name!r}: not a sub-circuit of this file, no model "
        f"card, and its name says no device type (nch/pch/...mom/mim/cap/...res/rppoly); "
        f'give its type with --types FILE.json, e.g. {{"{master}": "NMOS"}}',
        path,
        inst.line,
    )


def resolve(
    inst: Instance,
    flat_name: str,
    tables: Tables,
    types: Mapping[str, DeviceType] | None,
    path: PathLike,
) -> Element:
    """Decide what ``inst`` is (see the module docstring).

    Raises:
        ParseError: a model nothing types, or a SPICE element without terminals.
    """
    if not inst.letter:
        return _resolve_spectre(inst, flat_name, tables, types, path)
    words = inst.words
    last = words[-1] if words else ""
    if last in tables.ports and (inst.letter == "X" or len(words) - 1 == tables.ports[last]):
        return Element("cell", tuple(words[:-1]), last)
    if inst.letter in ("M", "X"):
        if len(words) < 2:
            raise ParseError(
                f"instance {inst.name!r} needs terminals and a model name", path, inst.line
            )
        return _model_element(inst, flat_name, tuple(words[:-1]), last, tables, types, path)
    if inst.letter in ("C", "R"):
        return _spice_passive(inst, flat_name, tables, types, path)
    if types is not None and len(words) >= 3 and (flat_name in types or last in types):
        # the user typed it: ``d1 a b esd_cap`` given {"d1": "CAP"} is that device
        return Element("device", tuple(words[:-1]), last, types.get(flat_name) or types[last])
    return Element("unmodelled", what=_SPICE_LETTERS.get(inst.letter, "element"))


def _resolve_spectre(
    inst: Instance,
    flat_name: str,
    tables: Tables,
    types: Mapping[str, DeviceType] | None,
    path: PathLike,
) -> Element:
    if inst.master in tables.ports:
        return Element("cell", tuple(inst.words), inst.master)
    if inst.master.lower() in ANALYSES or inst.name.lower() in ANALYSES:
        return Element("skip")
    return _model_element(inst, flat_name, tuple(inst.words), inst.master, tables, types, path)


def _model_element(
    inst: Instance,
    flat_name: str,
    terminals: tuple[str, ...],
    master: str,
    tables: Tables,
    types: Mapping[str, DeviceType] | None,
    path: PathLike,
) -> Element:
    device_type = _typed(inst, flat_name, master, tables, types)
    if device_type is not None:
        return Element("device", terminals, master, device_type)
    what = _unmodelled(master, tables)
    if what is not None:
        return Element("unmodelled", terminals, master, what=what)
    raise unknown_model(inst, flat_name, master, path)


def _spice_passive(
    inst: Instance,
    flat_name: str,
    tables: Tables,
    types: Mapping[str, DeviceType] | None,
    path: PathLike,
) -> Element:
    """``C1 a b [bulk] [model] [value]``: the value is the trailing number or expression,
    the model the trailing word when a model card or the name's pattern says it is one."""
    pos = list(inst.words)
    values: dict[str, str] = {}
    if pos and _is_value(pos[-1]):
        values["c" if inst.letter == "C" else "r"] = pos.pop()
    master = ""
    if len(pos) == 4 or (
        len(pos) == 3
        and (not values or pos[2] in tables.model_types or DeviceType.from_model(pos[2]))
    ):
        master = pos.pop()
    if len(pos) not in (2, 3):
        raise ParseError(
            f"{inst.name!r}: expected 2 or 3 terminals, a model and/or a value", path, inst.line
        )
    device_type = _typed(inst, flat_name, master, tables, types)
    return Element("device", tuple(pos), master, device_type, values=values)
