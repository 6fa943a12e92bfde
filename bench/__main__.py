"""python -m bench [suite …] [--json PATH]: run the benchmark suites on a fresh database.

`python -m bench e2e --json PATH` runs the province end to end (bench/suite_e2e.py) and
writes its stages as JSON to PATH. `python -m bench scale` (never run by default) measures
entitlement throughput at 1, 2 and 4 worker processes on BENCH_SCALE_N registrations
(bench/suite_scale.py)."""

import argparse
import importlib
import os
import pkgutil
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.test_settings")


# Suites too big for a plain `python -m bench`: they run only when named (`python -m bench scale`).
ONLY_WHEN_NAMED = {"scale"}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("suites", nargs="*", help="suites to run (default: all), e.g. import rules e2e")
    parser.add_argument("--json", type=Path, help="where the e2e suite writes its stages as JSON")
    args = parser.parse_args(argv)
    wanted = set(args.suites)
    # The end-to-end run last: it empties the population tables and imports its own
    # province, which the other suites must not find (nor it theirs).
    names = sorted(
        (m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("suite_")),
        key=lambda name: (name == "suite_e2e", name),
    )
    unknown = wanted - {name.removeprefix("suite_") for name in names}
    if unknown:
        parser.error(f"no such suite: {', '.join(sorted(unknown))}")

    import django
    from django.conf import settings

    # A database of its own, so a benchmark never touches development or test data.
    db_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal")
    if not db_url.rstrip("/").endswith("_bench"):
        os.environ["DATABASE_URL"] = db_url.rstrip("/") + "_bench"
    django.setup()
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        print("make bench needs PostgreSQL (DATABASE_URL=postgres://…)", file=sys.stderr)
        return 2
    _recreate_database(settings.DATABASES["default"])

    from django.core.management import call_command

    from bench.core import format_table, load_average, make_context, write_results
    from regions.services import regions_load

    call_command("migrate", verbosity=0)
    regions_load()

    ctx = make_context()
    ctx.json_path = args.json
    print(
        f"Benchmark: N = {ctx.n:,} (BENCH_N), database {settings.DATABASES['default']['NAME']}, tmp {ctx.tmpdir},"
        f" load average {load_average()}"
    )
    failed = []
    for name in names:
        short = name.removeprefix("suite_")
        if (wanted and short not in wanted) or (not wanted and short in ONLY_WHEN_NAMED):
            continue
        started = time.perf_counter()
        print(f"\n== {short} …", flush=True)
        try:
            figures = importlib.import_module(f"bench.{name}").run(ctx)
        except Exception as exc:  # one broken suite must not hide the others' figures
            import traceback

            traceback.print_exc()
            failed.append(f"{short}: {exc}")
            continue
        ctx.figures.extend(figures)
        print(format_table(figures))
        print(f"   ({time.perf_counter() - started:.1f} s)")
    print("\n== all figures\n" + format_table(ctx.figures))
    print(f"load average at the end: {load_average()} (1, 5, 15 min)")
    # BENCH_RESULTS: elsewhere than bench/results.json, so that a test's tiny run never
    # overwrites the figures of a real one.
    out = Path(os.environ.get("BENCH_RESULTS") or Path(__file__).parent / "results.json")
    write_results(ctx.figures, out, ctx.n)
    print(f"\nwritten {out}")
    if failed:
        print("suites that failed:\n  " + "\n  ".join(failed), file=sys.stderr)
        return 1
    return 0


def _recreate_database(db: dict) -> None:
    import psycopg2

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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
