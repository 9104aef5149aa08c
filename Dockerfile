# slob in a container: run `slob paper`, `slob trade` ... against an IB Gateway container.
# Build: docker build -t slob .   Run: see docker-compose.yml and docs/operations.md.
# The web dashboard's chart library comes from the npm registry (package-lock.json pins it);
# only its one built file is copied into the image below.
FROM node:20-slim AS chart-library
WORKDIR /assets
COPY slob_cli/web/assets/package.json slob_cli/web/assets/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# An unprivileged user owns the data volume; slob never needs root.
RUN groupadd --system --gid 10001 slob \
    && useradd --system --uid 10001 --gid slob --home-dir /home/slob --create-home --shell /usr/sbin/nologin slob \
    && mkdir -p /data/logs \
    && chown -R slob:slob /data

WORKDIR /src
COPY pyproject.toml README.md ./
COPY slob_cli ./slob_cli
RUN pip install --no-cache-dir . \
    && rm -rf /src

COPY --from=chart-library /assets/node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js \
    /opt/slob/lightweight-charts.js

# Defaults for the container; every one can be overridden from docker-compose.yml or `-e`.
ENV SLOB_WEB_CHART_JS=/opt/slob/lightweight-charts.js \
    SLOB_DB_PATH=/data/slob.db \
    SLOB_LOG_DIR=/data/logs \
    SLOB_IB_HOST=ib-gateway \
    SLOB_IB_PORT=4004 \
    SLOB_KILL_SWITCH_PATH=/data/KILL_SWITCH

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# `slob web` (the compose service `web`) listens here.
EXPOSE 5000

# Healthy only while a slob session holds the store's lock and wrote a heartbeat in the last 90 s
# (the engine beats every 8 s); `slob status --check` never locks or writes the store.
HEALTHCHECK --interval=60s --timeout=20s --start-period=180s --retries=3 \
    CMD ["slob", "status", "--check", "--max-age", "90"]

ENTRYPOINT ["slob"]
CMD ["--help"]
