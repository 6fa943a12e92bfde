"""gunicorn settings of the portal (read from the working directory; the Dockerfile, docker-compose.yml
and the production smoke test all start `gunicorn -c gunicorn.conf.py portal.wsgi`).

Environment: GUNICORN_BIND (default 0.0.0.0:8000), WEB_CONCURRENCY (worker processes, default 3),
GUNICORN_THREADS (threads per worker, default 4), GUNICORN_WORKER_CLASS (default gthread; for measuring). The choice is explained in docs/operations.md "Serving".
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# gthread: a login waiting for a password-hashing slot (accounts/login_gate.py) parks one thread,
# not a whole process, and a page waiting on PostgreSQL lets another thread of the worker render.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Exports and imports run as Celery jobs, so no request needs long; a stuck worker is replaced.
timeout = 60
graceful_timeout = 30
# Idle keep-alive connections of the TLS proxy hold a thread each: keep them short.
keepalive = 5
# No runtime control socket: compose restarts the container instead, and two gunicorns on one host
# (tests, the load bench) would otherwise fight over the one default path in $HOME.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
# The access log line names the status and the time taken (microseconds), for the smoke test and for operators.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(D)sus "%(a)s"'
