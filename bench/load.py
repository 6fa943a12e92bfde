"""python -m bench.load: the portal as deployed, under the load of a province's officers (`make bench`).

It sets up what production runs (the DEBUG=0 static build of bin/build_static.sh, gunicorn with
gunicorn.conf.py, one Celery worker, PostgreSQL and Redis) on a database of its own (the bench
database's name + "_load", demo data loaded), then drives it from an asyncio client on loopback:

- **levels** (50, 100, 200 users by default): district officers browsing, editing 摸排 drafts and
  reading dashboards; provincial and city staff; anonymous visitors of the worker lookup and login
  pages; think time 1-3 s. Users are added level by level and keep their sessions; each level is
  measured for `--seconds` after its users have started.
- **storm**: 200 logins spread over 10 s while `--storm-background` users browse; a login answered
  503 (every password-hashing slot taken) retries after its Retry-After, as a person would.

Per endpoint p50/p95/p99, errors, requests/s, the knee, how busy the machine was, and whether every
acknowledged write has its audit row are printed and written as JSON (bench/load_results.json).
Everything is bounded: fixed levels and durations, a hard deadline, and the servers are stopped.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_PASSWORD = "Wengang-2021"
DISTRICT_OFFICERS = ["luquan", "xunhuan", "cangzhou_yunhe", "taocheng", "kangbao", "dingzhou", "xinji", "shuangqiao"]
STAFF = ["sheng", "sheng2", "shijiazhuang", "zhangjiakou", "chengde", "cangzhou", "hengshui"]
# Production secrets for the run only (as the environment gives them in docker-compose).
PROD_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "bench-load-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "PII_KEYS": "b1:YmVuY2gtbG9hZC1waWkta2V5LTAwMDAwMDAwMDAwMDA=",
    "PII_INDEX_KEY": "bench-load-blind-index-key",
    "ALLOWED_HOSTS": "127.0.0.1",
    "DJANGO_SETTINGS_MODULE": "portal.settings",
}
# The targets (#16), on this 2-core machine with the generator on it.
TARGET_P95_MS = 300  # 200 users, 1-3 s think time: p95 overall, with 0 errors and every write landed
TARGET_STORM_P95_MS = 1000  # other requests' p95 during a storm of 200 logins in 10 s
TARGET_SOLO_P50_MS = 25  # the heaviest officer page's p50 with nobody else on the machine
# Not the issue's: the CPU budget per request that the p95 target needs. 200 users at 1-3 s think
# time ask about 70-80 requests/s; 2 cores give 2,000 ms of CPU a second, shared with PostgreSQL,
# Redis, Celery and the generator, so a page can spend about 10 ms of gunicorn CPU.
BUDGET_CPU_MS = 10


# --------------------------------------------------------------------------- measurements


class Recorder:
    """Every request: (when it started, endpoint, milliseconds, ok)."""

    def __init__(self):
        self.samples: list[tuple[float, str, float, bool]] = []
        self.error_examples: dict[str, str] = {}

    def add(self, name: str, started: float, ms: float, ok: bool, detail: str = "") -> None:
        self.samples.append((started, name, ms, ok))
        if not ok and name not in self.error_examples:
            self.error_examples[name] = detail

    def window(self, start: float, end: float, exclude: tuple[str, ...] = ()) -> list[tuple[str, float, bool]]:
        return [(n, ms, ok) for t, n, ms, ok in self.samples if start <= t < end and not n.startswith(exclude)]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summarise(rows: list[tuple[str, float, bool]], seconds: float) -> dict:
    by_name: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for name, ms, ok in rows:
        by_name[name].append((ms, ok))
    endpoints = {}
    for name, items in sorted(by_name.items()):
        times = [ms for ms, _ok in items]
        endpoints[name] = {
            "requests": len(items),
            "errors": sum(1 for _ms, ok in items if not ok),
            "p50_ms": round(percentile(times, 50), 1),
            "p95_ms": round(percentile(times, 95), 1),
            "p99_ms": round(percentile(times, 99), 1),
        }
    times = [ms for _n, ms, _ok in rows]
    return {
        "requests": len(rows),
        "requests_per_s": round(len(rows) / seconds, 1) if seconds else 0,
        "errors": sum(1 for _n, _ms, ok in rows if not ok),
        "p50_ms": round(percentile(times, 50), 1),
        "p95_ms": round(percentile(times, 95), 1),
        "p99_ms": round(percentile(times, 99), 1),
        "endpoints": endpoints,
    }


class MachineLoad:
    """How busy the whole machine was (all processes, not only ours) over a window, from /proc/stat."""

    def __init__(self):
        self.cpu0, self.self0, self.load0 = self._cpu(), self._self(), os.getloadavg()[0]

    @staticmethod
    def _cpu() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    @staticmethod
    def _self() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def result(self, seconds: float) -> dict:
        busy1, total1 = self._cpu()
        busy = (busy1 - self.cpu0[0]) / max(1, total1 - self.cpu0[1])
        cores = os.cpu_count() or 1
        return {
            "machine_cpu_busy_percent": round(100 * busy, 1),
            "generator_cpu_percent_of_machine": round(100 * (self._self() - self.self0) / seconds / cores, 1),
            "loadavg_1min_start": round(self.load0, 2),
            "loadavg_1min_end": round(os.getloadavg()[0], 2),
            "cores": cores,
        }


class ServerCPU:
    """CPU seconds spent by the portal's own processes over a window: the gunicorn and Celery process
    groups, and the PostgreSQL backends connected to the load database. Unlike latency, this does not
    depend on how many other programs share the machine, so it says what the portal itself costs."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, groups: dict[str, int], database: str):
        self.groups, self.database = groups, database
        self.start = self.sample()

    def _postgres_pids(self) -> set[int]:
        # psycopg2 directly: Django refuses database calls from inside the client's event loop.
        import psycopg2
        from django.conf import settings

        db = settings.DATABASES["default"]
        conn = psycopg2.connect(
            dbname="postgres", user=db["USER"] or "postgres", password=db["PASSWORD"] or None,
            host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432,
        )  # fmt: skip
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database])
                return {row[0] for row in cursor.fetchall()}
        finally:
            conn.close()

    def sample(self) -> dict[str, dict[int, float]]:
        out: dict[str, dict[int, float]] = {name: {} for name in [*self.groups, "postgres"]}
        postgres = self._postgres_pids()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, pgrp, cpu = int(entry), int(fields[2]), (int(fields[11]) + int(fields[12])) / self.TICK
            for name, group in self.groups.items():
                if pgrp == group:
                    out[name][pid] = cpu
            if pid in postgres:
                out["postgres"][pid] = cpu
        return out

    def per_request_ms(self, requests: int) -> dict:
        end = self.sample()
        used = {name: sum(cpu - self.start[name].get(pid, 0.0) for pid, cpu in end[name].items()) for name in end}
        result = {name: round(1000 * seconds / max(1, requests), 1) for name, seconds in used.items()}
        result["total"] = round(sum(result.values()), 1)
        # What the portal could serve if it had the machine's cores to itself (generator aside).
        result["capacity_req_per_s_on_free_cores"] = round((os.cpu_count() or 1) * 1000 / max(0.1, result["total"]), 1)
        return result


class RequestCPU:
    """The CPU each request cost in its gunicorn worker, by page: the lines of gunicorn.conf.py's
    bench-only hook (when, page, thread CPU ms), read for a window of the run."""

    def __init__(self, path: Path):
        self.path = path

    def window(self, start: float, end: float) -> dict[str, list[float]]:
        by_name: dict[str, list[float]] = defaultdict(list)
        if not self.path.exists():
            return by_name
        with self.path.open(encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 3 and start <= float(parts[0]) < end:
                    by_name[parts[1]].append(float(parts[2]))
        return by_name


def add_cpu(summary: dict, cpu: dict[str, list[float]]) -> None:
    """Each endpoint's mean and median gunicorn CPU per request, beside its latencies. (The log
    has a request when it ended, the latencies when it started: the two sets differ by the few
    requests in flight at the window's edges.)"""
    for name, e in summary["endpoints"].items():
        values = cpu.get(name, [])
        e["cpu_ms_mean"] = round(sum(values) / len(values), 2) if values else None
        e["cpu_ms_p50"] = round(percentile(values, 50), 2) if values else None
    every = [v for name in summary["endpoints"] for v in cpu.get(name, [])]
    summary["gunicorn_cpu_ms_mean"] = round(sum(every) / len(every), 2) if every else None


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# --------------------------------------------------------------------------- the virtual users


class User:
    """One browser: its own cookies, talking to gunicorn as the TLS proxy would."""

    def __init__(self, base: str, recorder: Recorder, http):
        import aiohttp
        from yarl import URL

        self.base = base
        self.recorder = recorder
        # The session cookie is Secure (production settings): the proxy's https is pretended.
        jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[URL(base)])
        self.session = aiohttp.ClientSession(
            base_url=base,
            cookie_jar=jar,
            connector=http,
            connector_owner=False,
            headers={"X-Forwarded-Proto": "https", "Accept-Encoding": "gzip"},
            timeout=aiohttp.ClientTimeout(total=60),
        )
        self.links: dict[str, list[str]] = {}

    async def close(self):
        await self.session.close()

    async def request(self, name: str, method: str, path: str, *, expect=(200,), data=None) -> tuple[int, str, dict]:
        started = time.monotonic()
        # The page's name travels to gunicorn, whose bench-only hook logs each request's CPU under it.
        headers = {"X-Bench-Endpoint": name}
        if method == "POST":
            headers["Referer"] = self.base.replace("http://", "https://") + path
        try:
            async with self.session.request(
                method, path, data=data, headers=headers, allow_redirects=False
            ) as response:
                body = await response.text()
                status, response_headers = response.status, dict(response.headers)
        except Exception as exc:  # a refused or timed-out request is an error of the run, not a crash
            self.recorder.add(name, started, (time.monotonic() - started) * 1000, False, repr(exc))
            return 0, "", {}
        ok = status in expect
        self.recorder.add(name, started, (time.monotonic() - started) * 1000, ok, f"{status} {path}")
        return status, body, response_headers

    async def login(self, username: str, *, name: str = "login", retries: int = 0) -> tuple[bool, int]:
        """GET the form, POST the password; a 503 (hashing slots full) is retried after Retry-After."""
        tries = 0
        while True:
            tries += 1
            status, body, _h = await self.request(name + " form", "GET", "/accounts/login/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
            if not token:
                return False, tries
            form = {"csrfmiddlewaretoken": token.group(1), "username": username, "password": DEMO_PASSWORD}
            status, _body, headers = await self.request(name, "POST", "/accounts/login/", expect=(302, 503), data=form)
            if status == 302:
                return True, tries
            if status != 503 or tries > retries:
                return False, tries
            await asyncio.sleep(float(headers.get("Retry-After", "2")))

    async def get(self, name: str, path: str) -> str:
        _status, body, _h = await self.request(name, "GET", path)
        return body

    def pick(self, key: str, body: str, pattern: str) -> None:
        found = re.findall(pattern, body)
        if found:
            self.links[key] = found


async def think(rng: random.Random) -> None:
    await asyncio.sleep(rng.uniform(1.0, 3.0))


def weighted(rng: random.Random, choices: list[tuple[int, str]]) -> str:
    return rng.choices([c for _w, c in choices], weights=[w for w, _c in choices])[0]


async def district_officer(user: User, username: str, draft: int | None, stop: asyncio.Event, rng, writes) -> None:
    if not (await user.login(username, retries=20))[0]:
        return
    tasks = [
        (15, "home"),
        (20, "registrations"),
        (15, "registration"),
        (10, "employers"),
        (10, "surveys"),
        (10, "survey edit"),
        (15, "dashboard"),
        (5, "rules"),
    ]
    while not stop.is_set():
        task = weighted(rng, tasks)
        if task == "home":
            await user.get("home", "/")
        elif task == "registrations":
            user.pick(
                "registration",
                await user.get("registrations", "/registry/registrations/"),
                r"/registry/registrations/\d+/",
            )
        elif task == "registration" and user.links.get("registration"):
            await user.get("registration detail", rng.choice(user.links["registration"]))
        elif task == "employers":
            await user.get("employers", "/registry/employers/")
        elif task == "surveys":
            await user.get("surveys", "/programmes/surveys/")
        elif task == "survey edit" and draft:
            await edit_survey(user, draft, writes)
        elif task == "dashboard":
            await user.get("dashboard", "/dashboard/")
        elif task == "rules":
            await user.get("rules", "/programmes/rules/")
        await think(rng)


INPUT = re.compile(r"<input\b([^>]*)>")
ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')


async def edit_survey(user: User, draft: int, writes: dict) -> None:
    """Open the 摸排 draft's form and save it (figures as shown, one count nudged), as an officer would."""
    status, body, _h = await user.request("survey edit form", "GET", f"/programmes/surveys/{draft}/edit/")
    if status != 200:
        return
    form = {}
    for attrs in INPUT.findall(body):
        fields = dict(ATTR.findall(attrs))
        if "name" in fields and fields.get("type") not in ("checkbox", "submit"):
            form[fields["name"]] = fields.get("value", "")
    programme = re.search(r'<select name="programme"[^>]*>.*?<option value="(\d+)"', body, re.S)
    if programme:
        form["programme"] = programme.group(1)
    form["confirm_jump"] = "on"
    # enterprises_surveyed has no part rule that a nudge could break; +1 / -1 keeps it near the real figure.
    if form.get("enterprises_surveyed", "").isdigit():
        value = int(form["enterprises_surveyed"])
        form["enterprises_surveyed"] = str(value + 1 if value % 2 == 0 else value - 1)
    writes["sent"] += 1
    status, _body, headers = await user.request(
        "survey save", "POST", f"/programmes/surveys/{draft}/edit/", expect=(302,), data=form
    )
    if status == 302 and headers.get("Location", "").rstrip("/").endswith(str(draft)):
        writes["acknowledged"] += 1


async def staff_member(user: User, username: str, stop: asyncio.Event, rng) -> None:
    if not (await user.login(username, retries=20))[0]:
        return
    tasks = [(30, "dashboard"), (20, "registrations"), (20, "surveys"), (15, "batches"), (15, "home")]
    while not stop.is_set():
        task = weighted(rng, tasks)
        path = {
            "dashboard": "/dashboard/",
            "registrations": "/registry/registrations/",
            "surveys": "/programmes/surveys/",
            "batches": "/payments/",
            "home": "/",
        }[task]
        await user.get(f"staff {task}", path)
        await think(rng)


async def anonymous(user: User, stop: asyncio.Event, rng) -> None:
    while not stop.is_set():
        if rng.random() < 0.7:
            await user.get("lookup page", "/payments/lookup/")
        else:
            await user.get("login page", "/accounts/login/")
        await think(rng)


SOLO_PAGES = [
    ("home", "/"),
    ("registrations", "/registry/registrations/"),
    ("registration detail", None),
    ("employers", "/registry/employers/"),
    ("surveys", "/programmes/surveys/"),
    ("survey edit form", None),
    ("dashboard", "/dashboard/"),
    ("rules", "/programmes/rules/"),
]


async def solo(base: str, args, drafts: dict[str, int], recorder: Recorder, http, request_cpu: RequestCPU) -> dict:
    """One district officer alone on the portal: each of its pages `args.solo_repeats` times in turn.
    The issue's third target is the heaviest of these pages' p50 (only meaningful on a quiet machine)."""
    user = User(base, recorder, http)
    if not (await user.login("luquan"))[0]:
        raise SystemExit("the solo officer could not log in")
    load = MachineLoad()
    start = time.monotonic()
    for name, path in SOLO_PAGES:
        if name == "registration detail":
            user.pick(
                "registration",
                await user.get("solo warm-up", "/registry/registrations/"),
                r"/registry/registrations/\d+/",
            )
            path = (user.links.get("registration") or [None])[0]
        elif name == "survey edit form":
            path = f"/programmes/surveys/{drafts['luquan']}/edit/" if drafts.get("luquan") else None
        if not path:
            continue
        # Warm-up first: each gunicorn worker compiles a page's templates on its first request of it.
        warm_up = args.workers * args.threads + 1
        for i in range(warm_up + args.solo_repeats):
            await user.get(f"solo {name}" if i >= warm_up else "solo warm-up", path)
    end = time.monotonic()
    await user.close()
    summary = summarise(recorder.window(start, end, exclude=("solo warm-up",)), end - start)
    add_cpu(summary, request_cpu.window(start, end))
    heaviest = max(summary["endpoints"].items(), key=lambda item: item[1]["p50_ms"])
    summary["heaviest"] = {"page": heaviest[0].removeprefix("solo "), "p50_ms": heaviest[1]["p50_ms"]}
    summary["machine"] = load.result(end - start)
    print_solo(summary)
    return summary


# --------------------------------------------------------------------------- the run


async def run_load(
    base: str, args, drafts: dict[str, int], recorder: Recorder, groups: dict, database: str, request_cpu: RequestCPU
) -> dict:
    import aiohttp

    # A connection per request: a pooled keep-alive connection that the server closes after its idle
    # timeout races the next request and resets it, which a browser would retry but aiohttp does not.
    http = aiohttp.TCPConnector(limit=0, force_close=True)
    rng = random.Random(16)
    stop = asyncio.Event()
    users: list[User] = []
    tasks: list[asyncio.Task] = []
    writes = {"sent": 0, "acknowledged": 0}
    results = {"levels": [], "writes": writes}
    if args.solo_repeats:
        results["solo"] = await solo(base, args, drafts, recorder, http, request_cpu)

    def add_user(index: int) -> None:
        user = User(base, recorder, http)
        users.append(user)
        kind = index % 20
        user_rng = random.Random(rng.random())
        if kind < 14:  # 70 % district officers
            username = DISTRICT_OFFICERS[index % len(DISTRICT_OFFICERS)]
            coro = district_officer(user, username, drafts.get(username), stop, user_rng, writes)
        elif kind < 17:  # 15 % provincial and city staff
            coro = staff_member(user, STAFF[index % len(STAFF)], stop, user_rng)
        else:  # 15 % anonymous
            coro = anonymous(user, stop, user_rng)
        tasks.append(asyncio.create_task(coro))

    for level in args.levels:
        ramp = max(5.0, (level - len(users)) / 20)  # new users arrive at 20 a second
        new = level - len(users)
        for _ in range(new):
            add_user(len(users))
            await asyncio.sleep(ramp / max(1, new))
        await asyncio.sleep(5)  # the arrivals' logins settle
        load, cpu = MachineLoad(), ServerCPU(groups, database)
        start = time.monotonic()
        await asyncio.sleep(args.seconds)
        end = time.monotonic()
        summary = summarise(recorder.window(start, end), end - start)
        summary.update(
            users=level,
            seconds=round(end - start, 1),
            machine=load.result(end - start),
            server_cpu_ms_per_request=cpu.per_request_ms(summary["requests"]),
        )
        add_cpu(summary, request_cpu.window(start, end))
        results["levels"].append(summary)
        print_level(summary)

    if args.storm:
        # Back to the storm's background: the level users stop, a fresh set browses.
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        stop.clear()
        tasks.clear()
        for user in users:
            await user.close()
        users.clear()
        for i in range(args.storm_background):
            add_user(i)
            await asyncio.sleep(5.0 / args.storm_background)
        await asyncio.sleep(10)
        results["storm"] = await login_storm(base, args, recorder, http, ServerCPU(groups, database), request_cpu)

    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    for user in users:
        await user.close()
    await http.close()
    return results


async def login_storm(base: str, args, recorder: Recorder, http, cpu: "ServerCPU", request_cpu: RequestCPU) -> dict:
    """`args.storm_logins` people press 登录 within `args.storm_seconds`, while the background browses."""
    rng = random.Random(9)
    outcomes = []

    async def one(delay: float, username: str) -> None:
        await asyncio.sleep(delay)
        user = User(base, recorder, http)
        started = time.monotonic()
        ok, tries = await user.login(username, name="storm login", retries=30)
        outcomes.append((ok, tries, (time.monotonic() - started) * 1000))
        if ok:
            await user.get("storm home", "/")
        await user.close()

    everyone = DISTRICT_OFFICERS + STAFF
    load = MachineLoad()
    start = time.monotonic()
    await asyncio.gather(
        *(one(rng.uniform(0, args.storm_seconds), everyone[i % len(everyone)]) for i in range(args.storm_logins))
    )
    end = time.monotonic()
    others = recorder.window(start, end, exclude=("storm",))
    logins = [ms for ok, _t, ms in outcomes if ok]
    result = {
        "logins": args.storm_logins,
        "spread_seconds": args.storm_seconds,
        "background_users": args.storm_background,
        "logged_in": sum(1 for ok, _t, _ms in outcomes if ok),
        "retried_after_503": sum(1 for _ok, t, _ms in outcomes if t > 1),
        "login_p50_ms": round(percentile(logins, 50), 1),
        "login_p95_ms": round(percentile(logins, 95), 1),
        "login_max_ms": round(max(logins), 1) if logins else 0,
        "storm_seconds": round(end - start, 1),
        "others": summarise(others, end - start),
        "login_cpu_ms_mean": None,
        "machine": load.result(end - start),
        "server_cpu_seconds": round(cpu.per_request_ms(1000)["total"], 2),  # per 1000 requests = seconds
    }
    cpu_by_page = request_cpu.window(start, end)
    add_cpu(result["others"], cpu_by_page)
    logins_cpu = cpu_by_page.get("storm login", [])
    result["login_cpu_ms_mean"] = round(sum(logins_cpu) / len(logins_cpu), 1) if logins_cpu else None
    print_storm(result)
    return result


def knee(levels: list[dict]) -> str:
    """The first level that misses the p95 target, or whose throughput per user falls by a fifth."""
    previous = None
    for level in levels:
        per_user = level["requests_per_s"] / level["users"]
        if level["p95_ms"] > TARGET_P95_MS or level["errors"] or (previous and per_user < 0.8 * previous[1]):
            where = (
                f"between {previous[0]} and {level['users']} users"
                if previous
                else f"at or below {level['users']} users"
            )
            return f"{where} (p95 {level['p95_ms']} ms, {level['requests_per_s']} req/s)"
        previous = (level["users"], per_user)
    return f"not reached up to {levels[-1]['users']} users" if levels else "no levels run"


def print_level(s: dict) -> None:
    m = s["machine"]
    print(
        f"\n== {s['users']} users, {s['seconds']} s: {s['requests_per_s']} req/s, "
        f"p50 / p95 / p99 {s['p50_ms']} / {s['p95_ms']} / {s['p99_ms']} ms, errors {s['errors']} "
        f"(machine {m['machine_cpu_busy_percent']}% busy, generator {m['generator_cpu_percent_of_machine']}%, "
        f"load {m['loadavg_1min_start']}→{m['loadavg_1min_end']})"
    )
    c = s["server_cpu_ms_per_request"]
    print(
        "   portal CPU per request: "
        + ", ".join(f"{k} {v} ms" for k, v in c.items() if k != "capacity_req_per_s_on_free_cores")
        + f" → about {c['capacity_req_per_s_on_free_cores']} req/s if the portal had the cores to itself"
    )
    print_endpoints(s, p95_target=TARGET_P95_MS)


def _ms(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_endpoints(s: dict, *, p95_target: float | None = None, p50_target: float | None = None) -> None:
    """Per page: requests, errors, p50/p95/p99, the gunicorn CPU per request, and the targets."""
    print(
        f"   {'endpoint':24} {'n':>6} {'err':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'CPU ms':>7}"
        f"  targets (p95 ≤ {p95_target or '-'} ms / p50 ≤ {p50_target or '-'} ms; CPU ≤ {BUDGET_CPU_MS} ms budget)"
    )
    for name, e in s["endpoints"].items():
        checks = []
        if p95_target:
            checks.append(f"p95 {verdict(e['p95_ms'] <= p95_target)}")
        if p50_target:
            checks.append(f"p50 {verdict(e['p50_ms'] <= p50_target)}")
        if e.get("cpu_ms_mean") is not None:
            checks.append(f"CPU {verdict(e['cpu_ms_mean'] <= BUDGET_CPU_MS)}")
        print(
            f"   {name:24} {e['requests']:6} {e['errors']:4} {e['p50_ms']:8} {e['p95_ms']:8} {e['p99_ms']:8} "
            f"{_ms(e.get('cpu_ms_mean')):>7}  {', '.join(checks)}"
        )
    if s.get("gunicorn_cpu_ms_mean") is not None:
        print(
            f"   {'all':24} {s['requests']:6} {s['errors']:4} {s['p50_ms']:8} {s['p95_ms']:8} {s['p99_ms']:8} {_ms(s['gunicorn_cpu_ms_mean']):>7}"
        )


def print_solo(s: dict) -> None:
    m = s["machine"]
    print(
        f"\n== one officer alone ({s['requests']} requests; machine {m['machine_cpu_busy_percent']}% busy, "
        f"load {m['loadavg_1min_start']}→{m['loadavg_1min_end']}): heaviest page {s['heaviest']['page']}, "
        f"p50 {s['heaviest']['p50_ms']} ms"
    )
    print_endpoints(s, p50_target=TARGET_SOLO_P50_MS)


def print_storm(r: dict) -> None:
    o, m = r["others"], r["machine"]
    print(
        f"\n== storm: {r['logins']} logins within {r['spread_seconds']} s beside {r['background_users']} browsing users: "
        f"{r['logged_in']} logged in ({r['retried_after_503']} retried after a 503), login p50 / p95 / max "
        f"{r['login_p50_ms']} / {r['login_p95_ms']} / {r['login_max_ms']} ms; other requests p95 {o['p95_ms']} ms "
        f"({o['requests']} requests, {o['errors']} errors; machine {m['machine_cpu_busy_percent']}% busy); "
        f"CPU per login {_ms(r['login_cpu_ms_mean'])} ms"
    )
    print_endpoints(o, p95_target=TARGET_STORM_P95_MS)


def targets(results: dict) -> list[dict]:
    """The issue's targets, each with what was measured and whether it was met."""
    out = []
    top = next((level for level in results["levels"] if level["users"] == 200), None)
    if top:
        w = results["writes"]
        landed = w["sent"] == w["acknowledged"] == w["audited"]
        out.append({
            "target": f"200 users: p95 ≤ {TARGET_P95_MS} ms overall, 0 errors, every write landed",
            "measured": f"p95 {top['p95_ms']} ms, {top['errors']} errors, writes {w['sent']} sent / "
                        f"{w['acknowledged']} acknowledged / {w['audited']} audited (whole run)",
            "met": top["p95_ms"] <= TARGET_P95_MS and top["errors"] == 0 and landed,
        })  # fmt: skip
    if "storm" in results:
        o = results["storm"]["others"]
        out.append({
            "target": f"storm of {results['storm']['logins']} logins in {results['storm']['spread_seconds']:.0f} s: "
                      f"other requests' p95 ≤ {TARGET_STORM_P95_MS} ms",
            "measured": f"p95 {o['p95_ms']} ms ({o['requests']} requests, {o['errors']} errors)",
            "met": o["p95_ms"] <= TARGET_STORM_P95_MS and o["errors"] == 0,
        })  # fmt: skip
    if "solo" in results:
        h = results["solo"]["heaviest"]
        out.append({
            "target": f"the heaviest officer page's p50, nobody else on the portal: ≤ {TARGET_SOLO_P50_MS} ms",
            "measured": f"{h['page']}: p50 {h['p50_ms']} ms (machine {results['solo']['machine']['machine_cpu_busy_percent']}% busy)",
            "met": h["p50_ms"] <= TARGET_SOLO_P50_MS,
        })  # fmt: skip
    for level in results["levels"]:
        cpu = level.get("gunicorn_cpu_ms_mean")
        if cpu is not None:
            out.append({
                "target": f"budget (not the issue's): gunicorn CPU per request ≤ {BUDGET_CPU_MS} ms at {level['users']} users",
                "measured": f"{cpu} ms (portal total with PostgreSQL and Celery: "
                            f"{level['server_cpu_ms_per_request']['total']} ms)",
                "met": cpu <= BUDGET_CPU_MS,
            })  # fmt: skip
    return out


# --------------------------------------------------------------------------- servers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _recreate_database(url: str) -> None:
    import dj_database_url
    import psycopg2

    db = dj_database_url.parse(url)
    conn = psycopg2.connect(
        dbname="postgres", user=db["USER"] or "postgres", password=db["PASSWORD"] or None,
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432,
    )  # fmt: skip
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{db["NAME"]}"')
    conn.close()


def setup_environment(work: Path, args) -> dict:
    db_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal").rstrip("/")
    if not db_url.startswith("postgres"):
        raise SystemExit("the load bench needs PostgreSQL (DATABASE_URL=postgres://…)")
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        raise SystemExit("the load bench needs Redis (REDIS_URL=redis://…), as production does")
    env = {k: os.environ[k] for k in ("HOME", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
    env.update(PROD_ENV)
    env.update(
        DATABASE_URL=db_url.removesuffix("_bench") + "_load",
        REDIS_URL=redis_url,
        STATIC_ROOT=str(work / "static"),
        MEDIA_ROOT=str(work / "media"),
        PYTHON=sys.executable,
        PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        GUNICORN_BIND=f"127.0.0.1:{_free_port()}",
        WEB_CONCURRENCY=str(args.workers),
        GUNICORN_THREADS=str(args.threads),
        GUNICORN_WORKER_CLASS=args.worker_class,
        GUNICORN_REQUEST_CPU_LOG=str(work / "request_cpu.tsv"),
    )
    return env


def run_setup(env: dict) -> None:
    steps = [
        ["sh", "bin/build_static.sh"],
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        [sys.executable, "manage.py", "load_demo", "-v0"],
    ]
    _recreate_database(env["DATABASE_URL"])
    for step in steps:
        t = time.monotonic()
        done = subprocess.run(step, cwd=ROOT, env={**env, "CELERY_EAGER": "true"}, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(step)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        print(f"   {' '.join(step[-2:])}: {time.monotonic() - t:.0f} s", flush=True)


def django_in_process(env: dict):
    """This process reads the load database too: drafts to edit before, audit rows after."""
    os.environ.update({k: v for k, v in env.items() if k != "PATH"})
    import django

    django.setup()


def make_drafts() -> dict[str, int]:
    """One 摸排 draft per district officer, in the latest period its district has not reported yet."""
    from django.core.exceptions import PermissionDenied

    from accounts.models import User as Account
    from core.errors import DomainError
    from programs.models import Programme, SurveyReport
    from programs.surveys.fields import DATA_FIELDS
    from programs.surveys.periods import survey_periods
    from programs.surveys.services import survey_create

    programme = Programme.objects.get(code="HEBEI-2021")
    drafts = {}
    for username in DISTRICT_OFFICERS:
        officer = Account.objects.select_related("region").get(username=username)
        last = SurveyReport.objects.filter(programme=programme, district=officer.region).order_by("-as_of").first()
        data = {f: getattr(last, f) for f in DATA_FIELDS} if last else None
        if data is None:
            continue
        for period in reversed(survey_periods(programme)):
            try:
                report = survey_create(
                    programme=programme, district=officer.region, as_of=period.end, data=data,
                    acting_user=officer, confirm_jump=True,
                )  # fmt: skip
            except (DomainError, PermissionDenied):
                continue  # that period is taken (or closed): try the one before
            drafts[username] = report.pk
            break
    return drafts


@contextlib.contextmanager
def servers(env: dict, work: Path):
    log = (work / "servers.log").open("w")
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "portal.wsgi"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    worker = subprocess.Popen(
        # --purge: tasks left in this Redis database's queue by an earlier run name rows of a
        # database that was dropped since (the load database is made anew each run). No -Q:
        # the worker consumes the four queues of CELERY_TASK_QUEUES.
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-l", "warning", "-c", "1", "--purge"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        yield web, worker
    finally:
        for process in (web, worker):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in (web, worker):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def wait_until_serving(base: str, web: subprocess.Popen) -> None:
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise SystemExit("gunicorn stopped at start (see the servers log)")
        try:
            request = urllib.request.Request(base + "/accounts/login/", headers={"X-Forwarded-Proto": "https"})
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("gunicorn did not answer within 60 s")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")], default=[50, 100, 200])
    parser.add_argument("--seconds", type=float, default=60, help="measured seconds per level (default 60)")
    parser.add_argument("--no-storm", dest="storm", action="store_false")
    parser.add_argument("--storm-logins", type=int, default=200)
    parser.add_argument("--storm-seconds", type=float, default=10)
    parser.add_argument("--storm-background", type=int, default=50)
    parser.add_argument(
        "--solo-repeats", type=int, default=15, help="requests per page of the lone officer before the levels (0: none)"
    )
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1, help="WEB_CONCURRENCY")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (GUNICORN_THREADS)")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (sync, gthread)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "load_results.json")
    args = parser.parse_args(argv)
    # A hard bound on the whole run: setup, levels, storm and shutdown.
    limit = 900 + len(args.levels) * (args.seconds + 30) + (120 if args.storm else 0) + 2 * args.solo_repeats

    def over_time(*_):
        raise TimeoutError(f"the load bench ran over its bound of {limit:.0f} s")

    signal.signal(signal.SIGALRM, over_time)
    signal.alarm(int(limit))

    run_started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="portal-load-"))
    env = setup_environment(work, args)
    print(f"Load bench: database {env['DATABASE_URL'].rsplit('/', 1)[-1]}, gunicorn {args.workers} × {args.threads} {args.worker_class}, "
          f"levels {args.levels}, {args.seconds:.0f} s each; setting up …", flush=True)  # fmt: skip
    run_setup(env)
    django_in_process(env)
    drafts = make_drafts()
    from django.utils import timezone

    from accounts.models import AuditEntry

    started_at = timezone.now()
    base = "http://" + env["GUNICORN_BIND"]
    recorder = Recorder()
    database = env["DATABASE_URL"].rsplit("/", 1)[-1]
    with servers(env, work) as (web, worker):
        wait_until_serving(base, web)
        groups = {"gunicorn": web.pid, "celery": worker.pid}  # each started as its own process group
        request_cpu = RequestCPU(Path(env["GUNICORN_REQUEST_CPU_LOG"]))
        results = asyncio.run(run_load(base, args, drafts, recorder, groups, database, request_cpu))
    audited = AuditEntry.objects.filter(action="survey_update", at__gte=started_at).count()
    results["writes"]["audited"] = audited
    results["knee"] = knee(results["levels"])
    results["config"] = {
        "workers": args.workers, "threads": args.threads, "worker_class": args.worker_class,
        "seconds_per_level": args.seconds, "think_time_s": [1, 3], "cores": os.cpu_count(),
    }  # fmt: skip
    results["targets"] = {
        "p95_ms_at_200_users": TARGET_P95_MS,
        "storm_other_p95_ms": TARGET_STORM_P95_MS,
        "solo_heaviest_officer_page_p50_ms": TARGET_SOLO_P50_MS,
        "budget_gunicorn_cpu_ms_per_request": BUDGET_CPU_MS,
    }
    results["errors_seen"] = recorder.error_examples
    log_text = (work / "servers.log").read_text(errors="replace")
    results["server_log_5xx"] = len(re.findall(r'" 5\d\d ', log_text)) - len(
        re.findall(r'"POST /accounts/login/ HTTP/1.1" 503 ', log_text)
    )
    results["server_log_tracebacks"] = log_text.count("Traceback")

    w = results["writes"]
    print(f"\n== writes: {w['sent']} survey saves sent, {w['acknowledged']} acknowledged, {w['audited']} audited")
    print(f"== knee: {results['knee']}")
    print(
        f"== server log: {results['server_log_5xx']} answers 5xx (besides login 503s), {results['server_log_tracebacks']} tracebacks"
    )
    if recorder.error_examples:
        print("== first error per endpoint: " + "; ".join(f"{k}: {v}" for k, v in recorder.error_examples.items()))
    results["target_results"] = targets(results)
    print("\n== targets (issue #16; the machine's load is printed with each phase above)")
    for t in results["target_results"]:
        print(f"   {verdict(t['met'])}  {t['target']}: {t['measured']}")
    print(f"\n(run took {time.monotonic() - run_started:.0f} s)")
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"\nwritten {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
