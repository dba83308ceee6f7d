"""B6: lineage backtrace from a result version, with a year of history, 10 versions a partition.

History is written through ``LineageService.record_execution_lineage`` with the edges
``opsrel_dagster.provenance.lineage_edges`` derives for the flights pipeline
(``FLIGHTS_LINEAGE``): each of the year's days is run ``versions`` times, each run making version
``v`` of every asset from the day's real snapshot (the sha256 of its canonical CSV). Executions are
inserted in bulk first (the edges refer to them). The figure is the p99 of
``LineageService.backtrace_version`` over random RESULT versions; no baseline (absolute).
"""

import random
import time
import types

import sqlalchemy as sa

from benchmarks.common import Figure, application_url, pg_database, summary
from benchmarks.data import day_profile
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.provenance import LineageService
from opsrel_dagster.defs.flights import FLIGHTS_JOB_ID, FLIGHTS_LINEAGE, RESULT_ASSET_KEYS
from opsrel_dagster.defs.flights.package_data import PACKAGE_SOURCE_URI
from opsrel_dagster.provenance import lineage_edges


def _history(engine: sa.Engine, days: int, versions: int) -> tuple[int, float]:
    profile = day_profile().head(days)
    service = LineageService(engine)
    began = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO ops.batch_execution (execution_id, job_id, status, trigger_type, "
            "partition_key, run_tags, steps_total, steps_done, rows_written, created_at, "
            "updated_at) VALUES (:id, :job, 'SUCCESS', 'CLI', :pk, '{}', 15, 15, :rows, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
            [{"id": f"bench-{r.partition_key}-v{v}", "job": FLIGHTS_JOB_ID,
              "pk": r.partition_key, "rows": int(r.flights) * 7}
             for r in profile.itertuples() for v in range(1, versions + 1)])
    edges_total = 0
    for v in range(1, versions + 1):
        for r in profile.itertuples():
            made = [types.SimpleNamespace(asset_key=asset, partition_key=r.partition_key,
                                          version_number=v, content_hash=r.snapshot_id)
                    for asset in FLIGHTS_LINEAGE]
            edges = lineage_edges(FLIGHTS_LINEAGE, made, [r.snapshot_id],
                                  {r.partition_key: PACKAGE_SOURCE_URI})
            edges_total += service.record_execution_lineage(f"bench-{r.partition_key}-v{v}", edges)
    return edges_total, time.perf_counter() - began


def b6(days: int, versions: int, samples: int, backend: str = "postgresql") -> Figure:
    """B6 with ``days`` partitions x ``versions`` versions; ``samples`` timed backtraces."""
    with pg_database() as owner:
        url = application_url(owner)
        engine = make_engine(url)
        edges, write_s = _history(engine, days, versions)
        analyzer = sa.create_engine(owner, poolclass=sa.pool.NullPool)  # ANALYZE needs the owner
        with analyzer.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
        analyzer.dispose()
        service = LineageService(engine)
        keys = list(day_profile().head(days)["partition_key"])
        rng = random.Random(8)
        picks = [(rng.choice(RESULT_ASSET_KEYS), rng.choice(keys), rng.randint(1, versions))
                 for _ in range(samples + 5)]
        times, reached = [], 0
        for i, (asset, key, v) in enumerate(picks):
            t0 = time.perf_counter()
            found = service.backtrace_version(asset, key, v)
            elapsed = (time.perf_counter() - t0) * 1000
            if i >= 5:  # five warm-up calls
                times.append(elapsed)
                reached = max(reached, len(found.nodes))
            if not found.snapshot_ids:
                raise RuntimeError(f"B6: backtrace of {asset} {key} v{v} found no snapshot")
        engine.dispose()
    stats = summary(times)
    return Figure(
        "B6", "lineage backtrace of a RESULT version (LineageService.backtrace_version) p99",
        stats["p99"], "ms", "<=", 20.0, stats, None,
        sizes={"partitions": days, "versions_per_partition": versions, "edges": edges,
               "samples": samples, "nodes_per_backtrace_max": reached},
        details={"ops_db": backend, "history_write_s": round(write_s, 1)},
    )
