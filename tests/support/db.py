"""The test database between tests: every table emptied and the seeded price list put back."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlmodel import Session


def truncate_all(engine: Engine) -> None:
    with engine.begin() as conn:
        tables = [row[0] for row in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"))]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    # the price list is seeded by a migration: put the seed back (a test may have edited prices)
    from db.repo_pricing import seed_defaults

    with Session(engine) as session:
        seed_defaults(session, changed_by="test-seed")
        session.commit()
