"""The rules DESIGN.md says must never break, checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "healthycity"
DOMAIN = ("outcomes", "portfolio", "assurance", "estates", "engagement", "reports", "workspace")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_nothing_outside_the_exchange_imports_it() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in _sources()
        if "exchange" not in path.relative_to(PACKAGE).parts
        and any(name.startswith("healthycity.exchange") for name in _imports(path))
    ]
    assert offenders == [], f"patient-identifiable code reached other modules: {offenders}"


def test_the_exchange_imports_no_other_domain_module() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in (PACKAGE / "exchange").rglob("*.py")
        for name in _imports(path)
        if any(name.startswith(f"healthycity.{module}") for module in DOMAIN + ("web",))
    ]
    assert offenders == []


def test_no_gpl_imports_and_no_shared_folder_at_run_time() -> None:
    offenders = []
    for path in _sources():
        text = path.read_text()
        names = _imports(path)
        if any(n.lower().startswith(("phstatsmethods", "pheindicatormethods")) for n in names):
            offenders.append(f"{path.relative_to(PACKAGE)} imports GPL code")
        if "../shared" in text or "shared/reference" in text or "shared/data" in text:
            offenders.append(f"{path.relative_to(PACKAGE)} mentions the shared folder")
    assert offenders == []
