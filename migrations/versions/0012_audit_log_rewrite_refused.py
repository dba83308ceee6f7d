"""The audit log refuses every rewrite, not only UPDATE and DELETE

- SQLite: ``INSERT OR REPLACE`` / ``REPLACE INTO`` / an upsert on an existing ``audit_id``
  removed the old row without firing the DELETE trigger (SQLite fires delete triggers of a
  REPLACE only with ``recursive_triggers`` on). A BEFORE INSERT trigger now refuses any insert
  that names an ``audit_id`` already recorded, whatever its conflict clause.
- PostgreSQL: ``TRUNCATE`` fires no row trigger; a statement trigger now refuses it too. (The
  application role has no TRUNCATE privilege either, see ``opsrel db grant``; the trigger guards
  the owner against a mistake, not against itself: an owner can drop triggers.)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SQLITE_NO_REPLACE = "audit_log_no_replace"
PG_NO_TRUNCATE = "audit_log_no_truncate"


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        # ops.audit_log_append_only() (0001) raises naming TG_OP, here 'TRUNCATE'.
        op.execute(
            f"CREATE TRIGGER {PG_NO_TRUNCATE} BEFORE TRUNCATE ON ops.audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION ops.audit_log_append_only()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER {SQLITE_NO_REPLACE} BEFORE INSERT ON audit_log "
            "WHEN EXISTS (SELECT 1 FROM audit_log WHERE audit_id = NEW.audit_id) "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only (REPLACE refused)'); END"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {PG_NO_TRUNCATE} ON ops.audit_log")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {SQLITE_NO_REPLACE}")
