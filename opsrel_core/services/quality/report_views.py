"""The views of data-quality reports (``DqReportService``): a report, its items, the attempt
shown beside it. The rules over them (outcome, basis, counts by asset) are
``opsrel_core.domain.dq_outcomes``; ``outcome_of`` and ``basis_of`` apply them to items.
"""

import dataclasses
import datetime as dt
from collections.abc import Iterable

from opsrel_core.domain import dq_outcomes
from opsrel_core.domain import partition_state as ps
from opsrel_core.domain.dq_outcomes import worst


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
    """The newest execution that checked a partition, shown beside a partition report that is
    not its.

    Attributes:
        execution_id, status, trigger_type, replay_id: the execution (its status as recorded:
            ``FAILED``, ``STOPPED``, or ``SUCCESS`` with versions left inactive).
        outcome: its worst rule status (``FAIL``, ``ERROR``, ``WARN`` or ``PASS``).
        summary, pass_count, warn_count, fail_count, error_count: as in ``DqReportView``.
        items: its results in that partition, by asset and rule.
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
        report_type: ``"DAILY"`` (the partition report of a daily job: ``report_date`` set),
            ``"PARTITION"`` (the report of any other partition key: ``report_date`` None) or
            ``"REPLAY"`` (``replay_id`` set).
        summary: ``{asset_key: {"PASS": n, "WARN": n, "FAIL": n, "ERROR": n}}``, by asset.
        pass_count, warn_count, fail_count, error_count: totals over the items.
        items: by asset, partition and rule.
        created_at: when the report was last built (UTC).
        outcome: the worst item status (``FAIL``, ``ERROR``, ``WARN``, ``PASS``), ``NONE``
            without items.
        basis: where a partition report's items come from: ``ACTIVE`` (every asset's active
            version), ``LATEST_ATTEMPT`` (no asset has an active version), ``MIXED``, or
            ``NONE`` (no results); ``REPLAY`` for a replay report.
        latest_attempt: a partition report's newest attempt when the report does not come
            from it (a later replay or run whose versions stayed inactive), else None.
        job_id, partition_key: the job and the partition key of a DAILY or PARTITION report
            (``"2013-02-01"``, ``"2013-11-03-01:00-0500"``); None for a replay report (and
            ``job_id`` None for a daily report made before reports named their job).
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
    job_id: str | None = None
    partition_key: str | None = None



def outcome_of(items: Iterable[DqReportItemView]) -> str:
    """The worst status of some items, ``NONE`` without items."""
    return worst(i.status for i in items)


def basis_of(items: tuple[DqReportItemView, ...]) -> str:
    """Where a partition report's items come from (``DqReportView.basis``)."""
    return dq_outcomes.basis_of(i.active_version for i in items)
