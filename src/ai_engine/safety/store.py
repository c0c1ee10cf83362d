"""The state store: one SQLAlchemy engine, migrations at open, one transaction per write.

SQLite (the default, one file in WAL mode, ``synchronous=FULL``) serialises writers with
``BEGIN IMMEDIATE``; PostgreSQL serialises them by locking the ESS row (``SELECT ... FOR
UPDATE``) first, so that several service replicas never interleave a check and its write.
A connection that broke (database restarted) is noticed by a pre-ping and replaced.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ai_engine.errors import StateStoreError
from ai_engine.safety import tables as t

log = logging.getLogger("ai_engine.safety")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
STATE_FILE = "state.db"
PG_MIGRATION_LOCK = 0x41495345  # "AISE": advisory lock id serialising replicas' migrations


def default_state_url(registry: str | Path) -> str:
    """``sqlite:///<folder of the registry>/state.db``: the file beside the registry."""
    return f"sqlite:///{Path(registry).resolve().parent / STATE_FILE}"


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable state URL>"


def require_existing(url: str) -> None:
    """StateStoreError unless ``url`` names a state store that exists (a SQLite file, or a
    database with the state schema); nothing is created or migrated here."""
    why = _missing(url)
    if why is not None:
        raise StateStoreError(
            f"state store {redact(url)}: expected an existing state store, found {why}; "
            "check --state-url / --registry, or create one with `ai-engine state upgrade "
            "--create`"
        )


def _missing(url: str) -> str | None:
    try:
        parsed = sa.make_url(url)
    except Exception as exc:
        raise StateStoreError(f"state URL {url!r} cannot be parsed: {exc}") from exc
    database = parsed.database
    in_file = parsed.get_backend_name() == "sqlite" and database and database != ":memory:"
    if in_file and not Path(str(database)).is_file():
        return f"no file {Path(str(database)).resolve()}"
    store = StateStore(url)
    try:
        revision = store.revision()
    finally:
        store.dispose()
    return "a database without the state schema (no migration applied)" if not revision else None


class StateStore:
    """A database holding the account, positions, fills, ESS state and audit rows."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            parsed = sa.make_url(url)
        except Exception as exc:
            raise StateStoreError(f"state URL {url!r} cannot be parsed: {exc}") from exc
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise StateStoreError(
                f"state URL must be sqlite:///FILE or postgresql+psycopg://..., found {redact(url)}"
            )
        database = parsed.database
        if self.dialect == "sqlite" and database and database != ":memory:":
            Path(database).resolve().parent.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {"pool_pre_ping": True}
        if self.dialect == "postgresql":
            options |= {"pool_size": 4, "max_overflow": 4, "pool_timeout": 10}
        self.engine = sa.create_engine(parsed, **options)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        self._upgraded = threading.Event()

    # ---- schema ------------------------------------------------------------------------
    def upgrade(self) -> str:
        """Run every pending migration (idempotent, safe from several processes); the head."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.write() as conn:
                if self.dialect == "postgresql":
                    conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})"))
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except StateStoreError:
            raise
        except Exception as exc:
            raise StateStoreError(
                f"state store {redact(self.url)} cannot be migrated: {type(exc).__name__}: {exc}"
            ) from exc
        self._upgraded.set()
        return self.head()

    def head(self) -> str:
        """The newest migration shipped with the code."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        return str(ScriptDirectory.from_config(config).get_current_head())

    def revision(self) -> str | None:
        """The migration the database is at (None: empty database)."""
        with self.read() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # ---- transactions ------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """One write transaction: committed at the end, rolled back on any error."""
        with self._transaction(write=True) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """One read-only transaction (a consistent snapshot)."""
        with self._transaction(write=False) as conn:
            yield conn

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as raw:
                conn = raw.execution_options(state_write=write)
                with conn.begin():
                    yield conn
        except sa.exc.OperationalError as exc:
            raise StateStoreError(
                f"state store {redact(self.url)} unavailable: {_first_line(exc)}"
            ) from exc
        except sa.exc.DBAPIError as exc:
            raise StateStoreError(
                f"state store {redact(self.url)} refused the transaction: {_first_line(exc)}"
            ) from exc

    def lock_ess(self, conn: sa.Connection) -> sa.Row[Any] | None:
        """The ESS row, locked for this transaction (PostgreSQL; SQLite holds the db lock)."""
        query = sa.select(t.ess_state).where(t.ess_state.c.id == t.ESS_ROW_ID)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        return conn.execute(query).first()

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: sa.Engine) -> None:
    """WAL, full fsync at commit, foreign keys, a busy timeout and explicit BEGINs."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=FULL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=10000",
        ):
            cursor.execute(pragma)
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get("state_write", True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
