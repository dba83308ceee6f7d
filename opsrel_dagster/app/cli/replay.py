"""``opsrel replay single|range|full|alert|status|stop|list``: replays from the command line, in two modes.

- Embedded (default, no ``OPSREL_DAGSTER_URL``): the replay runs in this process through the
  persistent Dagster instance and the command waits for it, as ``opsrel run`` does.
- Submit (``OPSREL_DAGSTER_URL`` names a running dagster-webserver): the command records the
  audited REQUESTED replay (one transaction: replay row + audit record), exactly what the admin
  API's ``POST /admin/batch/replay`` records, prints its id and returns. The daemon's
  ``opsrel_replay_launch_sensor`` launches exactly the plan's keys, in single-run ranges of up
  to the job's declared ``replay_range_size`` (run keys ``replay:<id>:<first>...<last>``, or
  ``replay:<id>:<partition>`` for a lone key), so a request launches once even when the command
  is retried with the same ``--request-key`` or dies after recording. ``--wait`` follows it to
  the end.

``opsrel replay list`` lists replays (``--status``, ``--limit``); ``opsrel replay stop ID --reason``
stops one as a whole (audited, as the admin API's ``POST /admin/replays/{id}/stop``).

Exit codes (for cron): 0 the replay ended SUCCESS (or was submitted, without ``--wait``);
1 it ended FAILED or STOPPED (or ``replay status`` of an unknown id, BAT-010); 2 bad input or a refused request (nothing written); 3 the webserver
at ``OPSREL_DAGSTER_URL`` did not answer (nothing written); 4 ``--timeout`` passed before the
replay ended (it keeps running).
"""

import getpass
import sys
from collections.abc import Callable
from typing import Any

import click

from opsrel_core.entrypoints.cli import cli
from opsrel_core.entrypoints.cli.output import fail
from opsrel_dagster.app.cli.jobs import declared_job, keys_between
from opsrel_dagster.app.cli.replay_modes import EXIT_REFUSED, _follow, _replay, _replay_table


def _common(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options every replay subcommand takes."""
    for option in reversed([
        click.option("--job", "job_id", default=None,
                     help="The declared job (default: the code location's only job)."),
        click.option("--reason", required=True, help="Why: recorded with the replay and its audit record."),
        click.option("--operator", default=None, help="Who (default: the OS user)."),
        click.option("--request-key", default=None, help="Idempotency key: the same key runs once."),
        click.option("--wait", is_flag=True, help="Submit mode: follow the replay to its end."),
        click.option("--timeout", type=float, default=None, help="Seconds --wait waits at most (exit 4)."),
        click.option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
        click.option("--range-days", type=click.IntRange(1, 366), default=None,
                     help="Embedded mode: run up to this many consecutive days as one Dagster run "
                          "(single-run ranges; default one run per day)."),
    ]):
        command = option(command)
    return command


@cli.group("replay")
def replay_group() -> None:
    """Replay one partition, a range or everything, keeping every earlier result.

    Each replayed partition's new result becomes active only if its run succeeds. Without
    OPSREL_DAGSTER_URL the replay runs here and the command waits; with it, the command submits
    the request to the daemon and prints the replay id (--wait follows it). Exit codes: 0 SUCCESS
    (or submitted), 1 FAILED/STOPPED, 2 refused, 3 webserver unreachable, 4 --timeout passed.
    """


@replay_group.command("single")
@click.argument("partition")
@_common
def replay_single(partition: str, **options: Any) -> None:
    """Replay the partition PARTITION (its key as Dagster spells it: 2013-01-01, or
    2013-11-03-01:00-0500 for the repeated hour of an hourly job)."""
    job = declared_job(options["job_id"])
    if job.position_of(partition) is None:
        raise click.BadParameter(
            f"{partition!r} is not a partition of job {job.job_id} ({job.partitions_kind()}, "
            f"{job.partition_keys()[0]}..{job.partition_keys()[-1]})", param_hint="PARTITION")
    _replay("single", [partition], **options)


@replay_group.command("range")
@click.argument("first")
@click.argument("last")
@_common
def replay_range(first: str, last: str, **options: Any) -> None:
    """Replay the partitions FIRST..LAST (inclusive, in the job's key order; for a job cut
    finer than a day a date stands for that day's first or last key)."""
    job = declared_job(options["job_id"])
    _replay("range", keys_between(job, first, last, "FIRST/LAST"), **options)


@replay_group.command("full")
@_common
def replay_full(**options: Any) -> None:
    """Replay every partition of the job."""
    job = declared_job(options["job_id"])
    _replay("full", job.partition_keys(), **options)


@replay_group.command("alert")
@click.argument("alert_id", type=int)
@_common
def replay_alert(alert_id: int, **options: Any) -> None:
    """Replay exactly the partitions of incident alert ALERT_ID that have not recovered (the
    alert's message names them). Exit 2: no such alert (BAT-011), not about failed partitions
    (BAT-009), or every partition recovered already (BAT-001); nothing is recorded."""
    from opsrel_core.entrypoints.cli.group import _engine
    from opsrel_core.errors import OpsException
    from opsrel_core.services.alert_incidents import IncidentService
    from opsrel_core.services.replays import ReplayService

    engine = _engine()
    try:
        ask = IncidentService(engine, ReplayService(engine)).replay_ask(
            alert_id, operator_id=options["operator"] or getpass.getuser(),
            reason=options["reason"])
    except OpsException as exc:
        click.echo(f"replay refused [{exc.code}]: {exc.operator_message}", err=True)
        sys.exit(EXIT_REFUSED)
    from opsrel_dagster.assembly import load_assembly

    JOBS = load_assembly().jobs
    if options["job_id"] not in (None, ask.job_id) or ask.job_id not in JOBS:
        # The alert says which job to replay; one this code location does not declare is
        # replayed where it is declared (or through the API).
        click.echo(f"replay refused: alert {alert_id} is about job {ask.job_id}, which this "
                   f"command cannot run here (declared: {', '.join(sorted(JOBS))}); use "
                   f"POST /admin/alerts/{alert_id}/replay", err=True)
        sys.exit(EXIT_REFUSED)
    assert ask.partitions is not None
    _replay(ask.kind, list(ask.partitions), **{**options, "job_id": ask.job_id})


@replay_group.command("status")
@click.argument("replay_id", type=int)
@click.option("--wait", is_flag=True, help="Follow the replay to its end.")
@click.option("--timeout", type=float, default=None, help="Seconds --wait waits at most (exit 4).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def replay_status(replay_id: int, wait: bool, timeout: float | None, as_json: bool) -> None:
    """Show a replay (who, why, what) and its executions; exit as a replay command does
    (1 when unknown: BAT-010)."""
    from opsrel_core.entrypoints.cli.group import _engine
    from opsrel_core.errors import OpsException
    from opsrel_core.services.replays import ReplayService

    replays = ReplayService(_engine())
    try:
        replays.get_replay(replay_id)
    except OpsException as exc:
        fail(exc)
    _follow(replays, replay_id, wait, timeout, as_json)


@replay_group.command("stop")
@click.argument("replay_id", type=int)
@click.option("--reason", required=True, help="Why: recorded with the stop's audit record.")
@click.option("--operator", default=None, help="Who (default: the OS user).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def replay_stop(replay_id: int, reason: str, operator: str | None, as_json: bool) -> None:
    """Stop a replay as a whole (audited): no further run is launched, its runs in flight are
    canceled (by the daemon's replay launch sensor) and end STOPPED; none of their results
    become active. Exit 0 recorded, 1 unknown id (BAT-010), 2 refused (BAT-008 no reason,
    BAT-001 the replay already ended)."""
    from opsrel_core.entrypoints.cli.group import _engine
    from opsrel_core.entrypoints.cli.output import _dump
    from opsrel_core.errors import OpsException
    from opsrel_core.services.execution_commands import ExecutionCommands

    try:
        stopped = ExecutionCommands(_engine()).stop_replay(
            replay_id, operator_id=operator or getpass.getuser(), reason=reason)
    except OpsException as exc:
        fail(exc, "stop refused: ")
    if as_json:
        click.echo(_dump(stopped))
        return
    again = " (already requested)" if stopped.already_requested else ""
    click.echo(f"{stopped.message}{again}; audit {stopped.audit_id}")


@replay_group.command("list")
@click.option("--status", type=click.Choice(["REQUESTED", "RUNNING", "SUCCESS", "FAILED",
                                             "STOPPING", "STOPPED"]), default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def replay_list(status: str | None, limit: int, as_json: bool) -> None:
    """List replays, newest first (ReplayService.list_replays)."""
    from opsrel_core.entrypoints.cli.group import _engine
    from opsrel_core.entrypoints.cli.output import _dump
    from opsrel_core.services.replays import ReplayService

    found = ReplayService(_engine()).list_replays(status=status, limit=limit)
    if as_json:
        click.echo(_dump(found))
        return
    click.echo(_replay_table(found))
