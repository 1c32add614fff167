"""Knowledge base tables: documents (one row per source file, versioned), chunks (the searchable pieces with their
full-text vector and embedding) and the change history.

Embeddings live in one ``vector`` column without a fixed dimension; the embedder's name and dimension are stored
beside every vector. HNSW needs a fixed dimension, so each known embedder gets a partial expression index
``((embedding::vector(N)) vector_cosine_ops) WHERE embedder = '<name>' AND active`` (see migration 0002 and
``pipelines.knowledge.vector_index.ensure_vector_index``). Searching with another embedder never mixes vectors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlmodel import Field, SQLModel

from db.models import utcnow


class KbStatus:
    ACTIVE = "active"
    RETIRED = "retired"


class KbAction:
    ADDED = "added"
    CHANGED = "changed"
    RETIRED = "retired"


# Both searchable parts of a chunk: its heading path (weight A) and its text (weight B), Russian stemming.
TSV_EXPRESSION = (
    "setweight(to_tsvector('russian'::regconfig, coalesce(heading, '')), 'A') || "
    "setweight(to_tsvector('russian'::regconfig, coalesce(text, '')), 'B')"
)


def _ts() -> Any:
    return Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), nullable=False)


class KbDocument(SQLModel, table=True):
    __tablename__ = "kb_documents"
    id: int | None = Field(default=None, primary_key=True)
    collection: str = Field(index=True)
    source: str = Field(unique=True)  # "<collection>/<relative path>"
    title: str
    doc_type: str = Field(index=True)  # service | usp | case | faq | price | policy | script | other
    sha256: str
    version: int = 1
    status: str = Field(default=KbStatus.ACTIVE, index=True)
    chunk_count: int = 0
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    retired_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class KbChunk(SQLModel, table=True):
    __tablename__ = "kb_chunks"
    id: int | None = Field(default=None, primary_key=True, sa_type=sa.BigInteger)
    document_id: int = Field(foreign_key="kb_documents.id", index=True)
    version: int
    ordinal: int
    collection: str  # copied from the document: filters without a join
    doc_type: str
    heading: str  # heading path, "Услуги › ИИ-Юрист › Интеграции"
    text: str
    tsv: str | None = Field(
        default=None,
        sa_column=sa.Column(TSVECTOR, sa.Computed(TSV_EXPRESSION, persisted=True)),
    )
    embedding: list[float] | None = Field(default=None, sa_column=sa.Column(Vector(), nullable=True))
    embedder: str
    embedding_dim: int
    active: bool = True
    created_at: datetime = _ts()


class KbChange(SQLModel, table=True):
    __tablename__ = "kb_changes"
    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="kb_documents.id", index=True)
    collection: str = Field(index=True)
    source: str
    action: str  # added | changed | retired
    version: int
    sha256: str
    chunks: int = 0
    created_at: datetime = _ts()
