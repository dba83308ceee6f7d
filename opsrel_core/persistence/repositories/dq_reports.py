"""The SQL of data-quality reports, over the caller's session.

``DqReportRepository`` finds a report by its subject (``opsrel_core.domain.dq_subjects``),
writes it in place with its items, and reads what the views are made of: the items with their
results' details, an attempt's results, the stored reports of a window. It never commits: the
caller's unit of work does, so a report and its items are replaced in one transaction.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain.dq_outcomes import status_counts
from opsrel_core.domain.dq_subjects import DAILY, PARTITION, REPLAY, Subject
from opsrel_core.persistence.tables import (
    BatchJob, DqReport, DqReportItem, Replay, ValidationResult, ValidationRuleVersion, utcnow,
)


class DqReportRepository:
    """Reads and writes reports and their items in ``session`` (of an open unit of work)."""

    def __init__(self, session: Session):
        self._session = session

    # -- the catalog -------------------------------------------------------------------------

    def job(self, job_id: object) -> BatchJob | None:
        """The job row, or None (also for an id that is not a string)."""
        return self._session.get(BatchJob, job_id) if isinstance(job_id, str) else None

    def daily_job_ids(self) -> list[str]:
        """The ids of the catalog's daily jobs, in order."""
        return list(self._session.scalars(sa.select(BatchJob.job_id).where(
            BatchJob.partitions == "daily").order_by(BatchJob.job_id)))

    # -- reports -----------------------------------------------------------------------------

    def find(self, subject: Subject) -> DqReport | None:
        """The report of a subject, or None (a daily report made before reports named their
        job counts as the job's, after one that names it)."""
        stmt = sa.select(DqReport).where(DqReport.report_type == subject.report_type)
        if subject.report_type == REPLAY:
            stmt = stmt.where(DqReport.replay_id == subject.replay_id)
        elif subject.report_type == DAILY:
            stmt = stmt.where(DqReport.report_date == subject.day)
            if subject.job_id is not None:
                stmt = stmt.where(sa.or_(DqReport.job_id == subject.job_id,
                                         DqReport.job_id.is_(None)))
                stmt = stmt.order_by(sa.case((DqReport.job_id.is_(None), 1), else_=0))
        else:
            stmt = stmt.where(DqReport.job_id == subject.job_id,
                              DqReport.partition_key == subject.partition_key)
        return self._session.scalars(stmt.order_by(DqReport.report_id).limit(1)).one_or_none()

    def write(self, subject: Subject, results: Sequence[Any]) -> DqReport:
        """Create or rebuild in place the subject's report and its items (one per result, a
        ``ValidationResultView``); flushed, not committed."""
        counts = status_counts(r.status for r in results)
        row = self.find(subject)
        if row is None:
            row = DqReport(report_type=subject.report_type, report_date=subject.day,
                           replay_id=subject.replay_id)
            self._session.add(row)
        # A daily report made before reports named their job gets its job and key here.
        row.job_id = subject.job_id or row.job_id
        row.partition_key = subject.partition_key
        row.pass_count, row.warn_count = counts["PASS"], counts["WARN"]
        row.fail_count = counts["FAIL"]
        row.created_at = utcnow()
        self._session.flush()
        self._session.execute(
            sa.delete(DqReportItem).where(DqReportItem.report_id == row.report_id))
        self._session.add_all(
            DqReportItem(
                report_id=row.report_id, result_id=r.result_id, rule_id=r.rule_id,
                asset_key=r.asset_key, partition_key=r.partition_key, status=r.status,
                failing_rows=r.failing_rows,
            )
            for r in results
        )
        return row

    def flush(self) -> None:
        """Write what is staged."""
        self._session.flush()

    def item_result_ids(self, report_id: int) -> set[int | None]:
        """The result ids a stored report's items come from."""
        return set(self._session.scalars(
            sa.select(DqReportItem.result_id).where(DqReportItem.report_id == report_id)))

    def partition_keys_of_day(self, job_id: str, day: str) -> list[str]:
        """The keys of the job's DAILY and PARTITION reports on a day: the day itself or keys
        spelled ``<day>-...``, in order."""
        return sorted(set(self._session.scalars(
            sa.select(DqReport.partition_key).where(
                DqReport.job_id == job_id, DqReport.report_type.in_((DAILY, PARTITION)),
                sa.or_(DqReport.partition_key == day,
                       DqReport.partition_key.like(f"{day}-%"))))))

    def newest(self, *, limit: int, report_type: str | None = None, job_id: str | None = None,
               start: dt.date | None = None, end: dt.date | None = None) -> list[DqReport]:
        """Stored reports, newest built first (``DqReportService.list_reports``' filters)."""
        stmt = (
            sa.select(DqReport)
            .outerjoin(Replay, Replay.replay_id == DqReport.replay_id)
            .order_by(DqReport.report_id.desc())
            .limit(limit)
        )
        if report_type is not None:
            stmt = stmt.where(DqReport.report_type == report_type)
        if job_id is not None:
            stmt = stmt.where(sa.or_(DqReport.job_id == job_id, Replay.job_id == job_id))
        # Keys in time order start with their local day, so string order is time order: a key
        # lies within the window when it is >= its first day and < the day after its last.
        is_partition = DqReport.report_type == PARTITION
        if start is not None:
            stmt = stmt.where(sa.or_(
                DqReport.report_date >= start, Replay.partition_end >= start.isoformat(),
                sa.and_(is_partition, DqReport.partition_key >= start.isoformat()),
            ))
        if end is not None:
            after = (end + dt.timedelta(days=1)).isoformat()
            stmt = stmt.where(sa.or_(
                DqReport.report_date <= end, Replay.partition_start < after,
                sa.and_(is_partition, DqReport.partition_key < after),
            ))
        return list(self._session.scalars(stmt))

    # -- what views are made of --------------------------------------------------------------

    def items(self, report_ids: Sequence[int]) -> list[Any]:
        """The items of reports by asset, partition and rule, as rows ``(DqReportItem,
        execution_id, version_hash, measured_value, bound)`` (None where the result is gone)."""
        if not report_ids:
            return []
        return list(self._session.execute(
            sa.select(
                DqReportItem, ValidationResult.execution_id, ValidationRuleVersion.version_hash,
                ValidationResult.measured_value, ValidationResult.bound,
            )
            .outerjoin(ValidationResult, ValidationResult.result_id == DqReportItem.result_id)
            .outerjoin(ValidationRuleVersion,
                       ValidationRuleVersion.rule_version_id == ValidationResult.rule_version_id)
            .where(DqReportItem.report_id.in_(list(report_ids)))
            .order_by(DqReportItem.asset_key, DqReportItem.partition_key, DqReportItem.rule_id)))

    def attempt_results(self, partition_keys: Iterable[str],
                        execution_ids: Iterable[str]) -> list[Any]:
        """The results of some executions in some partitions, as rows ``(ValidationResult,
        rule_id, version_hash)``."""
        return list(self._session.execute(
            sa.select(ValidationResult, ValidationRuleVersion.rule_id,
                      ValidationRuleVersion.version_hash)
            .join(ValidationRuleVersion,
                  ValidationRuleVersion.rule_version_id == ValidationResult.rule_version_id)
            .where(ValidationResult.partition_key.in_(set(partition_keys)),
                   ValidationResult.execution_id.in_(set(execution_ids)))))
