"""What every command shares: settings (with `--database`), the engine, clean errors.

Heavy imports stay inside functions so `healthycity --help` starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from healthycity.core.settings import Settings


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clear error line on stderr and stop with ``code``."""
    typer.secho(f"Error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


@dataclass
class CliContext:
    database: str | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from healthycity.core.settings import SettingsError, load_settings

            try:
                self._settings = load_settings(database_url=self.database)
            except SettingsError as exc:
                fail(str(exc), code=2)
        return self._settings

    def engine(self, *, migrate: bool = True) -> Engine:
        """The database engine; a new embedded SQLite file is created and migrated here."""
        if self._engine is None:
            from healthycity.core.db import make_engine
            from healthycity.core.migrate import DatabaseNotReady, ensure_ready

            self._engine = make_engine(self.settings.database_url)
            if migrate:
                try:
                    ensure_ready(self._engine)
                except DatabaseNotReady as exc:
                    fail(str(exc))
        return self._engine


def context(ctx: typer.Context) -> CliContext:
    root = ctx.find_root()
    if not isinstance(root.obj, CliContext):
        root.obj = CliContext()
    return root.obj
