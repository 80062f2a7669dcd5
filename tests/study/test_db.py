"""The study database: schema created once with its version; newer, older or foreign databases refused untouched."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, text

from gdp_zero.study import crud
from gdp_zero.study import db as study_db
from gdp_zero.study.db import DatabaseError, database_url, open_database
from gdp_zero.study.models import SCHEMA_VERSION
from gdp_zero.study.spec import load_study


def _set_version(url: str, version: str) -> None:
    engine = create_engine(database_url(url))
    with engine.begin() as connection:
        connection.execute(text("UPDATE gdpz_meta SET value = :v WHERE key = 'schema_version'"), {"v": version})
    engine.dispose()


def _dump(url: str) -> list[tuple]:
    engine = create_engine(database_url(url))
    with engine.connect() as connection:
        rows = sorted(connection.execute(text("SELECT key, value FROM gdpz_meta")).all())
        rows += connection.execute(text("SELECT name, title FROM studies")).all()
    engine.dispose()
    return rows


def test_a_new_database_records_the_schema_version_and_reopens(db_url):
    database = open_database(db_url)
    assert database.meta("schema_version") == str(SCHEMA_VERSION)
    salt = database.meta("export_salt")
    assert salt and len(salt) == 32
    database.dispose()
    again = open_database(db_url)  # an existing database of this version opens as it is
    assert again.meta("export_salt") == salt
    again.dispose()


def test_a_newer_or_unknown_older_schema_is_refused_and_left_untouched(db_url):
    open_database(db_url).dispose()
    engine = create_engine(database_url(db_url))
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO studies (name, title, spec, created_at, updated_at) VALUES ('s', 'T', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    engine.dispose()

    _set_version(db_url, str(SCHEMA_VERSION + 1))
    before = _dump(db_url)
    with pytest.raises(DatabaseError, match=rf"written by a newer gdp-zero \(study schema version {SCHEMA_VERSION + 1}; this one reads {SCHEMA_VERSION}\)"):
        open_database(db_url)
    assert _dump(db_url) == before

    _set_version(db_url, "0")  # older than any migration
    before = _dump(db_url)
    with pytest.raises(DatabaseError, match="is older than this gdp-zero's .* no migration from it"):
        open_database(db_url)
    assert _dump(db_url) == before


def test_an_older_schema_with_a_migration_is_migrated(db_url, monkeypatch):
    open_database(db_url).dispose()
    _set_version(db_url, str(SCHEMA_VERSION - 1))
    steps = []
    monkeypatch.setitem(study_db.MIGRATIONS, SCHEMA_VERSION - 1, lambda connection: steps.append(connection.dialect.name))
    database = open_database(db_url)
    assert steps == [database.engine.dialect.name]
    assert database.meta("schema_version") == str(SCHEMA_VERSION)
    database.dispose()


def test_a_database_with_our_table_names_but_no_version_is_refused(db_url):
    engine = create_engine(database_url(db_url))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE messages (id INTEGER PRIMARY KEY, body TEXT)"))
    engine.dispose()
    with pytest.raises(DatabaseError, match=r"has tables named like a study database's \(messages\) but no schema version"):
        open_database(db_url)


def test_urls_and_their_errors():
    assert database_url("postgresql://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert database_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert database_url("postgresql+psycopg://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert database_url("study.db") == "sqlite:///study.db"
    with pytest.raises(DatabaseError, match="in-memory SQLite"):
        open_database("sqlite://")
    with pytest.raises(DatabaseError, match="unsupported database 'mysql'"):
        open_database("mysql://u:secret@127.0.0.1/x")
    # Nothing listens on port 9 of 127.0.0.1: the message says so, without the password.
    with pytest.raises(DatabaseError) as caught:
        open_database("postgresql://gdp:hunter2@127.0.0.1:9/nope")
    assert "cannot open the database" in str(caught.value) and "hunter2" not in str(caught.value)


def test_sqlite_runs_in_wal_mode_with_synchronous_commits(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 's.db'}")
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == study_db.BUSY_TIMEOUT_MS
    database.dispose()


def test_processes_starting_at_once_on_one_new_database_set_up_one_study(db_url, small_study_file):
    """The deployment starts its `study serve` processes together: each creates the schema and the
    study's row if missing. On PostgreSQL two of them both inserted the row (a SELECT ... FOR UPDATE
    cannot lock a row that does not exist yet) and one died with a unique violation."""
    study = load_study(small_study_file)
    starters = 8
    barrier = threading.Barrier(starters)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait()
            database = open_database(db_url)
            try:
                with database.transaction() as session:
                    crud.sync_study(session, study)
            finally:
                database.dispose()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    database = open_database(db_url)
    try:
        with database.transaction() as session:
            row = crud.study_row(session, study.id)
            assert row is not None
            assert sorted(c.name for c in crud.conditions_of(session, row.id)) == sorted(c.name for c in study.conditions)
            assert crud.study_names(session) == [study.id]
    finally:
        database.dispose()
