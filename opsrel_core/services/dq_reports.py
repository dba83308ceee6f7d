"""DqReportService: data-quality reports per day and per replay (C2-T05, C2-T06).

A report is a summary (PASS, WARN, FAIL and ERROR counts by asset) and one item per rule, asset
and partition, stored in ``dq_report`` / ``dq_report_item`` and built from the validation results
(``ValidationService`` views):

- the daily report of a partition is what the partition is (``domain.partition_state``): each
  asset's results come from the execution that made its ACTIVE result version, so a replay that
  passed and was activated replaces the earlier FAIL, while a later attempt whose versions
  stayed inactive (a replay that failed a FAIL rule, a stopped run) does not. That attempt, when
  it is the newest, is shown beside the report (``latest_attempt``), never instead of it. An
  asset without an active version is reported from its latest attempt, and the items and the
  report's ``basis`` say so. Reading a daily report rebuilds it first when what is active (or
  the results recorded) changed since it was built;
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

from opsrel_core.domain import partition_state as ps
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
from opsrel_core.services.partition_status import read_partition_states
from opsrel_core.services.replays import ReplayService
from opsrel_core.services.validation import ValidationResultView, ValidationService

STATUSES = ("PASS", "WARN", "FAIL", "ERROR")
MAX_LIST_LIMIT = 1000
# A report's outcome is its worst item: a FAIL outranks an ERROR (a rule that could not run).
_SEVERITY_RANK = {"FAIL": 0, "ERROR": 1, "WARN": 2, "PASS": 3}
BASIS_MIXED = "MIXED"  # some assets from their active version, others from their latest attempt
BASIS_REPLAY = "REPLAY"  # a replay report: its executions' results, active or not


@dataclasses.dataclass(frozen=True)
class DqReportItemView:
    """One line of a report: a rule's outcome on an asset partition.

    Attributes:
        result_id, execution_id, version_hash: the validation result it comes from.
        failing_rows: rows that broke the rule (row-level rules), else None.
        measured_value, bound: the figure and its bound (table-level rules), else None.
        active_version: the result comes from the execution that made the asset partition's
            active version (read when the view is built); False in a replay report.
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
    active_version: bool = False


@dataclasses.dataclass(frozen=True)
class DqAttemptView:
    """The newest execution that checked a day, shown beside a daily report that is not its.

    Attributes:
        execution_id, status, trigger_type, replay_id: the execution (its status as recorded:
            ``FAILED``, ``STOPPED``, or ``SUCCESS`` with versions left inactive).
        outcome: its worst rule status (``FAIL``, ``ERROR``, ``WARN`` or ``PASS``).
        summary, pass_count, warn_count, fail_count, error_count: as in ``DqReportView``.
        items: its results in that day, by asset and rule.
    """

    execution_id: str
    status: str
    trigger_type: str
    replay_id: int | None
    outcome: str
    summary: dict[str, dict[str, int]]
    pass_count: int
    warn_count: int
    fail_count: int
    error_count: int
    items: tuple[DqReportItemView, ...]


@dataclasses.dataclass(frozen=True)
class DqReportView:
    """A stored report.

    Attributes:
        report_type: ``"DAILY"`` (``report_date`` set) or ``"REPLAY"`` (``replay_id`` set).
        summary: ``{asset_key: {"PASS": n, "WARN": n, "FAIL": n, "ERROR": n}}``, by asset.
        pass_count, warn_count, fail_count, error_count: totals over the items.
        items: by asset, partition and rule.
        created_at: when the report was last built (UTC).
        outcome: the worst item status (``FAIL``, ``ERROR``, ``WARN``, ``PASS``), ``NONE``
            without items.
        basis: where a daily report's items come from: ``ACTIVE`` (every asset's active
            version), ``LATEST_ATTEMPT`` (no asset has an active version), ``MIXED``, or
            ``NONE`` (no results); ``REPLAY`` for a replay report.
        latest_attempt: a daily report's newest attempt when the report does not come from it
            (a later replay or run whose versions stayed inactive), else None.
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
    outcome: str = ps.NONE
    basis: str = ps.NONE
    latest_attempt: DqAttemptView | None = None


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
        """Build (or rebuild in place) the report of a day from what the day is.

        Each asset's results come from the execution of its active version, or from its latest
        attempt when no version is active (``domain.partition_state``).

        Args:
            partition_key: the day, ``YYYY-MM-DD``.

        Returns:
            The stored report (with ``latest_attempt`` when a newer attempt is not its source);
            a day without results gets an empty one.

        Raises:
            ValueError: the partition key is not an ISO date.
        """
        day = _day(partition_key)
        return self._store("DAILY", day, None, self._current_results(day.isoformat()))

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
        """The report of a day, or None when it was never built.

        A stored report whose items are no longer what the day is (a version was activated or
        deactivated, or results were recorded, since it was built) is rebuilt first.

        Raises:
            ValueError: the partition key is not an ISO date.
        """
        day = _day(partition_key)
        with UnitOfWork(self._engine) as uow:
            row = _find(uow.session, "DAILY", day, None)
            if row is None:
                return None
            stored = set(uow.session.scalars(
                sa.select(DqReportItem.result_id).where(DqReportItem.report_id == row.report_id)))
        current = self._current_results(day.isoformat())
        if stored != {r.result_id for r in current}:
            return self._store("DAILY", day, None, current)
        with UnitOfWork(self._engine) as uow:
            row = _find(uow.session, "DAILY", day, None)
            assert row is not None  # reports are rebuilt in place, never deleted
            return _views(uow.session, [row])[0]

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

    def _current_results(self, partition_key: str) -> list[ValidationResultView]:
        """The results a day's report is made of: each asset's current attempt's, by rule."""
        results = self._validation.results_for_partition(partition_key)
        with UnitOfWork(self._engine) as uow:
            states = read_partition_states(uow.session, [partition_key]).get(partition_key, {})
        return _latest(
            r for r in results
            if (state := states.get(r.asset_key)) is not None and state.current is not None
            and r.execution_id == state.current.execution_id
        )

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
    """A compact markdown rendering of a report, for Dagster UI metadata and the CLI.

    Args:
        report: the report.
        max_items: item rows shown (non-PASS first); the rest are counted in a last line.

    Returns:
        A title line with the totals; for a daily report, where its results come from (the
        active version, or the latest attempt when none is active) and the latest attempt
        beside it when that is another execution; a table of counts by asset and a table of
        items; the latest attempt's non-PASS items last.
    """
    subject = (f"daily {report.report_date.isoformat()}" if report.report_type == "DAILY"
               else f"replay {report.replay_id}")
    lines = [
        f"**Data quality, {subject}**: {report.pass_count} PASS, {report.warn_count} WARN, "
        f"{report.fail_count} FAIL, {report.error_count} ERROR",
    ]
    lines += _source_lines(report)
    lines.append("")
    if not report.items:
        return "\n".join([*lines, "_No validation results._", *_attempt_lines(report, max_items)])
    lines += ["| asset | PASS | WARN | FAIL | ERROR |", "|---|---:|---:|---:|---:|"]
    for asset, counts in report.summary.items():
        lines.append(f"| {_cell(asset)} | " + " | ".join(str(counts[s]) for s in STATUSES) + " |")
    lines += _item_table(report.items, max_items)
    return "\n".join([*lines, *_attempt_lines(report, max_items)])


def _executions(items: Iterable[DqReportItemView], active: bool) -> str:
    return ", ".join(sorted({i.execution_id or "?" for i in items if i.active_version == active}))


def _source_lines(report: DqReportView) -> list[str]:
    """Where a daily report's results come from, and its latest attempt when that differs."""
    lines = []
    if report.basis == ps.ACTIVE:
        lines.append(f"Active version: **{report.outcome}** "
                     f"(execution {_executions(report.items, True)})")
    elif report.basis == ps.LATEST_ATTEMPT:
        lines.append(f"_No active version: reported from the latest attempt "
                     f"(execution {_executions(report.items, False)})._")
    elif report.basis == BASIS_MIXED:
        lines.append(f"Active version: **{report.outcome}** (execution "
                     f"{_executions(report.items, True)}); assets without an active version "
                     f"from their latest attempt (execution {_executions(report.items, False)})")
    attempt = report.latest_attempt
    if attempt is not None:
        replay = f", replay {attempt.replay_id}" if attempt.replay_id is not None else ""
        lines.append(
            f"Latest attempt: **{attempt.outcome}** (execution {attempt.execution_id}{replay}, "
            f"{attempt.status}, not active): {attempt.pass_count} PASS, {attempt.warn_count} "
            f"WARN, {attempt.fail_count} FAIL, {attempt.error_count} ERROR"
        )
    return lines


def _attempt_lines(report: DqReportView, max_items: int) -> list[str]:
    attempt = report.latest_attempt
    failed = [] if attempt is None else [i for i in attempt.items if i.status != "PASS"]
    if not failed:
        return []
    return ["", f"Latest attempt ({attempt.execution_id}), not PASS:",  # type: ignore[union-attr]
            *_item_table(tuple(failed), max_items)]


def _item_table(items: tuple[DqReportItemView, ...], max_items: int) -> list[str]:
    ordered = sorted(items, key=lambda i: (_SEVERITY_RANK[i.status], i.asset_key, i.partition_key,
                                           i.rule_id))
    lines = ["", "| rule | asset | partition | status | failing rows | measured / bound |",
             "|---|---|---|---|---:|---|"]
    for item in ordered[:max_items]:
        measured = ("" if item.measured_value is None
                    else f"{item.measured_value:g} / {item.bound or ''}")
        failing = "" if item.failing_rows is None else str(item.failing_rows)
        lines.append(f"| {_cell(item.rule_id)} | {_cell(item.asset_key)} | "
                     f"{_cell(item.partition_key)} | {item.status} | {failing} | "
                     f"{_cell(measured)} |")
    if len(ordered) > max_items:
        lines.append(f"\n_{len(ordered) - max_items} more items not shown._")
    return lines


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
    session: Session, wanted: dict[str, ps.Attempt]
) -> dict[str, DqAttemptView]:
    """``{partition: attempt view}`` of the given attempts, their results read in one query."""
    if not wanted:
        return {}
    rows = session.execute(
        sa.select(ValidationResult, ValidationRuleVersion.rule_id,
                  ValidationRuleVersion.version_hash)
        .join(ValidationRuleVersion,
              ValidationRuleVersion.rule_version_id == ValidationResult.rule_version_id)
        .where(ValidationResult.partition_key.in_(list(wanted)),
               ValidationResult.execution_id.in_({a.execution_id for a in wanted.values()}))
    )
    by_day: dict[str, list[DqReportItemView]] = {day: [] for day in wanted}
    for result, rule_id, version_hash in rows:
        if wanted[result.partition_key].execution_id != result.execution_id:
            continue
        by_day[result.partition_key].append(DqReportItemView(
            rule_id=rule_id, asset_key=result.asset_key, partition_key=result.partition_key,
            status=result.status, failing_rows=result.failing_rows, result_id=result.result_id,
            execution_id=result.execution_id, version_hash=version_hash,
            measured_value=result.measured_value, bound=result.bound,
        ))
    views = {}
    for day, attempt in wanted.items():
        # One result per rule: the newest, should a rule have two versions in one execution.
        newest: dict[tuple[str, str], DqReportItemView] = {}
        for item in sorted(by_day[day], key=lambda i: i.result_id or 0):
            newest[(item.asset_key, item.rule_id)] = item
        items = tuple(newest[k] for k in sorted(newest))
        counts = {s: sum(1 for i in items if i.status == s) for s in STATUSES}
        views[day] = DqAttemptView(
            execution_id=attempt.execution_id, status=attempt.status,
            trigger_type=attempt.trigger_type or "", replay_id=attempt.replay_id,
            outcome=_outcome(items), summary=_summary_of((i.asset_key, i.status) for i in items),
            pass_count=counts["PASS"], warn_count=counts["WARN"], fail_count=counts["FAIL"],
            error_count=counts["ERROR"], items=items,
        )
    return views


def _outcome(items: Iterable[DqReportItemView]) -> str:
    statuses = [i.status for i in items]
    return min(statuses, key=_SEVERITY_RANK.__getitem__) if statuses else ps.NONE


def _basis(items: tuple[DqReportItemView, ...]) -> str:
    if not items:
        return ps.NONE
    active = {i.active_version for i in items}
    if active == {True}:
        return ps.ACTIVE
    return ps.LATEST_ATTEMPT if active == {False} else BASIS_MIXED


def _views(session: Session, rows: list[DqReport]) -> list[DqReportView]:
    """Views of report rows: their items read in one query (with their results' details), and
    for daily reports what is active now and the newest attempt, read for all days at once."""
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
    days = [r.report_date.isoformat() for r in rows if r.report_type == "DAILY"]
    states = read_partition_states(session, days)
    beside: dict[str, ps.Attempt] = {}
    for row in rows:
        if row.report_type != "DAILY":
            continue
        day = row.report_date.isoformat()
        day_states = states.get(day, {})
        for n, item in enumerate(items[row.report_id]):
            state = day_states.get(item.asset_key)
            if (state is not None and state.basis == ps.ACTIVE and state.current is not None
                    and state.current.execution_id == item.execution_id):
                items[row.report_id][n] = dataclasses.replace(item, active_version=True)
        latest = max((s.latest for s in day_states.values() if s.latest is not None),
                     key=lambda a: (a.order, a.execution_id), default=None)
        sources = {i.execution_id for i in items[row.report_id]}
        if latest is not None and latest.execution_id not in sources:
            beside[day] = latest
    attempts = _attempt_views(session, beside)
    views = []
    for row in rows:
        own = tuple(items[row.report_id])
        created = row.created_at
        daily = row.report_type == "DAILY"
        views.append(DqReportView(
            report_id=row.report_id, report_type=row.report_type, report_date=row.report_date,
            replay_id=row.replay_id,
            summary=_summary_of((i.asset_key, i.status) for i in own),
            pass_count=row.pass_count, warn_count=row.warn_count, fail_count=row.fail_count,
            error_count=sum(1 for i in own if i.status == "ERROR"), items=own,
            created_at=created if created.tzinfo else created.replace(tzinfo=dt.timezone.utc),
            outcome=_outcome(own),
            basis=_basis(own) if daily else BASIS_REPLAY,
            latest_attempt=attempts.get(row.report_date.isoformat()) if daily else None,
        ))
    return views
