"""Knowledge base: ingest (parsers, chunker, embedders, versions) and hybrid retrieval on pgvector + Postgres FTS.

Entry points: ``ingest.ingest_path``, ``ingest.list_history``, ``search.search``, ``embedders.make_embedder``,
``cli`` (the ``voronka kb ...`` bodies and the scheduled ``rescan``).
"""
