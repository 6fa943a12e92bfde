"""python -m bench.page_cost: what one request of each page of the load bench costs, page by page.

The load bench (bench.load) says how the portal holds up as a whole; this says where its CPU goes.
It runs the production settings (DEBUG off, the manifest static build, Redis cache and sessions) in
this one process against a demo database, signs in one user per role, warms every page, then calls
the WSGI application directly (as gunicorn does: no test client, no network) and reports per page:

- SQL queries per request;
- CPU milliseconds per request (this process's CPU time, median of `--repeat` requests); PostgreSQL's
  and Redis's share is not in it;
- with `--callgrind`: instructions per request, counted by valgrind. Unlike time, the count does not
  depend on what else runs on the machine, so it proves a cut on a loaded machine (about 60× slower).

    DATABASE_URL=postgres://…/portal_x REDIS_URL=redis://…/3 python -m bench.page_cost [--setup] [--callgrind]

`--setup` (re)creates the database (its name + "_pages"), migrates and loads the demo first.
"""

import argparse
import contextlib
import ctypes
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The pages the load bench's users open (bench/load.py), by role and username.
PAGES = [
    ("officer", "luquan", "home", "/"),
    ("officer", "luquan", "registrations", "/registry/registrations/"),
    ("officer", "luquan", "registration detail", "{registration}"),
    ("officer", "luquan", "employers", "/registry/employers/"),
    ("officer", "luquan", "surveys", "/programmes/surveys/"),
    ("officer", "luquan", "survey edit form", "{survey_edit}"),
    ("officer", "luquan", "dashboard", "/dashboard/"),
    ("officer", "luquan", "rules", "/programmes/rules/"),
    ("province", "sheng", "home", "/"),
    ("province", "sheng", "dashboard", "/dashboard/"),
    ("province", "sheng", "registrations", "/registry/registrations/"),
    ("province", "sheng", "surveys", "/programmes/surveys/"),
    ("province", "sheng", "batches", "/payments/"),
    ("city", "shijiazhuang", "dashboard", "/dashboard/"),
    ("city", "shijiazhuang", "registrations", "/registry/registrations/"),
    ("anonymous", None, "lookup page", "/payments/lookup/"),
    ("anonymous", None, "login page", "/accounts/login/"),
]
PROD_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "bench-pages-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "PII_KEYS": "b1:YmVuY2gtbG9hZC1waWkta2V5LTAwMDAwMDAwMDAwMDA=",
    "PII_INDEX_KEY": "bench-load-blind-index-key",
    "ALLOWED_HOSTS": "127.0.0.1",
    "DJANGO_SETTINGS_MODULE": "portal.settings",
}


def _environ(path: str, cookie: str) -> dict:
    path, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_X_FORWARDED_PROTO": "https",  # as the TLS proxy sends it
        "HTTP_ACCEPT_ENCODING": "gzip",
        "HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9",
        "HTTP_COOKIE": cookie,
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


class Caller:
    """Calls the WSGI application as gunicorn would, counting the SQL queries of each call."""

    def __init__(self):
        from django.db import connection

        from portal.wsgi import application

        self.application, self.connection = application, connection
        self.queries = 0

    def _count(self, execute, sql, params, many, context):
        self.queries += 1
        return execute(sql, params, many, context)

    def get(self, path: str, cookie: str) -> tuple[int, bytes, int]:
        status = []
        self.queries = 0
        with self.connection.execute_wrapper(self._count):
            body = b"".join(self.application(_environ(path, cookie), lambda s, h, e=None: status.append(s)))
        return int(status[0].split()[0]), body, self.queries


def cookies_for(usernames: set[str]) -> dict:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    cookies = {None: ""}
    for username in usernames:
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        cookies[username] = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return cookies


def resolve_paths(caller: Caller, cookies: dict) -> list[tuple[str, str, str, str]]:
    """The detail pages: the first registration of the officer's list, the officer's first draft survey."""
    _status, body, _q = caller.get("/registry/registrations/", cookies["luquan"])
    registration = re.search(rb"/registry/registrations/\d+/", body)
    from programs.models import SurveyReport

    draft = SurveyReport.objects.filter(district__code=_region_code("luquan"), status="draft").first()
    found = {
        "registration": registration.group().decode() if registration else None,
        "survey_edit": f"/programmes/surveys/{draft.pk}/edit/" if draft else None,
    }
    out = []
    for role, username, name, path in PAGES:
        if path.startswith("{"):
            path = found[path.strip("{}")]
            if not path:
                print(f"   (skipped {role} {name}: nothing to open in the demo data)")
                continue
        out.append((role, username, name, path))
    return out


def _region_code(username: str) -> str:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.select_related("region").get(username=username).region.code


def ensure_draft() -> None:
    """The officer's survey edit form needs a draft to open: make one as the load bench does."""
    from programs.models import SurveyReport

    if SurveyReport.objects.filter(district__code=_region_code("luquan"), status="draft").exists():
        return
    from bench.load import DISTRICT_OFFICERS, make_drafts

    DISTRICT_OFFICERS[:] = ["luquan"]
    make_drafts()


MARKER_C = r"""
#include <valgrind/callgrind.h>
void portal_count_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_TOGGLE_COLLECT; }
void portal_count_stop(const char *name) { CALLGRIND_TOGGLE_COLLECT; CALLGRIND_DUMP_STATS_AT(name); }
"""


def marker_library(work: Path) -> Path:
    """Valgrind's client requests (callgrind.h) as two C functions for ctypes: start counting, and stop
    and write what was counted as one part file. Outside valgrind they do nothing."""
    (work / "marker.c").write_text(MARKER_C)
    library = work / "marker.so"
    subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", str(library), str(work / "marker.c")], check=True)
    return library


@contextlib.contextmanager
def counted(library, name: str):
    library.portal_count_start()
    try:
        yield
    finally:
        library.portal_count_stop(name.encode())


def measure(pages, caller: Caller, cookies: dict, repeat: int, marker) -> list[dict]:
    rows = []
    for role, username, name, path in pages:
        for _ in range(3):  # warm: caches, compiled templates, the connection
            status, body, queries = caller.get(path, cookies[username])
        if status != 200:
            raise SystemExit(f"{role} {name} {path}: status {status}")
        cpu = []
        if marker:
            with counted(marker, f"{role} {name}"):
                for _ in range(repeat):
                    caller.get(path, cookies[username])
        else:
            for _ in range(repeat):
                start = time.process_time()
                caller.get(path, cookies[username])
                cpu.append(1000 * (time.process_time() - start))
        rows.append({
            "role": role, "page": name, "path": path, "queries": queries, "bytes": len(body),
            "cpu_ms": round(statistics.median(cpu), 2) if cpu else None,
        })  # fmt: skip
    return rows


def instructions_from(parts: list[Path], repeat: int) -> list[int]:
    counts = []
    for part in parts:
        text = part.read_text(errors="replace")
        found = re.search(r"^totals:\s+(\d+)", text, re.M) or re.search(r"^summary:\s+(\d+)", text, re.M)
        counts.append(int(found.group(1)) // repeat if found else 0)
    return counts


def setup_database(env: dict) -> None:
    from bench.load import _recreate_database

    _recreate_database(env["DATABASE_URL"])
    for step in (["migrate", "--noinput", "-v0"], ["load_demo", "-v0"]):
        subprocess.run([sys.executable, "manage.py", *step], cwd=ROOT, env={**env, "CELERY_EAGER": "true"}, check=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.page_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--setup", action="store_true", help="(re)create the database and load the demo first")
    parser.add_argument(
        "--repeat", type=int, default=15, help="measured requests per page (default 15; 3 with --callgrind)"
    )
    parser.add_argument(
        "--callgrind", action="store_true", help="count instructions with valgrind (slow, load-independent)"
    )
    parser.add_argument("--only", default="", help="pages whose 'role page' contains this text")
    parser.add_argument("--static-root", type=Path, help="an existing production static build (else one is made)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "page_cost_results.json")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--marker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    db_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal").rstrip("/")
    if not db_url.endswith("_pages"):
        db_url += "_pages"
    env = {**os.environ, **PROD_ENV, "DATABASE_URL": db_url, "PYTHON": sys.executable}
    if not env.get("REDIS_URL"):
        raise SystemExit("bench.page_cost needs Redis (REDIS_URL=redis://…), as production does")
    if args.setup and not args.inner:
        setup_database(env)
    if not args.static_root:
        args.static_root = Path(tempfile.mkdtemp(prefix="portal-pages-static-"))
        subprocess.run(
            ["sh", "bin/build_static.sh"], cwd=ROOT, env={**env, "STATIC_ROOT": str(args.static_root)},
            check=True, capture_output=True,
        )  # fmt: skip
    env["STATIC_ROOT"] = str(args.static_root)

    if args.callgrind and not args.inner:
        repeat = args.repeat if "--repeat" in " ".join(argv) else 3
        work = Path(tempfile.mkdtemp(prefix="portal-pages-cg-"))
        inner = ["--only", args.only] if args.only else []
        command = [
            "valgrind", "--tool=callgrind", "--collect-atstart=no", f"--callgrind-out-file={work}/cg.out",
            sys.executable, "-m", "bench.page_cost", "--inner", "--callgrind",
            "--static-root", str(args.static_root), "--repeat", str(repeat), "--out", str(work / "rows.json"),
            "--marker", str(marker_library(work)), *inner,
        ]  # fmt: skip
        subprocess.run(command, cwd=ROOT, env=env, check=True, stderr=subprocess.DEVNULL)
        rows = json.loads((work / "rows.json").read_text())
        # One part file per page, in order (the last file, written at exit, is the empty rest).
        parts = sorted(work.glob("cg.out.*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
        for row, count in zip(rows, instructions_from(parts, repeat), strict=False):
            row["instructions"] = count
    else:
        os.environ.update(env)
        import django

        django.setup()
        ensure_draft()
        caller = Caller()
        cookies = cookies_for({u for _r, u, _n, _p in PAGES if u})
        pages = [p for p in resolve_paths(caller, cookies) if args.only in f"{p[0]} {p[2]}"]
        marker = ctypes.CDLL(str(args.marker)) if args.marker else None
        if marker:
            marker.portal_count_stop.argtypes = [ctypes.c_char_p]
        rows = measure(pages, caller, cookies, args.repeat, marker)
        if args.inner:
            args.out.write_text(json.dumps(rows))
            return 0

    print(f"{'role':10} {'page':22} {'queries':>7} {'CPU ms':>7} {'instructions':>13}  path")
    for r in rows:
        ins = f"{r['instructions'] / 1e6:11.1f} M" if r.get("instructions") else " " * 13
        cpu = f"{r['cpu_ms']:7.1f}" if r.get("cpu_ms") is not None else " " * 7
        print(f"{r['role']:10} {r['page']:22} {r['queries']:7} {cpu} {ins}  {r['path']}")
    args.out.write_text(json.dumps(rows, indent=2, ensure_ascii=False))
    print(f"\nwritten {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
