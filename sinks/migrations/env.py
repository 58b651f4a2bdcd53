"""Alembic's entry point for the SQL sink's schema.

skillstream runs migrations from code (``sinks.database.upgrade``), which
hands over an open connection in ``config.attributes["connection"]``; there
is no ``alembic.ini`` and no URL to read here.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from sinks.database import VERSION_TABLE
from sinks.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("skillstream's migrations run online only: use `skillstream db upgrade`")
_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise SystemExit(
        "skillstream's migrations need an open connection: use `skillstream db upgrade` "
        "or sinks.database.upgrade(url)"
    )
_run(_connection)
