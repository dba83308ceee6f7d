"""Incidents: one failure alert per job and error code within a window, listing its partitions

- ``alert_partition``: the partitions of an incident alert (EXECUTION_FAILED), one row per
  partition: its latest failing execution, when it first and last failed, and when (and by which
  execution) it recovered. The alert is resolved by recovery once every row has recovered.
- ``alert_delivery.kind`` UPDATE: a bounded update of an incident as partitions join;
  ``alert_delivery.sequence`` tells one update from the next (the partition count it announces;
  0 for ALERT and RECOVERY), unique per (alert, channel, kind, sequence).

Live failure alerts written before this revision keep their per-partition key and are resolved
by their own partition, as before.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

OLD_KINDS = ("ALERT", "RECOVERY")
NEW_KINDS = ("ALERT", "RECOVERY", "UPDATE")


def _schema() -> str | None:
    return "ops" if op.get_context().dialect.name == "postgresql" else None


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _big_id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    schema = _schema()
    prefix = f"{schema}." if schema else ""
    op.create_table(
        "alert_partition",
        sa.Column("alert_id", _big_id(), nullable=False),
        sa.Column("partition_key", sa.String(100), nullable=False),
        sa.Column("execution_id", sa.String(64), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recovered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recovered_by_execution_id", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], [f"{prefix}alert.alert_id"],
                                name=op.f("fk_alert_partition_alert_id_alert")),
        sa.ForeignKeyConstraint(["execution_id"], [f"{prefix}batch_execution.execution_id"],
                                name=op.f("fk_alert_partition_execution_id_batch_execution")),
        sa.ForeignKeyConstraint(
            ["recovered_by_execution_id"], [f"{prefix}batch_execution.execution_id"],
            name=op.f("fk_alert_partition_recovered_by_execution_id_batch_execution")),
        sa.PrimaryKeyConstraint("alert_id", "partition_key", name=op.f("pk_alert_partition")),
        schema=schema,
    )
    op.create_index(op.f("ix_alert_partition_partition_key"), "alert_partition",
                    ["partition_key"], unique=False, schema=schema)
    with op.batch_alter_table("alert_delivery", schema=schema) as batch:
        batch.add_column(sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"))
        batch.drop_constraint(op.f("uq_alert_delivery_alert_id_channel_kind"), type_="unique")
        batch.create_unique_constraint(op.f("uq_alert_delivery_alert_id_channel_kind_sequence"),
                                       ["alert_id", "channel", "kind", "sequence"])
        batch.drop_constraint(op.f("ck_alert_delivery_kind"), type_="check")
        batch.create_check_constraint("kind", _in("kind", NEW_KINDS))


def downgrade() -> None:
    schema = _schema()
    prefix = f"{schema}." if schema else ""
    # Update deliveries and their attempts go; the incidents' alerts stay (with their text).
    op.execute(sa.text(
        f"DELETE FROM {prefix}alert_delivery_attempt WHERE delivery_id IN (SELECT delivery_id "
        f"FROM {prefix}alert_delivery WHERE kind = 'UPDATE')"))
    op.execute(sa.text(f"DELETE FROM {prefix}alert_delivery WHERE kind = 'UPDATE'"))
    with op.batch_alter_table("alert_delivery", schema=schema) as batch:
        batch.drop_constraint(op.f("ck_alert_delivery_kind"), type_="check")
        batch.create_check_constraint("kind", _in("kind", OLD_KINDS))
        batch.drop_constraint(op.f("uq_alert_delivery_alert_id_channel_kind_sequence"),
                              type_="unique")
        batch.create_unique_constraint(op.f("uq_alert_delivery_alert_id_channel_kind"),
                                       ["alert_id", "channel", "kind"])
        batch.drop_column("sequence")
    op.drop_index(op.f("ix_alert_partition_partition_key"), table_name="alert_partition",
                  schema=schema)
    op.drop_table("alert_partition", schema=schema)
