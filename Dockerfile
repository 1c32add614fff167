FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends \
        fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 rsync postgresql-client \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt pyproject.toml ./
COPY voronka voronka
COPY web web
COPY bot bot
COPY workers workers
COPY pipelines pipelines
COPY db db
COPY integrations integrations
RUN pip install --no-cache-dir -r requirements.txt
COPY templates templates
COPY knowledge_base knowledge_base
RUN useradd --create-home voronka && mkdir -p /var/data/documents && chown -R voronka /var/data
USER voronka
ENV VORONKA_HOST=0.0.0.0 DOCUMENTS_PATH=/var/data/documents VORONKA_DATA_DIR=/var/data
EXPOSE 8080
CMD ["voronka", "web"]
