"""Bring tables in line with declarative data (a city pack), counting what changed.

Loading the same data twice must change nothing, and the loader should say what it did.
`Sync.upsert` creates a row, updates only the columns whose values differ, or leaves it
alone; `Sync.prune` deletes the rows the data no longer names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase, Session

ModelT = TypeVar("ModelT", bound=DeclarativeBase)


@dataclass
class Sync:
    session: Session
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    by_table: dict[str, int] = field(default_factory=dict)

    def upsert(
        self, model: type[ModelT], key: Mapping[str, Any], values: Mapping[str, Any]
    ) -> ModelT:
        """Create or update the row of ``model`` identified by ``key`` (its primary key)."""
        identity = tuple(key.values()) if len(key) > 1 else next(iter(key.values()))
        row = self.session.get(model, identity)
        table = str(getattr(model, "__tablename__", model.__name__))
        self.by_table[table] = self.by_table.get(table, 0) + 1
        if row is None:
            row = model(**key, **values)
            self.session.add(row)
            self.created += 1
            return row
        changed = False
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
        if changed:
            self.updated += 1
        else:
            self.unchanged += 1
        return row

    def prune(self, model: type[ModelT], keep: Iterable[Any], column: str, **where: Any) -> None:
        """Delete rows of ``model`` matching ``where`` whose ``column`` is not in ``keep``."""
        wanted = set(keep)
        query = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        for row in self.session.scalars(query):
            if getattr(row, column) not in wanted:
                self.session.delete(row)
                self.deleted += 1
