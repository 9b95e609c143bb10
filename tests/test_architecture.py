"""The house's structure, checked on the source so it fails the day it decays.

Layers, from the bottom (docs/architecture.md): ``core`` (plumbing), ``packs`` (the pack
format), the domain modules, then the assembly (``web`` and ``cli.py``). Imports only
go down, and between domain modules they never close a loop. Every import counts,
including those inside functions and under ``TYPE_CHECKING``: a cycle hidden in a
function is still a cycle for the next engineer.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from healthycity.core.registry import INSTALLED, Module, modules

PACKAGE = Path(__file__).resolve().parents[1] / "healthycity"
DOCS = PACKAGE.parent / "docs"
LAYER_ASSEMBLY = {"web", "cli", "__main__"}
MAX_LINES = 800
# Files allowed past MAX_LINES, each with the reason it is one file.
LONG_FILES: dict[str, str] = {}


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _top(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _imported(path: Path) -> set[str]:
    """Every ``healthycity…`` module ``path`` imports, relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ["healthycity", *path.relative_to(PACKAGE).with_suffix("").parts]
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "healthycity" or name.startswith("healthycity.")}


def _edges() -> dict[str, dict[str, list[str]]]:
    """top-level module → the top-level modules it imports → where."""
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    tops = {_top(p) for p in _sources()}
    for path in _sources():
        source = _top(path)
        for name in _imported(path):
            parts = name.split(".")
            if len(parts) < 2 or parts[1] not in tops or parts[1] == source:
                continue
            edges[source][parts[1]].append(str(path.relative_to(PACKAGE)))
    return edges


def _cycle(edges: dict[str, dict[str, list[str]]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, {})):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_between_top_level_modules() -> None:
    edges = _edges()
    cycle = _cycle(edges)
    if cycle:
        pairs = zip(cycle, cycle[1:], strict=False)
        where = [f"{a} -> {b}: {sorted(set(edges[a][b]))[:3]}" for a, b in pairs]
        pytest.fail("import cycle: " + " -> ".join(cycle) + "\n" + "\n".join(where))


def test_core_imports_no_module_above_it() -> None:
    above = dict(_edges().get("core", {}))
    assert above == {}, f"core must not import {sorted(above)}: {above}"


def test_packs_import_only_core_and_touch_no_database() -> None:
    edges = _edges().get("packs", {})
    assert set(edges) <= {"core"}, dict(edges)
    for path in (PACKAGE / "packs").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("sqlalchemy", "healthycity.core.db")), (
                    f"{path.relative_to(PACKAGE)} imports {name}: packs read files only"
                )


def test_domain_modules_never_import_the_assembly() -> None:
    edges = _edges()
    offenders = {
        (source, target)
        for source, targets in edges.items()
        if source not in LAYER_ASSEMBLY
        for target in targets
        if target in LAYER_ASSEMBLY
    }
    assert offenders == set()


def test_modules_call_each_other_through_their_public_face_not_their_pages() -> None:
    offenders = []
    for path in _sources():
        source = _top(path)
        for name in _imported(path):
            parts = name.split(".")
            crosses = len(parts) >= 3 and parts[1] not in (source, "core", "packs")
            inner = crosses and parts[2] in ("pages", "api", "cli", "dashboard")
            if inner and source not in LAYER_ASSEMBLY:
                offenders.append(f"{path.relative_to(PACKAGE)}: {name}")
    assert offenders == []


# Modules held to the public faces of the modules they use: another module's service
# (or a named public module), never its tables or internals. A module joins this list
# once it is clean, so the rule only ever tightens.
HELD_TO_PUBLIC_FACES = {"estates"}
PUBLIC_FACES: dict[str, set[str]] = {
    "geography": {"service"},
    "portfolio": {"service"},
    "assurance": {"service"},
    "engagement": {"service"},
    # outcomes has no service.py; its boundaries module is its public map outlines.
    "outcomes": {"boundaries"},
}


def test_held_modules_reach_others_only_through_their_public_faces() -> None:
    offenders = []
    for path in _sources():
        source = _top(path)
        if source not in HELD_TO_PUBLIC_FACES:
            continue
        for name in _imported(path):
            parts = name.split(".")
            if len(parts) < 3 or parts[1] in (source, "core", "packs"):
                continue
            if parts[2] not in PUBLIC_FACES.get(parts[1], set()):
                offenders.append(f"{path.relative_to(PACKAGE)}: {name}")
    assert offenders == [], "use the module's service (or public face) instead"


def test_statistics_import_nothing_but_numpy_scipy_and_themselves() -> None:
    stats = PACKAGE / "outcomes" / "stats"
    allowed = ("numpy", "scipy", "healthycity.outcomes.stats")
    stdlib = sys.stdlib_module_names
    offenders = []
    for path in stats.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in stdlib or name == "__future__":
                    continue
                if not name.startswith(allowed):
                    offenders.append(f"{path.relative_to(PACKAGE)}: {name}")
    assert offenders == []


def test_the_exchange_is_sealed() -> None:
    """Only the command line reaches the exchange (through the registry, by name); the
    exchange itself uses only core's plumbing."""
    edges = _edges()
    into = sorted(source for source, targets in edges.items() if "exchange" in targets)
    assert into == []
    assert set(edges.get("exchange", {})) <= {"core"}


def test_no_source_file_is_too_long_to_read() -> None:
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in _sources()
        if "migrations" not in path.parts and (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    unexplained = {name: n for name, n in long.items() if name not in LONG_FILES}
    assert unexplained == {}, f"over {MAX_LINES} lines (split, or list with a reason)"


def test_every_module_folder_is_installed_and_declares_itself() -> None:
    declared = [m.name for m in modules()]
    assert declared == list(INSTALLED)
    assert all(isinstance(m, Module) for m in modules())
    plumbing = {"core", "packs", "web"}
    folders = {
        p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()
    } - plumbing
    assert folders == set(INSTALLED), "a module folder is missing from INSTALLED"


def test_registry_hooks_resolve() -> None:
    from healthycity.core.registry import resolve

    for module in modules():
        for field in ("pack_loader", "pack_counts", "pack_totals", "site_paths"):
            target = getattr(module, field)
            if target:
                assert callable(resolve(target)), f"{module.name}.{field}"
        for name in module.web:
            assert callable(resolve(f"{name}:register")), name
        if module.cli:
            assert callable(resolve(f"{module.cli}:register")), module.cli
        for folder in (module.templates_dir, module.static_dir):
            assert folder is None or folder.is_dir(), folder


def test_architecture_doc_describes_every_module() -> None:
    text = (DOCS / "architecture.md").read_text()
    headed = re.findall(r"^### `(\w+)/`", text, flags=re.M)
    assert set(INSTALLED) <= set(headed), "docs/architecture.md: a module has no paragraph"
    unknown = set(headed) - set(INSTALLED) - {"core", "packs", "web"}
    assert unknown == set(), f"docs/architecture.md describes modules that do not exist: {unknown}"
