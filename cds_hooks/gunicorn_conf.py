"""Production gunicorn settings: sync workers, one per core, bounded requests."""
import multiprocessing
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "sync"
# A hook may wait on the EHR's FHIR server (deadline 8 s by default); never longer than this.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
max_requests = 10000
max_requests_jitter = 1000
limit_request_line = 8190
accesslog = None  # our own request log carries ids and timings, never URLs with PHI
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
