"""Test stand-in for MAGICAL's ``Params``: the flow's JSON parameters."""

from __future__ import annotations

import json


class Params:
    def __init__(self) -> None:
        self.spectre_netlist: str | None = None
        self.simple_tech_file = "techfile.simple"
        self.resultDir: str | None = None
        self.vddNetNames = ["VDD", "vdd"]
        self.vssNetNames = ["VSS", "GND", "vss", "gnd"]

    def load(self, filename: str) -> None:
        with open(filename) as f:
            data = json.load(f)
        for key in ("spectre_netlist", "simple_tech_file", "resultDir"):
            if key in data:
                setattr(self, key, data[key])
