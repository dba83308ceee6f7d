"""``opsrel reports show|day``: data-quality reports built from the recorded results."""

import click

from opsrel_core.entrypoints.cli.group import _engine, cli
from opsrel_core.entrypoints.cli.output import _dump, fail


@cli.group()
def reports() -> None:
    """Data-quality reports (PASS / WARN / FAIL per asset and rule)."""


@reports.command("show")
@click.option("--partition", default=None,
              help="The report of this partition: a day (YYYY-MM-DD) of the daily job, or with "
                   "--job any key of that job (e.g. 2013-11-03-01:00-0500).")
@click.option("--job", "job_id", default=None,
              help="The job of the partition (default: the catalog's daily job).")
@click.option("--replay", "replay_id", type=int, default=None, help="The report of this replay.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def reports_show(partition: str | None, job_id: str | None, replay_id: int | None,
                 as_json: bool) -> None:
    """Show (building it from the recorded results) the report of a partition or of a replay."""
    from opsrel_core.errors import OpsException
    from opsrel_core.services.dq_reports import DqReportService, render_markdown

    if (partition is None) == (replay_id is None):
        raise click.UsageError("give exactly one of --partition or --replay")
    if job_id is not None and replay_id is not None:
        raise click.UsageError("--job names the job of a --partition, not of a --replay")
    service = DqReportService(_engine())
    try:
        if replay_id is not None:
            report = service.build_replay_report(replay_id)
        elif job_id is not None:
            report = service.build_partition_report(job_id, partition)  # type: ignore[arg-type]
        else:
            report = service.build_daily_report(partition)  # type: ignore[arg-type]
    except ValueError as exc:  # not a day, a blank key: bad input (exit 2), as for every command
        raise click.BadParameter(str(exc), param_hint="--partition") from None
    except OpsException as exc:
        fail(exc, "no report: ")
    click.echo(_dump(report) if as_json else render_markdown(report))


@reports.command("day")
@click.argument("day")
@click.option("--job", "job_id", required=True, help="The job, e.g. weather_hourly.")
@click.option("--json", "as_json", is_flag=True, help="Print the roll-up as JSON.")
def reports_day(day: str, job_id: str, as_json: bool) -> None:
    """Show a day's roll-up (YYYY-MM-DD) of a job: its partition reports summed, the worst
    outcome, one line per partition (an hourly job's hours)."""
    from opsrel_core.errors import OpsException
    from opsrel_core.services.dq_reports import DqReportService
    from opsrel_core.services.dq_rollup import render_rollup

    try:
        rollup = DqReportService(_engine()).day_rollup(job_id, day)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="DAY") from None
    except OpsException as exc:
        fail(exc, "no roll-up: ")
    click.echo(_dump(rollup) if as_json else render_rollup(rollup))
