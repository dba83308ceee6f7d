"""``opsrel audit list``: the append-only audit log of manual actions."""

import click

from opsrel_core.entrypoints.cli.group import _engine, cli
from opsrel_core.entrypoints.cli.output import _dump, table


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

