"""console_session: the operator console's sign-in sessions

An operator signs in to the console with an API token, which is exchanged for a session: a
random secret in an HttpOnly cookie, of which the database keeps only the SHA-256 hash. Each
session carries its own CSRF token (every form posts it back), ends at ``expires_at`` or at
sign-out (``ended_at``), and ends with its token: a revoked or expired token ends every session
made from it. Rows are kept after the session ends, so that who was signed in when stays
answerable.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _schema() -> str | None:
    return "ops" if op.get_context().dialect.name == "postgresql" else None


def upgrade() -> None:
    schema = _schema()
    prefix = f"{schema}." if schema else ""
    op.create_table(
        "console_session",
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("token_id", _BIG_ID, nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("expires_at > created_at", name=op.f("ck_console_session_expiry")),
        sa.ForeignKeyConstraint(["token_id"], [prefix + "api_token.token_id"],
                                name=op.f("fk_console_session_token_id_api_token")),
        sa.PrimaryKeyConstraint("session_hash", name=op.f("pk_console_session")),
        schema=schema,
    )
    op.create_index(op.f("ix_console_session_token_id"), "console_session", ["token_id"],
                    unique=False, schema=schema)


def downgrade() -> None:
    schema = _schema()
    op.drop_index(op.f("ix_console_session_token_id"), table_name="console_session",
                  schema=schema)
    op.drop_table("console_session", schema=schema)
