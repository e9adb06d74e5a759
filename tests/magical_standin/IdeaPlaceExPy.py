"""Test stand-in for MAGICAL's ``IdeaPlaceExPy`` binding (the C++ placer cannot be built here).

It offers the method names the driver calls, keeps the problem it is fed in its own tables
(as the real placer does, with no getters for them), and ``solve`` returns a deterministic,
symmetric placement that depends on the net weights, so a net-weight enumeration gives
different candidates. ``calls`` logs every call for the tests.
"""

from __future__ import annotations

from pathlib import Path

NO_PIN = 2**32 - 1
#: every placer object made, oldest first (the tests compare them with the recordings)
INSTANCES: list = []


class IdeaPlaceEx:
    """The placer: cells with outlines, pins with shapes, nets with weights, symmetry."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []
        self.cell_names: list[str] = []
        self.cell_shapes: list[list[tuple[int, int, int, int]]] = []
        self.cell_pins: list[list[int]] = []
        self.pin_cell: list[int] = []
        self.pin_names: list[str] = []
        self.pin_shapes: list[list[tuple[int, int, int, int]]] = []
        self.net_names: list[str] = []
        self.net_pins: list[list[int]] = []
        self.net_weights: list[float] = []
        self.sym_pairs: list[tuple[str, str]] = []
        self.sym_selfs: list[str] = []
        self.vdd: set[int] = set()
        self.vss: set[int] = set()
        self.io: set[int] = set()
        self.loc: list[tuple[int, int]] = []
        self.flips: set[int] = set()
        INSTANCES.append(self)

    def _log(self, name: str, *args: object) -> None:
        self.calls.append((name, args))

    # -- set-up ---------------------------------------------------------------------------
    def readTechSimpleFile(self, path: str) -> bool:
        self._log("readTechSimpleFile", path)
        return True

    def allocateCell(self) -> int:
        self._log("allocateCell")
        self.cell_names.append("")
        self.cell_shapes.append([])
        self.cell_pins.append([])
        return len(self.cell_names) - 1

    def setCellName(self, cell: int, name: str) -> None:
        self._log("setCellName", cell, name)
        self.cell_names[cell] = name

    def setCellFlip(self, cell: int) -> None:
        self._log("setCellFlip", cell)
        self.flips.add(cell)

    def allocatePin(self, cell: int) -> int:
        self._log("allocatePin", cell)
        self.pin_cell.append(cell)
        self.pin_names.append("")
        self.pin_shapes.append([])
        self.cell_pins[cell].append(len(self.pin_cell) - 1)
        return len(self.pin_cell) - 1

    def setPinName(self, pin: int, name: str) -> None:
        self._log("setPinName", pin, name)
        self.pin_names[pin] = name

    def addPinShape(self, pin: int, xlo: int, ylo: int, xhi: int, yhi: int) -> None:
        self._log("addPinShape", pin, xlo, ylo, xhi, yhi)
        self.pin_shapes[pin].append((xlo, ylo, xhi, yhi))

    def pinIdx(self, cell: int, terminal: int) -> int:
        """The cell's ``terminal``-th pin in allocation order (MAGICAL allocates pins in
        terminal order and skips only unshaped terminals, which come last)."""
        self._log("pinIdx", cell, terminal)
        pins = self.cell_pins[cell]
        return pins[terminal] if terminal < len(pins) else NO_PIN

    def allocateNet(self) -> int:
        self._log("allocateNet")
        self.net_names.append("")
        self.net_pins.append([])
        self.net_weights.append(1.0)
        return len(self.net_names) - 1

    def setNetName(self, net: int, name: str) -> None:
        self._log("setNetName", net, name)
        self.net_names[net] = name

    def setNetWgt(self, net: int, weight: float) -> None:
        self._log("setNetWgt", net, weight)
        self.net_weights[net] = float(weight)

    def addPinToNet(self, pin: int, net: int) -> None:
        self._log("addPinToNet", pin, net)
        self.net_pins[net].append(pin)

    def readSymFile(self, path: str) -> None:
        self._log("readSymFile", path)
        for line in Path(path).read_text().splitlines():
            fields = line.split()
            if len(fields) == 2:
                self.sym_pairs.append((fields[0], fields[1]))
            elif len(fields) == 1:
                self.sym_selfs.append(fields[0])

    def readSymNetFile(self, path: str) -> None:
        self._log("readSymNetFile", path)

    def readSigpathFile(self, path: str) -> None:
        self._log("readSigpathFile", path)

    def addCellShape(self, cell: int, shape: int, xlo: int, ylo: int, xhi: int, yhi: int) -> None:
        self._log("addCellShape", cell, shape, xlo, ylo, xhi, yhi)
        self.cell_shapes[cell].append((xlo, ylo, xhi, yhi))

    def openVirtualPinAssignment(self) -> None:
        self._log("openVirtualPinAssignment")

    def closeVirtualPinAssignment(self) -> None:
        self._log("closeVirtualPinAssignment")

    def setIoPinBoundaryExtension(self, value: int) -> None:
        self._log("setIoPinBoundaryExtension", value)

    def setIoPinInterval(self, value: int) -> None:
        self._log("setIoPinInterval", value)

    def markIoNet(self, net: int) -> None:
        self._log("markIoNet", net)
        self.io.add(net)

    def markAsVddNet(self, net: int) -> None:
        self._log("markAsVddNet", net)
        self.vdd.add(net)

    def markAsVssNet(self, net: int) -> None:
        self._log("markAsVssNet", net)
        self.vss.add(net)

    def numThreads(self, n: int) -> None:
        self._log("numThreads", n)

    # -- solving --------------------------------------------------------------------------
    def solve(self, grid_step: int) -> int:
        """Rows of cells: symmetric pairs mirrored about the axis, self-symmetric cells
        centred on it, the rest to the right; the row order follows the cells' summed net
        weights, so other weights give another placement. Returns the axis x."""
        self._log("solve", grid_step)
        n = len(self.cell_names)
        index = {name: i for i, name in enumerate(self.cell_names)}
        pull = [0.0] * n
        for pins, weight in zip(self.net_pins, self.net_weights):
            for pin in pins:
                pull[self.pin_cell[pin]] += weight * (1 + pin % 3)
        size = []
        for shapes in self.cell_shapes:
            xlo = min(s[0] for s in shapes)
            xhi = max(s[2] for s in shapes)
            ylo = min(s[1] for s in shapes)
            yhi = max(s[3] for s in shapes)
            size.append((xlo, ylo, xhi - xlo, yhi - ylo))
        rows = [(index[a], index[b]) for a, b in self.sym_pairs] + [
            (index[s],) for s in self.sym_selfs
        ]
        placed = {i for row in rows for i in row}
        rows += [(i,) for i in range(n) if i not in placed]
        rows.sort(key=lambda row: (-sum(pull[i] for i in row), row))
        axis, gap, y = 50_000, 2 * grid_step, 7_000
        lower_left: dict[int, tuple[int, int]] = {}
        free_x = axis + 40_000
        for row in rows:
            height = max(size[i][3] for i in row)
            if len(row) == 2:
                a, b = row
                lower_left[a] = (axis - gap - size[a][2], y)
                lower_left[b] = (axis + gap, y)
            elif row[0] in placed:
                (c,) = row
                lower_left[c] = (axis - size[c][2] // 2, y)
            else:
                (c,) = row
                lower_left[c] = (free_x, y)
                free_x += size[c][2] + gap
                continue
            y += height + gap
        # the location of a cell is where its local origin lands, not its outline corner
        self.loc = [
            (lower_left[i][0] - size[i][0], lower_left[i][1] - size[i][1]) for i in range(n)
        ]
        return axis

    def numCells(self) -> int:
        return len(self.cell_names)

    def cellName(self, cell: int) -> str:
        return self.cell_names[cell]

    def xCellLoc(self, cell: int) -> int:
        return self.loc[cell][0]

    def yCellLoc(self, cell: int) -> int:
        return self.loc[cell][1]
