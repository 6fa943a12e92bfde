"""gunicorn settings of the portal (read from the working directory; the Dockerfile, docker-compose.yml
and the production smoke test all start `gunicorn -c gunicorn.conf.py portal.wsgi`).

Environment: GUNICORN_BIND (default 0.0.0.0:8000), WEB_CONCURRENCY (worker processes, default 2 × cores + 1),
GUNICORN_WORKER_CLASS (default sync) and GUNICORN_THREADS (default 1; more than 1 makes gunicorn use gthread),
the last two for measuring alternatives (python -m bench.load --worker-class/--threads). The choice is explained in docs/operations.md "Serving".
"""

import os
import time

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# sync workers, 2 × cores + 1: a page is mostly Python CPU. Measured back to back in the load bench
# (docs/operations.md "gunicorn: worker class and count"), gthread 3 × 4 and sync 5 cost the same
# CPU per page (11.5 / 11.9 ms), so on a host of its own the portal serves as much with either;
# sync keeps a stuck request to one process and has no GIL hand-off. Slow clients are the TLS
# proxy's to buffer.
# A login never parks a worker for long: it waits at most LOGIN_HASH_WAIT_MS for a hashing slot.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
workers = int(os.environ.get("WEB_CONCURRENCY", str(2 * (os.cpu_count() or 1) + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
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

# The load bench (bench/load.py) sets GUNICORN_REQUEST_CPU_LOG to learn the CPU of each request by
# page: the CPU time of the thread that served it, with the page's name from the bench's
# X-Bench-Endpoint header. Unset in production, so these hooks are not even defined there.
_request_cpu_log = os.environ.get("GUNICORN_REQUEST_CPU_LOG")
if _request_cpu_log:

    def pre_request(worker, req):
        req.portal_cpu_start = time.thread_time()

    def post_request(worker, req, environ, resp):
        cpu_ms = 1000 * (time.thread_time() - req.portal_cpu_start)
        name = environ.get("HTTP_X_BENCH_ENDPOINT") or f"{req.method} {req.path}"
        # One short line per write, opened for appending: lines of concurrent workers never interleave.
        with open(_request_cpu_log, "a", encoding="utf-8") as log:
            log.write(f"{time.monotonic():.3f}\t{name}\t{cpu_ms:.3f}\n")
