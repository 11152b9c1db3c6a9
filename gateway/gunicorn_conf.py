"""gunicorn settings for production, shipped inside the package so an installed gateway has them.

``gunicorn -c python:gateway.gunicorn_conf 'gateway.app:create_app()'`` (or, from a checkout,
``gunicorn -c gunicorn.conf.py wsgi:app``, which reads this module). Every value can be
overridden with the usual GUNICORN_* / command-line options.
"""

import multiprocessing

# Imported under a private name: gunicorn reads every public name here as a setting ("config" is one).
from gateway.kernel import config as _config

# GATEWAY_BIND, GATEWAY_WEB_WORKERS, ...: declared with their defaults in gateway/kernel/config.py.
bind = _config.from_environment("BIND")
# The API is I/O-bound (database, Redis, carriers): threads per worker keep memory low.
workers = _config.from_environment("WEB_WORKERS") or multiprocessing.cpu_count() * 2 + 1
worker_class = "gthread"
threads = _config.from_environment("WEB_THREADS")
timeout = 30
graceful_timeout = 30
keepalive = 5
max_requests = 10000  # recycle workers to bound slow leaks
max_requests_jitter = 1000
accesslog = None  # the app logs every request as JSON with its request id
errorlog = "-"
forwarded_allow_ips = _config.from_environment("FORWARDED_ALLOW_IPS")
