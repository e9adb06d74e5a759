"""Test stand-in for MAGICAL's ``PnR``: placement only, then routing on request."""

from __future__ import annotations

import Placer


class PnR:
    def __init__(self, magicalDB) -> None:  # noqa: ANN001
        self.mDB = magicalDB
        self.gridStep = 100
        self.halfMetWid = 50
        self.runtime = 0
        self.routed = 0

    def placeOnly(self, cktIdx: int, dirname: str) -> None:
        self.cktIdx = cktIdx
        self.dirname = dirname
        self.p = Placer.Placer(self.mDB, cktIdx, dirname, self.gridStep, self.halfMetWid)
        self.p.run()
        self.symAxis = self.p.symAxis
        self.origin = self.p.origin

    def routeOnly(self) -> None:
        """Stands for anaroute: writes the placed offsets where the routed GDS would go."""
        self.routed += 1
        name = self.mDB.ckts[self.cktIdx].name
        with open(self.dirname + name + ".route.txt", "w") as f:
            for device, (x, y) in self.p.offsets.items():
                f.write(f"{device} {x} {y}\n")
