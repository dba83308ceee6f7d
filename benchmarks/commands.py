"""B8: read commands as whole processes on the embedded default vs a plain SQLAlchemy process.

opsrel's side is ``opsrel executions list --json`` and ``opsrel alerts list --json`` started as
the operator starts them (a new process each time, the console script of the virtual
environment), on the embedded SQLite database holding ``count`` executions and their alerts.
The baseline is a new Python process that imports SQLAlchemy, opens the same database and runs
the same query (the newest 20 executions; the newest 50 alerts), printing the rows as JSON.
The two sides alternate. What the ratio measures is what opsrel adds to starting a process and
reading: imports, settings, the schema check, views and JSON.
"""

import datetime as dt
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

from benchmarks.common import Figure, alternate, ratio, summary, upgrade_and_register
from opsrel_core.persistence.engine import make_engine

EPOCH = dt.datetime(2014, 1, 1, tzinfo=dt.timezone.utc)
# Every 97th execution failed with EXT-001 and opened an alert (the ratio of B4's data).
FAILED_EVERY = 97

PLAIN = """
import json, sys
import sqlalchemy as sa
engine = sa.create_engine(sys.argv[1])
with engine.connect() as conn:
    rows = conn.execute(sa.text(sys.argv[2])).mappings().all()
print(json.dumps([dict(r) for r in rows], default=str))
"""

EXECUTIONS_SQL = ("SELECT * FROM batch_execution ORDER BY created_at DESC, execution_id DESC "
                  "LIMIT 20")
ALERTS_SQL = "SELECT * FROM alert ORDER BY alert_id DESC LIMIT 50"


def fill(url: str, count: int) -> int:
    """Insert ``count`` executions (one in ``FAILED_EVERY`` failed) and an alert per failure
    through ``OpsAlertService``; returns the number of alerts."""
    from opsrel_core.config import AlertSettings
    from opsrel_core.services.alerts import OpsAlertService
    from opsrel_core.services.batch_execution import BatchExecutionService

    engine = sa.create_engine(url)
    rows = []
    for i in range(count):
        at = EPOCH + dt.timedelta(seconds=30 * i)
        failed = i % FAILED_EVERY == 0
        day = (dt.date(2013, 1, 1) + dt.timedelta(days=i % 365)).isoformat()
        rows.append({
            "execution_id": f"run-{i:06d}", "job_id": "flights_daily",
            "status": "FAILED" if failed else "SUCCESS", "trigger_type": "CLI",
            "partition_key": day, "run_tags": "{}", "steps_total": 7,
            "steps_done": 3 if failed else 7, "rows_written": 1000,
            "error_code": "EXT-001" if failed else None,
            "error_message": "landing folder unavailable" if failed else None,
            "created_at": at, "started_at": at, "ended_at": at + dt.timedelta(seconds=5),
            "updated_at": at + dt.timedelta(seconds=5)})
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO batch_execution (execution_id, job_id, status, trigger_type, "
            "partition_key, run_tags, steps_total, steps_done, rows_written, error_code, "
            "error_message, created_at, started_at, ended_at, updated_at) VALUES "
            "(:execution_id, :job_id, :status, :trigger_type, :partition_key, :run_tags, "
            ":steps_total, :steps_done, :rows_written, :error_code, :error_message, "
            ":created_at, :started_at, :ended_at, :updated_at)"), rows)
    engine.dispose()
    engine = make_engine(url)  # the services' engine (the ops schema as SQLite names it)
    alerts = OpsAlertService(engine, AlertSettings.from_env({}))
    executions = BatchExecutionService(engine)
    raised = 0
    for row in rows:
        if row["status"] == "FAILED":
            raised += alerts.raise_for_failed_execution(
                executions.find_execution(row["execution_id"])) is not None
    engine.dispose()
    return raised


def _opsrel() -> str:
    return str(Path(sys.executable).parent / "opsrel")


def b8(count: int, repeats: int) -> Figure:
    """B8 at ``count`` executions; ``repeats`` processes per command and side."""
    with tempfile.TemporaryDirectory(prefix="opsrel-bench-b8-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        url = f"sqlite:///{home / 'ops.db'}"
        upgrade_and_register(url)
        alerts = fill(url, count)
        env = {**os.environ, "OPSREL_HOME": str(home), "OPSREL_DATABASE_URL": url}
        env.pop("OPSREL_DAGSTER_URL", None)

        def run(args: list[str]) -> None:
            done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
            if done.returncode != 0 or not done.stdout.strip().startswith("["):
                raise RuntimeError(f"B8 {args[:3]} failed: {done.stderr[-2000:]}")

        samples = alternate({
            "executions": lambda _i: run([_opsrel(), "executions", "list", "--json"]),
            "alerts": lambda _i: run([_opsrel(), "alerts", "list", "--json"]),
            "plain_executions": lambda _i: run([sys.executable, "-c", PLAIN, url,
                                                EXECUTIONS_SQL]),
            "plain_alerts": lambda _i: run([sys.executable, "-c", PLAIN, url, ALERTS_SQL]),
        }, repeats)
    worst = max(ratio(samples["executions"], samples["plain_executions"]),
                ratio(samples["alerts"], samples["plain_alerts"]))
    return Figure(
        "B8", "read commands as whole processes (opsrel executions list --json, opsrel alerts "
              "list --json) vs a Python process importing SQLAlchemy and running the same query, "
              "embedded SQLite",
        worst, "ratio", "<=", 1.5,
        summary(samples["executions"] + samples["alerts"]),
        summary(samples["plain_executions"] + samples["plain_alerts"]),
        sizes={"executions": count, "alerts": alerts, "processes_per_side": repeats * 2},
        details={"unit_of_samples": "seconds per process",
                 "executions_list": summary(samples["executions"]),
                 "alerts_list": summary(samples["alerts"]),
                 "plain_executions": summary(samples["plain_executions"]),
                 "plain_alerts": summary(samples["plain_alerts"]),
                 "ratio_executions": round(ratio(samples["executions"],
                                                 samples["plain_executions"]), 3),
                 "ratio_alerts": round(ratio(samples["alerts"], samples["plain_alerts"]), 3)},
    )
