"""The baseline the other suites compare against: raw PostgreSQL COPY of N worker rows
into a scratch table (no validation, no encryption, no indexes)."""

import io

from bench.core import Figure
from bench.generator import workers

COLUMNS = "name, id_number, phone, hukou_code, district_code, start_date, end_date, duty_days, seniority_years, category, bank_name, account"


def _tsv(n: int, seed: int) -> io.StringIO:
    buf = io.StringIO()
    for r in workers(n, max(1, n // 10), seed):
        buf.write(
            f"{r.name}\t{r.id_number}\t{r.phone}\t{r.hukou_code}\t{r.district_code}\t{r.start_date}\t{r.end_date}\t"
            f"{r.duty_days}\t{r.seniority_years}\t{r.category}\t{r.bank_name}\t{r.account}\n"
        )
    buf.seek(0)
    return buf


def run(ctx) -> list[Figure]:
    with ctx.timer() as gen:
        data = _tsv(ctx.n, ctx.seed)
    cur = ctx.connection.cursor()
    cur.execute("DROP TABLE IF EXISTS bench_copy_scratch")
    cur.execute(
        "CREATE TABLE bench_copy_scratch (name text, id_number text, phone text, hukou_code text, district_code text,"
        " start_date date, end_date date, duty_days int, seniority_years int, category text, bank_name text, account text)"
    )
    with ctx.timer() as t:
        cur.cursor.copy_expert(f"COPY bench_copy_scratch ({COLUMNS}) FROM STDIN", data)
    cur.execute("SELECT count(*) FROM bench_copy_scratch")
    count = cur.fetchone()[0]
    cur.execute("DROP TABLE bench_copy_scratch")
    return [
        Figure(
            "baseline", f"raw COPY of {count:,} worker rows", count / t.seconds, "rows/s", note=f"{t.seconds:.2f} s"
        ),
        Figure(
            "baseline",
            f"synthesizing {ctx.n:,} valid worker rows",
            ctx.n / gen.seconds,
            "rows/s",
            note=f"{gen.seconds:.2f} s",
        ),
    ]
