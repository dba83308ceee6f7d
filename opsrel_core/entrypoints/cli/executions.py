"""``opsrel executions list|show|stop``: the executions (one per Dagster run) in the ops schema."""

import click

from opsrel_core.entrypoints.cli.group import _engine, cli
from opsrel_core.entrypoints.cli.output import _dump, fail, table


@cli.group()
def executions() -> None:
    """Executions (one per Dagster run) recorded in the ops schema."""


@executions.command("list")
@click.option("--job", "job_id", default=None, help="Only this job.")
@click.option("--status", type=click.Choice(["READY", "RUNNING", "SUCCESS", "FAILED", "STOPPED"]), default=None)
@click.option("--partition", default=None,
              help="Only runs that covered this partition key (as the job spells it: 2013-01-03, "
                   "2013-11-03-01:00-0500): its own and range runs over it.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def executions_list(job_id: str | None, status: str | None, partition: str | None, limit: int, as_json: bool) -> None:
    """List executions, newest first (the admin API's list, with the same filters)."""
    from opsrel_core.services.execution_queries import ExecutionFilter, ExecutionQueries

    filters = ExecutionFilter(job_id=job_id, status=status, partition_from=partition,
                              partition_to=partition)
    found, _next = ExecutionQueries(_engine()).list_executions(filters, limit)
    if as_json:
        click.echo(_dump(found))
        return
    click.echo(table(
        ["execution_id", "status", "partition", "trigger", "operator", "replay", "error",
         "created (UTC)"],
        [[e.execution_id, e.status.value, e.partition_key or _range(e), e.trigger_type,
          e.operator_id, e.replay_id, e.error_code, f"{e.created_at:%Y-%m-%d %H:%M:%S}"]
         for e in found]))


def _range(e) -> str | None:  # type: ignore[no-untyped-def]
    if e.partition_range_start is None:
        return None
    return f"{e.partition_range_start}..{e.partition_range_end}"


@executions.command("show")
@click.argument("execution_id")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def executions_show(execution_id: str, as_json: bool) -> None:
    """Show an execution with its history, context and the versions it made."""
    from opsrel_core.errors import OpsException
    from opsrel_core.services.batch_execution import BatchExecutionService
    from opsrel_core.services.execution_commands import ExecutionCommands
    from opsrel_core.services.provenance import ExecutionContextService
    from opsrel_core.services.result_versions import ResultVersionService

    engine = _engine()
    try:
        execution = BatchExecutionService(engine).get_execution(execution_id)
    except OpsException as exc:
        fail(exc)
    shown = {
        "execution": execution,
        "history": BatchExecutionService(engine).get_history(execution_id),
        "context": ExecutionContextService(engine).find_context(execution_id),
        "versions": ResultVersionService(engine).versions_of_execution(execution_id),
        "stop": ExecutionCommands(engine).stop_status(execution_id),
    }
    if as_json:
        click.echo(_dump(shown))
        return
    e = execution
    click.echo(f"execution {e.execution_id}  {e.status.value}  job {e.job_id}  partition {e.partition_key}")
    click.echo(f"  trigger {e.trigger_type}  operator {e.operator_id or '-'}  replay {e.replay_id or '-'}"
               f"  parent {e.parent_execution_id or '-'}")
    click.echo(f"  steps {e.steps_done}/{e.steps_total}  rows {e.rows_written}  "
               f"started {e.started_at}  ended {e.ended_at}")
    if e.error_code:
        click.echo(f"  error {e.error_code}: {e.error_message}")
    stop = shown["stop"]
    if stop is not None:
        click.echo(f"  stop requested {stop.requested_at}: final (ends {stop.final_status.value}, "
                   "none of its results become active)")
        click.echo(f"  stop delivery {stop.delivery.value}: {stop.delivery_detail}")
    for h in shown["history"]:
        if h["event_key"].startswith("status:"):
            click.echo(f"  {h['occurred_at']}  {h['from_status'] or '-'} -> {h['to_status']}")
        else:  # an annotation: an end ignored after a stop, the stop's delivery
            said = (h["detail"] or {}).get("reason") or (h["detail"] or {}).get("message") or ""
            click.echo(f"  {h['occurred_at']}  {h['event_key']}  {said}".rstrip())
    context = shown["context"]
    if context is not None:
        click.echo(f"  snapshots {', '.join(context.snapshot_ids)}")
        click.echo(f"  rules {len(context.rule_versions)}  code {context.code_version}")
    for v in shown["versions"]:
        click.echo(f"  version {v.asset_key} {v.partition_key} v{v.version_number}"
                   f"{' (active)' if v.is_active else ''} {v.content_hash[:19]}"
                   + (f"  inactive: {v.inactive_reason}" if v.inactive_reason else ""))


@executions.command("stop")
@click.argument("execution_id")
@click.option("--reason", required=True, help="Why: recorded with the stop's audit record.")
@click.option("--operator", default=None, help="Who (default: the OS user).")
@click.option("--json", "as_json", is_flag=True, help="Print the stop as JSON.")
def executions_stop(execution_id: str, reason: str, operator: str | None, as_json: bool) -> None:
    """Stop a live execution (audited). The stop is final: the execution ends STOPPED whatever
    Dagster reports afterwards, and none of its results become active. The daemon's replay
    launch sensor cancels the run in Dagster; `executions show` says what Dagster did. Exit 1
    unknown id (BAT-002), 2 refused (BAT-008 no reason, BAT-001 already ended)."""
    import getpass

    from opsrel_core.errors import OpsException
    from opsrel_core.services.execution_commands import ExecutionCommands

    try:
        stop = ExecutionCommands(_engine()).request_stop(
            execution_id, operator_id=operator or getpass.getuser(), reason=reason)
    except OpsException as exc:
        fail(exc, "stop refused: ")
    if as_json:
        click.echo(_dump(stop))
        return
    again = " (already requested)" if stop.already_requested else ""
    click.echo(f"execution {execution_id}: stop recorded{again}, audit {stop.audit_id}")
    click.echo(f"  {stop.stop.message}")
