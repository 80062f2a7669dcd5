"""Opening a study database: SQLite (the default, WAL) or PostgreSQL, with a checked schema version.

SQLite: every transaction starts with BEGIN IMMEDIATE (it takes the write lock at once, so two
processes never both read-then-write and fail on the upgrade; waiters queue on the busy timeout),
and commits are synchronous (a committed event survives a killed process). PostgreSQL: assignment
locks the study's row (SELECT ... FOR UPDATE); creating the schema holds an advisory lock, so two
servers starting at once do not both create it.

The schema version lives in the `gdpz_meta` table. A database written by a newer version is
refused; an older one is migrated (MIGRATIONS) or refused; a database that has tables of ours but
no version is refused. Refusing never writes anything.
"""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, inspect, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from gdp_zero.records import app_version, now_iso
from gdp_zero.study.models import SCHEMA_VERSION, ArenaVote, Base, Meta, PairwiseJudgment
from gdp_zero.validation import ConfigError

BUSY_TIMEOUT_MS = 30_000
_SETUP_LOCK = 0x6764_7A65_726F  # "gdzero": the advisory lock id on PostgreSQL


def hold_setup_lock(connection: Connection | Session) -> None:
    """Serialize set-up (schema, a study's first row) between processes starting at once on one database.

    Until the transaction ends. PostgreSQL needs an advisory lock: SELECT ... FOR UPDATE cannot lock
    a row that does not exist yet, so two processes would both insert it. SQLite's BEGIN IMMEDIATE
    already lets one writer in at a time.
    """
    bind = connection.get_bind() if isinstance(connection, Session) else connection
    if bind.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(_SETUP_LOCK)))


def _add_arena_votes(connection: Connection) -> None:
    ArenaVote.__table__.create(connection)  # type: ignore[attr-defined]


def _add_pairwise_judgments(connection: Connection) -> None:
    PairwiseJudgment.__table__.create(connection)  # type: ignore[attr-defined]


# from_version -> the step to from_version + 1, run inside the schema transaction.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _add_arena_votes, 2: _add_pairwise_judgments}


class DatabaseError(ConfigError):
    """A database URL or schema this version cannot use; the message (one line) says why and what to do."""


def database_url(url: str) -> str:
    """The SQLAlchemy URL for what a user typed: plain postgresql:// uses psycopg 3; a path is SQLite."""
    if "://" not in url:
        return f"sqlite:///{url}"
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain):]
    return url


def redacted(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(database_url(url)).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        return "<unparseable URL>"


@dataclass
class Database:
    engine: Engine
    sessions: sessionmaker[Session]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One short transaction: committed when the block ends, rolled back if it raises."""
        with self.sessions() as session, session.begin():
            yield session

    def meta(self, key: str) -> str | None:
        with self.transaction() as session:
            return session.scalar(select(Meta.value).where(Meta.key == key))

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, *, pool_size: int = 10) -> Database:
    """Connect, create the schema in an empty database, check the version of an existing one."""
    full = database_url(url)
    try:
        parsed = make_url(full)
    except (ArgumentError, ValueError):
        # Not echoed: an unparseable URL cannot be redacted, and may hold a password.
        raise DatabaseError("the database URL cannot be read (expected sqlite:///FILE or postgresql://USER:PASSWORD@HOST/DB)") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise DatabaseError("the database URL names an in-memory SQLite database, which would lose the study's data; give a file, e.g. sqlite:///study.db")
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000})
        _sqlite_pragmas(engine)
    elif parsed.get_backend_name() == "postgresql":
        engine = create_engine(parsed, pool_size=pool_size, max_overflow=2 * pool_size, pool_pre_ping=True)
    else:
        raise DatabaseError(f"{redacted(url)}: unsupported database {parsed.get_backend_name()!r} (use SQLite or PostgreSQL)")
    try:
        _prepare_schema(engine, redacted(url))
    except Exception:
        engine.dispose()
        raise
    return Database(engine, sessionmaker(engine, expire_on_commit=False))


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy, not the driver, begins transactions
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", f"busy_timeout={BUSY_TIMEOUT_MS}", "foreign_keys=ON", "synchronous=FULL"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _prepare_schema(engine: Engine, shown_url: str) -> None:
    try:
        with engine.begin() as connection:
            hold_setup_lock(connection)
            tables = set(inspect(connection).get_table_names())
            if Meta.__tablename__ not in tables:
                _create_schema(connection, tables, shown_url)
            else:
                _check_version(connection, shown_url)
    except DatabaseError:
        raise
    except Exception as error:  # the driver's: cannot connect, no such database, permissions
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        password = engine.url.password
        if password:  # a driver may quote the connection string it was given
            reason = reason.replace(str(password), "***")
        raise DatabaseError(f"{shown_url}: cannot open the database ({reason})") from None


def _create_schema(connection: Connection, tables: set[str], shown_url: str) -> None:
    clashing = sorted(tables & set(Base.metadata.tables))
    if clashing:
        raise DatabaseError(
            f"{shown_url}: has tables named like a study database's ({', '.join(clashing)}) but no schema version: "
            "not a gdp-zero study database, or a damaged one; it was left untouched"
        )
    Base.metadata.create_all(connection)
    facts = {
        "schema_version": str(SCHEMA_VERSION),
        "export_salt": secrets.token_hex(16),  # pseudonyms in exports: stable per database, secret
        "created_at": now_iso(),
        "created_by": f"gdp-zero {app_version()}",
    }
    connection.execute(insert(Meta), [{"key": k, "value": v} for k, v in facts.items()])


def _check_version(connection: Connection, shown_url: str) -> None:
    stored = connection.scalar(select(Meta.value).where(Meta.key == "schema_version"))
    try:
        version = int(stored or "")
    except ValueError:
        raise DatabaseError(f"{shown_url}: the schema version is unreadable ({stored!r}); the database was left untouched") from None
    if version > SCHEMA_VERSION:
        raise DatabaseError(
            f"{shown_url}: written by a newer gdp-zero (study schema version {version}; this one reads {SCHEMA_VERSION}). "
            "Upgrade gdp-zero; the database was left untouched."
        )
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise DatabaseError(
                f"{shown_url}: study schema version {version} is older than this gdp-zero's ({SCHEMA_VERSION}) "
                "and there is no migration from it; export it with the version that wrote it. The database was left untouched."
            )
        step(connection)
        version += 1
        connection.execute(update(Meta).where(Meta.key == "schema_version").values(value=str(version)))
