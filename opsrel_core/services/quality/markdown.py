"""Markdown rendering of a data-quality report and of a day's roll-up, for Dagster UI metadata
and the CLI: pure functions of the views."""

from collections.abc import Iterable

from opsrel_core.domain import partition_state as ps
from opsrel_core.domain.dq_outcomes import BASIS_MIXED, SEVERITY_RANK, STATUSES
from opsrel_core.domain.dq_rollup import DayRollupView
from opsrel_core.services.quality.report_views import DqReportItemView, DqReportView


def render_markdown(report: DqReportView, max_items: int = 50) -> str:
    """A compact markdown rendering of a report, for Dagster UI metadata and the CLI.

    Args:
        report: the report.
        max_items: item rows shown (non-PASS first); the rest are counted in a last line.

    Returns:
        A title line with the totals (``daily DAY``, ``partition JOB KEY`` or ``replay N``);
        for a partition report, where its results come from (the active version, or the latest
        attempt when none is active) and the latest attempt beside it when that is another
        execution; a table of counts by asset and a table of items; the latest attempt's
        non-PASS items last.
    """
    lines = [
        f"**Data quality, {_subject(report)}**: {report.pass_count} PASS, {report.warn_count} "
        f"WARN, {report.fail_count} FAIL, {report.error_count} ERROR",
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


def _subject(report: DqReportView) -> str:
    if report.report_type == "DAILY" and report.report_date is not None:
        return f"daily {report.report_date.isoformat()}"
    if report.report_type == "PARTITION":
        return f"partition {report.job_id} {report.partition_key}"
    return f"replay {report.replay_id}"


def _executions(items: Iterable[DqReportItemView], active: bool) -> str:
    return ", ".join(sorted({i.execution_id or "?" for i in items if i.active_version == active}))


def _source_lines(report: DqReportView) -> list[str]:
    """Where a partition report's results come from, and its latest attempt when that differs."""
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
    ordered = sorted(items, key=lambda i: (SEVERITY_RANK[i.status], i.asset_key, i.partition_key,
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


def render_rollup(view: DayRollupView) -> str:
    """A compact markdown rendering of a roll-up (CLI): a title line with the totals and the
    outcome, then one table row per partition report."""
    lines = [
        f"**Data quality, {view.job_id} {view.day.isoformat()}**: {view.outcome} over "
        f"{len(view.partitions)} partitions: {view.pass_count} PASS, {view.warn_count} WARN, "
        f"{view.fail_count} FAIL, {view.error_count} ERROR",
    ]
    if not view.partitions:
        return "\n".join([*lines, "", "_No partition report of this day was built._"])
    lines += ["", "| partition | outcome | PASS | WARN | FAIL | ERROR |",
              "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {p.partition_key} | {p.outcome} | {p.pass_count} | {p.warn_count} | "
              f"{p.fail_count} | {p.error_count} |" for p in view.partitions]
    return "\n".join(lines)
