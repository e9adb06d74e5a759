"""Test stand-in for MAGICAL's ``Placer``: fills IdeaPlaceEx the way ``Placer.run`` does.

The order and the calls follow magical-prune's notes on MAGICAL's driver
(``shared/docs/magical-flow.md``): tech file; cells and pins; nets (power nets weighted 0);
the ``.sym`` file; a ``.sigpath`` when present; outlines; IO and power nets; the
``.symnet`` file; ``solve(gridStep)``; then the locations, shifted to the lowest cell
location, and the debug ``.floorplan.gds`` (outlines on layer 0, names on layer 100).
"""

from __future__ import annotations

import os

import IdeaPlaceExPy

#: what setPinName receives: the device's terminal net name ("terminal", MAGICAL's
#: device nets) or the circuit net the terminal is on ("net")
PIN_NAMES = "terminal"


class Placer:
    def __init__(self, magicalDB, cktIdx, dirname, gridStep, halfMetWid) -> None:  # noqa: ANN001
        self.mDB = magicalDB
        self.ckt = magicalDB.ckts[cktIdx]
        self.cktIdx = cktIdx
        self.dirname = dirname
        self.gridStep = gridStep
        self.halfMetWid = halfMetWid
        self.placer = IdeaPlaceExPy.IdeaPlaceEx()
        self.origin = [0, 0]
        self.offsets: dict[str, tuple[int, int]] = {}

    def run(self) -> None:
        self.dumpInput()
        self.symAxis = self.placer.solve(self.gridStep)
        self.processPlacementOutput()

    def dumpInput(self) -> None:
        self.placer.readTechSimpleFile(self.mDB.params.simple_tech_file)
        self.placeParsePin()
        self.placeConnection()
        self.placer.readSymFile(self.dirname + self.ckt.name + ".sym")
        sigpath = self.dirname + self.ckt.name + ".sigpath"
        if os.path.isfile(sigpath):
            self.placer.readSigpathFile(sigpath)
        self.placeParseBoundary()
        self.configureIoPinParameters()
        self.placer.readSymNetFile(self.dirname + self.ckt.name + ".symnet")

    def placeParsePin(self) -> None:
        for node_idx, node in enumerate(self.ckt.nodes):
            cell = self.placer.allocateCell()
            assert cell == node_idx
            self.placer.setCellName(cell, node.name)
            for t in node.terminals:
                if not t.shapes:
                    continue  # a terminal without a shape (the bulk) gets no pin
                pin = self.placer.allocatePin(cell)
                self.placer.setPinName(pin, t.name if PIN_NAMES == "terminal" else t.net)
                for shape in t.shapes:
                    self.placer.addPinShape(pin, *shape)

    def placeConnection(self) -> None:
        for net_idx, net in enumerate(self.ckt.nets):
            idx = self.placer.allocateNet()
            assert idx == net_idx
            if net.isPower():
                self.placer.setNetWgt(idx, 0)
            self.placer.setNetName(idx, net.name)
            for node_idx, term in net.pins:
                pin = self.placer.pinIdx(node_idx, term)
                if pin < 2**32 - 1:
                    self.placer.addPinToNet(pin, idx)

    def placeParseBoundary(self) -> None:
        for node_idx, node in enumerate(self.ckt.nodes):
            self.placer.addCellShape(node_idx, 0, *node.boundary)

    def configureIoPinParameters(self) -> None:
        self.placer.openVirtualPinAssignment()
        for net_idx, net in enumerate(self.ckt.nets):
            if net.is_io and not net.isPower():
                self.placer.markIoNet(net_idx)
            if net.is_vdd:
                self.placer.markAsVddNet(net_idx)
            if net.is_vss:
                self.placer.markAsVssNet(net_idx)

    def processPlacementOutput(self) -> None:
        n = len(self.ckt.nodes)
        xs = [self.placer.xCellLoc(i) for i in range(n)]
        ys = [self.placer.yCellLoc(i) for i in range(n)]
        self.origin = [min(xs), min(ys)]
        self.symAxis = int(self.symAxis - self.origin[0])
        for i, node in enumerate(self.ckt.nodes):
            self.offsets[node.name] = (xs[i] - self.origin[0], ys[i] - self.origin[1])
        self.writeFloorplan()

    def writeFloorplan(self) -> None:
        try:
            import gdstk
        except ImportError:  # the debug output is optional
            return
        lib = gdstk.Library(unit=1e-9, precision=1e-9)
        cell = lib.new_cell("FLOORPLAN")
        for node in self.ckt.nodes:
            x, y = self.offsets[node.name]
            xlo, ylo, xhi, yhi = node.boundary
            cell.add(gdstk.rectangle((xlo + x, ylo + y), (xhi + x, yhi + y), layer=0))
            centre = ((xlo + xhi) / 2 + x, (ylo + yhi) / 2 + y)
            cell.add(gdstk.Label(node.name, centre, layer=100))
        lib.write_gds(self.dirname + self.ckt.name + ".floorplan.gds")
