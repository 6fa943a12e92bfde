"""Stop `make test` at once, with the fix, when PostgreSQL or Redis is not reachable.

(Runs before Django is set up. For a running deployment, `manage.py check_services`
checks the database, the broker, a live worker and beat.)"""

import os
import re
import sys

import dj_database_url
import psycopg2
import redis

problems = []
db = dj_database_url.parse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal"))
try:
    psycopg2.connect(
        dbname="postgres",
        user=db["USER"] or "postgres",
        password=db["PASSWORD"] or None,
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        connect_timeout=3,
    ).close()
except psycopg2.OperationalError as exc:
    problems.append(
        f"PostgreSQL is not reachable at {db['HOST']}:{db['PORT']} ({str(exc).strip()}).\n"
        "  Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
    )
url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
shown = re.sub(r"(://[^:/@]*:)[^@]+@", r"\1***@", url)  # never print a password
try:
    redis.Redis.from_url(url, socket_connect_timeout=3).ping()
except redis.RedisError as exc:
    problems.append(
        f"Redis is not reachable at {shown} ({exc}).\n"
        "  Start it: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"
    )
if problems:
    print("make test needs real services:\n" + "\n".join(problems), file=sys.stderr)
    sys.exit(2)
print("PostgreSQL and Redis are reachable.")
