"""Console pages: the data-quality calendar of a month and a day's DQ report.

A day's colour is its daily report's outcome (``DqReportService.get_daily_report``, the admin
API's ``GET /admin/reports/daily/{partition}``): the results of each asset's active version,
else of its latest attempt. A warning that comes every day says little; one on a rule that
does not warn on most days of the month is news, and its cell is marked.
"""

import calendar
import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from opsrel_core.entrypoints.api.deps import Services, get_services
from opsrel_core.entrypoints.console.render import render
from opsrel_core.entrypoints.console.session import viewer
from opsrel_core.services.console_sessions import ConsoleSessionView
from opsrel_core.services.quality import DqReportView

router = APIRouter(prefix="/console", include_in_schema=False)

DEFAULT_JOB = "flights_daily"
CELL_CLASS = {"PASS": "PASS", "WARN": "WARN", "FAIL": "FAIL", "ERROR": "FAIL"}


def parse_month(value: str | None, today: dt.date | None = None) -> dt.date:
    """The first day of ``YYYY-MM`` (the current UTC month when blank).

    Raises:
        ValueError: not ``YYYY-MM`` (a 422 page).
    """
    if not value or not value.strip():
        today = today or dt.datetime.now(dt.timezone.utc).date()
        return today.replace(day=1)
    try:
        return dt.datetime.strptime(value.strip(), "%Y-%m").date()
    except ValueError:
        raise ValueError(f"month must be YYYY-MM, got {value!r}") from None


def warning_rules(report: DqReportView | None) -> list[str]:
    """The rules that warned in a day's report, sorted, each once."""
    if report is None:
        return []
    return sorted({i.rule_id for i in report.items if i.status == "WARN"})


def month_cells(reports: dict[dt.date, DqReportView | None]) -> list[dict[str, Any]]:
    """One cell per day of the month, in order: ``{"day", "status"}`` (``PASS``, ``WARN``,
    ``FAIL`` or None without a report), ``"warnings"`` (rule ids) and ``"news"``: True when a
    rule warned that day that warns on at most half of the month's days with a report."""
    reported = [r for r in reports.values() if r is not None]
    warned_days: dict[str, int] = {}
    for report in reported:
        for rule in warning_rules(report):
            warned_days[rule] = warned_days.get(rule, 0) + 1
    habitual = {rule for rule, n in warned_days.items() if n * 2 > len(reported)}
    cells = []
    for day, report in sorted(reports.items()):
        warnings = warning_rules(report)
        cells.append({
            "day": day, "report": report, "warnings": warnings,
            "status": CELL_CLASS.get(report.outcome) if report is not None else None,
            "news": any(rule not in habitual for rule in warnings),
        })
    return cells


def _month_reports(services: Services, first: dt.date) -> dict[dt.date, DqReportView | None]:
    days = calendar.monthrange(first.year, first.month)[1]
    return {day: services.reports.get_daily_report(day.isoformat())
            for day in (first + dt.timedelta(days=n) for n in range(days))}


@router.get("/quality", response_class=HTMLResponse)
async def quality(
    request: Request, job: str | None = None, month: str | None = None,
    _: ConsoleSessionView = Depends(viewer), services: Services = Depends(get_services),
) -> HTMLResponse:
    """The month's calendar (``month``: ``YYYY-MM``; default the month of the daily report
    built last, so the page opens where the latest runs are, else the current month; ``job``:
    whose partition pages the cells' links lead to, default ``flights_daily``): a cell per day,
    coloured by its daily report's outcome and linking to ``/console/reports/{day}``."""
    if not (month or "").strip():
        newest = await run_in_threadpool(services.reports.list_reports, "DAILY", None, None, 1)
        if newest and newest[0].report_date is not None:
            month = newest[0].report_date.strftime("%Y-%m")
    first = parse_month(month)
    cells = month_cells(await run_in_threadpool(_month_reports, services, first))
    previous = (first - dt.timedelta(days=1)).replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return await render(request, "quality.html", nav="quality", cells=cells,
                        job=(job or "").strip() or DEFAULT_JOB, month=first,
                        lead=first.weekday(), previous=previous, following=following)


@router.get("/reports/{partition}", response_class=HTMLResponse)
async def daily_report(
    request: Request, partition: str, job: str | None = None,
    _: ConsoleSessionView = Depends(viewer), services: Services = Depends(get_services),
) -> HTMLResponse:
    """A partition's DQ report: its outcome, basis and items (and the latest attempt beside it
    when that attempt is not the report's source). Without ``?job=`` the day's report of the
    daily job; with it, that job's report of any key (``?job=weather_hourly``). No report or
    no such job: a 404 page; without a job, not a date: 422."""
    job_id = (job or "").strip()
    if job_id:
        report = await run_in_threadpool(services.reports.get_partition_report, job_id, partition)
    else:
        report = await run_in_threadpool(services.reports.get_daily_report, partition)
    if report is None:
        raise LookupError(f"no report for {partition}")
    return await render(request, "report.html", nav="quality", report=report,
                        partition=partition, job=job_id or report.job_id or DEFAULT_JOB)
