"""Test stand-in for MAGICAL's ``Flow``: constraints, flips, placement, then routing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import PnR


class Flow:
    def __init__(self, db) -> None:  # noqa: ANN001
        self.mDB = db
        self.params = db.params
        self.pnrs: list = []

    def run(self) -> bool:
        self.resultName = self.params.resultDir
        self.implCktLayout(self.mDB.topCktIdx())
        for pnr in self.pnrs:
            pnr.routeOnly()
        return True

    def implCktLayout(self, cktIdx: int) -> None:
        self.symDict = self.genConstraint(cktIdx)
        self.setup(cktIdx)
        pnr = PnR.PnR(self.mDB)
        pnr.placeOnly(cktIdx, self.resultName)
        self.pnrs.append(pnr)

    def genConstraint(self, cktIdx: int) -> dict[str, str]:
        """Stands for Constraint.genConstraint: the design's own .sym/.symnet are copied
        into the result folder; returns left -> right of every pair."""
        ckt = self.mDB.ckts[cktIdx]
        stem = os.path.splitext(self.params.spectre_netlist)[0]
        os.makedirs(self.resultName, exist_ok=True)
        pairs = {}
        for suffix in (".sym", ".symnet"):
            target = self.resultName + ckt.name + suffix
            if os.path.isfile(stem + suffix):
                shutil.copy(stem + suffix, target)
            else:
                open(target, "w").close()
        for line in Path(self.resultName + ckt.name + ".sym").read_text().splitlines():
            fields = line.split()
            if len(fields) == 2:
                pairs[fields[0]] = fields[1]
        return pairs

    def setup(self, cktIdx: int) -> None:
        """The right-hand device of each pair is generated flipped."""
        for node in self.mDB.ckts[cktIdx].nodes:
            if node.name in self.symDict.values() and not node.flipped:
                node.flip()
