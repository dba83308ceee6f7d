"""``opsrel`` command-line interface: the core commands (``opsrel db ...``).

Commands that need Dagster (``opsrel run``, ``opsrel sync``) are added to the same group by
``opsrel_dagster.cli``, which is the console script's entry point; this module never imports
dagster.
"""

import sys
from collections.abc import Callable
from typing import NoReturn

import click

from opsrel_core.persistence import migrate
from opsrel_core.settings import OpsSettings


def _redacted(text: str) -> str:
    # The one redaction rule, with every secret of the environment (the database URL's password
    # among them).
    from opsrel_core.log_redaction import redactor_from_env

    return redactor_from_env().redact(text)


class _OpsGroup(click.Group):
    """The ``opsrel`` group: a database outage in any command is one line and exit 3."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from opsrel_core.persistence.retry import outage_of

            outage = outage_of(exc)
            if outage is None:
                raise
            # SYS-002 with the driver's first line, never its traceback (README: exit 3).
            message = " ".join(outage.operator_message.split())
            click.echo(_redacted(f"[{outage.code}] {message}"), err=True)
            ctx.exit(EXIT_UNAVAILABLE)


@click.group(cls=_OpsGroup)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """opsrel: operational reliability for Dagster data platforms.

    The ops database is OPSREL_DATABASE_URL (a SQLAlchemy URL); by default a SQLite file
    .opsrel/ops.db under OPSREL_HOME (default ./.opsrel).
    """
    from opsrel_core.log_redaction import install_log_redaction

    # Every command, `api serve` included: no log line or traceback of this process shows a
    # configured secret.
    install_log_redaction()

    from opsrel_core.domain.operator_names import os_principal
    from opsrel_core.services.audit_log import acting_principal

    # Every audit record a command writes names the OS user that ran it (``os:<user>``) beside
    # the operator it names; undone when the command ends (tests invoke many in one process).
    token = acting_principal.set(os_principal())
    ctx.call_on_close(lambda: acting_principal.reset(token))


@cli.group()
def db() -> None:
    """Manage the ops schema with its Alembic migrations."""


AFTER_UPGRADE: list[Callable[[str], str]] = []
"""Called with the database URL after ``opsrel db upgrade`` reaches head; each returns a line to
print. The application registers its declared jobs in the batch-job catalog here (the core
knows no code location)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head); at head, register the code location's
    declared jobs in the batch-job catalog."""
    settings = OpsSettings.from_env()
    migrate.upgrade(settings.database_url, revision)
    click.echo(
        f"ops schema at {migrate.current_revision(settings.database_url)} "
        f"({_redacted(settings.database_url)})"
    )
    if revision == "head":
        for hook in AFTER_UPGRADE:
            click.echo(hook(settings.database_url))


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ('base' reverts all).

    Exit 1, nothing changed, when the downgrade would drop or strip audit records (the audit
    log is never destroyed) or orphan recorded executions."""
    import sqlalchemy as sa

    settings = OpsSettings.from_env()
    try:
        migrate.downgrade(settings.database_url, revision)
    except migrate.DowngradeRefused as exc:
        # Refused before anything ran: the audit log is never dropped or stripped.
        click.echo(f"downgrade to {revision} refused, nothing changed: {exc}", err=True)
        sys.exit(1)
    except sa.exc.IntegrityError as exc:
        # Nothing changed: the downgrade ran in one transaction and was rolled back.
        click.echo(
            f"downgrade to {revision} refused, nothing changed: recorded rows still refer to "
            f"data this downgrade would remove ({type(exc.orig).__name__}). Downgrading below "
            "0002 needs an ops database without executions.",
            err=True,
        )
        sys.exit(1)
    click.echo(f"ops schema at {migrate.current_revision(settings.database_url) or 'base'}")


@db.command("current")
def db_current() -> None:
    """Say where the database stands against head; exit 1 when it is behind."""
    settings = OpsSettings.from_env()
    current = migrate.current_revision(settings.database_url)
    head = migrate.head_revision()
    state = "up to date" if current == head else "behind: run `opsrel db upgrade`"
    click.echo(f"current: {current or 'base'}  head: {head}  ({state})")
    if current != head:
        sys.exit(1)


@db.command("sql")
@click.option(
    "--dialect",
    type=click.Choice(["postgresql", "sqlite"]),
    default=None,
    help="Dialect to render for (default: the one of OPSREL_DATABASE_URL).",
)
@click.argument("revision_range", default="head")
def db_sql(dialect: str | None, revision_range: str) -> None:
    """Print the DDL of the migrations for review (Alembic offline mode); touches no database."""
    url = f"{dialect}://" if dialect else OpsSettings.from_env().database_url
    click.echo(migrate.offline_sql(url, revision_range), nl=False)


@db.command("grant")
@click.option("--app-role", required=True, help="The application role (owns nothing).")
@click.option("--create-role", is_flag=True,
              help="Create it (LOGIN, no password) when it does not exist.")
@click.option("--sql", "as_sql", is_flag=True,
              help="Print the statements for a DBA instead; touches no database.")
def db_grant(app_role: str, create_role: bool, as_sql: bool) -> None:
    """Give APP_ROLE the application's privileges on schema ops (PostgreSQL), run as the
    migration role: the ordinary tables read and written, the audit log only read and appended
    to. Safe to run again; `opsrel db upgrade` re-applies it to roles that hold it. Exit 2 when
    refused (nothing changed)."""
    import sqlalchemy as sa

    from opsrel_core.persistence import roles
    from opsrel_core.persistence.engine import make_engine

    try:
        if as_sql:
            click.echo(roles.render_sql(app_role), nl=False)
            return
        engine = make_engine(OpsSettings.from_env().database_url, poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as conn:
                ran = roles.apply_grants(conn, app_role, create_role=create_role)
        finally:
            engine.dispose()
    except roles.RoleGrantError as exc:
        click.echo(f"grant refused, nothing changed: {exc}", err=True)
        sys.exit(2)
    click.echo(f"{len(ran)} statements applied: {app_role} may read and write schema ops, "
               "and only read and append to ops.audit_log")


def _engine():  # type: ignore[no-untyped-def]
    from opsrel_core.persistence.engine import make_engine

    settings = OpsSettings.from_env()
    engine = make_engine(settings.database_url)
    # A read migrates nothing when the schema is at head: one query, no Alembic.
    migrate.ensure_current(settings.database_url, engine)
    return engine


def table(headers: list[str], rows: list[list[object]]) -> str:
    """Rows as a left-aligned text table under a header line; None shows as ``-``.

    Args:
        headers: column names.
        rows: one list of cell values per row, as many as ``headers``.

    Returns:
        The table, without a trailing newline (only the header when there are no rows).
    """
    cells = [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in [headers, *cells])


# Exit statuses every command keeps (README): 0 done, 1 an unknown id (or a failed run),
# 2 bad input or a refused request (nothing written), 3 a system that did not answer.
EXIT_UNKNOWN_ID, EXIT_BAD_INPUT, EXIT_UNAVAILABLE = 1, 2, 3


def exit_code_of(exc: Exception) -> int:
    """The exit status for a coded error: ``EXIT_UNKNOWN_ID`` for an id that names nothing
    (``NotFoundException``, BAT-002, BAT-010, BAT-011), ``EXIT_UNAVAILABLE`` for EXT and SYS
    codes (a system did not answer), ``EXIT_BAD_INPUT`` for anything else (a refused request)."""
    from opsrel_core.domain import error_codes
    from opsrel_core.errors import NotFoundException

    code = getattr(exc, "code", "")
    if isinstance(exc, NotFoundException) or code in (
        error_codes.BAT_EXECUTION_NOT_FOUND, error_codes.BAT_REPLAY_NOT_FOUND,
        error_codes.BAT_RECORD_NOT_FOUND,
    ):
        return EXIT_UNKNOWN_ID
    if code[:3] in ("EXT", "SYS"):
        return EXIT_UNAVAILABLE
    return EXIT_BAD_INPUT


def fail(exc: Exception, prefix: str = "") -> NoReturn:
    """Print ``[CODE] message`` (after ``prefix``) on stderr and exit by ``exit_code_of``.

    Args:
        exc: an ``OpsException`` (its code and operator message are printed).
        prefix: e.g. ``"replay refused "``; empty by default.
    """
    message = getattr(exc, "operator_message", str(exc))
    status = exit_code_of(exc)
    if status == EXIT_UNAVAILABLE:  # a driver's or server's message: one line, as for cron mail
        message = " ".join(message.split())
    click.echo(f"{prefix}[{getattr(exc, 'code', '?')}] {message}", err=True)
    sys.exit(status)


def _dump(value: object) -> str:
    import dataclasses
    import json

    from opsrel_core.services.audit_log import json_safe

    def default(obj: object) -> object:
        if dataclasses.is_dataclass(obj):
            return dataclasses.asdict(obj)  # type: ignore[arg-type]
        return json_safe(obj)  # times UTC ISO 8601, enums by value

    return json.dumps(value, indent=2, default=default)


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
    from opsrel_core.services.quality import DqReportService, render_markdown

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
    from opsrel_core.services.quality import DqReportService
    from opsrel_core.services.quality import render_rollup

    try:
        rollup = DqReportService(_engine()).day_rollup(job_id, day)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="DAY") from None
    except OpsException as exc:
        fail(exc, "no roll-up: ")
    click.echo(_dump(rollup) if as_json else render_rollup(rollup))


@cli.group()
def lineage() -> None:
    """Lineage: from a result back to its snapshots and sources."""


@lineage.command("backtrace")
@click.option("--asset", "asset_key", required=True, help="Asset key, e.g. delay_simulation.")
@click.option("--partition", required=True, help="Partition key, e.g. 2013-01-01.")
@click.option("--version", "version_number", type=int, default=None, help="Default: the active one.")
@click.option("--json", "as_json", is_flag=True, help="Print the lineage as JSON.")
def lineage_backtrace(asset_key: str, partition: str, version_number: int | None, as_json: bool) -> None:
    """Trace a result version back to its input snapshots and sources.

    Exit 1 when the asset partition has no active version or the version was never recorded.
    """
    from opsrel_core.domain import error_codes
    from opsrel_core.errors import NotFoundException, OpsException
    from opsrel_core.services.lineage import LineageService
    from opsrel_core.services.result_versions import ResultVersionService

    engine = _engine()
    try:
        if version_number is None:
            active = ResultVersionService(engine).get_active_version(asset_key, partition)
            if active is None:
                raise NotFoundException(error_codes.BAT_NO_ACTIVE_VERSION,
                                        f"{asset_key} {partition} has no active version")
            version_number = active.version_number
        found = LineageService(engine).backtrace_recorded_version(asset_key, partition, version_number)
    except OpsException as exc:
        fail(exc)
    node_type = found.roots[0].node_type
    if as_json:
        click.echo(_dump(found))
        return
    click.echo(f"{asset_key} {partition} v{version_number} ({node_type}) comes from:")
    click.echo(f"  {'depth':<5} {'layer':<11} {'asset':<20} {'partition':<10}  version")
    for view in sorted(found.nodes, key=lambda v: (v.depth, v.node.asset_key)):
        n = view.node
        click.echo(f"  {view.depth:<5} {n.node_type:<11} {n.asset_key:<20} {n.partition_key or '-':<10}  {n.version_ref}")
    click.echo(f"snapshots: {', '.join(found.snapshot_ids) or '-'}")


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
    from opsrel_core.services.execution_context import ExecutionContextService
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


@cli.group()
def tokens() -> None:
    """API tokens for the admin API (shown once, stored hashed)."""


@tokens.command("create")
@click.option("--operator", "operator_id", required=True,
              help="Who the token acts for: a person's name, not token:/os:/sensor:.")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), required=True)
@click.option("--reason", required=True, help="Why: recorded in the audit log (by the OS user).")
@click.option("--expires-in", default=None, help="Lifetime, e.g. 30d, 12h, 90m (default: none).")
@click.option("--expires-at", default=None, help="Expiry instant, ISO 8601 (naive is UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print the token and its record as JSON.")
def tokens_create(operator_id: str, role: str, reason: str, expires_in: str | None,
                  expires_at: str | None, as_json: bool) -> None:
    """Create a token and print it once (it is stored only as a hash); audited. Exit 2 on bad
    input (BAT-008: no reason, an invisible or look-alike name, a principal's name)."""
    from opsrel_core.domain.operator_names import os_principal
    from opsrel_core.errors import OpsException
    from opsrel_core.services.api_tokens import ApiTokenService, token_expiry

    try:
        expiry = token_expiry(expires_in, expires_at)
        plaintext, view = ApiTokenService(_engine()).create(
            operator_id, role, by=_os_user(os_principal()), reason=reason, expires_at=expiry)
    except OpsException as exc:
        fail(exc, "token refused: ")
    except ValueError as exc:
        click.echo(f"token refused: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if as_json:
        click.echo(_dump({"token": plaintext, **_asdict(view)}))
        return
    until = "" if view.expires_at is None else f", expires {view.expires_at:%Y-%m-%d %H:%M:%S} UTC"
    click.echo(f"token {view.token_id} for {view.operator_id} ({role}{until}), audit "
               f"{view.audit_id}; keep it, it is not shown again:")
    click.echo(plaintext)


def _os_user(principal: str) -> str:
    # The operator name the CLI records for itself: the OS user (``os:alice`` -> ``alice``).
    return principal.split(":", 1)[1]


def _asdict(view: object) -> dict:  # type: ignore[type-arg]
    import dataclasses

    return dataclasses.asdict(view)  # type: ignore[call-overload]


@tokens.command("revoke")
@click.argument("token_id", type=int)
@click.option("--reason", required=True, help="Why: recorded in the audit log (by the OS user).")
@click.option("--json", "as_json", is_flag=True, help="Print the revoked token's record as JSON.")
def tokens_revoke(token_id: int, reason: str, as_json: bool) -> None:
    """Revoke a token (idempotent; audited); exit 1 when there is no such token, 2 on bad input."""
    from opsrel_core.domain.operator_names import os_principal
    from opsrel_core.errors import OpsException
    from opsrel_core.services.api_tokens import ApiTokenService

    try:
        view = ApiTokenService(_engine()).revoke(
            token_id, by=_os_user(os_principal()), reason=reason)
    except OpsException as exc:  # BAT-011 unknown token: exit 1; a refusal: exit 2
        fail(exc)
    click.echo(_dump(view) if as_json else f"token {token_id} revoked (audit {view.audit_id})")


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the tokens as JSON.")
def tokens_list(as_json: bool) -> None:
    """List the API tokens, oldest first: id, operator, role, created, revoked, expires, last
    used (to the minute) (never a token or its hash: only the hash is stored, and it is not
    shown)."""
    from opsrel_core.services.api_tokens import ApiTokenService

    def when(value):  # type: ignore[no-untyped-def]
        return None if value is None else f"{value:%Y-%m-%d %H:%M:%S}"

    found = ApiTokenService(_engine()).list_tokens()
    if as_json:
        click.echo(_dump([{k: v for k, v in _asdict(t).items() if k != "audit_id"} for t in found]))
        return
    click.echo(table(
        ["token_id", "operator", "role", "created (UTC)", "revoked (UTC)", "expires (UTC)",
         "last used (UTC)"],
        [[t.token_id, t.operator_id, t.role.value, when(t.created_at), when(t.revoked_at),
          when(t.expires_at), when(t.last_used_at)] for t in found]))


@cli.group()
def api() -> None:
    """The admin HTTP API."""


@api.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--proxy-headers/--no-proxy-headers", default=False, show_default=True,
              help="Take the client address from X-Forwarded-For / X-Forwarded-Proto (only from "
              "--forwarded-allow-ips): behind a TLS-terminating reverse proxy.")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True,
              help="Comma-separated addresses of the proxies whose forwarded headers are trusted.")
def api_serve(host: str, port: int, proxy_headers: bool, forwarded_allow_ips: str) -> None:
    """Serve the admin API (OpenAPI at /openapi.json, docs at /docs). Limits:
    OPSREL_API_MAX_BODY_BYTES, OPSREL_API_AUTH_FAILURES, OPSREL_API_AUTH_WINDOW_SECONDS."""
    from opsrel_core.entrypoints.api.openapi_export import serve

    settings = OpsSettings.from_env()
    migrate.upgrade(settings.database_url)
    serve(host, port, settings, proxy_headers=proxy_headers,
          forwarded_allow_ips=forwarded_allow_ips)


@api.command("openapi")
@click.option("--output", default="docs/openapi.json", show_default=True, help="Where to write it.")
def api_openapi(output: str) -> None:
    """Export the OpenAPI document to a file."""
    from opsrel_core.entrypoints.api.openapi_export import main as export

    export(output)
    click.echo(f"wrote {output}")


@cli.group()
def versions() -> None:
    """Result versions of an asset partition (never overwritten)."""


@versions.command("list")
@click.option("--asset", "asset_key", required=True, help="Asset key, e.g. ontime_performance.")
@click.option("--partition", required=True, help="Partition key, e.g. 2013-01-01.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def versions_list(asset_key: str, partition: str, as_json: bool) -> None:
    """An asset partition's version history, newest first (the active one marked)."""
    from opsrel_core.services.result_versions import ResultVersionService

    history = ResultVersionService(_engine()).get_version_history(asset_key, partition)
    if as_json:
        click.echo(_dump(history))
        return
    click.echo(table(
        ["version", "active", "execution_id", "rows", "content_hash", "created (UTC)",
         "inactive_reason"],
        [[f"v{v.version_number}", "active" if v.is_active else "-", v.execution_id, v.row_count,
          v.content_hash[:19], f"{v.created_at:%Y-%m-%d %H:%M:%S}", v.inactive_reason or "-"]
         for v in history]))


@cli.group()
def audit() -> None:
    """The append-only audit log of manual actions."""


@audit.command("list")
@click.option("--operator", "operator_id", default=None, help="Only this operator's actions.")
@click.option("--target", "target_id", default=None, help="Only actions on this target id.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def audit_list(operator_id: str | None, target_id: str | None, limit: int, as_json: bool) -> None:
    """List audit records, newest first: the operator and the acting principal (token:<id>,
    os:<user>, sensor:<name>; - on records written before it was recorded). --json shows the
    before/after states, credentials masked."""
    from opsrel_core.services.audit_log import AuditLogService

    records = AuditLogService(_engine()).list_audit_logs(
        operator_id=operator_id, target_id=target_id, limit=limit
    )
    if as_json:
        click.echo(_dump(records))
        return
    click.echo(table(
        ["audit_id", "occurred (UTC)", "operator", "principal", "action", "target", "reason"],
        [[r.audit_id, f"{r.occurred_at:%Y-%m-%d %H:%M:%S}", r.operator_id, r.principal, r.action,
          f"{r.target_type}:{r.target_id}", r.reason] for r in records]))


# Registers `opsrel silences ...` (and defines `alerts resolve`, added to the alerts group by
# the console script); imported last, as it builds on the helpers above.
from opsrel_core.entrypoints import cli_alerts  # noqa: E402,F401
from opsrel_core.entrypoints import cli_corrections  # noqa: E402,F401  (versions restore, notes)
