FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends \
        fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 rsync postgresql-client \
    && rm -rf /var/lib/apt/lists/*

# 1. Third-party packages from the hashed lock, alone in their layer: rebuilt only when requirements.txt changes.
WORKDIR /src
COPY requirements.txt ./
RUN pip install --no-cache-dir --require-hashes -r requirements.txt

# 2. voronka itself, a regular (non-editable) install: the code and its package data (templates, knowledge base,
#    web/static, db/migrations) land in site-packages; the build directory is removed afterwards.
COPY pyproject.toml ./
COPY voronka voronka
COPY cli cli
COPY web web
COPY bot bot
COPY workers workers
COPY pipelines pipelines
COPY db db
COPY integrations integrations
COPY templates templates
COPY knowledge_base knowledge_base
RUN pip install --no-cache-dir --no-deps . && cd / && rm -rf /src

RUN useradd --create-home voronka && mkdir -p /app /var/data/documents /var/data/backups \
    && chown -R voronka /app /var/data
WORKDIR /app
USER voronka
ENV VORONKA_HOST=0.0.0.0 DOCUMENTS_PATH=/var/data/documents BACKUP_PATH=/var/data/backups VORONKA_DATA_DIR=/var/data
EXPOSE 8080
# The default command is the web receiver: healthy while /ready answers 200 (Postgres, Redis and the broker reachable).
# docker-compose.yml gives the worker and scheduler `voronka health worker|scheduler` instead.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('VORONKA_PORT', '8080') + '/ready', timeout=4)"]
CMD ["voronka", "web"]
