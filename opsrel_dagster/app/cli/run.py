"""``opsrel run``, ``opsrel sync`` and ``opsrel reproduce``: the commands that run a declared job
through Dagster (or read its runs) and record what they did. Dagster is imported inside the
commands."""

import json
import sys
import time

import click

from opsrel_core.entrypoints.cli import cli
from opsrel_core.entrypoints.cli.output import fail
from opsrel_dagster.app.cli.jobs import declared_job, keys_between


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
    job = declared_job(job_id)
    keys = keys_between(job, date_from, date_to, "--from/--to")
    from opsrel_dagster.app.run_summary import render_table
    from opsrel_dagster.app.runner import HeadlessRunner

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
        click.echo(render_table(summaries, runner.job.summary_metadata_key or "summary_figure"))
    if any(s.status != "SUCCESS" for s in summaries):
        sys.exit(1)


@cli.command("reproduce")
@click.argument("execution_id")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def reproduce_command(execution_id: str, as_json: bool) -> None:
    """Re-run an execution's recorded context in isolation and compare its results' hashes.

    Nothing in the ops schema changes. Exits 0 when every result is identical, 1 otherwise
    or for an unknown execution (BAT-002), 2 when it cannot be reproduced (INP-005).
    """
    from opsrel_core.errors import OpsException
    from opsrel_dagster.app.runner import HeadlessRunner
    from opsrel_dagster.app.reproduce import reproduce_execution

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
    from opsrel_dagster.app.runner import HeadlessRunner

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
