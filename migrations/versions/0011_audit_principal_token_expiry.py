"""Who really acted, and tokens that end: audit_log.principal, api_token expiry and last use

- ``audit_log.principal``: the authenticated actor of each record, beside its operator name:
  ``token:<id>`` (admin API), ``os:<user>`` (CLI), ``sensor:<name>`` (a Dagster sensor). NULL on
  records written before.
- ``api_token.expires_at``: when a token stops authenticating (NULL: never).
- ``api_token.last_used_at``: when it last authenticated (updated at most once a minute).

The downgrade is refused while any audit record names its principal: dropping the column would
strip that from an append-only log (``opsrel_core.persistence.migrate.refuse_audit_loss``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _schema() -> str | None:
    return "ops" if op.get_context().dialect.name == "postgresql" else None


def audit_rows_lost(connection: sa.Connection, schema: str | None) -> int:
    """How many audit records the downgrade would strip of their principal."""
    audit_log = sa.table("audit_log", sa.column("principal"), schema=schema)
    return connection.execute(
        sa.select(sa.func.count()).select_from(audit_log)
        .where(audit_log.c.principal.is_not(None))
    ).scalar_one()


def upgrade() -> None:
    schema = _schema()
    op.add_column("audit_log", sa.Column("principal", sa.String(length=120), nullable=True),
                  schema=schema)
    op.add_column("api_token", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
                  schema=schema)
    op.add_column("api_token", sa.Column("last_used_at", sa.DateTime(timezone=True),
                                         nullable=True), schema=schema)


def downgrade() -> None:
    from opsrel_core.persistence.migrate import refuse_audit_loss

    schema = _schema()
    refuse_audit_loss(revision, op.get_bind(), schema)
    # ALTER TABLE ... DROP COLUMN on both backends (SQLite >= 3.35): a copy of audit_log (what a
    # batch rebuild does) would drop its append-only triggers with the old table.
    op.drop_column("audit_log", "principal", schema=schema)
    op.drop_column("api_token", "last_used_at", schema=schema)
    op.drop_column("api_token", "expires_at", schema=schema)
