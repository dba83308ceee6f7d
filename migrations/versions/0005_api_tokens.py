"""api_token: bearer tokens of the admin API

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _schema() -> str | None:
    return "ops" if op.get_context().dialect.name == "postgresql" else None


def upgrade() -> None:
    op.create_table(
        "api_token",
        sa.Column("token_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("operator_id", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('viewer', 'operator', 'admin')", name=op.f("ck_api_token_role")),
        sa.CheckConstraint("length(trim(operator_id)) > 0",
                           name=op.f("ck_api_token_operator_not_blank")),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
        schema=_schema(),
    )


def downgrade() -> None:
    op.drop_table("api_token", schema=_schema())
