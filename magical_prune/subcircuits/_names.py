"""What net names say: supply rails, amplifier inputs and outputs.

The classifier works from structure, but ports and supplies are named by people; these
rules read the usual spellings (VDD/AVSS/gnd!, INP/VIN-/vip, OUTP/VO1) so the structural
rules know where the signal enters, leaves, and where every walk has to stop.
"""

from __future__ import annotations

import re

_SUPPLY_RE = re.compile(
    r"^(?:[ad]?(?:vdd|vss|vcc|vee|gnd|ground|vpwr|vgnd|vdda|vssa)[a-z0-9_!]*|0|gnd!|vdd!)$",
    re.IGNORECASE,
)
HIGH_SUPPLY_RE = re.compile(r"vdd|vcc|vpwr", re.IGNORECASE)
#: input ports after lower-casing and dropping ``_`` and brackets: in, inp, inm, inn, vin,
#: vinp, vinn, vin+, vip, vim, vi1, input_p, ...
_INPUT_RE = re.compile(r"^(?:v?in(?:put)?|vi)(?:p|n|m|pos|neg|plus|minus|\+|-|1|2)?$")
OUTPUT_RE = re.compile(r"^(?:v?out(?:put)?|vo)(?:p|n|m|pos|neg|plus|minus|\+|-|1|2)?$")


def normalise(name: str) -> str:
    """Lower case without ``_``, blanks and brackets, the form the name patterns expect."""
    return re.sub(r"[_\s<>\[\]().]", "", name.lower())


def is_input_name(name: str) -> bool:
    """Whether a port name reads as an amplifier input (INP, VIN-, vip, IN, ...)."""
    return bool(_INPUT_RE.match(normalise(name)))


def is_supply_name(name: str) -> bool:
    """Whether a net name reads as a supply rail (VDD, AVSS, gnd!, 0, ...)."""
    return bool(_SUPPLY_RE.match(name.strip()))
