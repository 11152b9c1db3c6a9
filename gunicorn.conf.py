"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Every value can be overridden with the usual GUNICORN_* / command-line options.
"""

import multiprocessing
import os

bind = os.environ.get("GATEWAY_BIND", "0.0.0.0:8000")
# The API is I/O-bound (database, Redis, carriers): threads per worker keep memory low.
workers = int(os.environ.get("GATEWAY_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("GATEWAY_WEB_THREADS", 4))
timeout = 30
graceful_timeout = 30
keepalive = 5
max_requests = 10000  # recycle workers to bound slow leaks
max_requests_jitter = 1000
accesslog = None  # the app logs every request as JSON with its request id
errorlog = "-"
forwarded_allow_ips = os.environ.get("GATEWAY_FORWARDED_ALLOW_IPS", "127.0.0.1")
