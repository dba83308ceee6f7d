"""Alert lifecycle: resolution (by recovery or by hand), acknowledged alerts stay known, silences

- ``alert.resolved_at``, ``resolved_by``, ``resolved_by_execution_id``, ``resolve_reason``:
  when and why an alert ended (the recovering execution, an operator's reason, a quiet window).
- ``alert.rule_id``: the data-quality rule an alert is about (a silence matcher).
- ``alert.silenced_by``: the silence that kept the alert from being delivered.
- ``uq_alert_open_dedupe_key`` covers OPEN and ACKNOWLEDGED: an acknowledged alert absorbs the
  repeats of its key until it is resolved. Live duplicates recorded before (an acknowledged
  alert and the OPEN one a later repeat opened) are reduced to the newest; the older ones are
  RESOLVED by this migration.
- ``alert_delivery.kind`` (ALERT or RECOVERY): the recovery notice of a resolved alert is its own
  delivery; unique per (alert, channel, kind). Status SUPPRESSED: not delivered (silenced).
- ``alert_silence``: matchers (job, error code, rule, partition pattern), reason, expiry.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

LIVE = "status IN ('OPEN', 'ACKNOWLEDGED')"
OLD_DELIVERY_STATUSES = ("PENDING", "SENT", "RETRY", "FAILED")
NEW_DELIVERY_STATUSES = (*OLD_DELIVERY_STATUSES, "SUPPRESSED")
KINDS = ("ALERT", "RECOVERY")
MIGRATION_ACTOR = "opsrel:migration-0016"


def _schema() -> str | None:
    return "ops" if op.get_context().dialect.name == "postgresql" else None


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _ref(table: str, column: str) -> str:
    schema = _schema()
    return f"{schema + '.' if schema else ''}{table}.{column}"


def _alert() -> sa.Table:
    return sa.Table(
        "alert", sa.MetaData(schema=_schema()),
        sa.Column("alert_id", sa.BigInteger), sa.Column("dedupe_key", sa.String),
        sa.Column("status", sa.String), sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_by", sa.String), sa.Column("resolve_reason", sa.Text),
        sa.Column("last_seen_at", sa.DateTime(timezone=True)),
    )


# Tables whose rows reference ``alert`` or each other, children first.
_CHILDREN = ("alert_delivery_attempt", "alert_delivery")


@contextlib.contextmanager
def _children_set_aside() -> Iterator[None]:
    """On SQLite, keep the deliveries and attempts aside while ``alert`` and ``alert_delivery``
    are rebuilt, and put them back after.

    SQLite rebuilds a table to change it (copy, drop, rename) and the migrations run with
    foreign keys on, inside a transaction where they cannot be switched off: dropping ``alert``
    while deliveries reference it would fail. Empty children make the drop safe; the rows come
    back unchanged (a new column takes its default). PostgreSQL alters in place.
    """
    if op.get_context().dialect.name != "sqlite":
        yield
        return
    for table in _CHILDREN:
        op.execute(f"CREATE TABLE _keep_{table} AS SELECT * FROM {table}")
        op.execute(f"DELETE FROM {table}")
    yield
    inspector_of = sa.inspect
    for table in reversed(_CHILDREN):
        bind = op.get_bind()
        kept = {c["name"] for c in inspector_of(bind).get_columns(f"_keep_{table}")}
        columns = ", ".join(c["name"] for c in inspector_of(bind).get_columns(table)
                            if c["name"] in kept)
        op.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _keep_{table}")
        op.execute(f"DROP TABLE _keep_{table}")


def upgrade() -> None:
    schema = _schema()
    op.create_table(
        "alert_silence",
        sa.Column("silence_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(100), nullable=True),
        sa.Column("error_code", sa.String(20), nullable=True),
        sa.Column("rule_id", sa.String(100), nullable=True),
        sa.Column("partition_pattern", sa.String(100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(100), nullable=True),
        sa.CheckConstraint(
            "job_id IS NOT NULL OR error_code IS NOT NULL OR rule_id IS NOT NULL "
            "OR partition_pattern IS NOT NULL", name=op.f("ck_alert_silence_has_matcher")),
        sa.CheckConstraint("expires_at > created_at",
                           name=op.f("ck_alert_silence_expires_after_created")),
        sa.ForeignKeyConstraint(["error_code"], [_ref("error_code", "code")],
                                name=op.f("fk_alert_silence_error_code_error_code")),
        sa.PrimaryKeyConstraint("silence_id", name=op.f("pk_alert_silence")),
        schema=schema,
    )
    op.create_index(op.f("ix_alert_silence_expires_at"), "alert_silence", ["expires_at"],
                    schema=schema)

    with _children_set_aside():
        op.drop_index("uq_alert_open_dedupe_key", table_name="alert", schema=schema)
        with op.batch_alter_table("alert", schema=schema) as batch:
            batch.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
            batch.add_column(sa.Column("resolved_by", sa.String(100), nullable=True))
            batch.add_column(sa.Column("resolved_by_execution_id", sa.String(64), nullable=True))
            batch.add_column(sa.Column("resolve_reason", sa.Text(), nullable=True))
            batch.add_column(sa.Column("rule_id", sa.String(100), nullable=True))
            batch.add_column(sa.Column("silenced_by", sa.BigInteger().with_variant(
                sa.Integer(), "sqlite"), nullable=True))
            batch.create_foreign_key(
                op.f("fk_alert_resolved_by_execution_id_batch_execution"), "batch_execution",
                ["resolved_by_execution_id"], ["execution_id"], referent_schema=schema)
            batch.create_foreign_key(
                op.f("fk_alert_silenced_by_alert_silence"), "alert_silence", ["silenced_by"],
                ["silence_id"], referent_schema=schema)

        # An acknowledged alert and the OPEN alert a later repeat opened share a key: keep the newest
        # live one, so the index below can be built.
        alert = _alert()
        newer = alert.alias("newer")
        live = ("OPEN", "ACKNOWLEDGED")
        op.execute(
            alert.update()
            .where(alert.c.status.in_(live), sa.exists(
                sa.select(newer.c.alert_id).where(
                    newer.c.dedupe_key == alert.c.dedupe_key, newer.c.status.in_(live),
                    newer.c.alert_id > alert.c.alert_id)))
            .values(status="RESOLVED", resolved_at=alert.c.last_seen_at, resolved_by=MIGRATION_ACTOR,
                    resolve_reason="a newer alert of the same key was open")
        )
        op.create_index("uq_alert_open_dedupe_key", "alert", ["dedupe_key"], unique=True,
                        schema=schema, sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE))

        with op.batch_alter_table("alert_delivery", schema=schema) as batch:
            batch.add_column(sa.Column("kind", sa.String(10), nullable=False,
                                       server_default="ALERT"))
            batch.drop_constraint(op.f("uq_alert_delivery_alert_id_channel"), type_="unique")
            batch.create_unique_constraint(op.f("uq_alert_delivery_alert_id_channel_kind"),
                                           ["alert_id", "channel", "kind"])
            batch.create_check_constraint("kind", _in("kind", KINDS))
            batch.drop_constraint(op.f("ck_alert_delivery_status"), type_="check")
            batch.create_check_constraint("status", _in("status", NEW_DELIVERY_STATUSES))


def downgrade() -> None:
    schema = _schema()
    prefix = f"{schema}." if schema else ""
    # Recovery notices and their attempts go; suppressed deliveries are kept as FAILED.
    op.execute(sa.text(
        f"DELETE FROM {prefix}alert_delivery_attempt WHERE delivery_id IN (SELECT delivery_id "
        f"FROM {prefix}alert_delivery WHERE kind = 'RECOVERY')"))
    op.execute(sa.text(f"DELETE FROM {prefix}alert_delivery WHERE kind = 'RECOVERY'"))
    op.execute(sa.text(
        f"UPDATE {prefix}alert_delivery SET status = 'FAILED', "
        f"last_error = 'suppressed by a silence' WHERE status = 'SUPPRESSED'"))
    with _children_set_aside():
        with op.batch_alter_table("alert_delivery", schema=schema) as batch:
            batch.drop_constraint(op.f("ck_alert_delivery_status"), type_="check")
            batch.create_check_constraint("status", _in("status", OLD_DELIVERY_STATUSES))
            batch.drop_constraint(op.f("ck_alert_delivery_kind"), type_="check")
            batch.drop_constraint(op.f("uq_alert_delivery_alert_id_channel_kind"), type_="unique")
            batch.create_unique_constraint(op.f("uq_alert_delivery_alert_id_channel"),
                                           ["alert_id", "channel"])
            batch.drop_column("kind")
        op.drop_index("uq_alert_open_dedupe_key", table_name="alert", schema=schema)
        with op.batch_alter_table("alert", schema=schema) as batch:
            batch.drop_constraint(op.f("fk_alert_silenced_by_alert_silence"), type_="foreignkey")
            batch.drop_constraint(op.f("fk_alert_resolved_by_execution_id_batch_execution"),
                                  type_="foreignkey")
            for column in ("silenced_by", "rule_id", "resolve_reason", "resolved_by_execution_id",
                           "resolved_by", "resolved_at"):
                batch.drop_column(column)
    op.create_index("uq_alert_open_dedupe_key", "alert", ["dedupe_key"], unique=True,
                    schema=schema, sqlite_where=sa.text("status = 'OPEN'"),
                    postgresql_where=sa.text("status = 'OPEN'"))
    op.drop_index(op.f("ix_alert_silence_expires_at"), table_name="alert_silence", schema=schema)
    op.drop_table("alert_silence", schema=schema)
