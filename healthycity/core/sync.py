"""Bring tables in line with declarative data (a city pack), counting what changed.

Loading the same data twice must change nothing, and the loader should say what it did.
`Sync.upsert` creates a row, updates only the columns whose values differ, or leaves it
alone; `Sync.remove_missing` and `Sync.prune` delete the rows the data no longer names.
One `Sync` can be passed through every module's loader so the totals cover the whole load.
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
    # Rows held per table after a load, for loaders that report them.
    tables: dict[str, int] = field(default_factory=dict)

    def upsert(self, model: type[ModelT], key: Any, values: Mapping[str, Any]) -> ModelT:
        """Create or update the row of ``model`` whose primary key is ``key``.

        ``key`` is either a mapping of the key columns (added to the new row) or the
        primary-key value itself, in which case ``values`` already holds the key columns.
        """
        if isinstance(key, Mapping):
            identity = tuple(key.values()) if len(key) > 1 else next(iter(key.values()))
            fields = {**key, **values}
        else:
            identity, fields = key, dict(values)
        row = self.session.get(model, identity)
        if row is None:
            row = model(**fields)
            self.session.add(row)
            self.created += 1
            return row
        self.apply(row, values)
        return row

    def apply(self, row: Any, values: Mapping[str, Any]) -> bool:
        """Set the attributes that differ; count the row as updated or unchanged."""
        changed = False
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
        if changed:
            self.updated += 1
        else:
            self.unchanged += 1
        return changed

    def remove_missing(self, model: type[Any], key_column: Any, keep: set[Any]) -> None:
        """Delete pack-owned rows (``pack_id`` set) whose key is not in ``keep``."""
        stale = self.session.scalars(
            select(model).where(model.pack_id.is_not(None), key_column.not_in(keep))
        ).all()
        for row in stale:
            self.session.delete(row)
            self.deleted += 1

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


def count_rows(session: Session, query: Any) -> int:
    """How many rows ``query`` selects: what a module reports of its pack data."""
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
