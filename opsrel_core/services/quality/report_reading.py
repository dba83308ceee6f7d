"""The views of stored report rows: their items, what is active now and the attempt beside.

A partition report's items are marked ``active_version`` when they come from the execution that
made the asset partition's active version, read when the view is built. When the partition's
newest attempt is not one of the report's sources (a later replay or run whose versions stayed
inactive), it is shown beside the report (``latest_attempt``), never instead of it.
"""

import dataclasses
import datetime as dt

from sqlalchemy.orm import Session

from opsrel_core.domain import partition_state as ps
from opsrel_core.domain.dq_outcomes import BASIS_REPLAY, status_counts, summary_of
from opsrel_core.domain.dq_subjects import REPLAY
from opsrel_core.persistence.repositories.dq_reports import DqReportRepository
from opsrel_core.persistence.tables import DqReport
from opsrel_core.services.partition_status import read_partition_states
from opsrel_core.services.quality.report_views import (
    DqAttemptView, DqReportItemView, DqReportView, basis_of, outcome_of,
)


def partition_of(row: DqReport) -> str | None:
    """The partition key of a DAILY or PARTITION report (a daily report made before reports
    named their key: its day); None for a replay report."""
    if row.report_type == REPLAY:
        return None
    return row.partition_key or (row.report_date.isoformat() if row.report_date else None)


def report_views(session: Session, rows: list[DqReport]) -> list[DqReportView]:
    """Views of report rows: their items read in one query (with their results' details), and
    for partition reports what is active now and the newest attempt, read per job at once."""
    repo = DqReportRepository(session)
    items: dict[int, list[DqReportItemView]] = {r.report_id: [] for r in rows}
    for item, execution_id, version_hash, measured, bound in repo.items(list(items)):
        items[item.report_id].append(DqReportItemView(
            rule_id=item.rule_id, asset_key=item.asset_key, partition_key=item.partition_key,
            status=item.status, failing_rows=item.failing_rows, result_id=item.result_id,
            execution_id=execution_id, version_hash=version_hash, measured_value=measured,
            bound=bound,
        ))
    keys_of_job: dict[str | None, list[str]] = {}
    for row in rows:
        if (key := partition_of(row)) is not None:
            keys_of_job.setdefault(row.job_id, []).append(key)
    states = {job: read_partition_states(session, keys, job) for job, keys in keys_of_job.items()}
    beside: dict[int, tuple[str, ps.Attempt]] = {}
    for row in rows:
        key = partition_of(row)
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
    attempts = _attempt_views(repo, beside)
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
            job_id=row.job_id, partition_key=partition_of(row),
        ))
    return views


def _attempt_views(repo: DqReportRepository,
                   wanted: dict[int, tuple[str, ps.Attempt]]) -> dict[int, DqAttemptView]:
    """``{report id: attempt view}`` of the given (partition, attempt) per report, their
    results read in one query."""
    if not wanted:
        return {}
    rows = repo.attempt_results((k for k, _a in wanted.values()),
                                (a.execution_id for _k, a in wanted.values()))
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
    for report_id, (_key, attempt) in wanted.items():
        # One result per rule: the newest, should a rule have two versions in one execution.
        newest: dict[tuple[str, str], DqReportItemView] = {}
        for item in sorted(found[report_id], key=lambda i: i.result_id or 0):
            newest[(item.asset_key, item.rule_id)] = item
        items = tuple(newest[k] for k in sorted(newest))
        counts = status_counts(i.status for i in items)
        views[report_id] = DqAttemptView(
            execution_id=attempt.execution_id, status=attempt.status,
            trigger_type=attempt.trigger_type or "", replay_id=attempt.replay_id,
            outcome=outcome_of(items), summary=summary_of((i.asset_key, i.status) for i in items),
            pass_count=counts["PASS"], warn_count=counts["WARN"], fail_count=counts["FAIL"],
            error_count=counts["ERROR"], items=items,
        )
    return views
