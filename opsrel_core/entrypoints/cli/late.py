"""``opsrel alerts late``: the partition deadlines of the catalog's jobs and their late partitions.

Runs the check the late-partition sensor runs every five minutes
(``LatePartitionService.check``): idempotent, so running it by hand raises only what the sensor
would have raised (one BAT-015 alert per late partition) and resolves what has arrived.
"""

import click

from opsrel_core.entrypoints.cli.group import _engine
from opsrel_core.entrypoints.cli.output import _dump, table


@click.command("late")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def alerts_late(as_json: bool) -> None:
    """Check the jobs' partition deadlines now: list each job's deadline and late partitions,
    raise one BAT-015 alert per newly late partition, resolve those whose version arrived."""
    from opsrel_core.config import AlertSettings
    from opsrel_core.services.late_partitions import LatePartitionService

    try:
        settings = AlertSettings.from_env()
    except ValueError as exc:
        raise click.UsageError(f"alert settings: {exc}")
    report = LatePartitionService(_engine(), settings).check()
    if as_json:
        click.echo(_dump({"jobs": report.jobs, "raised": [a.alert_id for a in report.raised],
                          "resolved": report.resolved}))
        return
    if not report.jobs:
        click.echo("no job declares a partition deadline")
        return
    click.echo(table(["job", "deadline", "late partitions"],
                     [[j.job_id, j.deadline, ", ".join(j.late) or "none"] for j in report.jobs]))
    click.echo(f"raised {len(report.raised)} alert(s), resolved {len(report.resolved)}")
