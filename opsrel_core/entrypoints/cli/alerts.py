"""``opsrel alerts resolve`` and ``opsrel silences create|list|end``: how alerts end and stay
quiet. Every change is audited with the operator (default: the OS user) and the reason.

Exit statuses as everywhere (README): 0 done, 1 an unknown id (BAT-011), 2 bad input or a
refused request (a resolved alert, an ended silence: BAT-001; nothing written).
"""

import datetime as dt
import getpass
import sys

import click

from opsrel_core.entrypoints.cli.group import _engine, cli
from opsrel_core.entrypoints.cli.output import EXIT_BAD_INPUT, _dump, fail, table


@click.command("resolve")
@click.argument("alert_id", type=int)
@click.option("--reason", required=True, help="Why it is over (required; kept in the audit record).")
@click.option("--operator", default=None, help="Who resolves (default: the OS user).")
@click.option("--json", "as_json", is_flag=True, help="Print the resolved alert as JSON.")
def alerts_resolve(alert_id: int, reason: str, operator: str | None, as_json: bool) -> None:
    """Resolve an alert by hand. Exit 1: no such alert (BAT-011); 2: already resolved
    (BAT-001) or a blank --reason (nothing written)."""
    from opsrel_core.config import AlertSettings
    from opsrel_core.errors import OpsException
    from opsrel_core.services.alerts import OpsAlertService

    if not reason.strip():
        raise click.BadParameter("must not be blank: say why the alert is over",
                                 param_hint="--reason")
    try:
        alert = OpsAlertService(_engine(), AlertSettings.from_env()).resolve_alert(
            alert_id, operator_id=operator or getpass.getuser(), reason=reason)
    except OpsException as exc:
        fail(exc)
    if as_json:
        click.echo(_dump(alert))
        return
    click.echo(f"alert {alert.alert_id}: {alert.status} by {alert.resolved_by}")


@cli.group()
def silences() -> None:
    """Silences: mute alerts matching job, error code, rule or partition pattern for a while."""


@silences.command("create")
@click.option("--job", "job_id", default=None, help="Only alerts of this job.")
@click.option("--code", "error_code", default=None, help="Only alerts with this error code.")
@click.option("--rule", "rule_id", default=None, help="Only alerts about this data-quality rule.")
@click.option("--partition", "partition_pattern", default=None,
              help="Only partitions matching this glob, e.g. '2013-01-*'.")
@click.option("--for", "duration", default=None, help="How long, e.g. 30m, 4h, 1d12h.")
@click.option("--until", "until", default=None, help="Or until when (ISO 8601, UTC if no zone).")
@click.option("--reason", required=True, help="Why (required; kept in the audit record).")
@click.option("--operator", default=None, help="Who silences (default: the OS user).")
@click.option("--json", "as_json", is_flag=True, help="Print the silence as JSON.")
def silences_create(job_id: str | None, error_code: str | None, rule_id: str | None,
                    partition_pattern: str | None, duration: str | None, until: str | None,
                    reason: str, operator: str | None, as_json: bool) -> None:
    """Create a silence: matching alerts are recorded but not delivered until it expires.
    Exit 2 on bad input (no matcher, no or both of --for/--until, a blank reason)."""
    from opsrel_core.domain.alert_lifecycle import parse_duration
    from opsrel_core.errors import OpsException
    from opsrel_core.services.alert_silences import SilenceService

    try:
        if (duration is None) == (until is None):
            raise ValueError("give either --for (e.g. 4h) or --until")
        expires_at = None
        if until is not None:
            expires_at = dt.datetime.fromisoformat(until)
        seconds = parse_duration(duration) if duration is not None else None
        silence = SilenceService(_engine()).create_silence(
            operator_id=operator or getpass.getuser(), reason=reason, job_id=job_id,
            error_code=error_code, rule_id=rule_id, partition_pattern=partition_pattern,
            expires_at=expires_at, duration_seconds=seconds)
    except OpsException as exc:
        fail(exc, "silence refused: ")
    except ValueError as exc:
        click.echo(f"silence refused: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if as_json:
        click.echo(_dump(silence))
        return
    click.echo(f"silence {silence.silence_id} until {silence.expires_at.isoformat()}")


@silences.command("list")
@click.option("--all", "include_ended", is_flag=True, help="Also ended and expired silences.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def silences_list(include_ended: bool, limit: int, as_json: bool) -> None:
    """List silences, newest first (by default only those holding now)."""
    from opsrel_core.services.alert_silences import SilenceService

    items = SilenceService(_engine()).list_silences(active_only=not include_ended, limit=limit)
    if as_json:
        click.echo(_dump(items))
        return
    click.echo(table(
        ["silence_id", "active", "job", "code", "rule", "partition", "expires (UTC)", "by",
         "reason"],
        [[s.silence_id, "yes" if s.active else "no", s.job_id, s.error_code, s.rule_id,
          s.partition_pattern, f"{s.expires_at:%Y-%m-%d %H:%M:%S}", s.created_by, s.reason]
         for s in items]))


@silences.command("end")
@click.argument("silence_id", type=int)
@click.option("--reason", required=True, help="Why it ends early (kept in the audit record).")
@click.option("--operator", default=None, help="Who ends it (default: the OS user).")
@click.option("--json", "as_json", is_flag=True, help="Print the silence as JSON.")
def silences_end(silence_id: int, reason: str, operator: str | None, as_json: bool) -> None:
    """End a silence now. Exit 1: no such silence; 2: already ended or expired (BAT-001)."""
    from opsrel_core.errors import OpsException
    from opsrel_core.services.alert_silences import SilenceService

    try:
        silence = SilenceService(_engine()).end_silence(
            silence_id, operator_id=operator or getpass.getuser(), reason=reason)
    except OpsException as exc:
        fail(exc, "silence not ended: ")
    if as_json:
        click.echo(_dump(silence))
        return
    click.echo(f"silence {silence.silence_id} ended by {silence.ended_by}")
