"""docs/outbox.md gives the outbox table exactly as the library creates it."""

from pathlib import Path

from sanic_wsns.outbox import postgres, sqlite

PAGE = (Path(__file__).parents[3] / "docs" / "outbox.md").read_text(encoding="utf-8")


def test_the_outbox_page_gives_the_sqlite_and_postgresql_tables_the_library_creates():
    assert f"```sql{sqlite.SCHEMA}```" in PAGE
    assert f"```sql{postgres.SCHEMA}```" in PAGE
