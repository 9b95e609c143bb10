"""The one list of modules that own tables in the partnership database.

Alembic and the test fixtures import every model module through here, so a table
can never be missing from a migration because nobody imported its module.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

MODEL_MODULES: tuple[str, ...] = (
    "healthycity.core.models",
    "healthycity.geography.models",
    "healthycity.outcomes.models",
    "healthycity.outcomes.boundary_models",
    "healthycity.core.auth_models",
    "healthycity.portfolio.models",
    "healthycity.assurance.models",
)


def load_metadata() -> MetaData:
    """Import every model module and return the shared metadata."""
    from healthycity.core.db import Base

    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata
