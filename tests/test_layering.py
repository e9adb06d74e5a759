"""The package's shape: data flows one way, modules stay small.

Read from the source with ``ast`` (nothing is imported), so the test sees imports inside
functions too. The layers, lowest first, follow docs/architecture.md: a module may import its
own layer or lower ones, never a higher one, and no group of modules may import each other
in a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: source folder -> installed package name (setup.cfg package_dir)
SOURCES = {"magical_prune": "magical_prune", "adapters": "magical_prune.adapters"}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80

#: lowest first; a module's layer is that of its longest matching prefix
LAYERS: list[tuple[str, ...]] = [
    ("magical_prune", "magical_prune._version", "magical_prune.errors", "magical_prune._files",
     "magical_prune._workers", "magical_prune._h5safe", "magical_prune.registry",
     "magical_prune.cluster", "magical_prune.ddp", "magical_prune.metrics"),
    ("magical_prune.circuit", "magical_prune.placement", "magical_prune.subcircuits",
     "magical_prune.constraints", "magical_prune.labels"),
    ("magical_prune.adapters",),
    ("magical_prune.features", "magical_prune.rasterize", "magical_prune.geometry",
     "magical_prune.hotspot", "magical_prune.refflow", "magical_prune.calibrate",
     "magical_prune.geoarrays", "magical_prune.pairroles", "magical_prune.roleprior"),
    ("magical_prune.models", "magical_prune.dataset", "magical_prune.card"),
    ("magical_prune.checkpoint", "magical_prune.scorer"),
    ("magical_prune.predict", "magical_prune.training", "magical_prune.geolearn",
     "magical_prune.geocandidates",
     "magical_prune.geomodel", "magical_prune.geotrain", "magical_prune.priormodel"),
    ("magical_prune.hook", "magical_prune.online", "magical_prune.hookstate",
     "magical_prune.geohook", "magical_prune.fewshot", "magical_prune.explain",
     "magical_prune.tradeoff", "magical_prune.plots", "magical_prune.geoexplain",
     "magical_prune.learners", "magical_prune.geofewshot"),
    ("magical_prune.integrations",),
    ("magical_prune.cli",),
]  # fmt: skip


def _module_files() -> dict[str, Path]:
    out = {}
    for folder, package in SOURCES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


MODULES = _module_files()


def _layer(module: str) -> int:
    best, rank = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    return rank


def _imports(module: str, path: Path) -> set[str]:
    """Our own modules that ``module`` imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        found.update(n for n in names if n in MODULES and n != module)
    return found


def _graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for module, path in MODULES.items():
        g.add_node(module)
        for target in _imports(module, path):
            g.add_edge(module, target)
    return g


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if _layer(m) < 0] == []


def test_no_import_cycles() -> None:
    cycles = [sorted(c) for c in nx.strongly_connected_components(_graph()) if len(c) > 1]
    assert cycles == []


def test_nothing_imports_a_higher_layer() -> None:
    g = _graph()
    upward = [f"{a} -> {b}" for a, b in g.edges if _layer(b) > _layer(a)]
    assert upward == []


def test_only_the_cli_imports_our_modules_inside_functions() -> None:
    """Function-level imports hide the layering; only the CLI needs them (start-up time)."""
    hidden = []
    for module, path in MODULES.items():
        if module.startswith("magical_prune.cli"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (
                    node.level or (node.module or "").startswith("magical_prune")
                ):
                    hidden.append(f"{module}.{fn.name}: {node.module}")
    assert sorted(set(hidden)) == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_is_small(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{module}: {lines} lines"


def test_functions_are_short() -> None:
    long = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{module}.{node.name}: {n} lines")
    assert long == []


def test_the_layer_check_catches_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: a low module importing the hook is found."""
    fake = tmp_path / "circuit.py"
    fake.write_text("def f():\n    from magical_prune.hook import PruneHook\n")
    targets = _imports("magical_prune.circuit", fake)
    assert targets == {"magical_prune.hook"}
    assert _layer("magical_prune.hook") > _layer("magical_prune.circuit")
