"""Production gunicorn settings: gevent workers, one per core, bounded requests; our logging.

Why gevent (docs/operations.md, "Serving model"): a sync worker reads a request itself, so a
client that sends one header line a second holds a whole worker; two such clients stopped a
two-worker service. A gevent worker reads each connection in its own greenlet and waits on the
socket without blocking the others, so slow clients, and hook calls waiting on a slow FHIR
server, cost a greenlet each, not a worker. The rule engine itself is plain CPU work that
yields nowhere; the workers (one per core) carry that.
"""
import multiprocessing
import os

from cds_hooks.logs import config_dict

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "gevent"
# Open connections per worker, slow ones included; beyond this a worker stops accepting.
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "1000"))
# A hook may wait on the EHR's FHIR server (deadline 8 s by default); never longer than this.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
max_requests = 10000
max_requests_jitter = 1000
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = None  # our own request log carries ids and timings, never URLs with PHI
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
logconfig_dict = config_dict(loglevel)

# The settings `cpt97124 serve` copies from here (it binds where it is told to).
SERVE_SETTINGS = ("workers", "worker_class", "worker_connections", "timeout", "graceful_timeout",
                  "keepalive", "max_requests", "max_requests_jitter", "limit_request_line",
                  "limit_request_fields", "limit_request_field_size", "accesslog", "errorlog",
                  "loglevel", "logconfig_dict")
