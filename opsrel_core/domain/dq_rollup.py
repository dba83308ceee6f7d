"""A day's data-quality roll-up: a view over the partition reports of one local day of a job.

An hourly job in ``America/New_York`` spells its keys ``2013-11-03-00:00`` .. ``2013-11-03-23:00``
and the repeated fall-back hour ``2013-11-03-01:00-0500``: every key of a local day starts with
``YYYY-MM-DD-``, so the day's partitions are found by their text, never by clock arithmetic (the
fall-back day has 25 of them, the spring-forward day 23). Of a daily job, the day's one partition
is the day itself. Nothing here is stored: the roll-up is read from the partition reports, each
as current as ``DqReportService.get_partition_report`` makes it; this module only sums them
(pure), and ``opsrel_core.services.quality.markdown.render_rollup`` renders the sum.
"""

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Protocol

from opsrel_core.domain.dq_outcomes import STATUSES, worst


class PartitionReport(Protocol):
    """What the roll-up reads of a partition report (``DqReportView``)."""

    report_id: int
    report_type: str
    partition_key: str | None
    outcome: str
    basis: str
    summary: dict[str, dict[str, int]]
    pass_count: int
    warn_count: int
    fail_count: int
    error_count: int


@dataclasses.dataclass(frozen=True)
class DayPartitionView:
    """One partition report of the day, in short.

    Attributes:
        partition_key: e.g. ``"2013-11-03-01:00-0500"``.
        report_id, report_type, outcome, basis: of the partition report.
        pass_count, warn_count, fail_count, error_count: its totals.
    """

    partition_key: str
    report_id: int
    report_type: str
    outcome: str
    basis: str
    pass_count: int
    warn_count: int
    fail_count: int
    error_count: int


@dataclasses.dataclass(frozen=True)
class DayRollupView:
    """A day's roll-up of a job.

    Attributes:
        job_id, day: the job and the local day.
        outcome: the worst outcome of the day's partition reports (``FAIL`` > ``ERROR`` >
            ``WARN`` > ``PASS``); ``NONE`` when none has items.
        pass_count, warn_count, fail_count, error_count: summed over the partition reports.
        summary: ``{asset_key: {"PASS": n, "WARN": n, "FAIL": n, "ERROR": n}}`` summed.
        partitions: one entry per built partition report of the day, in key order.
    """

    job_id: str
    day: dt.date
    outcome: str
    pass_count: int
    warn_count: int
    fail_count: int
    error_count: int
    summary: dict[str, dict[str, int]]
    partitions: tuple[DayPartitionView, ...]


def rollup(job_id: str, day: dt.date, reports: Iterable[PartitionReport]) -> DayRollupView:
    """Roll the partition reports of a day up (pure).

    Args:
        job_id, day: the job and the local day the reports belong to.
        reports: the day's partition reports (any order).

    Returns:
        The roll-up, its partitions in key order.
    """
    ordered = sorted(reports, key=lambda r: r.partition_key or "")
    summary: dict[str, dict[str, int]] = {}
    for report in ordered:
        for asset, counts in report.summary.items():
            total = summary.setdefault(asset, dict.fromkeys(STATUSES, 0))
            for status in STATUSES:
                total[status] += counts.get(status, 0)
    return DayRollupView(
        job_id=job_id, day=day,
        outcome=worst(r.outcome for r in ordered if r.outcome in STATUSES),
        pass_count=sum(r.pass_count for r in ordered),
        warn_count=sum(r.warn_count for r in ordered),
        fail_count=sum(r.fail_count for r in ordered),
        error_count=sum(r.error_count for r in ordered),
        summary=dict(sorted(summary.items())),
        partitions=tuple(
            DayPartitionView(
                partition_key=r.partition_key or "", report_id=r.report_id,
                report_type=r.report_type, outcome=r.outcome, basis=r.basis,
                pass_count=r.pass_count, warn_count=r.warn_count, fail_count=r.fail_count,
                error_count=r.error_count,
            )
            for r in ordered
        ),
    )

