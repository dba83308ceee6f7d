"""DqReportService: data-quality reports per partition and per replay.

A report is a summary (PASS, WARN, FAIL and ERROR counts by asset) and one item per rule, asset
and partition, stored in ``dq_report`` / ``dq_report_item`` and built from the validation results
(``ValidationService`` views):

- the partition report of a job's partition (any key its partitions definition spells:
  ``2013-02-01``, ``2013-11-03-01:00``, ``2013-11-03-01:00-0500``) is what the partition is
  (``domain.partition_state``), read from that job's executions: each asset's results come
  from the execution that made its ACTIVE result version, so a replay that passed and was
  activated replaces the earlier FAIL, while a later attempt whose versions stayed inactive (a
  replay that failed a FAIL rule, a stopped run) does not. That attempt, when it is the newest,
  is shown beside the report (``latest_attempt``), never instead of it. An asset without an
  active version is reported from its latest attempt, and the items and the report's ``basis``
  say so. Reading a partition report rebuilds it first when what is active (or the results
  recorded) changed since it was built;
- the daily report of a day is the partition report of the daily job (type DAILY, with its
  ``report_date``); any other key makes a PARTITION report. A day's roll-up of an hourly job
  is a view over that day's partition reports (``dq_rollup``), never stored;
- the replay report takes the results of the replay's executions (the latest per rule, asset and
  partition, when a partition ran more than once within the replay);
- ``compare`` puts a replay's items beside the results of the executions it replaced (each
  replay execution's ``parent_execution_id``): per rule, the status before and after.

Building is idempotent: a report is found by its subject (job and partition, or replay) and
rebuilt in place, its items replaced in one transaction; builders of one subject are serialized,
since the unique constraint on (report_type, job_id, partition_key, replay_id) does not stop
duplicates where a column is NULL.
"""

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import error_codes
from opsrel_core.domain import partition_state as ps
from opsrel_core.errors import NotFoundException
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import (
    REPORT_TYPES,
    BatchJob,
    DqReport,
    DqReportItem,
    Replay,
    ValidationResult,
    ValidationRuleVersion,
    utcnow,
)
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services import dq_rollup
from opsrel_core.services.dq_report_markdown import render_markdown
from opsrel_core.services.dq_report_views import (
    BASIS_MIXED,
    BASIS_REPLAY,
    STATUSES,
    DqAttemptView,
    DqReportItemView,
    DqReportView,
    basis_of,
    outcome_of,
    summary_of,
)
from opsrel_core.persistence.repositories.execution_context import lock_subject
from opsrel_core.services.partition_status import read_partition_states
from opsrel_core.services.replays import ReplayService
from opsrel_core.services.validation import (
    ValidationResultView, ValidationService, results_for_partitions,
)

__all__ = [
    "BASIS_MIXED", "BASIS_REPLAY", "MAX_LIST_LIMIT", "STATUSES", "DqAttemptView", "DqReportItemView",
    "DqReportService", "DqReportView", "render_markdown",
]

MAX_LIST_LIMIT = 1000
MAX_KEY_LENGTH = 100  # dq_report.partition_key
DAILY, PARTITION, REPLAY = "DAILY", "PARTITION", "REPLAY"
JOB_NOT_FOUND_CODE = error_codes.BAT_RECORD_NOT_FOUND


@dataclasses.dataclass(frozen=True)
class _Subject:
    """What a report is about: a job's partition (DAILY with its day, or PARTITION), or a
    replay. ``job_id`` None: a daily report of a catalog without a daily job (every job's)."""

    report_type: str
    job_id: str | None = None
    partition_key: str | None = None
    day: dt.date | None = None
    replay_id: int | None = None

    @property
    def lock_name(self) -> str:
        return f"dq_report:{self.report_type}:{self.job_id}:{self.partition_key}:{self.replay_id}"


@retry_transient_methods
class DqReportService:
    """Builds, stores, reads and compares data-quality reports.

    Args:
        engine: engine of the ops database.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine
        self._validation = ValidationService(engine)
        self._replays = ReplayService(engine)

    # -- builds ------------------------------------------------------------------------------

    def build_partition_report(self, job_id: str, partition_key: str) -> DqReportView:
        """Build (or rebuild in place) the report of a job's partition from what it is.

        Each asset's results come from the job's execution of its active version, or from its
        latest attempt when no version is active (``domain.partition_state``). The key is taken
        as the job spells it, never parsed: of a daily job, a day's key makes its DAILY report
        (the one ``build_daily_report`` makes); any other key a PARTITION report.

        Args:
            job_id: a job of the catalog, e.g. ``"weather_hourly"``.
            partition_key: e.g. ``"2013-11-03-01:00"`` or ``"2013-11-03-01:00-0500"`` (1..100
                characters).

        Returns:
            The stored report (with ``latest_attempt`` when a newer attempt is not its source);
            a partition without results gets an empty one.

        Raises:
            NotFoundException: BAT-011 when no job has this id.
            ValueError: a blank or too long partition key.
        """
        subject = self._partition_subject(job_id, partition_key)
        return self._store(subject, self._current_results(subject))

    def build_partition_reports(self, job_id: str,
                                partition_keys: "Sequence[str]") -> list[DqReportView]:
        """Build (or rebuild in place) the reports of several partitions of a job in one
        transaction: what ``build_partition_report`` does for each (a range run's every day or
        hour at once), with the same results and the same reports.

        Returns:
            The stored reports, in the order of ``partition_keys`` (a key given twice once).

        Raises:
            NotFoundException: BAT-011 when no job has this id; nothing is written.
            ValueError: a blank or too long partition key; nothing is written.
        """
        keys = list(dict.fromkeys(partition_keys))
        for key in keys:
            _check_key(key)
        if not keys:
            return []
        with UnitOfWork(self._engine) as uow:
            session = uow.session
            kind = _require_job(session, job_id).partitions
            subjects = {key: _subject_of(job_id, key, kind) for key in keys}
            # Every subject's lock before its reads, in one order, so that two builders of
            # overlapping ranges queue instead of deadlocking.
            for name in sorted(subject.lock_name for subject in subjects.values()):
                lock_subject(session, name)
            results = results_for_partitions(session, keys)
            states = read_partition_states(session, keys, job_id)
            rows = []
            for key in keys:
                own = states.get(key, {})
                current = _latest(
                    r for r in results.get(key, [])
                    if (state := own.get(r.asset_key)) is not None and state.current is not None
                    and r.execution_id == state.current.execution_id)
                rows.append(_write_report(session, subjects[key], current))
            session.flush()
            views = _views(session, rows)  # read before the commit: one transaction in all
            uow.commit()
            return views

    def build_daily_report(self, partition_key: str, job_id: str | None = None) -> DqReportView:
        """Build (or rebuild in place) the report of a day: the partition report of the daily
        job (``build_partition_report``).

        Args:
            partition_key: the day, ``YYYY-MM-DD``.
            job_id: the daily job; None: the catalog's daily job (every job's results when the
                catalog has none).

        Raises:
            ValueError: the partition key is not an ISO date, or ``job_id`` is None and the
                catalog holds several daily jobs.
            NotFoundException: BAT-011 when ``job_id`` names no job.
        """
        subject = self._daily_subject(partition_key, job_id)
        return self._store(subject, self._current_results(subject))

    def build_replay_report(self, replay_id: int) -> DqReportView:
        """Build (or rebuild in place) the report of a replay from its executions' results.

        Raises:
            BatchExecutionException: BAT-010 when the replay is unknown.
        """
        history = self._replays.replay_history(replay_id)
        results: list[ValidationResultView] = []
        for execution in history.executions:  # oldest first, so a retry's result comes later
            results.extend(self._validation.results_for_execution(execution.execution.execution_id))
        return self._store(_Subject(REPLAY, replay_id=replay_id), _latest(results))

    # -- reads -------------------------------------------------------------------------------

    def get_partition_report(self, job_id: str, partition_key: str) -> DqReportView | None:
        """The report of a job's partition, or None when it was never built.

        A stored report whose items are no longer what the partition is (a version was
        activated or deactivated, or results were recorded, since it was built) is rebuilt
        first.

        Raises:
            NotFoundException: BAT-011 when no job has this id.
            ValueError: a blank or too long partition key.
        """
        return self._read(self._partition_subject(job_id, partition_key))

    def get_daily_report(self, partition_key: str, job_id: str | None = None) -> DqReportView | None:
        """The report of a day (of ``job_id``, default the catalog's daily job), or None when it
        was never built; rebuilt first when stale, as ``get_partition_report``.

        Raises:
            ValueError: the partition key is not an ISO date (or several daily jobs, none named).
            NotFoundException: BAT-011 when ``job_id`` names no job.
        """
        return self._read(self._daily_subject(partition_key, job_id))

    def day_rollup(self, job_id: str, day: dt.date | str) -> dq_rollup.DayRollupView:
        """A day's roll-up of a job: a view over the partition reports of that day's keys (the
        keys spelled ``YYYY-MM-DD-...``, e.g. the 25 hours of 2013-11-03 in New York, or the
        day itself for a daily job), each read as ``get_partition_report`` does; nothing is
        stored.

        Returns:
            ``DayRollupView``: counts summed over the partitions, the worst outcome, and one
            entry per built partition report in key order (none when none was built).

        Raises:
            NotFoundException: BAT-011 when no job has this id.
            ValueError: the day is not an ISO date.
        """
        the_day = _day(day)
        prefix = the_day.isoformat()
        with UnitOfWork(self._engine) as uow:
            _require_job(uow.session, job_id)
            keys = sorted(set(uow.session.scalars(
                sa.select(DqReport.partition_key).where(
                    DqReport.job_id == job_id, DqReport.report_type.in_((DAILY, PARTITION)),
                    sa.or_(DqReport.partition_key == prefix,
                           DqReport.partition_key.like(f"{prefix}-%"))))))
        reports = [r for k in keys if (r := self.get_partition_report(job_id, k)) is not None]
        return dq_rollup.rollup(job_id, the_day, reports)

    def get_replay_report(self, replay_id: int) -> DqReportView | None:
        """The stored report of a replay, or None when it was not built."""
        with UnitOfWork(self._engine) as uow:
            row = _find(uow.session, _Subject(REPLAY, replay_id=replay_id))
            return None if row is None else _views(uow.session, [row])[0]

    def list_reports(
        self,
        report_type: str | None = None,
        since: dt.date | str | None = None,
        until: dt.date | str | None = None,
        limit: int = 100,
        job_id: str | None = None,
    ) -> list[DqReportView]:
        """Stored reports, newest built first (by ``report_id``).

        Args:
            report_type: ``"DAILY"``, ``"PARTITION"``, ``"REPLAY"`` or None for all.
            since, until: inclusive days; a daily report is kept when its day lies within, a
                partition report when its key starts with a day within (keys in time order
                such as ``2013-11-03-01:00``), a replay report when the replay's partitions
                overlap the window.
            limit: at most this many (1..1000).
            job_id: only the reports (and replays) of this job; None: every job's.

        Raises:
            ValueError: unknown report type, a bad date or limit.
        """
        if report_type is not None and report_type not in REPORT_TYPES:
            raise ValueError(f"report_type must be one of {REPORT_TYPES}, got {report_type!r}")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIST_LIMIT}, got {limit}")
        start = None if since is None else _day(since)
        end = None if until is None else _day(until)
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
        with UnitOfWork(self._engine) as uow:
            return _views(uow.session, list(uow.session.scalars(stmt)))

    def compare(self, replay_id: int) -> dict[str, Any]:
        """A replay's report beside the results of the executions it replaced.

        "Before" is, per replay execution, the results of its ``parent_execution_id`` in the
        partitions that execution covered; "after" is the replay's report (built when missing).

        Returns:
            ``{"replay_id", "before": summary, "after": summary, "changed": n, "items": [{"rule_id",
            "asset_key", "partition_key", "before", "after", "changed", "before_execution_id",
            "after_execution_id", "before_failing_rows", "after_failing_rows"}]}``; a status is
            None where that side has no result (a new rule, or a partition never run before).

        Raises:
            BatchExecutionException: BAT-010 when the replay is unknown.
        """
        history = self._replays.replay_history(replay_id)
        after = self.get_replay_report(replay_id) or self.build_replay_report(replay_id)
        before_results: list[ValidationResultView] = []
        for entry in history.executions:
            execution = entry.execution
            if execution.parent_execution_id is None:
                continue
            covered = _covers(execution.partition_key, execution.partition_range_start,
                              execution.partition_range_end)
            before_results.extend(
                r for r in self._validation.results_for_execution(execution.parent_execution_id)
                if covered(r.partition_key)
            )
        before = {_key(r): r for r in _latest(before_results)}
        after_items = {(i.rule_id, i.asset_key, i.partition_key): i for i in after.items}
        rows = []
        for key in sorted(set(before) | set(after_items)):
            old, new = before.get(key), after_items.get(key)
            rows.append({
                "rule_id": key[0], "asset_key": key[1], "partition_key": key[2],
                "before": old.status if old else None, "after": new.status if new else None,
                "changed": (old.status if old else None) != (new.status if new else None),
                "before_execution_id": old.execution_id if old else None,
                "after_execution_id": new.execution_id if new else None,
                "before_failing_rows": old.failing_rows if old else None,
                "after_failing_rows": new.failing_rows if new else None,
            })
        return {
            "replay_id": replay_id,
            "before": summary_of((r.asset_key, r.status) for r in before.values()),
            "after": after.summary,
            "changed": sum(1 for r in rows if r["changed"]),
            "items": rows,
        }

    # -- internals ---------------------------------------------------------------------------

    def _partition_subject(self, job_id: str, partition_key: str) -> _Subject:
        _check_key(partition_key)
        with UnitOfWork(self._engine) as uow:
            kind = _require_job(uow.session, job_id).partitions
        return _subject_of(job_id, partition_key, kind)

    def _daily_subject(self, partition_key: str, job_id: str | None) -> _Subject:
        day = _day(partition_key)
        with UnitOfWork(self._engine) as uow:
            if job_id is not None:
                _require_job(uow.session, job_id)
            else:
                daily = list(uow.session.scalars(sa.select(BatchJob.job_id).where(
                    BatchJob.partitions == "daily").order_by(BatchJob.job_id)))
                if len(daily) > 1:
                    raise ValueError(f"the catalog holds several daily jobs ({', '.join(daily)}): "
                                     "name the job of the report")
                job_id = daily[0] if daily else None
        return _Subject(DAILY, job_id, day.isoformat(), day)

    def _read(self, subject: _Subject) -> DqReportView | None:
        with UnitOfWork(self._engine) as uow:
            row = _find(uow.session, subject)
            if row is None:
                return None
            stored = set(uow.session.scalars(
                sa.select(DqReportItem.result_id).where(DqReportItem.report_id == row.report_id)))
        current = self._current_results(subject)
        if stored != {r.result_id for r in current}:
            return self._store(subject, current)
        with UnitOfWork(self._engine) as uow:
            row = _find(uow.session, subject)
            assert row is not None  # reports are rebuilt in place, never deleted
            return _views(uow.session, [row])[0]

    def _current_results(self, subject: _Subject) -> list[ValidationResultView]:
        """The results a partition report is made of: each asset's current attempt's (of the
        subject's job), by rule."""
        key = subject.partition_key
        assert key is not None
        results = self._validation.results_for_partition(key)
        with UnitOfWork(self._engine) as uow:
            states = read_partition_states(uow.session, [key], subject.job_id).get(key, {})
        return _latest(
            r for r in results
            if (state := states.get(r.asset_key)) is not None and state.current is not None
            and r.execution_id == state.current.execution_id
        )

    def _store(self, subject: _Subject, results: list[ValidationResultView]) -> DqReportView:
        with UnitOfWork(self._engine) as uow:
            lock_subject(uow.session, subject.lock_name)
            row = _write_report(uow.session, subject, results)
            uow.commit()
            return _views(uow.session, [row])[0]


def _write_report(session: Session, subject: _Subject,
                  results: list[ValidationResultView]) -> DqReport:
    # The subject's report row, created or rebuilt in place, and its items; not committed.
    counts = {s: sum(1 for r in results if r.status == s) for s in STATUSES}
    row = _find(session, subject)
    if row is None:
        row = DqReport(report_type=subject.report_type, report_date=subject.day,
                       replay_id=subject.replay_id)
        session.add(row)
    # A daily report made before reports named their job gets its job and key here.
    row.job_id = subject.job_id or row.job_id
    row.partition_key = subject.partition_key
    row.pass_count, row.warn_count = counts["PASS"], counts["WARN"]
    row.fail_count = counts["FAIL"]
    row.created_at = utcnow()
    session.flush()
    session.execute(sa.delete(DqReportItem).where(DqReportItem.report_id == row.report_id))
    session.add_all(
        DqReportItem(
            report_id=row.report_id, result_id=r.result_id, rule_id=r.rule_id,
            asset_key=r.asset_key, partition_key=r.partition_key, status=r.status,
            failing_rows=r.failing_rows,
        )
        for r in results
    )
    return row


def _check_key(partition_key: object) -> None:
    # A partition key as the report table stores it: 1..100 characters, not blank.
    if (not isinstance(partition_key, str) or not partition_key.strip()
            or len(partition_key) > MAX_KEY_LENGTH):
        raise ValueError(
            f"a partition key is 1..{MAX_KEY_LENGTH} characters, got {partition_key!r}")


def _subject_of(job_id: str, partition_key: str, kind: str) -> _Subject:
    # Of a daily job, a day's key makes its DAILY report; any other key a PARTITION report.
    if kind == "daily" and _is_day(partition_key):
        return _Subject(DAILY, job_id, partition_key, dt.date.fromisoformat(partition_key))
    return _Subject(PARTITION, job_id, partition_key)


def _require_job(session: Session, job_id: str) -> BatchJob:
    job = session.get(BatchJob, job_id) if isinstance(job_id, str) else None
    if job is None:
        raise NotFoundException(JOB_NOT_FOUND_CODE, f"no batch job {job_id!r}", {"job_id": job_id})
    return job


def _is_day(key: str) -> bool:
    try:
        return dt.date.fromisoformat(key).isoformat() == key
    except ValueError:
        return False


def _day(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ValueError(f"a day is expected, got the time {value!r}")
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"a daily partition key is an ISO date YYYY-MM-DD, got {value!r}"
        ) from None


def _key(r: ValidationResultView) -> tuple[str, str, str]:
    return (r.rule_id, r.asset_key, r.partition_key)


def _latest(results: Iterable[ValidationResultView]) -> list[ValidationResultView]:
    """Each (rule, asset, partition)'s result with the highest id, in report order."""
    latest: dict[tuple[str, str, str], ValidationResultView] = {}
    for r in results:
        if _key(r) not in latest or r.result_id > latest[_key(r)].result_id:
            latest[_key(r)] = r
    return [latest[k] for k in sorted(latest, key=lambda k: (k[1], k[2], k[0]))]


def _covers(
    partition_key: str | None, start: str | None, end: str | None
) -> Callable[[str], bool]:
    if partition_key is not None:
        return lambda p: p == partition_key
    if start is not None and end is not None:
        return lambda p: start <= p <= end
    return lambda p: True  # an unpartitioned run: everything its parent checked


def _find(session: Session, subject: _Subject) -> DqReport | None:
    stmt = sa.select(DqReport).where(DqReport.report_type == subject.report_type)
    if subject.report_type == REPLAY:
        stmt = stmt.where(DqReport.replay_id == subject.replay_id)
    elif subject.report_type == DAILY:
        # A daily report made before reports named their job has none; it is the job's.
        stmt = stmt.where(DqReport.report_date == subject.day)
        if subject.job_id is not None:
            stmt = stmt.where(sa.or_(DqReport.job_id == subject.job_id,
                                     DqReport.job_id.is_(None)))
            stmt = stmt.order_by(sa.case((DqReport.job_id.is_(None), 1), else_=0))
    else:
        stmt = stmt.where(DqReport.job_id == subject.job_id,
                          DqReport.partition_key == subject.partition_key)
    return session.scalars(stmt.order_by(DqReport.report_id).limit(1)).one_or_none()


def _item_query() -> sa.Select:
    return (
        sa.select(
            DqReportItem, ValidationResult.execution_id, ValidationRuleVersion.version_hash,
            ValidationResult.measured_value, ValidationResult.bound,
        )
        .outerjoin(ValidationResult, ValidationResult.result_id == DqReportItem.result_id)
        .outerjoin(ValidationRuleVersion,
                   ValidationRuleVersion.rule_version_id == ValidationResult.rule_version_id)
    )


def _attempt_views(
    session: Session, wanted: dict[int, tuple[str, ps.Attempt]]
) -> dict[int, DqAttemptView]:
    """``{report id: attempt view}`` of the given (partition, attempt) per report, their
    results read in one query."""
    if not wanted:
        return {}
    rows = session.execute(
        sa.select(ValidationResult, ValidationRuleVersion.rule_id,
                  ValidationRuleVersion.version_hash)
        .join(ValidationRuleVersion,
              ValidationRuleVersion.rule_version_id == ValidationResult.rule_version_id)
        .where(ValidationResult.partition_key.in_({k for k, _a in wanted.values()}),
               ValidationResult.execution_id.in_({a.execution_id for _k, a in wanted.values()}))
    )
    reports_of: dict[tuple[str, str], list[int]] = {}
    for report_id, (key, attempt) in wanted.items():
        reports_of.setdefault((key, attempt.execution_id), []).append(report_id)
    found: dict[int, list[DqReportItemView]] = {report_id: [] for report_id in wanted}
    for result, rule_id, version_hash in rows:
        for report_id in reports_of.get((result.partition_key, result.execution_id), ()):
            found[report_id].append(DqReportItemView(
                rule_id=rule_id, asset_key=result.asset_key, partition_key=result.partition_key,
                status=result.status, failing_rows=result.failing_rows,
                result_id=result.result_id, execution_id=result.execution_id,
                version_hash=version_hash, measured_value=result.measured_value,
                bound=result.bound,
            ))
    views = {}
    for report_id, (_key_, attempt) in wanted.items():
        # One result per rule: the newest, should a rule have two versions in one execution.
        newest: dict[tuple[str, str], DqReportItemView] = {}
        for item in sorted(found[report_id], key=lambda i: i.result_id or 0):
            newest[(item.asset_key, item.rule_id)] = item
        items = tuple(newest[k] for k in sorted(newest))
        counts = {s: sum(1 for i in items if i.status == s) for s in STATUSES}
        views[report_id] = DqAttemptView(
            execution_id=attempt.execution_id, status=attempt.status,
            trigger_type=attempt.trigger_type or "", replay_id=attempt.replay_id,
            outcome=outcome_of(items), summary=summary_of((i.asset_key, i.status) for i in items),
            pass_count=counts["PASS"], warn_count=counts["WARN"], fail_count=counts["FAIL"],
            error_count=counts["ERROR"], items=items,
        )
    return views


def _partition_of(row: DqReport) -> str | None:
    """The partition key of a DAILY or PARTITION report (a daily report made before reports
    named their key: its day); None for a replay report."""
    if row.report_type == REPLAY:
        return None
    return row.partition_key or (row.report_date.isoformat() if row.report_date else None)


def _views(session: Session, rows: list[DqReport]) -> list[DqReportView]:
    """Views of report rows: their items read in one query (with their results' details), and
    for partition reports what is active now and the newest attempt, read per job at once."""
    ids = [r.report_id for r in rows]
    items: dict[int, list[DqReportItemView]] = {i: [] for i in ids}
    if ids:
        query = _item_query().where(DqReportItem.report_id.in_(ids)).order_by(
            DqReportItem.asset_key, DqReportItem.partition_key, DqReportItem.rule_id)
        for item, execution_id, version_hash, measured, bound in session.execute(query):
            items[item.report_id].append(DqReportItemView(
                rule_id=item.rule_id, asset_key=item.asset_key, partition_key=item.partition_key,
                status=item.status, failing_rows=item.failing_rows, result_id=item.result_id,
                execution_id=execution_id, version_hash=version_hash, measured_value=measured,
                bound=bound,
            ))
    keys_of_job: dict[str | None, list[str]] = {}
    for row in rows:
        if (key := _partition_of(row)) is not None:
            keys_of_job.setdefault(row.job_id, []).append(key)
    states = {job: read_partition_states(session, keys, job) for job, keys in keys_of_job.items()}
    beside: dict[int, tuple[str, ps.Attempt]] = {}
    for row in rows:
        key = _partition_of(row)
        if key is None:
            continue
        key_states = states[row.job_id].get(key, {})
        for n, item in enumerate(items[row.report_id]):
            state = key_states.get(item.asset_key)
            if (state is not None and state.basis == ps.ACTIVE and state.current is not None
                    and state.current.execution_id == item.execution_id):
                items[row.report_id][n] = dataclasses.replace(item, active_version=True)
        latest = max((s.latest for s in key_states.values() if s.latest is not None),
                     key=lambda a: (a.order, a.execution_id), default=None)
        sources = {i.execution_id for i in items[row.report_id]}
        if latest is not None and latest.execution_id not in sources:
            beside[row.report_id] = (key, latest)
    attempts = _attempt_views(session, beside)
    views = []
    for row in rows:
        own = tuple(items[row.report_id])
        created = row.created_at
        keyed = row.report_type != REPLAY
        views.append(DqReportView(
            report_id=row.report_id, report_type=row.report_type, report_date=row.report_date,
            replay_id=row.replay_id,
            summary=summary_of((i.asset_key, i.status) for i in own),
            pass_count=row.pass_count, warn_count=row.warn_count, fail_count=row.fail_count,
            error_count=sum(1 for i in own if i.status == "ERROR"), items=own,
            created_at=created if created.tzinfo else created.replace(tzinfo=dt.timezone.utc),
            outcome=outcome_of(own),
            basis=basis_of(own) if keyed else BASIS_REPLAY,
            latest_attempt=attempts.get(row.report_id) if keyed else None,
            job_id=row.job_id, partition_key=_partition_of(row),
        ))
    return views
