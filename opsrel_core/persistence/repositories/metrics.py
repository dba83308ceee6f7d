"""The aggregate queries of ``GET /metrics``, over one connection of the reader.

``MetricsRepository`` counts by label (a NULL label, such as an alert without an error code, is
the empty label value) and walks a job's partitions one index seek each: its distinct partition
keys by a recursive query (the next key after the last), then each key's newest execution, on
the index ``(job_id, partition_key, created_at, execution_id)``. No query reads every execution.
"""

import datetime as dt
from typing import Any

import sqlalchemy as sa

from opsrel_core.persistence.tables import (
    Alert, AlertDelivery, AlertSilence, BatchExecution, BatchJob, Replay, ResultVersion,
    ValidationResult, ValidationRuleVersion,
)

ENDED = ("SUCCESS", "FAILED", "STOPPED")
IN_FLIGHT = ("READY", "RUNNING")
DELIVERY_BACKLOG = ("PENDING", "RETRY", "FAILED")

Counts = dict[tuple[str, ...], int]


class MetricsRepository:
    """Reads the metrics' aggregates on ``conn`` (a connection of the reader)."""

    def __init__(self, conn: sa.Connection):
        self._conn = conn

    def _counts(self, stmt: sa.Select) -> Counts:
        return {tuple("" if v is None else v for v in row[:-1]): int(row[-1])
                for row in self._conn.execute(stmt)}

    def jobs(self) -> list[Any]:
        """Every ``batch_job`` row, by job id."""
        return self._conn.execute(sa.select(BatchJob.__table__).order_by(BatchJob.job_id)).all()

    def ended(self, since: dt.datetime | None, until: dt.datetime | None) -> Counts:
        """Ended executions by (job, status, error code), ``since <= updated_at < until``
        (either end open when None)."""
        e = BatchExecution
        where = [e.status.in_(ENDED)]
        if since is not None:
            where.append(e.updated_at >= since)
        if until is not None:
            where.append(e.updated_at < until)
        return self._counts(sa.select(e.job_id, e.status, e.error_code, sa.func.count())
                            .where(*where).group_by(e.job_id, e.status, e.error_code))

    def in_flight(self) -> Counts:
        """Executions READY or RUNNING by (job, status)."""
        e = BatchExecution
        return self._counts(sa.select(e.job_id, e.status, sa.func.count())
                            .where(e.status.in_(IN_FLIGHT)).group_by(e.job_id, e.status))

    def live_alerts(self) -> Counts:
        """OPEN and ACKNOWLEDGED alerts by (status, severity, error code)."""
        return self._counts(sa.select(Alert.status, Alert.severity, Alert.error_code,
                                      sa.func.count())
                            .where(Alert.status.in_(("OPEN", "ACKNOWLEDGED")))
                            .group_by(Alert.status, Alert.severity, Alert.error_code))

    def delivery_backlog(self) -> Counts:
        """Deliveries PENDING, RETRY or FAILED by (channel, status)."""
        d = AlertDelivery
        return self._counts(sa.select(d.channel, d.status, sa.func.count())
                            .where(d.status.in_(DELIVERY_BACKLOG)).group_by(d.channel, d.status))

    def active_silences(self, now: dt.datetime) -> int:
        """Silences not ended and not expired at ``now``."""
        return self._conn.scalar(
            sa.select(sa.func.count()).select_from(AlertSilence)
            .where(AlertSilence.ended_at.is_(None), AlertSilence.expires_at > now)) or 0

    def replays(self) -> Counts:
        """Replays by (job, status)."""
        return self._counts(sa.select(Replay.job_id, Replay.status, sa.func.count())
                            .group_by(Replay.job_id, Replay.status))

    def newest_per_partition(self, job_id: str, *, ordered: bool) -> list[Any]:
        """Each partition key the job ran, with its newest execution's status (and, when
        ``ordered``, its ``created_at`` and ``execution_id``): rows ``(key, status[, created,
        execution_id])``."""
        e, e2 = BatchExecution.__table__, BatchExecution.__table__.alias("e2")
        start = sa.select(sa.func.min(e.c.partition_key).label("k")).where(e.c.job_id == job_id)
        keys = start.cte("partition_keys", recursive=True)
        following = (sa.select(sa.func.min(e2.c.partition_key))
                     .where(e2.c.job_id == job_id, e2.c.partition_key > keys.c.k)
                     .scalar_subquery())
        keys = keys.union_all(sa.select(following).select_from(keys).where(keys.c.k.is_not(None)))

        def newest(column: sa.Column) -> sa.ScalarSelect:  # type: ignore[type-arg]
            return (sa.select(column)
                    .where(e2.c.job_id == job_id, e2.c.partition_key == keys.c.k)
                    .order_by(e2.c.created_at.desc(), e2.c.execution_id.desc()).limit(1)
                    .scalar_subquery())

        walk = sa.select(keys.c.k, newest(e2.c.status)).select_from(keys).where(
            keys.c.k.is_not(None))
        if ordered:
            walk = walk.add_columns(newest(e2.c.created_at), newest(e2.c.execution_id))
        return self._conn.execute(walk).all()

    def range_runs(self, job_id: str) -> list[Any]:
        """The job's runs over a range of partitions: rows ``(first, last, created_at,
        execution_id, status)``."""
        e = BatchExecution.__table__
        return self._conn.execute(sa.select(
            e.c.partition_range_start, e.c.partition_range_end, e.c.created_at, e.c.execution_id,
            e.c.status).where(e.c.job_id == job_id, e.c.partition_key.is_(None),
                              e.c.partition_range_start.is_not(None))).all()

    def active_partitions(self, assets: list[str]) -> set[str]:
        """The partitions with an active result version of one of ``assets``."""
        if not assets:
            return set()
        rv = ResultVersion
        return set(self._conn.scalars(sa.select(rv.partition_key).distinct()
                                      .where(rv.is_active.is_(True), rv.asset_key.in_(assets))))

    def newest_checked_partition(self, assets: list[str]) -> str | None:
        """The greatest partition key with a validation result of one of ``assets``."""
        vr = ValidationResult
        return self._conn.scalar(sa.select(sa.func.max(vr.partition_key))
                                 .where(vr.asset_key.in_(assets)))

    def rule_outcomes(self, partition_key: str, execution_ids: list[str]) -> list[Any]:
        """Results of some executions in a partition, counted: rows ``(asset_key, execution_id,
        rule_id, status, n)``."""
        vr, rv = ValidationResult, ValidationRuleVersion
        return self._conn.execute(
            sa.select(vr.asset_key, vr.execution_id, rv.rule_id, vr.status, sa.func.count())
            .join(rv, rv.rule_version_id == vr.rule_version_id)
            .where(vr.partition_key == partition_key, vr.execution_id.in_(execution_ids))
            .group_by(vr.asset_key, vr.execution_id, rv.rule_id, vr.status)).all()
