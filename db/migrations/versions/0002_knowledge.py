"""knowledge base: documents, chunks (tsvector + HNSW per embedder), change history

Revision ID: 0002_knowledge
Revises: 0001_core
Create Date: 2026-11-25 12:20:00
"""
from alembic import op

revision = "0002_knowledge"
down_revision = "0001_core"
branch_labels = None
depends_on = None

# Embedders known at this revision: (name, dimension). Others get their index at first ingest.
EMBEDDERS = (("offline-hash-v1", 384), ("openai-text-embedding-3-small", 1536))


def _index_name(name: str) -> str:
    return "ix_kb_chunks_hnsw_" + "".join(ch if ch.isalnum() else "_" for ch in name)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.execute("""
        CREATE TABLE kb_documents (
            id serial PRIMARY KEY,
            collection varchar NOT NULL,
            source varchar NOT NULL,
            title varchar NOT NULL,
            doc_type varchar NOT NULL,
            sha256 varchar NOT NULL,
            version integer NOT NULL DEFAULT 1,
            status varchar NOT NULL DEFAULT 'active',
            chunk_count integer NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            retired_at timestamptz,
            CONSTRAINT uq_kb_documents_source UNIQUE (source)
        )""")
    op.execute("CREATE INDEX ix_kb_documents_collection ON kb_documents (collection)")
    op.execute("CREATE INDEX ix_kb_documents_doc_type ON kb_documents (doc_type)")
    op.execute("CREATE INDEX ix_kb_documents_status ON kb_documents (status)")
    op.execute("""
        CREATE TABLE kb_chunks (
            id bigserial PRIMARY KEY,
            document_id integer NOT NULL REFERENCES kb_documents (id) ON DELETE CASCADE,
            version integer NOT NULL,
            ordinal integer NOT NULL,
            collection varchar NOT NULL,
            doc_type varchar NOT NULL,
            heading varchar NOT NULL,
            text varchar NOT NULL,
            tsv tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('russian'::regconfig, coalesce(heading, '')), 'A') ||
                setweight(to_tsvector('russian'::regconfig, coalesce(text, '')), 'B')
            ) STORED,
            embedding vector,
            embedder varchar NOT NULL,
            embedding_dim integer NOT NULL,
            active boolean NOT NULL DEFAULT true,
            created_at timestamptz NOT NULL DEFAULT now()
        )""")
    op.execute("CREATE INDEX ix_kb_chunks_document_id ON kb_chunks (document_id)")
    op.execute("CREATE INDEX ix_kb_chunks_tsv ON kb_chunks USING gin (tsv) WHERE active")
    op.execute("CREATE INDEX ix_kb_chunks_active_filter ON kb_chunks (collection, doc_type) WHERE active")
    for name, dim in EMBEDDERS:
        op.execute(
            f"CREATE INDEX {_index_name(name)} ON kb_chunks USING hnsw ((embedding::vector({dim})) vector_cosine_ops) "
            f"WITH (m = 16, ef_construction = 64) WHERE embedder = '{name}' AND active"
        )
    op.execute("""
        CREATE TABLE kb_changes (
            id serial PRIMARY KEY,
            document_id integer NOT NULL REFERENCES kb_documents (id) ON DELETE CASCADE,
            collection varchar NOT NULL,
            source varchar NOT NULL,
            action varchar NOT NULL,
            version integer NOT NULL,
            sha256 varchar NOT NULL,
            chunks integer NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now()
        )""")
    op.execute("CREATE INDEX ix_kb_changes_document_id ON kb_changes (document_id)")
    op.execute("CREATE INDEX ix_kb_changes_collection ON kb_changes (collection)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS kb_changes")
    op.execute("DROP TABLE IF EXISTS kb_chunks")
    op.execute("DROP TABLE IF EXISTS kb_documents")
