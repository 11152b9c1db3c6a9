"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py wsgi:app``.

The settings live in the package (``gateway/gunicorn_conf.py``) so that an installed wheel has them too.
"""

from gateway.gunicorn_conf import *  # noqa: F403
