"""PagerDuty: an alert channel mirrored to the on-call tool (Events API v2)

- ``alert_delivery.channel`` and ``alert_template.channel`` gain PAGERDUTY.
- ``alert_delivery.kind`` gains ACKNOWLEDGE (the column widens to 20 characters): an
  acknowledgement in opsrel is mirrored to the channels that keep an incident's state
  (PagerDuty); RECOVERY is sent there as ``resolve``.
- Error code EXT-004: a PagerDuty event was refused or not answered (delivery reasons).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

OLD_CHANNELS = ("EMAIL", "SLACK")
NEW_CHANNELS = (*OLD_CHANNELS, "PAGERDUTY")
OLD_KINDS = ("ALERT", "RECOVERY", "UPDATE")  # 0018 added UPDATE
NEW_KINDS = ("ALERT", "ACKNOWLEDGE", "RECOVERY", "UPDATE")
EXT_004 = {
    "code": "EXT-004", "category": "EXT", "title": "PagerDuty event failed",
    "user_message": "A notification could not be delivered.",
    "operator_message": "The PagerDuty Events API refused or did not answer an event. Check "
                        "OPSREL_PAGERDUTY_ROUTING_KEY and PagerDuty's status.",
    "severity": "WARNING", "retryable": True, "auto_alert": False,
    "operator_action": "Check OPSREL_PAGERDUTY_ROUTING_KEY (the integration key of the service's "
                       "Events API v2 integration); pending events are re-sent by `opsrel alerts "
                       "dispatch`.",
}


def _schema() -> str | None:
    return "ops" if op.get_context().dialect.name == "postgresql" else None


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _codes() -> sa.Table:
    return sa.Table("error_code", sa.MetaData(schema=_schema()), *(
        sa.Column(name, sa.Boolean if isinstance(value, bool) else sa.Text)
        for name, value in EXT_004.items()))


def _constraints(channels: tuple[str, ...], kinds: tuple[str, ...], kind_chars: int) -> None:
    schema = _schema()
    with op.batch_alter_table("alert_delivery", schema=schema) as batch:
        batch.alter_column("kind", type_=sa.String(kind_chars), existing_nullable=False,
                           existing_server_default="ALERT")
        batch.drop_constraint(op.f("ck_alert_delivery_channel"), type_="check")
        batch.create_check_constraint("channel", _in("channel", channels))
        batch.drop_constraint(op.f("ck_alert_delivery_kind"), type_="check")
        batch.create_check_constraint("kind", _in("kind", kinds))
    with op.batch_alter_table("alert_template", schema=schema) as batch:
        batch.drop_constraint(op.f("ck_alert_template_channel"), type_="check")
        batch.create_check_constraint("channel", _in("channel", channels))


def upgrade() -> None:
    op.bulk_insert(_codes(), [EXT_004])
    _constraints(NEW_CHANNELS, NEW_KINDS, 20)


def downgrade() -> None:
    schema = _schema()
    prefix = f"{schema}." if schema else ""
    # PagerDuty deliveries, acknowledgements and templates have no place in the older schema.
    gone = "channel = 'PAGERDUTY' OR kind = 'ACKNOWLEDGE'"
    op.execute(sa.text(
        f"DELETE FROM {prefix}alert_delivery_attempt WHERE delivery_id IN (SELECT delivery_id "
        f"FROM {prefix}alert_delivery WHERE {gone})"))
    op.execute(sa.text(f"DELETE FROM {prefix}alert_delivery WHERE {gone}"))
    op.execute(sa.text(f"DELETE FROM {prefix}alert_template WHERE channel = 'PAGERDUTY'"))
    _constraints(OLD_CHANNELS, OLD_KINDS, 10)
    codes = _codes()
    op.execute(codes.delete().where(codes.c.code == EXT_004["code"]))
