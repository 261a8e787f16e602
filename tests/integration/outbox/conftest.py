"""Fixtures of the outbox tests: the outbox table on each database the library supports."""

from __future__ import annotations

import pytest

from tests.support.outbox_databases import create_table
from tests.support.postgres_server import postgres_server, postgres_url  # noqa: F401  (fixtures, used by name)


@pytest.fixture(params=["sqlite", "postgres"])
def outbox_db(request, tmp_path) -> str:
    """An outbox table, once in an SQLite file and once on a real PostgreSQL server, whose
    rows fail to be marked published while its ``mark_gate`` has a row
    (tests.support.outbox_databases): a test that takes it shows both keep the promises."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'outbox.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    create_table(url, gate=True)
    return url
