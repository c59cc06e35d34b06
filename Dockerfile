# The CDS Hooks service in production mode, served by gunicorn's gevent workers on port 8080
# (slow clients cost a greenlet, not a worker: docs/operations.md, "Serving model").
# Configure it with CPT97124_* environment variables (docs/operations.md); it will not start
# without CPT97124_ISSUERS, so mount the trusted-issuers file and point the variable at it.
# The database schema is migrated at start-up (or beforehand: `cpt97124 db upgrade`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8080

# An unprivileged user owns only the working directory (SQLite under ./var by default).
RUN useradd --create-home --uid 10001 --user-group cds
WORKDIR /srv/cpt97124

# Same install as CI, without the test extra.
COPY pyproject.toml README.md ./
COPY plugin ./plugin
COPY cds_hooks ./cds_hooks
RUN pip install . && mkdir var && chown cds:cds var

USER cds
EXPOSE 8080

# Liveness: /healthz answers without the database or any hook call, so a database outage does not
# get the container restarted. Readiness (/readyz, the database) is for the load balancer or the
# orchestrator's readiness probe. slim has no curl: ask Python; any error or non-200 is unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=4)"]

CMD ["gunicorn", "-c", "python:cds_hooks.gunicorn_conf", "cds_hooks.wsgi:app"]
