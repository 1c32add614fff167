from sqlalchemy import text

from db.migrate import current_heads, upgrade


def test_migrations_are_repeatable_and_create_vector(database_url: str, engine) -> None:  # type: ignore[no-untyped-def]
    upgrade(database_url)  # a second run changes nothing and does not fail
    upgrade(database_url)
    assert current_heads(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT extname FROM pg_extension WHERE extname = 'vector'")).scalar() == "vector"
        tables = {r[0] for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))}
    for table in ("clients", "client_identities", "leads", "conversations", "messages", "briefs", "quotes",
                  "documents", "payments", "bookings", "events", "outbox", "failed_jobs"):
        assert table in tables
