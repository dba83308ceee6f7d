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

from opsrel_core.entrypoints.cli import cli


def _date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=name)


@cli.command("run")
@click.option("--from", "date_from", required=True, help="First partition (YYYY-MM-DD), inclusive.")
@click.option("--to", "date_to", required=True, help="Last partition (YYYY-MM-DD), inclusive.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run_command(date_from: str, date_to: str, as_json: bool) -> None:
    """Materialize the flights pipeline for daily partitions FROM..TO and record every run.

    Exits 0 when every partition succeeded, 1 when any failed, 2 on bad arguments.
    """
    start, end = _date(date_from, "--from"), _date(date_to, "--to")
    if end < start:
        raise click.BadParameter(f"--to {end} is before --from {start}", param_hint="--to")
    from opsrel_dagster.headless import HeadlessRunner

    runner = HeadlessRunner.from_env()
    keys = runner.partition_keys(start, end)
    show_progress = not as_json and sys.stderr.isatty()
    started = time.monotonic()

    def progress(done: int, total: int, current: str | None) -> None:
        if show_progress:
            elapsed = time.monotonic() - started
            now = f" {current}" if current else ""
            click.echo(f"\r[{done}/{total}]{now}  {elapsed:.1f}s elapsed   ", nl=False, err=True)

    summaries = runner.run_partitions(keys, on_progress=progress)
    if show_progress:
        click.echo("", err=True)
    if as_json:
        click.echo(json.dumps([s.as_dict() for s in summaries], indent=2))
    else:
        click.echo(runner.render_table(summaries))
    if any(s.status != "SUCCESS" for s in summaries):
        sys.exit(1)


@cli.command("sync")
@click.option("--reset", is_flag=True, help="Forget the cursor and re-read every run (idempotent).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def sync_command(reset: bool, as_json: bool) -> None:
    """Apply the projection of Dagster runs into the ops schema once."""
    from opsrel_dagster.headless import HeadlessRunner

    runner = HeadlessRunner.from_env()
    report = runner.sync(reset=reset)
    if as_json:
        click.echo(json.dumps(report.__dict__))
    else:
        click.echo(
            f"projected {report.runs_projected} runs ({report.runs_ignored} not ours), "
            f"refreshed {report.open_refreshed} open executions; cursor {report.cursor}"
        )


def main() -> None:
    """Console-script entry point of ``opsrel``."""
    cli()
