"""The migrations build exactly the schema the code declares, on each backend."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from paydesk.core.db import Base, Database
from paydesk.core.migrate import alembic_config, pending_revisions, upgrade
from paydesk.models import import_all_models
from tests.conftest import BACKENDS, scratch_pg_database


def test_migrated_schema_matches_the_models(database: Database) -> None:
    import_all_models()
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert not pending_revisions(database.engine)


# A failed login as the release before migration 0012 writes it (no address group).
FAILURE = text("INSERT INTO login_failures (id, user_id, ip, at) VALUES (:id, NULL, :ip, '2026-12-04 10:00:00')")


@contextmanager
def empty_database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        with scratch_pg_database() as url:
            yield url


@pytest.mark.parametrize("backend", BACKENDS)
def test_rows_written_before_the_address_groups_are_grouped_by_the_migration(backend: str, tmp_path: Path) -> None:
    with empty_database(backend, tmp_path) as url:
        upgrade(url, "0011_reset_requests")
        engine = create_engine(url)
        with engine.begin() as conn:
            for n, ip in enumerate(["2001:db8:5:1::1", "2001:db8:5:1::2", "198.51.100.3"]):
                conn.execute(FAILURE, {"id": f"00000000-0000-7000-8000-00000000000{n}", "ip": ip})
            conn.execute(text("INSERT INTO password_reset_requests (id, user_id, ip, user_agent, at, handled_at) "
                              "VALUES (:id, NULL, :ip, 'phone', :at, NULL)"),
                         {"id": "00000000-0000-7000-8000-000000000009", "ip": "::ffff:198.51.100.3",
                          "at": "2026-12-04 10:00:00"})
        upgrade(url)
        with engine.connect() as conn:
            assert sorted(conn.execute(text("SELECT ip, address_group FROM login_failures")).all()) == [
                ("198.51.100.3", "198.51.100.3"), ("2001:db8:5:1::1", "2001:db8:5:1::/64"),
                ("2001:db8:5:1::2", "2001:db8:5:1::/64")]
            assert conn.execute(text("SELECT address_group FROM password_reset_requests")).scalar() == "198.51.100.3"
        with engine.begin() as conn:  # the release before, still running during the upgrade, writes as it did
            conn.execute(FAILURE, {"id": "00000000-0000-7000-8000-00000000000a", "ip": "203.0.113.5"})
        command.downgrade(alembic_config(url), "0011_reset_requests")  # and back, the addresses kept
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM login_failures")).scalar() == 4
        engine.dispose()
        config = alembic_config(url)  # and as SQL to run by hand (`alembic upgrade --sql`)
        config.output_buffer = io.StringIO()
        command.upgrade(config, "0011_reset_requests:0012_address_groups", sql=True)
        assert "SET address_group=" in config.output_buffer.getvalue().replace(" = ", "=")
