"""How a replay command runs: embedded (in this process, through the persistent Dagster
instance, waiting for it) or submitted (an audited REQUESTED replay the daemon's replay sensor
launches), and how a replay is followed to its end and printed. The exit codes are those of
every replay command (``replay``)."""

import getpass
import json
import sys
import time
from typing import Any

import click

from opsrel_core.config import RuntimeSettings
from opsrel_core.entrypoints.cli.output import table
from opsrel_dagster.app.cli.jobs import declared_job

EXIT_FAILED, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_TIMEOUT = 1, 2, 3, 4


def _replay_table(found: list[Any]) -> str:
    return table(
        ["replay_id", "status", "type", "partitions", "operator", "reason", "requested (UTC)"],
        [[r.replay_id, r.status.value, r.replay_type.value,
          f"{r.partition_start}..{r.partition_end}", r.operator_id, r.reason,
          f"{r.requested_at:%Y-%m-%d %H:%M:%S}"] for r in found])


def _replay(kind: str, keys: list[str], *, reason: str, operator: str | None,
            request_key: str | None, wait: bool, timeout: float | None, as_json: bool,
            range_days: int | None = None, job_id: str | None = None) -> None:
    from opsrel_dagster.webserver import DAGSTER_URL_ENV

    operator_id = operator or getpass.getuser()
    url = RuntimeSettings.from_env().dagster_url
    if url:
        if range_days is not None:
            raise click.UsageError("--range-days applies to embedded replays only (the daemon's "
                                   "replay sensor runs the job's declared range size); unset "
                                   f"{DAGSTER_URL_ENV} or drop --range-days")
        _submit(url, kind, keys, operator_id, reason, request_key, wait, timeout, as_json,
                job_id)
    else:
        _run_embedded(kind, keys, operator_id, reason, request_key, as_json, range_days, job_id)


def _run_embedded(kind: str, keys: list[str], operator_id: str, reason: str,
                  request_key: str | None, as_json: bool, range_days: int | None = None,
                  job_id: str | None = None) -> None:
    from opsrel_core.errors import OpsException
    from opsrel_dagster.app.run_summary import render_table
    from opsrel_dagster.app.runner import HeadlessRunner

    runner = HeadlessRunner.from_env(declared_job(job_id).job_id)
    try:
        replay, summaries = runner.run_replay(
            keys, kind=kind, operator_id=operator_id, reason=reason, request_key=request_key,
            range_size=range_days)
    except OpsException as exc:
        click.echo(f"replay refused [{exc.code}]: {exc.operator_message}", err=True)
        sys.exit(EXIT_REFUSED)
    runner.dispatch_alerts()
    status = getattr(replay.status, "value", replay.status)
    if as_json:
        click.echo(json.dumps({"replay_id": replay.replay_id, "status": status, "mode": "embedded",
                               "partitions": [s.as_dict() for s in summaries]},
                              indent=2, default=str))
    else:
        if summaries:
            click.echo(render_table(summaries, runner.job.summary_metadata_key or "summary_figure"))
        else:
            click.echo("this request was already recorded; nothing was run again")
        click.echo(f"replay {replay.replay_id}: {status}")
    if status != "SUCCESS":
        sys.exit(EXIT_FAILED)


def _submit(url: str, kind: str, keys: list[str], operator_id: str, reason: str,
            request_key: str | None, wait: bool, timeout: float | None, as_json: bool,
            job_id: str | None = None) -> None:
    from opsrel_core.domain.replay_plan import ReplayAsk
    from opsrel_core.entrypoints.cli.group import _engine
    from opsrel_core.errors import OpsException
    from opsrel_core.services.replays import ReplayService
    from opsrel_dagster.webserver import DagsterWebserver, WebserverUnavailable

    try:
        daemon_alive = DagsterWebserver(url).sensor_daemon_healthy()
    except WebserverUnavailable as exc:
        click.echo(f"not submitted [{exc.code}]: {exc.operator_message}", err=True)
        sys.exit(EXIT_UNREACHABLE)
    if not daemon_alive:
        click.echo("warning: the Dagster instance reports no healthy sensor daemon; the replay "
                   "is launched once `dagster-daemon run` (or `dagster dev`) runs", err=True)
    job = declared_job(job_id)
    replays = ReplayService(_engine())
    try:
        replay = replays.request(
            ReplayAsk(kind, job.job_id, operator_id, reason, tuple(keys)),
            request_key=request_key, job_keys=job.partitions_def.get_partition_keys())
    except OpsException as exc:
        click.echo(f"replay refused [{exc.code}]: {exc.operator_message}", err=True)
        sys.exit(EXIT_REFUSED)
    if not wait:
        if as_json:
            click.echo(json.dumps({"replay_id": replay.replay_id, "status": replay.status.value,
                                   "mode": "submitted"}))
        else:
            click.echo(f"replay {replay.replay_id}: {replay.status.value} (submitted to {url}; "
                       f"follow it with `opsrel replay status {replay.replay_id} --wait`)")
        return
    _follow(replays, replay.replay_id, True, timeout, as_json, mode="submitted")


def _follow(replays: Any, replay_id: int, wait: bool, timeout: float | None, as_json: bool,
            poll_seconds: float = 2.0, mode: str | None = None) -> None:
    """Print the replay (after waiting for its end with ``wait``) and exit by its status.

    ``mode`` (``"submitted"``) is reported only when known: a replay row does not record how it
    was launched, so ``replay status`` leaves it out.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    replay = replays.get_replay(replay_id)
    seen = None
    while wait and not replay.status.is_terminal:
        if replay.status != seen and not as_json:
            click.echo(f"replay {replay_id}: {replay.status.value}", err=True)
            seen = replay.status
        if deadline is not None and time.monotonic() > deadline:
            break
        time.sleep(poll_seconds)
        replay = replays.get_replay(replay_id)
    history = replays.replay_history(replay_id)
    rows = [{"execution_id": r.execution.execution_id, "partition": r.execution.partition_key,
             "status": r.execution.status.value, "error_code": r.execution.error_code}
            for r in history.executions]
    if as_json:
        shown = {"replay_id": replay_id, "status": replay.status.value,
                 **({"mode": mode} if mode else {}),
                 "replay_type": replay.replay_type.value, "job_id": replay.job_id,
                 "partition_start": replay.partition_start, "partition_end": replay.partition_end,
                 "partition_keys": None if replay.partition_keys is None else list(replay.partition_keys),
                 "operator_id": replay.operator_id, "reason": replay.reason,
                 "requested_at": replay.requested_at.isoformat(),
                 "ended_at": replay.ended_at and replay.ended_at.isoformat(), "executions": rows}
        click.echo(json.dumps(shown, indent=2))
    else:
        click.echo(_replay_table([replay]))
        click.echo("")
        click.echo(table(["partition", "status", "error", "execution_id"],
                         [[r["partition"], r["status"], r["error_code"], r["execution_id"]]
                          for r in rows]))
        click.echo(f"replay {replay_id}: {replay.status.value}")
    if replay.status.value in ("FAILED", "STOPPED"):
        sys.exit(EXIT_FAILED)
    if wait and not replay.status.is_terminal:
        click.echo(f"replay {replay_id} still {replay.status.value} after {timeout} s", err=True)
        sys.exit(EXIT_TIMEOUT)
