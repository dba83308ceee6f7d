"""``opsrel alerts dispatch|list|ack`` (and ``resolve`` and ``late`` from the core): the alerts
group. None of these imports Dagster: each reads or writes the ops schema only."""

import json

import click

from opsrel_core.entrypoints.cli import alerts as core_alerts
from opsrel_core.entrypoints.cli import cli, late
from opsrel_core.entrypoints.cli.output import fail, table


@cli.group("alerts")
def alerts_group() -> None:
    """Operational alerts: send pending deliveries, list, acknowledge, resolve."""


alerts_group.add_command(core_alerts.alerts_resolve)
alerts_group.add_command(late.alerts_late)


@alerts_group.command("dispatch")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def alerts_dispatch(as_json: bool) -> None:
    """Send the pending alert deliveries once (what the dispatch sensor does each tick)."""
    from opsrel_core.entrypoints.cli.group import _engine
    from opsrel_core.services.alert_dispatch import dispatch_alerts

    try:
        report = dispatch_alerts(_engine())
    except ValueError as exc:
        raise click.UsageError(f"alert settings: {exc}")
    from opsrel_core.config import AlertSettings

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

    from opsrel_core.config import AlertSettings
    from opsrel_core.entrypoints.cli.group import _engine
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

    from opsrel_core.config import AlertSettings
    from opsrel_core.errors import OpsException
    from opsrel_core.entrypoints.cli.group import _engine
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
