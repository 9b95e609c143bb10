"""The module registry: each module declares itself once, and everything else reads that.

A domain module describes what it brings in one `Module` value, ``MODULE`` in its
package's ``__init__.py``: its tables, routers, templates, command line, pack loader,
pack counts, demo data, static files and public navigation. The web app, the command
line, Alembic, the templating environment, pack loading and the static site all walk
`modules()`; none of them keeps a list of its own. Adding a module is one folder and
one line in `INSTALLED` (docs/decisions/0012-module-registry.md).

The declaration names code by dotted path ("healthycity.outcomes.pages"), never by
import, for two reasons: core sits below the domains and must not import them (the
boundary tests check it), and the command line starts in a few hundred milliseconds
because nothing heavy is imported until a command needs it. Resolution is lazy and
happens at the moment of use, so a test that replaces a module's pack loader
(`monkeypatch.setattr`) is honoured.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import MetaData

PACKAGE = "healthycity"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]

# The one list of installed modules, in the order they load a pack (geography first:
# every other module's rows refer to its areas) and mount their routes (outcomes owns
# "/"). The exchange is listed for its command line only: it is its own app.
INSTALLED: tuple[str, ...] = (
    "geography",
    "outcomes",
    "workspace",
    "portfolio",
    "assurance",
    "estates",
    "engagement",
    "reports",
    "exchange",
)

# Tables of the plumbing itself (loaded pack, accounts, audit), migrated with the rest.
CORE_MODELS: tuple[str, ...] = (
    "healthycity.core.models",
    "healthycity.core.audit",
    "healthycity.core.auth_models",
)


@dataclass(frozen=True)
class NavLink:
    """A link in the public site's header; ``order`` places it (lower first, then by
    `INSTALLED` order), so the workspace's link can stand last whatever its position."""

    text: str
    href: str
    order: int = 50


@dataclass(frozen=True)
class Module:
    """What one module brings to the platform. Every field is optional but the name.

    - ``models``: modules whose tables live in the partnership database (migrated by
      the core Alembic history). The exchange declares none: it has its own database.
    - ``web``: modules exposing ``register(app: FastAPI) -> None``, mounted in order.
    - ``cli``: a module exposing ``register(app: typer.Typer) -> None``.
    - ``templates``: the module has a ``templates/`` folder for the Jinja environment.
    - ``static``: the module has a ``static/`` folder, served at ``/static/<name>`` and
      copied into the static site.
    - ``pack_loader``: ``"module:function"`` called as ``f(session, pack, sync)`` inside
      the pack's one transaction, in `INSTALLED` order.
    - ``pack_counts``: ``"module:function"`` called as ``f(session) -> dict[str, int]``:
      what the database holds of the module's pack entities (``pack show``).
    - ``pack_totals``: ``"module:function"`` called as ``f(session) -> dict[str, str]``:
      totals ``pack show`` prints beside the counts (the programme budget).
    - ``demo``: a module with ``load_demo(engine, *, seed, force)`` and
      ``clear_demo(engine)``: the module's illustrative data (``demo load|clear``).
    - ``site_paths``: ``"module:function"`` called as ``f(session) -> list[str]``: the
      public URLs the static site exports.
    - ``nav``: the module's entries in the public header.
    - ``related``: ``"module:function"`` called as ``f(session, kind, key) ->
      list[Related]``: what the module offers to another module's public page about one
      thing (``kind`` "commitment", "indicator", "programme" or "service-change"), so
      a module lower down can show it without importing the module that holds it
      (`related`).
    """

    name: str
    summary: str
    models: tuple[str, ...] = ()
    web: tuple[str, ...] = ()
    cli: str | None = None
    templates: bool = False
    static: bool = False
    pack_loader: str | None = None
    pack_counts: str | None = None
    pack_totals: str | None = None
    demo: str | None = None
    site_paths: str | None = None
    nav: tuple[NavLink, ...] = ()
    related: str | None = None

    @property
    def package(self) -> str:
        return f"{PACKAGE}.{self.name}"

    @property
    def folder(self) -> Path:
        return PACKAGE_ROOT / self.name

    @property
    def templates_dir(self) -> Path | None:
        return self.folder / "templates" if self.templates else None

    @property
    def static_dir(self) -> Path | None:
        return self.folder / "static" if self.static else None


def resolve(target: str) -> Callable[..., Any]:
    """``"package.module:function"`` → the function, imported now (not at declaration)."""
    module, _, name = target.partition(":")
    found: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return found


@cache
def modules() -> tuple[Module, ...]:
    """Every installed module's declaration, in `INSTALLED` order."""
    found = []
    for name in INSTALLED:
        declared = getattr(importlib.import_module(f"{PACKAGE}.{name}"), "MODULE", None)
        if not isinstance(declared, Module) or declared.name != name:
            raise RuntimeError(f"{PACKAGE}.{name} must declare MODULE = Module(name={name!r}, …)")
        found.append(declared)
    return tuple(found)


def hooks(field: str) -> Iterator[tuple[Module, Callable[..., Any]]]:
    """Each module that declares ``field`` (a ``"module:function"``), with the function."""
    for module in modules():
        target = getattr(module, field)
        if target:
            yield module, resolve(target)


@dataclass(frozen=True)
class Related:
    """One link a module offers to a page it does not own: the engagement module's
    consultations ("you said, we did") on an indicator's, a programme's or a service
    change's page. ``heading`` groups the links on the page."""

    heading: str
    title: str
    href: str
    note: str = ""


def related(session: Any, kind: str, key: str) -> list[Related]:
    """Every module's links about one thing, in `INSTALLED` order.

    The page that shows them imports only core; each module that has something to say
    declares a ``related`` hook. So the import runs the way the layers do (the module
    above knows the one below, never the reverse), and a city without a module simply
    shows nothing from it.
    """
    return [item for _module, found in hooks("related") for item in found(session, kind, key)]


def demo_modules() -> list[ModuleType]:
    """The modules of illustrative data: each has ``load_demo(engine, *, seed, force)``
    returning a result with a ``message``, and ``clear_demo(engine) -> int``."""
    return [importlib.import_module(m.demo) for m in modules() if m.demo]


def model_modules() -> tuple[str, ...]:
    """The modules whose tables make up the partnership database."""
    return CORE_MODELS + tuple(name for m in modules() for name in m.models)


def load_metadata() -> MetaData:
    """Import every model module and return the shared metadata.

    Alembic and the test fixtures go through here, so a table can never be missing from
    a migration because nobody imported its module.
    """
    from healthycity.core.db import Base

    for name in model_modules():
        importlib.import_module(name)
    return Base.metadata


def template_dirs() -> list[Path]:
    """Template folders: the plumbing's own first, then each module's."""
    dirs = [PACKAGE_ROOT / "core" / "web" / "templates"]
    dirs += [m.templates_dir for m in modules() if m.templates_dir is not None]
    return dirs


def navigation() -> tuple[tuple[str, str], ...]:
    """The public header's links: by ``order``, then module by module."""
    links = [link for m in modules() for link in m.nav]
    ranked = sorted(range(len(links)), key=lambda i: (links[i].order, i))
    return tuple((links[i].text, links[i].href) for i in ranked)
