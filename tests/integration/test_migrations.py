"""The migrations build exactly the schema the code declares, on each backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from paydesk.core.db import Base, Database
from paydesk.core.migrate import pending_revisions
from paydesk.models import import_all_models


def test_migrated_schema_matches_the_models(database: Database) -> None:
    import_all_models()
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert not pending_revisions(database.engine)
