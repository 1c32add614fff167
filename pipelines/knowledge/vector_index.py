"""Per-embedder HNSW indexes on ``kb_chunks.embedding`` (a ``vector`` column without a fixed dimension).

HNSW needs a fixed dimension, so every embedder gets a partial expression index over
``embedding::vector(<dim>)`` restricted to its own active rows; a search must repeat that exact expression and
predicate (``vector_expression`` and ``vector_predicate``) for the planner to use it. The embedder name is
inlined as a literal (a generic plan with a bound parameter could not use a partial index), so it is checked
against a strict pattern first.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlmodel import Session

from pipelines.knowledge.embedders import Embedder

_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,80}$")


def checked(embedder: Embedder) -> tuple[str, int]:
    name, dim = embedder.name, int(embedder.dim)
    if not _SAFE_NAME.match(name):
        raise ValueError(f"embedder name {name!r} is not a safe identifier")
    if not 1 <= dim <= 16000:
        raise ValueError(f"embedder dimension {dim} is out of range")
    return name, dim


def index_name(name: str) -> str:
    return "ix_kb_chunks_hnsw_" + "".join(ch if ch.isalnum() else "_" for ch in name)


def vector_expression(embedder: Embedder) -> str:
    _, dim = checked(embedder)
    return f"(embedding::vector({dim}))"


def vector_predicate(embedder: Embedder, alias: str = "") -> str:
    name, _ = checked(embedder)
    prefix = f"{alias}." if alias else ""
    return f"{prefix}embedder = '{name}' AND {prefix}active"


def ensure_vector_index(session: Session, embedder: Embedder) -> bool:
    """Create the embedder's HNSW index when missing; True when it was created."""
    name, dim = checked(embedder)
    idx = index_name(name)
    exists = session.execute(sa.text("SELECT 1 FROM pg_indexes WHERE indexname = :n"), {"n": idx}).first()
    if exists:
        return False
    session.execute(sa.text(
        f"CREATE INDEX IF NOT EXISTS {idx} ON kb_chunks USING hnsw ((embedding::vector({dim})) vector_cosine_ops) "
        f"WITH (m = 16, ef_construction = 64) WHERE {vector_predicate(embedder)}"
    ))
    return True
