"""The ``opsrel`` console script: the core CLI plus the commands that drive Dagster.

- ``opsrel run --from DATE --to DATE``: the headless main job. Materializes the example pipeline
  for each daily partition through Dagster (persistent instance, in-process executor: no process
  per step), applies the projection, prints a summary per partition.
- ``opsrel sync``: applies the projection of Dagster runs into the ops schema once.

Dagster is imported inside the commands, so ``opsrel db ...`` stays fast.
"""

import datetime as dt
import json
import sys
import time

import click

from opsrel_core.entrypoints import cli_alerts, cli_late
from opsrel_core.entrypoints.cli import AFTER_UPGRADE, cli, fail, table
from opsrel_dagster import cli_replay  # noqa: F401 - registers `opsrel replay ...`


def _register_declared_jobs(database_url: str) -> str:
    from opsrel_core.persistence.engine import make_engine
    from opsrel_dagster.assembly import load_assembly
    from opsrel_dagster.registration import register_jobs

    JOBS = load_assembly().jobs
    engine = make_engine(database_url)
    try:
        changed = register_jobs(engine, JOBS.values())
    finally:
        engine.dispose()
    return (f"batch-job catalog: {', '.join(sorted(JOBS))} registered"
            f" ({', '.join(changed) or 'no change'})")


AFTER_UPGRADE.append(_register_declared_jobs)


@cli.command("run")
@click.option("--from", "date_from", required=True,
              help="First partition key, inclusive, as Dagster spells it (2013-01-01; "
                   "2013-11-03-01:00 for an hourly job, or a date for its first hour that day).")
@click.option("--to", "date_to", required=True,
              help="Last partition key, inclusive (a date: that day's last key).")
@click.option("--job", "job_id", default=None,
              help="The declared job (default: the code location's only job).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run_command(date_from: str, date_to: str, job_id: str | None, as_json: bool) -> None:
    """Materialize a declared job's partitions FROM..TO (in the job's key order) and record
    every run.

    Exits 0 when every partition succeeded, 1 when any failed, 2 on bad arguments.
    """
    from opsrel_dagster.cli_replay import declared_job, keys_between

    job = declared_job(job_id)
    keys = keys_between(job, date_from, date_to, "--from/--to")
    from opsrel_dagster.headless import HeadlessRunner

    runner = HeadlessRunner.from_env(job.job_id)
    show_progress = not as_json and sys.stderr.isatty()
    started = time.monotonic()

    def progress(done: int, total: int, current: str | None) -> None:
        if show_progress:
            elapsed = time.monotonic() - started
            now = f" {current}" if current else ""
            click.echo(f"\r[{done}/{total}]{now}  {elapsed:.1f}s elapsed   ", nl=False, err=True)

    summaries = runner.run_partitions(keys, on_progress=progress)
    runner.dispatch_alerts()
    if show_progress:
        click.echo("", err=True)
    if as_json:
        click.echo(json.dumps([s.as_dict() for s in summaries], indent=2))
    else:
        click.echo(runner.render_table(summaries, runner.job.summary_metadata_key or "summary_figure"))
    if any(s.status != "SUCCESS" for s in summaries):
        sys.exit(1)


@cli.group("alerts")
def alerts_group() -> None:
    """Operational alerts: send pending deliveries, list, acknowledge, resolve."""


alerts_group.add_command(cli_alerts.alerts_resolve)
alerts_group.add_command(cli_late.alerts_late)


@alerts_group.command("dispatch")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def alerts_dispatch(as_json: bool) -> None:
    """Send the pending alert deliveries once (what the dispatch sensor does each tick)."""
    from opsrel_core.entrypoints.cli import _engine
    from opsrel_core.services.alert_dispatch import dispatch_alerts

    try:
        report = dispatch_alerts(_engine())
    except ValueError as exc:
        raise click.UsageError(f"alert settings: {exc}")
    from opsrel_core.alert_settings import AlertSettings

    if as_json:
        click.echo(json.dumps({k: getattr(report, k) for k in ("claimed", "sent", "retried", "failed")}))
    else:
        click.echo(f"sent {report.sent}, retrying {report.retried}, failed {report.failed}")
        if not AlertSettings.from_env().channels:
            click.echo(
                "warning: no alert channel is configured, so alerts reach nobody; set "
                "OPSREL_SMTP_HOST and OPSREL_ALERT_EMAIL_TO (and/or OPSREL_SLACK_WEBHOOK_URL, "
                "OPSREL_PAGERDUTY_ROUTING_KEY)",
                err=True,
            )


@alerts_group.command("list")
@click.option("--status", type=click.Choice(["OPEN", "ACKNOWLEDGED", "RESOLVED"]), default=None)
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the alerts as JSON.")
def alerts_list(status: str | None, limit: int, as_json: bool) -> None:
    """List alerts, newest first."""
    import dataclasses

    from opsrel_core.alert_settings import AlertSettings
    from opsrel_core.entrypoints.cli import _engine
    from opsrel_core.services.alerts import OpsAlertService

    # No Dagster: a read of the ops schema only.
    alerts = OpsAlertService(_engine(), AlertSettings.from_env()).list_alerts(
        status=status, limit=limit
    )
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(a) for a in alerts], indent=2, default=str))
        return
    # A silenced alert is recorded but not delivered: the list says so beside its status.
    click.echo(table(
        ["alert_id", "status", "severity", "count", "error", "title"],
        [[a.alert_id,
          a.status if a.silenced_by is None else f"{a.status} (silenced by {a.silenced_by})",
          a.severity, a.occurrence_count, a.error_code, a.title]
         for a in alerts]))


@alerts_group.command("ack")
@click.argument("alert_id", type=int)
@click.option("--operator", default=None, help="Who acknowledges (default: the OS user).")
@click.option("--reason", required=True, help="Why (required, as for every mutating call); "
              "kept in the audit record.")
@click.option("--json", "as_json", is_flag=True, help="Print the acknowledged alert as JSON.")
def alerts_ack(alert_id: int, operator: str | None, reason: str, as_json: bool) -> None:
    """Acknowledge an alert (idempotent; writes an audit record). Exit 1: no such alert
    (BAT-011); 2: a missing or blank --reason (nothing written)."""
    import getpass

    from opsrel_core.alert_settings import AlertSettings
    from opsrel_core.errors import OpsException
    from opsrel_core.entrypoints.cli import _engine
    from opsrel_core.services.alerts import OpsAlertService

    if not reason.strip():
        raise click.BadParameter("must not be blank: say why the alert is acknowledged",
                                 param_hint="--reason")
    service = OpsAlertService(_engine(), AlertSettings.from_env())
    try:
        alert = service.acknowledge_alert(
            alert_id, operator_id=operator or getpass.getuser(), reason=reason
        )
    except OpsException as exc:  # BAT-011 unknown alert: exit 1; a refusal: exit 2
        fail(exc)
    if as_json:
        import dataclasses

        click.echo(json.dumps(dataclasses.asdict(alert), indent=2, default=str))
        return
    click.echo(f"alert {alert.alert_id}: {alert.status} by {alert.acknowledged_by}")


@cli.command("reproduce")
@click.argument("execution_id")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def reproduce_command(execution_id: str, as_json: bool) -> None:
    """Re-run an execution's recorded context in isolation and compare its results' hashes.

    Nothing in the ops schema changes. Exits 0 when every result is identical, 1 otherwise
    or for an unknown execution (BAT-002), 2 when it cannot be reproduced (INP-005).
    """
    from opsrel_core.errors import OpsException
    from opsrel_dagster.headless import HeadlessRunner
    from opsrel_dagster.reproduce import reproduce_execution

    runner = HeadlessRunner.from_env()
    try:
        results = reproduce_execution(runner.engine, execution_id, runner.job)
    except OpsException as exc:
        fail(exc, "cannot reproduce: ")
    if as_json:
        click.echo(json.dumps([{**r.__dict__, "identical": r.identical} for r in results], indent=2))
    else:
        for r in results:
            click.echo(f"{r.asset_key:<20} {r.partition_key}  {'identical' if r.identical else 'DIFFERENT'}"
                       f"  {r.original_hash}  {r.reproduced_hash}")
    if not all(r.identical for r in results):
        sys.exit(1)


@cli.command("sync")
@click.option("--reset", is_flag=True, help="Forget the cursor and re-read every run (idempotent).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def sync_command(reset: bool, as_json: bool) -> None:
    """Apply the projection of Dagster runs into the ops schema once."""
    from opsrel_dagster.headless import HeadlessRunner

    runner = HeadlessRunner.from_env()
    report = runner.sync(reset=reset)
    runner.dispatch_lineage()  # the events the sync recorded (nothing when OpenLineage is off)
    if as_json:
        click.echo(json.dumps(report.to_json()))
    else:
        click.echo(
            f"projected {report.runs_projected} runs ({report.runs_ignored} not ours), "
            f"refreshed {report.open_refreshed} open executions; cursor {report.cursor}"
        )
        if report.set_aside:
            oldest = report.oldest_set_aside_at.isoformat() if report.oldest_set_aside_at else "-"
            click.echo(
                f"set aside: {report.set_aside} run(s) could not be recorded (retried with "
                f"backoff); oldest {report.oldest_set_aside_run_id} "
                f"[{report.oldest_set_aside_error_code}] since {oldest}. "
                "See GET /admin/ingestion; fix the cause and run `opsrel sync` again."
            )


def main() -> None:
    """Console-script entry point of ``opsrel``."""
    cli()
