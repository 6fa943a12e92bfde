"""The portal as deployed: the DEBUG=0 static build, gunicorn with production settings, WhiteNoise.

Every other test runs with Django's test client and a test storage; this file runs the production
path the way the Dockerfile does, so that `make test` fails when the image would serve 500s:

1. `bin/build_static.sh` (the Dockerfile's own step) into a temporary STATIC_ROOT;
2. a database of its own (the test database's name + "_prod"), migrated, with the demo loaded;
3. `gunicorn -c gunicorn.conf.py portal.wsgi` (the Dockerfile's CMD) on a free loopback port,
   secrets from the environment, DEBUG off, behind a pretend TLS proxy (X-Forwarded-Proto);
4. each role logs in and opens its home, the dashboard, a list and a detail; every CSS and JS
   file a page names is fetched: 200, gzip on request, a far-future Cache-Control; the log has
   no 500 and no traceback.

It also checks docker-compose.yml against the Compose specification, and that the Dockerfile
runs the same build commands as this test.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from importlib.resources import files
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.production

# Throwaway production secrets: real values come from the environment, as in docker-compose.
PROD_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "smoke-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "PII_KEYS": "s1:c21va2UtdGVzdC1waWkta2V5LTAwMDAwMDAwMDAwMDA=",
    "PII_INDEX_KEY": "smoke-test-blind-index-key",
    "ALLOWED_HOSTS": "127.0.0.1",
    "DJANGO_SETTINGS_MODULE": "portal.settings",
}
# One login per role and the pages it opens: (username, list, detail link pattern on that list).
ROLES = [
    ("sheng", "/registry/registrations/", r"/registry/registrations/\d+/"),
    ("shijiazhuang", "/programmes/surveys/", r"/programmes/surveys/\d+/"),
    ("luquan", "/payments/", r"/payments/batches/\d+/"),
    ("qiye_luquan", "/registry/registrations/", r"/registry/registrations/\d+/"),
    ("admin", "/admin/beneficiaries/employer/", r"/admin/beneficiaries/employer/\d+/change/"),
]
DASHBOARD_ROLES = {"sheng", "shijiazhuang", "luquan", "admin"}  # an employer agent has no dashboard


# --- the pieces the Dockerfile must share with this test -------------------------------------------------


def dockerfile_run_steps() -> list[str]:
    """The Dockerfile's RUN instructions, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [re.sub(r"\s+", " ", line[4:]).strip() for line in text.splitlines() if line.startswith("RUN ")]


def test_dockerfile_builds_static_files_with_the_same_scripts_as_this_test_and_make():
    runs = dockerfile_run_steps()
    assert any(step == "sh bin/vendor_assets.sh" for step in runs), runs
    collect = [step for step in runs if "collectstatic" in step or "build_static" in step]
    # Exactly one build step, and it is the script this test runs (never a hand-written collectstatic).
    assert len(collect) == 1, collect
    assert collect[0].endswith("sh bin/build_static.sh"), collect
    assert "collectstatic" in (ROOT / "bin/build_static.sh").read_text()
    assert "bin/vendor_assets.sh" in (ROOT / "Makefile").read_text()
    cmd = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD "))
    assert json.loads(cmd[4:]) == ["gunicorn", "-c", "gunicorn.conf.py", "portal.wsgi"]


# --- docker-compose.yml against the Compose specification --------------------------------------------


def compose_schema_errors(document) -> list[str]:
    """Errors of a compose document against the published compose-spec JSON schema.

    The schema is the copy that check-jsonschema ships (a dev requirement), so no network is needed.
    """
    import jsonschema

    schema = json.loads(files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_docker_compose_follows_the_compose_specification(tmp_path):
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose_schema_errors(document) == []
    assert document["services"]["web"]["command"] == ["gunicorn", "-c", "gunicorn.conf.py", "portal.wsgi"]
    # The validator does catch a broken file (so an empty error list above means something).
    broken = json.loads(json.dumps(document))
    broken["services"]["web"]["ports"] = {"8000": 8000}
    broken["services"]["web"]["restart_policy"] = "always"
    assert len(compose_schema_errors(broken)) >= 2

    if _docker_compose_available():
        # The docker client's own check too, where it is installed: interpolation and merges included.
        shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
        (tmp_path / ".env").write_text("POSTGRES_PASSWORD=smoke\n")
        result = subprocess.run(
            ["docker", "compose", "config", "--quiet"], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr


def _docker_compose_available() -> bool:
    if not shutil.which("docker"):
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return probe.returncode == 0


# --- gunicorn with production settings ----------------------------------------------------------------


class Browser:
    """A tiny cookie-keeping HTTP client that talks to gunicorn as the TLS proxy would."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        sent = {"Host": f"127.0.0.1:{self.port}", "X-Forwarded-Proto": "https", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        conn.close()
        return response.status, response.headers, data

    def get(self, path: str, **headers):
        return self.request("GET", path, headers=headers)

    def login(self, username: str, password: str) -> None:
        status, _h, body = self.get("/accounts/login/")
        assert status == 200, (username, status)
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
        from urllib.parse import urlencode

        form = urlencode({"csrfmiddlewaretoken": token, "username": username, "password": password})
        referer = f"https://127.0.0.1:{self.port}/accounts/login/"
        status, headers, body = self.request("POST", "/accounts/login/", body=form, headers={"Referer": referer})
        assert status == 302, (username, status, body[:2000])
        assert headers["Location"] == "/", (username, headers["Location"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prod_database_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal")
    if not base.startswith("postgres"):
        pytest.skip("the production smoke test runs on PostgreSQL (make test's first session)")
    return base.rstrip("/") + "_prod"


def _recreate_database(url: str) -> None:
    import dj_database_url
    import psycopg2

    db = dj_database_url.parse(url)
    conn = psycopg2.connect(
        dbname="postgres",
        user=db["USER"] or "postgres",
        password=db["PASSWORD"] or None,
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
    )
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{db["NAME"]}"')
    conn.close()


@pytest.fixture(scope="module")
def production_server(tmp_path_factory):
    """gunicorn serving the DEBUG=0 build of this checkout; yields (port, path of its log)."""
    work = tmp_path_factory.mktemp("production")
    # A clean environment: nothing of the test settings' defaults (eager tasks, no SSL redirect) leaks in.
    env = {
        **{k: os.environ[k] for k in ("HOME", "LANG", "LC_ALL", "TMPDIR", "REDIS_URL") if k in os.environ},
        **PROD_ENV,
        "STATIC_ROOT": str(work / "static"),
        "MEDIA_ROOT": str(work / "media"),
        "DATABASE_URL": _prod_database_url(),
        "PYTHON": sys.executable,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    # The Dockerfile's step, byte for byte the same script.
    build = subprocess.run(["sh", "bin/build_static.sh"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert (work / "static" / "staticfiles.json").exists()

    _recreate_database(env["DATABASE_URL"])
    # Setting up the data is not under test: the demo's jobs run in-process here (no worker is started).
    for command in (["migrate", "--noinput", "-v0"], ["load_demo", "-v0"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env={**env, "CELERY_EAGER": "true"},
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr[-3000:]

    port = _free_port()
    log = work / "gunicorn.log"
    # gunicorn.conf.py as production has it, only fewer workers for a test.
    server_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"}
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "portal.wsgi"],
            cwd=ROOT,
            env=server_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            try:
                status, _h, _b = Browser(port).get("/accounts/login/")
                if status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer within 60 s:\n" + log.read_text()[-3000:]
            time.sleep(0.3)
        yield port, log, env
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


ASSET = re.compile(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"')


def test_every_role_reaches_its_pages_and_assets_under_gunicorn_with_debug_off(production_server):
    from portal.demo import DEMO_PASSWORD

    port, log, _env = production_server
    assets: set[str] = set()
    opened = []
    for username, list_url, detail_pattern in ROLES:
        browser = Browser(port)
        browser.login(username, DEMO_PASSWORD)
        pages = ["/", list_url] + (["/dashboard/"] if username in DASHBOARD_ROLES else [])
        bodies = {}
        for url in pages:
            status, _headers, body = browser.get(url)
            assert status == 200, (username, url, status)
            bodies[url] = body.decode()
        detail = re.search(detail_pattern, bodies[list_url])
        assert detail, (username, f"no link to a detail on {list_url}")
        status, _headers, body = browser.get(detail.group(0))
        assert status == 200, (username, detail.group(0), status)
        bodies[detail.group(0)] = body.decode()
        opened += [(username, url) for url in bodies]
        for url, html in bodies.items():
            assert "退出登录" in html or url.startswith("/admin/"), (username, url)
            assets.update(ASSET.findall(html))

    # Every stylesheet and script a page names: hashed (manifest), served, compressed, cached for a year or more.
    assert any(a.endswith(".css") for a in assets) and any(a.endswith(".js") for a in assets), assets
    anonymous = Browser(port)
    for asset in sorted(assets):
        assert re.search(r"\.[0-9a-f]{12}\.(css|js)$", asset), f"{asset} is not the manifest's hashed name"
        status, headers, body = anonymous.get(asset, **{"Accept-Encoding": "gzip"})
        assert status == 200, (asset, status)
        cache = headers.get("Cache-Control", "")
        max_age = int(re.search(r"max-age=(\d+)", cache).group(1)) if "max-age=" in cache else 0
        assert max_age >= 365 * 24 * 3600 and "immutable" in cache, (asset, cache)
        if len(body) > 1024 or headers.get("Content-Encoding"):
            assert headers.get("Content-Encoding") == "gzip", (asset, headers.get("Content-Encoding"))
    # A name that is not in the manifest is not served (no fallback to unhashed copies).
    status, _h, _b = anonymous.get("/static/css/portal.css")
    assert status == 404

    # The whole log: no 500 answered, no traceback, no error logged by Django or gunicorn.
    text = log.read_text()
    statuses = re.findall(r'" (\d{3}) ', text)
    assert statuses, text[-2000:]
    assert not [s for s in statuses if s.startswith("5")], text[-5000:]
    assert "Traceback" not in text and " ERROR " not in text and "[ERROR]" not in text, text[-5000:]


def test_healthz_turns_200_once_a_worker_and_beat_run_beside_gunicorn(production_server, tmp_path):
    """/healthz on the same gunicorn: no login, no data, 200 only when the database, the
    broker, a live worker and beat's last sweep are fine (docs/operations.md "Jobs")."""
    port, _log, env = production_server
    celery = [sys.executable, "-m", "celery", "-A", "portal"]
    flags = ["--without-gossip", "--without-mingle", "--without-heartbeat"]  # the Makefile's WORKER_FLAGS
    procs = []
    try:
        for command in (
            [*celery, "worker", *flags, "-l", "warning", "-c", "1", "-n", f"smoke-{port}@%h"],
            [*celery, "beat", "-l", "warning", "-s", str(tmp_path / "beat-schedule")],
        ):
            out = (tmp_path / f"{command[5]}.log").open("w")
            procs.append(
                subprocess.Popen(
                    command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        deadline = time.monotonic() + 120
        while True:
            status, headers, body = Browser(port).get("/healthz")
            report = json.loads(body)
            if status == 200:
                break
            assert status == 503 and report["status"] == "down" and report["down"], (status, report)
            assert time.monotonic() < deadline, f"/healthz still 503 after 120 s: {report}"
            time.sleep(2)
        assert report == {"status": "ok", "checks": {name: "ok" for name in report["checks"]}}
        assert set(report["checks"]) == {"database", "broker", "worker", "beat"}
        assert "no-cache" in headers.get("Cache-Control", "") or "max-age=0" in headers.get("Cache-Control", "")
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
