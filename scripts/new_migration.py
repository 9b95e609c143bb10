"""Write a new Alembic migration from the models: `python scripts/new_migration.py "message"`.

Autogenerates against a scratch SQLite database migrated to the current head, so the
new file holds exactly the change since the last migration.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from healthycity.core.db import make_engine
from healthycity.core.migrate import alembic_config, upgrade


def main() -> None:
    message = sys.argv[1] if len(sys.argv) > 1 else "change"
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'scratch.db'}"
        engine = make_engine(url)
        upgrade(engine)
        config = alembic_config(url)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            versions = Path(config.get_main_option("script_location") or ".") / "versions"
            rev_id = f"{len(list(versions.glob('[0-9]*.py'))) + 1:04d}"
            command.revision(config, message=message, autogenerate=True, rev_id=rev_id)
    subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--fix", "-q", str(versions)], check=False
    )
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(versions)], check=False)


if __name__ == "__main__":
    main()
