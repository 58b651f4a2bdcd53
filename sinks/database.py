"""Databases for the SQL sink: engines, schema migrations, and errors that name the database.

URLs are SQLAlchemy URLs. ``sqlite:///path`` (the parent folder is created)
or ``postgresql+psycopg://user:password@host:port/db``; a bare
``postgresql://`` is read as psycopg 3, the driver skillstream ships with
(``pip install 'skillstream[postgres]'``). A URL shown to anyone — an error,
a status line — has its password replaced by ``***``.

The schema is owned by Alembic (``sinks/migrations``), run from code: no
``alembic.ini`` is needed. Its version table is ``skillstream_schema_version``,
so a database shared with another Alembic project keeps both histories apart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
)

from streams.errors import ConfigError, ServiceUnavailable

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "skillstream_schema_version"
CONNECT_TIMEOUT_S = 5
SQLITE_BUSY_TIMEOUT_S = 30


def parse_url(url: str) -> URL:
    """The URL as SQLAlchemy reads it, with ``postgresql://`` meaning psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"database URL {safe_url(url)!r} is not a SQLAlchemy URL "
            "(examples: sqlite:///.local/skillstream.db, "
            "postgresql+psycopg://user:password@host:5432/skillstream)"
        ) from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


_SECRET_QUERY = re.compile(
    r"([?&](?:[^=&]*(?:password|passwd|pwd|secret|token|key)[^=&]*)=)[^&]*", re.IGNORECASE
)


def safe_url(url: str | URL) -> str:
    """The URL with every secret in it hidden: the only form that goes in messages.

    Works on the text, so that it also hides what a parser would misread: a password with
    an unencoded ``@`` (everything up to the last ``@`` before the host is credentials),
    and secrets in the query (``?password=…``, ``sslkey``-like names).
    """
    text = url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return _SECRET_QUERY.sub(r"\1***", text)
    address, question, query = rest.partition("?")
    if "@" in address:
        credentials, _, host = address.rpartition("@")
        user = credentials.split(":", 1)[0]
        address = f"{user}:***@{host}" if ":" in credentials else f"{user}@{host}"
    masked = f"{scheme}://{address}{question}{query}"
    return _SECRET_QUERY.sub(r"\1***", masked)


def scrub(text: str, url: str | URL) -> str:
    """``text`` (say, a driver's error) with every secret of ``url`` in it replaced.

    Drivers quote what they were given — a host name that swallowed half a password
    with an unencoded ``@`` in it, for one — so messages are scrubbed, not only URLs.
    """
    raw = url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url)
    rest = raw.partition("://")[2] or raw
    address, _, query = rest.partition("?")
    secrets = []
    if "@" in address:
        credentials = address.rpartition("@")[0]
        secrets.append(credentials.partition(":")[2])  # the password, @ and all
        secrets.extend(part for part in credentials.split("@")[1:])
    secrets.extend(m.group(0).split("=", 1)[1] for m in _SECRET_QUERY.finditer("?" + query))
    for secret in sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


def is_unavailable(exc: DBAPIError) -> bool:
    """True for errors that say the database cannot be reached now, not that a row is wrong."""
    return isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated


def unavailable(url: str | URL, exc: BaseException) -> ServiceUnavailable:
    shown = safe_url(url)
    return ServiceUnavailable(
        f"database {shown}",
        scrub(_first_line(exc), url),
        "is the database running and reachable? SKILLSTREAM_DATABASE_URL chooses it",
    )


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


def make_engine(url: str) -> Engine:
    """An engine for the sink; SQLite gets WAL (readers never block the sink) and a busy timeout."""
    parsed = parse_url(url)
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            _sqlite_file(Path(database).expanduser())
        connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_S
    elif parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    try:
        engine = create_engine(
            parsed,
            pool_pre_ping=True,
            connect_args=connect_args,
            json_serializer=_dumps,
            json_deserializer=orjson.loads,
        )
    except (ModuleNotFoundError, NoSuchModuleError) as exc:
        hint = (
            "install the PostgreSQL extra: pip install 'skillstream[postgres]'"
            if parsed.get_backend_name() == "postgresql"
            else "use sqlite:/// or postgresql+psycopg://"
        )
        raise ConfigError(f"no driver for {safe_url(parsed)}: {exc}; {hint}") from exc
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


_SQLITE_MAGIC = b"SQLite format 3\x00"


def _sqlite_file(path: Path) -> None:
    """Create the SQLite database's folder; refuse a path that cannot hold the database."""
    where = "SKILLSTREAM_DATABASE_URL"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{where}: the folder {path.parent} for the SQLite database cannot be created "
            f"({exc.strerror}); choose a path you can write to"
        ) from None
    if path.is_dir():
        raise ConfigError(f"{where}: {path} is a folder, not a SQLite database file")
    try:
        with path.open("rb") as file:
            head = file.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        return  # a new database: SQLite creates the file
    except OSError as exc:
        raise ConfigError(f"{where}: {path} cannot be read ({exc.strerror})") from None
    if head and head != _SQLITE_MAGIC:
        raise ConfigError(
            f"{where}: {path} exists and is not a SQLite database; "
            "point the URL at a new file or at the sink's database"
        )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found under {MIGRATIONS}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for a database skillstream never touched."""
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()
    except DBAPIError as exc:
        if is_unavailable(exc) and not _missing_table(exc):
            raise unavailable(engine.url, exc) from exc
        raise


def _missing_table(exc: DBAPIError) -> bool:
    return "no such table" in str(exc.orig)


def upgrade(url: str) -> tuple[str | None, str]:
    """Bring the database to the newest schema; return (revision before, revision after)."""
    engine = make_engine(url)
    try:
        before = current_revision(engine)
        try:
            with engine.begin() as conn:
                config = _alembic_config()
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except DBAPIError as exc:
            if is_unavailable(exc):
                raise unavailable(engine.url, exc) from exc
            raise
        return before, head_revision()
    finally:
        engine.dispose()


def check_schema(engine: Engine) -> None:
    """Refuse to run on a database whose schema is not the one this code writes."""
    current = current_revision(engine)
    head = head_revision()
    if current != head:
        found = "no skillstream tables" if current is None else f"schema revision {current}"
        raise ConfigError(
            f"database {safe_url(engine.url)} has {found}; this skillstream needs revision "
            f"{head}: run `skillstream db upgrade` (or start the sink with --upgrade)"
        )
