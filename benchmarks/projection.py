"""B3: the projection catching up on N finished runs (cold start) vs reading Dagster's storage.

Runs are made on PostgreSQL (Dagster storage and ops database, as in production): one real run
of the flights pipeline through opsrel (``HeadlessRunner``) is the template, and N copies of its
run record and its whole event log are written into Dagster's storage in bulk, each for one of
the year's days in turn (run id, partition tag and event partitions replaced). The event rows are
Dagster's own (``_event_to_row`` of the template's events), so the projection reads exactly what a
real run leaves. Then the ops database is reset to empty (migrated, no executions) and:

* opsrel: ``RunProjection.sync(batch_size=B, max_batches=1)`` until caught up, timing every batch
  (executions, events, status, provenance: context, lineage, daily DQ report);
* baseline: the same cursor walk over ``fetch_run_status_changes`` with the same batch size, the
  batch's run records in one call and, per run, its events of the types the projection reads
  (``get_records_for_run``): the reads the projection makes, without writing anything.

Peak memory: this process's RSS sampled every 50 ms during the catch-up (``PeakRss``), and RSS
after each batch, to show it stays flat as runs accumulate.
"""

import datetime as dt
import time
import uuid

import dagster as dg
import sqlalchemy as sa
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.runs.schema import RunsTable, RunTagsTable

from benchmarks.common import Figure, PeakRss, application_url, scratch_env, summary
from benchmarks.data import day_profile
from opsrel_dagster.defs.flights import FLIGHTS_JOB_ID, FLIGHTS_LINEAGE, flights_partitions
from opsrel_dagster.app.runner import HeadlessRunner
from opsrel_dagster.projection import _RUN_EVENT_TYPES, STATUS_EVENT_TYPES, RunProjection

TEMPLATE_DAY = "2013-07-04"


def clone_runs(instance: dg.DagsterInstance, template_id: str, count: int) -> float:
    """Write ``count`` copies of run ``template_id`` (run row, tags, event log) in bulk, with
    Dagster's own row builders; returns seconds."""
    began = time.perf_counter()
    storage, runs = instance.event_log_storage, instance.run_storage
    template = instance.get_run_by_id(template_id)
    rows = [storage._event_to_row(e) for e in instance.all_logs(template_id)]
    with runs.connect() as conn:
        start, end = conn.execute(sa.select(RunsTable.c.start_time, RunsTable.c.end_time)
                                  .where(RunsTable.c.run_id == template_id)).one()
    days = list(day_profile()["partition_key"])
    events: list[dict] = []
    run_rows: list[dict] = []
    tag_rows: list[dict] = []
    for i in range(count):
        run_id, day = str(uuid.uuid4()), days[i % len(days)]
        clone = template._replace(run_id=run_id, tags={**template.tags, "dagster/partition": day})
        values = runs._get_run_insertion_values(clone, dt.datetime.now(dt.timezone.utc))
        run_rows.append({**values, "start_time": start, "end_time": end})
        tag_rows.extend({"run_id": run_id, "key": k, "value": v}
                        for k, v in clone.tags_for_storage().items())
        for row in rows:
            text = row["event"].replace(template_id, run_id).replace(TEMPLATE_DAY, day)
            events.append({**row, "run_id": run_id, "event": text,
                           "partition": day if row.get("partition") else None})
        if len(events) >= 20_000 or i == count - 1:
            with runs.connect() as conn:
                conn.execute(RunsTable.insert(), run_rows)
                conn.execute(RunTagsTable.insert(), tag_rows)
            with storage._connect() as conn:
                conn.execute(SqlEventLogStorageTable.insert(), events)
            events, run_rows, tag_rows = [], [], []
    return time.perf_counter() - began


def _reset_ops(owner_url: str) -> None:
    """Drop and re-create the ops schema as its owner, and grant the application role again."""
    engine = sa.create_engine(owner_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA ops CASCADE"))
        conn.execute(sa.text("DROP TABLE IF EXISTS public.alembic_version"))
    engine.dispose()
    application_url(owner_url)


def _baseline_catch_up(instance: dg.DagsterInstance, batch: int) -> tuple[list[float], list[int]]:
    after, seconds, counts = 0, [], []
    while True:
        t0 = time.perf_counter()
        records, safe = [], None
        for event_type in STATUS_EVENT_TYPES:
            got = instance.fetch_run_status_changes(
                dg.RunStatusChangeRecordsFilter(event_type=event_type,
                                                after_storage_id=after or None),
                limit=batch, ascending=True).records
            records.extend(got)
            if len(got) >= batch:
                safe = got[-1].storage_id if safe is None else min(safe, got[-1].storage_id)
        if safe is not None:
            records = [r for r in records if r.storage_id <= safe]
        records.sort(key=lambda r: r.storage_id)
        run_ids = list(dict.fromkeys(r.run_id for r in records))
        if run_ids:
            instance.get_run_records(dg.RunsFilter(run_ids=run_ids))
        for run_id in run_ids:
            instance.get_records_for_run(run_id, of_type=_RUN_EVENT_TYPES)
        if not records:
            break
        after = records[-1].storage_id
        seconds.append(time.perf_counter() - t0)
        counts.append(len(run_ids))
    return seconds, counts


def b3(runs: int, batch: int = 200) -> Figure:
    """B3 on ``runs`` cloned runs; figure: runs/s of the projection (target >= 100 on PG)."""
    with scratch_env("postgresql") as env:
        runner = HeadlessRunner.from_env()
        [template] = runner.run_partitions([TEMPLATE_DAY])
        clone_s = clone_runs(runner.instance, template.run_id, runs)
        runner.engine.dispose()
        _reset_ops(env.owner_url)
        runner = HeadlessRunner.from_env()
        instance = runner.instance
        # What one storage call costs: dagster-postgres opens a connection for nearly every
        # call, so this bounds any per-run reader of Dagster's storage API.
        call_ms = []
        for _ in range(30):
            t0 = time.perf_counter()
            instance.get_run_records(dg.RunsFilter(run_ids=[template.run_id]), limit=1)
            call_ms.append((time.perf_counter() - t0) * 1000)
        base_s, base_n = _baseline_catch_up(instance, batch)
        projection = RunProjection(instance, runner.engine, {FLIGHTS_JOB_ID: flights_partitions},
                                   lineage_by_job={FLIGHTS_JOB_ID: FLIGHTS_LINEAGE})
        ours_s, ours_n, rss_after_batch = [], [], []
        with PeakRss() as rss:
            while True:
                t0 = time.perf_counter()
                report = projection.sync(batch_size=batch, max_batches=1)
                elapsed = time.perf_counter() - t0
                if report.runs_projected + report.runs_ignored == 0:
                    break
                ours_s.append(elapsed)
                ours_n.append(report.runs_projected + report.runs_ignored)
                rss_after_batch.append(rss.samples[-1] if rss.samples else rss.start)
        with runner.engine.connect() as conn:
            recorded = conn.execute(sa.text("SELECT count(*) FROM ops.batch_execution")).scalar_one()
        runner.engine.dispose()
    total = runs + 1
    ours_rate = sum(ours_n) / sum(ours_s)
    base_rate = sum(base_n) / sum(base_s)
    mib = 1024 * 1024
    return Figure(
        "B3", "projection catch-up on finished runs (PG), runs/s; baseline: the same reads alone",
        ours_rate, "runs/s", ">=", 100.0,
        summary([n / s for n, s in zip(ours_n, ours_s)]),
        summary([n / s for n, s in zip(base_n, base_s)]),
        sizes={"runs": total, "batch_size": batch},
        details={"unit_of_samples": "runs/s per batch",
                 "opsrel_total_s": round(sum(ours_s), 2), "baseline_total_s": round(sum(base_s), 2),
                 "baseline_runs_per_s": round(base_rate, 1),
                 "dagster_storage_call_ms": summary(call_ms),
                 "dagster_reads_per_run": 1,
                 "dagster_reads_per_batch": len(STATUS_EVENT_TYPES) + 1,
                 "time_ratio_vs_baseline": round(base_rate / ours_rate, 2),
                 "executions_recorded": recorded, "clone_s": round(clone_s, 1),
                 "rss_start_mib": round(rss.start / mib, 1),
                 "rss_peak_mib": round(rss.peak / mib, 1),
                 "rss_peak_delta_mib": round((rss.peak - rss.start) / mib, 1),
                 "rss_after_first_batch_mib": round(rss_after_batch[0] / mib, 1),
                 "rss_after_last_batch_mib": round(rss_after_batch[-1] / mib, 1)},
        extra_ok={"all_runs_recorded": recorded == total},
    )
