"""DqReportService: data-quality reports per day and per replay (C2-T05, C2-T06).

A report is a summary (PASS, WARN, FAIL and ERROR counts by asset) and one item per rule, asset
and partition, stored in ``dq_report`` / ``dq_report_item`` and built from the validation results
(``ValidationService`` views):

- the daily report of a partition takes the LATEST result (highest ``result_id``) of each (rule,
  asset) in that partition, so a replay's result replaces the earlier run's and the report shows
  the current state: a FAIL later passed by a replay shows PASS (field report RB-10);
- the replay report takes the results of the replay's executions (the latest per rule, asset and
  partition, when a partition ran more than once within the replay);
- ``compare`` puts a replay's items beside the results of the executions it replaced (each
  replay execution's ``parent_execution_id``): per rule, the status before and after.

Building is idempotent: a report is found by its subject (day, or replay) and rebuilt in place,
its items replaced in one transaction; builders of one subject are serialized, since the unique
constraint on (report_type, report_date, replay_id) does not stop duplicates where a column is
NULL. Markdown rendering for the Dagster UI is a pure function (``render_markdown``).
"""

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import (
    REPORT_TYPES,
    DqReport,
    DqReportItem,
    Replay,
    ValidationResult,
    ValidationRuleVersion,
    utcnow,
)
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.execution_context import lock_subject
from opsrel_core.services.replays import ReplayService
from opsrel_core.services.validation import ValidationResultView, ValidationService

STATUSES = ("PASS", "WARN", "FAIL", "ERROR")
MAX_LIST_LIMIT = 1000


@dataclasses.dataclass(frozen=True)
class DqReportItemView:
    """One line of a report: a rule's outcome on an asset partition.

    Attributes:
        result_id, execution_id, version_hash: the validation result it comes from.
        failing_rows: rows that broke the rule (row-level rules), else None.
        measured_value, bound: the figure and its bound (table-level rules), else None.
    """

    rule_id: str
    asset_key: str
    partition_key: str
    status: str
    failing_rows: int | None
    result_id: int | None
    execution_id: str | None
    version_hash: str | None
    measured_value: float | None
    bound: str | None


@dataclasses.dataclass(frozen=True)
class DqReportView:
    """A stored report.

    Attributes:
        report_type: ``"DAILY"`` (``report_date`` set) or ``"REPLAY"`` (``replay_id`` set).
        summary: ``{asset_key: {"PASS": n, "WARN": n, "FAIL": n, "ERROR": n}}``, by asset.
        pass_count, warn_count, fail_count, error_count: totals over the items.
        items: by asset, partition and rule.
        created_at: when the report was last built (UTC).
    """

    report_id: int
    report_type: str
    report_date: dt.date | None
    replay_id: int | None
    summary: dict[str, dict[str, int]]
    pass_count: int
    warn_count: int
    fail_count: int
    error_count: int
    items: tuple[DqReportItemView, ...]
    created_at: dt.datetime


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

    def build_daily_report(self, partition_key: str) -> DqReportView:
        """Build (or rebuild in place) the report of a day from each rule's latest result.

        Args:
            partition_key: the day, ``YYYY-MM-DD``.

        Returns:
            The stored report; a day without results gets an empty one.

        Raises:
            ValueError: the partition key is not an ISO date.
        """
        day = _day(partition_key)
        results = _latest(self._validation.results_for_partition(partition_key))
        return self._store("DAILY", day, None, results)

    def build_replay_report(self, replay_id: int) -> DqReportView:
        """Build (or rebuild in place) the report of a replay from its executions' results.

        Raises:
            BatchExecutionException: BAT-010 when the replay is unknown.
        """
        history = self._replays.replay_history(replay_id)
        results: list[ValidationResultView] = []
        for execution in history.executions:  # oldest first, so a retry's result comes later
            results.extend(self._validation.results_for_execution(execution.execution.execution_id))
        return self._store("REPLAY", None, replay_id, _latest(results))

    # -- reads -------------------------------------------------------------------------------

    def get_daily_report(self, partition_key: str) -> DqReportView | None:
        """The stored report of a day, or None when it was not built."""
        day = _day(partition_key)
        with UnitOfWork(self._engine) as uow:
            row = _find(uow.session, "DAILY", day, None)
            return None if row is None else _views(uow.session, [row])[0]

    def get_replay_report(self, replay_id: int) -> DqReportView | None:
        """The stored report of a replay, or None when it was not built."""
        with UnitOfWork(self._engine) as uow:
            row = _find(uow.session, "REPLAY", None, replay_id)
            return None if row is None else _views(uow.session, [row])[0]

    def list_reports(
        self,
        report_type: str | None = None,
        since: dt.date | str | None = None,
        until: dt.date | str | None = None,
        limit: int = 100,
    ) -> list[DqReportView]:
        """Stored reports, newest built first (by ``report_id``).

        Args:
            report_type: ``"DAILY"``, ``"REPLAY"`` or None for both.
            since, until: inclusive days; a daily report is kept when its day lies within, a
                replay report when the replay's partitions overlap the window.
            limit: at most this many (1..1000).

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
        # Partition keys are ISO days, so string order is day order (as in ReplayService).
        if start is not None:
            stmt = stmt.where(sa.or_(
                DqReport.report_date >= start, Replay.partition_end >= start.isoformat()
            ))
        if end is not None:
            stmt = stmt.where(sa.or_(
                DqReport.report_date <= end, Replay.partition_start <= end.isoformat()
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
            "before": _summary_of((r.asset_key, r.status) for r in before.values()),
            "after": after.summary,
            "changed": sum(1 for r in rows if r["changed"]),
            "items": rows,
        }

    # -- internals ---------------------------------------------------------------------------

    def _store(
        self, report_type: str, day: dt.date | None, replay_id: int | None,
        results: list[ValidationResultView],
    ) -> DqReportView:
        subject = day.isoformat() if day is not None else str(replay_id)
        counts = {s: sum(1 for r in results if r.status == s) for s in STATUSES}
        with UnitOfWork(self._engine) as uow:
            lock_subject(uow.session, f"dq_report:{report_type}:{subject}")
            row = _find(uow.session, report_type, day, replay_id)
            if row is None:
                row = DqReport(report_type=report_type, report_date=day, replay_id=replay_id)
                uow.session.add(row)
            row.pass_count, row.warn_count = counts["PASS"], counts["WARN"]
            row.fail_count = counts["FAIL"]
            row.created_at = utcnow()
            uow.session.flush()
            uow.session.execute(
                sa.delete(DqReportItem).where(DqReportItem.report_id == row.report_id)
            )
            uow.session.add_all(
                DqReportItem(
                    report_id=row.report_id, result_id=r.result_id, rule_id=r.rule_id,
                    asset_key=r.asset_key, partition_key=r.partition_key, status=r.status,
                    failing_rows=r.failing_rows,
                )
                for r in results
            )
            uow.commit()
            return _views(uow.session, [row])[0]


def render_markdown(report: DqReportView, max_items: int = 50) -> str:
    """A compact markdown rendering of a report, for Dagster UI metadata.

    Args:
        report: the report.
        max_items: item rows shown (non-PASS first); the rest are counted in a last line.

    Returns:
        A title line with the totals, a table of counts by asset and a table of items.
    """
    subject = (f"daily {report.report_date.isoformat()}" if report.report_type == "DAILY"
               else f"replay {report.replay_id}")
    lines = [
        f"**Data quality, {subject}**: {report.pass_count} PASS, {report.warn_count} WARN, "
        f"{report.fail_count} FAIL, {report.error_count} ERROR",
        "",
    ]
    if not report.items:
        return "\n".join([*lines, "_No validation results._"])
    lines += ["| asset | PASS | WARN | FAIL | ERROR |", "|---|---:|---:|---:|---:|"]
    for asset, counts in report.summary.items():
        lines.append(f"| {_cell(asset)} | " + " | ".join(str(counts[s]) for s in STATUSES) + " |")
    rank = {"FAIL": 0, "ERROR": 1, "WARN": 2, "PASS": 3}
    items = sorted(report.items, key=lambda i: (rank[i.status], i.asset_key, i.partition_key,
                                                i.rule_id))
    lines += ["", "| rule | asset | partition | status | failing rows | measured / bound |",
              "|---|---|---|---|---:|---|"]
    for item in items[:max_items]:
        measured = ("" if item.measured_value is None
                    else f"{item.measured_value:g} / {item.bound or ''}")
        failing = "" if item.failing_rows is None else str(item.failing_rows)
        lines.append(f"| {_cell(item.rule_id)} | {_cell(item.asset_key)} | "
                     f"{_cell(item.partition_key)} | {item.status} | {failing} | "
                     f"{_cell(measured)} |")
    if len(items) > max_items:
        lines.append(f"\n_{len(items) - max_items} more items not shown._")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


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


def _summary_of(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    summary: dict[str, dict[str, int]] = {}
    for asset, status in sorted(pairs):
        summary.setdefault(asset, dict.fromkeys(STATUSES, 0))[status] += 1
    return summary


def _find(
    session: Session, report_type: str, day: dt.date | None, replay_id: int | None
) -> DqReport | None:
    stmt = sa.select(DqReport).where(DqReport.report_type == report_type)
    stmt = stmt.where(DqReport.report_date == day) if day is not None else stmt.where(
        DqReport.replay_id == replay_id)
    return session.scalars(stmt.order_by(DqReport.report_id).limit(1)).one_or_none()


def _views(session: Session, rows: list[DqReport]) -> list[DqReportView]:
    """Views of report rows, their items read in one query (with their results' details)."""
    ids = [r.report_id for r in rows]
    items: dict[int, list[DqReportItemView]] = {i: [] for i in ids}
    if ids:
        query = (
            sa.select(
                DqReportItem, ValidationResult.execution_id, ValidationRuleVersion.version_hash,
                ValidationResult.measured_value, ValidationResult.bound,
            )
            .outerjoin(ValidationResult, ValidationResult.result_id == DqReportItem.result_id)
            .outerjoin(ValidationRuleVersion,
                       ValidationRuleVersion.rule_version_id == ValidationResult.rule_version_id)
            .where(DqReportItem.report_id.in_(ids))
            .order_by(DqReportItem.asset_key, DqReportItem.partition_key, DqReportItem.rule_id)
        )
        for item, execution_id, version_hash, measured, bound in session.execute(query):
            items[item.report_id].append(DqReportItemView(
                rule_id=item.rule_id, asset_key=item.asset_key, partition_key=item.partition_key,
                status=item.status, failing_rows=item.failing_rows, result_id=item.result_id,
                execution_id=execution_id, version_hash=version_hash, measured_value=measured,
                bound=bound,
            ))
    views = []
    for row in rows:
        own = tuple(items[row.report_id])
        created = row.created_at
        views.append(DqReportView(
            report_id=row.report_id, report_type=row.report_type, report_date=row.report_date,
            replay_id=row.replay_id,
            summary=_summary_of((i.asset_key, i.status) for i in own),
            pass_count=row.pass_count, warn_count=row.warn_count, fail_count=row.fail_count,
            error_count=sum(1 for i in own if i.status == "ERROR"), items=own,
            created_at=created if created.tzinfo else created.replace(tzinfo=dt.timezone.utc),
        ))
    return views
