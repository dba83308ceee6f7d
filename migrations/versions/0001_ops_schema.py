"""ops schema: every table of the batch lifecycle and of data provenance and quality

On PostgreSQL the tables are created in schema ``ops``; on SQLite without a schema. The audit log
is made append-only by triggers on both backends.

Revision ID: 0001
Revises: 
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def _schema() -> tuple[str | None, str]:
    """Return (schema, prefix for foreign-key targets) for the dialect being migrated."""
    if op.get_context().dialect.name == "postgresql":
        return "ops", "ops."
    return None, ""


def _create_audit_log_guard(schema: str | None) -> None:
    """Make ``audit_log`` append-only: UPDATE and DELETE fail in the database itself."""
    if schema:
        op.execute(
            "CREATE FUNCTION ops.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON ops.audit_log "
            "FOR EACH ROW EXECUTE FUNCTION ops.audit_log_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{action.lower()} BEFORE {action} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only ({action} refused)'); END"
            )


def _drop_audit_log_guard(schema: str | None) -> None:
    if schema:
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON ops.audit_log")
        op.execute("DROP FUNCTION IF EXISTS ops.audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")


def upgrade() -> None:
    schema, prefix = _schema()
    op.create_table('alert_template',
    sa.Column('template_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_kind', sa.String(length=50), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('subject_template', sa.Text(), nullable=True),
    sa.Column('body_template', sa.Text(), nullable=False),
    sa.CheckConstraint("channel IN ('EMAIL', 'SLACK')", name=op.f('ck_alert_template_channel')),
    sa.PrimaryKeyConstraint('template_id', name=op.f('pk_alert_template')),
    sa.UniqueConstraint('event_kind', 'channel', name=op.f('uq_alert_template_event_kind_channel')),
    schema=schema
    )
    op.create_table('audit_log',
    sa.Column('audit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('operator_id', sa.String(length=100), nullable=False),
    sa.Column('action_type', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('target_type', sa.String(length=50), nullable=False),
    sa.Column('target_id', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('before_state', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('after_state', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('execution_id', sa.String(length=64), nullable=True),
    sa.CheckConstraint("action_type IN ('BATCH_ACTION', 'DATA_CORRECTION', 'CONFIG_CHANGE')", name=op.f('ck_audit_log_action_type')),
    sa.CheckConstraint('length(trim(operator_id)) > 0', name=op.f('ck_audit_log_operator_not_blank')),
    sa.CheckConstraint('length(trim(reason)) > 0', name=op.f('ck_audit_log_reason_not_blank')),
    sa.PrimaryKeyConstraint('audit_id', name=op.f('pk_audit_log')),
    schema=schema
    )
    op.create_index(op.f('ix_audit_log_occurred_at'), 'audit_log', ['occurred_at'], unique=False, schema=schema)
    op.create_index(op.f('ix_audit_log_operator_id_occurred_at'), 'audit_log', ['operator_id', 'occurred_at'], unique=False, schema=schema)
    op.create_index(op.f('ix_audit_log_target_type_target_id'), 'audit_log', ['target_type', 'target_id'], unique=False, schema=schema)
    _create_audit_log_guard(schema)
    op.create_table('batch_job',
    sa.Column('job_id', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('asset_selection', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('partitions', sa.String(length=50), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('job_id', name=op.f('pk_batch_job')),
    schema=schema
    )
    op.create_table('error_code',
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('category', sa.String(length=10), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('user_message', sa.Text(), nullable=False),
    sa.Column('operator_message', sa.Text(), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('retryable', sa.Boolean(), nullable=False),
    sa.Column('auto_alert', sa.Boolean(), nullable=False),
    sa.CheckConstraint("category IN ('INP', 'EXT', 'BAT', 'DQ', 'LOG', 'SYS')", name=op.f('ck_error_code_category')),
    sa.CheckConstraint("severity IN ('INFO', 'WARNING', 'ERROR', 'CRITICAL')", name=op.f('ck_error_code_severity')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_error_code')),
    schema=schema
    )
    op.create_index(op.f('ix_error_code_category'), 'error_code', ['category'], unique=False, schema=schema)
    op.create_table('lineage_node',
    sa.Column('node_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('node_type', sa.String(length=15), nullable=False),
    sa.Column('asset_key', sa.String(length=200), nullable=False),
    sa.Column('partition_key', sa.String(length=100), nullable=False),
    sa.Column('version_ref', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("node_type IN ('SOURCE', 'SNAPSHOT', 'TRANSFORM', 'AGGREGATION', 'RESULT')", name=op.f('ck_lineage_node_node_type')),
    sa.PrimaryKeyConstraint('node_id', name=op.f('pk_lineage_node')),
    sa.UniqueConstraint('node_type', 'asset_key', 'partition_key', 'version_ref', name=op.f('uq_lineage_node_node_type_asset_key_partition_key_version_ref')),
    schema=schema
    )
    op.create_table('projection_cursor',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('cursor', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_projection_cursor')),
    schema=schema
    )
    op.create_table('snapshot',
    sa.Column('snapshot_id', sa.String(length=80), nullable=False),
    sa.Column('asset_key', sa.String(length=200), nullable=False),
    sa.Column('partition_key', sa.String(length=100), nullable=False),
    sa.Column('source_uri', sa.Text(), nullable=False),
    sa.Column('storage_uri', sa.Text(), nullable=False),
    sa.Column('row_count', sa.BigInteger(), nullable=False),
    sa.Column('first_execution_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('snapshot_id', name=op.f('pk_snapshot')),
    schema=schema
    )
    op.create_index(op.f('ix_snapshot_asset_key_partition_key'), 'snapshot', ['asset_key', 'partition_key'], unique=False, schema=schema)
    op.create_table('validation_rule',
    sa.Column('rule_id', sa.String(length=100), nullable=False),
    sa.Column('asset_key', sa.String(length=200), nullable=False),
    sa.Column('severity', sa.String(length=4), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("severity IN ('FAIL', 'WARN')", name=op.f('ck_validation_rule_severity')),
    sa.PrimaryKeyConstraint('rule_id', name=op.f('pk_validation_rule')),
    schema=schema
    )
    op.create_table('replay',
    sa.Column('replay_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('request_key', sa.String(length=200), nullable=False),
    sa.Column('replay_type', sa.String(length=10), nullable=False),
    sa.Column('job_id', sa.String(length=100), nullable=False),
    sa.Column('partition_start', sa.String(length=100), nullable=True),
    sa.Column('partition_end', sa.String(length=100), nullable=True),
    sa.Column('backfill_id', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('operator_id', sa.String(length=100), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("replay_type IN ('FULL', 'RANGE', 'SINGLE')", name=op.f('ck_replay_replay_type')),
    sa.CheckConstraint("status IN ('REQUESTED', 'RUNNING', 'SUCCESS', 'FAILED', 'STOPPING', 'STOPPED')", name=op.f('ck_replay_status')),
    sa.CheckConstraint('length(trim(operator_id)) > 0', name=op.f('ck_replay_operator_not_blank')),
    sa.CheckConstraint('length(trim(reason)) > 0', name=op.f('ck_replay_reason_not_blank')),
    sa.ForeignKeyConstraint(['job_id'], [prefix + 'batch_job.job_id'], name=op.f('fk_replay_job_id_batch_job')),
    sa.PrimaryKeyConstraint('replay_id', name=op.f('pk_replay')),
    sa.UniqueConstraint('request_key', name=op.f('uq_replay_request_key')),
    schema=schema
    )
    op.create_index(op.f('ix_replay_job_id_requested_at'), 'replay', ['job_id', 'requested_at'], unique=False, schema=schema)
    op.create_table('validation_rule_version',
    sa.Column('rule_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('rule_id', sa.String(length=100), nullable=False),
    sa.Column('version_hash', sa.String(length=80), nullable=False),
    sa.Column('definition', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['rule_id'], [prefix + 'validation_rule.rule_id'], name=op.f('fk_validation_rule_version_rule_id_validation_rule')),
    sa.PrimaryKeyConstraint('rule_version_id', name=op.f('pk_validation_rule_version')),
    sa.UniqueConstraint('rule_id', 'version_hash', name=op.f('uq_validation_rule_version_rule_id_version_hash')),
    schema=schema
    )
    op.create_table('batch_execution',
    sa.Column('execution_id', sa.String(length=64), nullable=False),
    sa.Column('job_id', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('trigger_type', sa.String(length=10), nullable=False),
    sa.Column('partition_key', sa.String(length=100), nullable=True),
    sa.Column('partition_range_start', sa.String(length=100), nullable=True),
    sa.Column('partition_range_end', sa.String(length=100), nullable=True),
    sa.Column('backfill_id', sa.String(length=100), nullable=True),
    sa.Column('run_tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('parent_execution_id', sa.String(length=64), nullable=True),
    sa.Column('replay_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('operator_id', sa.String(length=100), nullable=True),
    sa.Column('steps_total', sa.Integer(), nullable=False),
    sa.Column('steps_done', sa.Integer(), nullable=False),
    sa.Column('rows_written', sa.BigInteger(), nullable=False),
    sa.Column('error_code', sa.String(length=20), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('failed_asset_key', sa.String(length=200), nullable=True),
    sa.Column('failed_partition_key', sa.String(length=100), nullable=True),
    sa.Column('stop_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('READY', 'RUNNING', 'SUCCESS', 'FAILED', 'STOPPED')", name=op.f('ck_batch_execution_status')),
    sa.CheckConstraint("trigger_type IN ('MANUAL', 'BACKFILL', 'SENSOR', 'SCHEDULE', 'CLI', 'REPLAY')", name=op.f('ck_batch_execution_trigger_type')),
    sa.CheckConstraint('steps_done >= 0 AND steps_done <= steps_total', name=op.f('ck_batch_execution_progress')),
    sa.ForeignKeyConstraint(['error_code'], [prefix + 'error_code.code'], name=op.f('fk_batch_execution_error_code_error_code')),
    sa.ForeignKeyConstraint(['job_id'], [prefix + 'batch_job.job_id'], name=op.f('fk_batch_execution_job_id_batch_job')),
    sa.ForeignKeyConstraint(['parent_execution_id'], [prefix + 'batch_execution.execution_id'], name=op.f('fk_batch_execution_parent_execution_id_batch_execution')),
    sa.ForeignKeyConstraint(['replay_id'], [prefix + 'replay.replay_id'], name=op.f('fk_batch_execution_replay_id_replay')),
    sa.PrimaryKeyConstraint('execution_id', name=op.f('pk_batch_execution')),
    schema=schema
    )
    op.create_index(op.f('ix_batch_execution_error_code'), 'batch_execution', ['error_code'], unique=False, schema=schema)
    op.create_index(op.f('ix_batch_execution_job_id_started_at'), 'batch_execution', ['job_id', 'started_at'], unique=False, schema=schema)
    op.create_index(op.f('ix_batch_execution_parent_execution_id'), 'batch_execution', ['parent_execution_id'], unique=False, schema=schema)
    op.create_index(op.f('ix_batch_execution_partition_key'), 'batch_execution', ['partition_key'], unique=False, schema=schema)
    op.create_index(op.f('ix_batch_execution_status'), 'batch_execution', ['status'], unique=False, schema=schema)
    op.create_table('dq_report',
    sa.Column('report_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('report_type', sa.String(length=10), nullable=False),
    sa.Column('report_date', sa.Date(), nullable=True),
    sa.Column('replay_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('pass_count', sa.Integer(), nullable=False),
    sa.Column('warn_count', sa.Integer(), nullable=False),
    sa.Column('fail_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(report_type = 'DAILY' AND report_date IS NOT NULL) OR (report_type = 'REPLAY' AND replay_id IS NOT NULL)", name=op.f('ck_dq_report_subject')),
    sa.CheckConstraint("report_type IN ('DAILY', 'REPLAY')", name=op.f('ck_dq_report_report_type')),
    sa.ForeignKeyConstraint(['replay_id'], [prefix + 'replay.replay_id'], name=op.f('fk_dq_report_replay_id_replay')),
    sa.PrimaryKeyConstraint('report_id', name=op.f('pk_dq_report')),
    sa.UniqueConstraint('report_type', 'report_date', 'replay_id', name=op.f('uq_dq_report_report_type_report_date_replay_id')),
    schema=schema
    )
    op.create_table('alert',
    sa.Column('alert_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_kind', sa.String(length=50), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=15), nullable=False),
    sa.Column('dedupe_key', sa.String(length=300), nullable=False),
    sa.Column('error_code', sa.String(length=20), nullable=True),
    sa.Column('job_id', sa.String(length=100), nullable=True),
    sa.Column('execution_id', sa.String(length=64), nullable=True),
    sa.Column('asset_key', sa.String(length=200), nullable=True),
    sa.Column('partition_key', sa.String(length=100), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('occurrence_count', sa.Integer(), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_by', sa.String(length=100), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("severity IN ('INFO', 'WARNING', 'ERROR', 'CRITICAL')", name=op.f('ck_alert_severity')),
    sa.CheckConstraint("status IN ('OPEN', 'ACKNOWLEDGED', 'RESOLVED')", name=op.f('ck_alert_status')),
    sa.CheckConstraint('occurrence_count >= 1', name=op.f('ck_alert_occurrence_count_positive')),
    sa.ForeignKeyConstraint(['error_code'], [prefix + 'error_code.code'], name=op.f('fk_alert_error_code_error_code')),
    sa.ForeignKeyConstraint(['execution_id'], [prefix + 'batch_execution.execution_id'], name=op.f('fk_alert_execution_id_batch_execution')),
    sa.PrimaryKeyConstraint('alert_id', name=op.f('pk_alert')),
    schema=schema
    )
    op.create_index(op.f('ix_alert_execution_id'), 'alert', ['execution_id'], unique=False, schema=schema)
    op.create_index(op.f('ix_alert_status_last_seen_at'), 'alert', ['status', 'last_seen_at'], unique=False, schema=schema)
    op.create_index('uq_alert_open_dedupe_key', 'alert', ['dedupe_key'], unique=True, schema=schema, sqlite_where=sa.text("status = 'OPEN'"), postgresql_where=sa.text("status = 'OPEN'"))
    op.create_table('execution_context',
    sa.Column('execution_id', sa.String(length=64), nullable=False),
    sa.Column('snapshot_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('rule_versions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('parameters', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('code_version', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('library_versions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['execution_id'], [prefix + 'batch_execution.execution_id'], name=op.f('fk_execution_context_execution_id_batch_execution')),
    sa.PrimaryKeyConstraint('execution_id', name=op.f('pk_execution_context')),
    schema=schema
    )
    op.create_table('execution_event',
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('execution_id', sa.String(length=64), nullable=False),
    sa.Column('event_key', sa.String(length=200), nullable=False),
    sa.Column('from_status', sa.String(length=10), nullable=True),
    sa.Column('to_status', sa.String(length=10), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.CheckConstraint("to_status IN ('READY', 'RUNNING', 'SUCCESS', 'FAILED', 'STOPPED')", name=op.f('ck_execution_event_to_status')),
    sa.ForeignKeyConstraint(['execution_id'], [prefix + 'batch_execution.execution_id'], name=op.f('fk_execution_event_execution_id_batch_execution')),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_execution_event')),
    sa.UniqueConstraint('execution_id', 'event_key', name=op.f('uq_execution_event_execution_id_event_key')),
    schema=schema
    )
    op.create_table('lineage_edge',
    sa.Column('edge_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('from_node_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('to_node_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('execution_id', sa.String(length=64), nullable=False),
    sa.CheckConstraint('from_node_id <> to_node_id', name=op.f('ck_lineage_edge_no_self_loop')),
    sa.ForeignKeyConstraint(['execution_id'], [prefix + 'batch_execution.execution_id'], name=op.f('fk_lineage_edge_execution_id_batch_execution')),
    sa.ForeignKeyConstraint(['from_node_id'], [prefix + 'lineage_node.node_id'], name=op.f('fk_lineage_edge_from_node_id_lineage_node')),
    sa.ForeignKeyConstraint(['to_node_id'], [prefix + 'lineage_node.node_id'], name=op.f('fk_lineage_edge_to_node_id_lineage_node')),
    sa.PrimaryKeyConstraint('edge_id', name=op.f('pk_lineage_edge')),
    sa.UniqueConstraint('from_node_id', 'to_node_id', 'execution_id', name=op.f('uq_lineage_edge_from_node_id_to_node_id_execution_id')),
    schema=schema
    )
    op.create_index(op.f('ix_lineage_edge_to_node_id'), 'lineage_edge', ['to_node_id'], unique=False, schema=schema)
    op.create_table('result_version',
    sa.Column('version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('asset_key', sa.String(length=200), nullable=False),
    sa.Column('partition_key', sa.String(length=100), nullable=False),
    sa.Column('version_number', sa.Integer(), nullable=False),
    sa.Column('execution_id', sa.String(length=64), nullable=False),
    sa.Column('content_hash', sa.String(length=80), nullable=False),
    sa.Column('row_count', sa.BigInteger(), nullable=False),
    sa.Column('storage_uri', sa.Text(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deactivated_by_execution_id', sa.String(length=64), nullable=True),
    sa.CheckConstraint('version_number >= 1', name=op.f('ck_result_version_version_number_positive')),
    sa.ForeignKeyConstraint(['execution_id'], [prefix + 'batch_execution.execution_id'], name=op.f('fk_result_version_execution_id_batch_execution')),
    sa.PrimaryKeyConstraint('version_id', name=op.f('pk_result_version')),
    sa.UniqueConstraint('asset_key', 'partition_key', 'execution_id', name=op.f('uq_result_version_asset_key_partition_key_execution_id')),
    sa.UniqueConstraint('asset_key', 'partition_key', 'version_number', name=op.f('uq_result_version_asset_key_partition_key_version_number')),
    schema=schema
    )
    op.create_index('uq_result_version_one_active', 'result_version', ['asset_key', 'partition_key'], unique=True, schema=schema, sqlite_where=sa.text('is_active'), postgresql_where=sa.text('is_active'))
    op.create_table('validation_result',
    sa.Column('result_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('execution_id', sa.String(length=64), nullable=False),
    sa.Column('rule_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('asset_key', sa.String(length=200), nullable=False),
    sa.Column('partition_key', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=5), nullable=False),
    sa.Column('total_rows', sa.BigInteger(), nullable=True),
    sa.Column('failing_rows', sa.BigInteger(), nullable=True),
    sa.Column('measured_value', sa.Float(), nullable=True),
    sa.Column('bound', sa.String(length=100), nullable=True),
    sa.Column('sample_failures', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('PASS', 'WARN', 'FAIL', 'ERROR')", name=op.f('ck_validation_result_status')),
    sa.ForeignKeyConstraint(['execution_id'], [prefix + 'batch_execution.execution_id'], name=op.f('fk_validation_result_execution_id_batch_execution')),
    sa.ForeignKeyConstraint(['rule_version_id'], [prefix + 'validation_rule_version.rule_version_id'], name=op.f('fk_validation_result_rule_version_id_validation_rule_version')),
    sa.PrimaryKeyConstraint('result_id', name=op.f('pk_validation_result')),
    sa.UniqueConstraint('execution_id', 'rule_version_id', 'partition_key', name=op.f('uq_validation_result_execution_id_rule_version_id_partition_key')),
    schema=schema
    )
    op.create_index(op.f('ix_validation_result_partition_key_status'), 'validation_result', ['partition_key', 'status'], unique=False, schema=schema)
    op.create_table('alert_delivery',
    sa.Column('delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("channel IN ('EMAIL', 'SLACK')", name=op.f('ck_alert_delivery_channel')),
    sa.CheckConstraint("status IN ('PENDING', 'SENT', 'RETRY', 'FAILED')", name=op.f('ck_alert_delivery_status')),
    sa.ForeignKeyConstraint(['alert_id'], [prefix + 'alert.alert_id'], name=op.f('fk_alert_delivery_alert_id_alert')),
    sa.PrimaryKeyConstraint('delivery_id', name=op.f('pk_alert_delivery')),
    sa.UniqueConstraint('alert_id', 'channel', name=op.f('uq_alert_delivery_alert_id_channel')),
    schema=schema
    )
    op.create_index(op.f('ix_alert_delivery_status_next_attempt_at'), 'alert_delivery', ['status', 'next_attempt_at'], unique=False, schema=schema)
    op.create_table('dq_report_item',
    sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('report_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('result_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('rule_id', sa.String(length=100), nullable=False),
    sa.Column('asset_key', sa.String(length=200), nullable=False),
    sa.Column('partition_key', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=5), nullable=False),
    sa.Column('failing_rows', sa.BigInteger(), nullable=True),
    sa.CheckConstraint("status IN ('PASS', 'WARN', 'FAIL', 'ERROR')", name=op.f('ck_dq_report_item_status')),
    sa.ForeignKeyConstraint(['report_id'], [prefix + 'dq_report.report_id'], name=op.f('fk_dq_report_item_report_id_dq_report')),
    sa.ForeignKeyConstraint(['result_id'], [prefix + 'validation_result.result_id'], name=op.f('fk_dq_report_item_result_id_validation_result')),
    sa.PrimaryKeyConstraint('item_id', name=op.f('pk_dq_report_item')),
    schema=schema
    )
    op.create_index(op.f('ix_dq_report_item_report_id'), 'dq_report_item', ['report_id'], unique=False, schema=schema)
    op.create_table('alert_delivery_attempt',
    sa.Column('attempt_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], [prefix + 'alert_delivery.delivery_id'], name=op.f('fk_alert_delivery_attempt_delivery_id_alert_delivery')),
    sa.PrimaryKeyConstraint('attempt_id', name=op.f('pk_alert_delivery_attempt')),
    schema=schema
    )
    op.create_index(op.f('ix_alert_delivery_attempt_delivery_id'), 'alert_delivery_attempt', ['delivery_id'], unique=False, schema=schema)


def audit_rows_lost(connection: sa.Connection, schema: str | None) -> int:
    """How many audit records the downgrade would drop with the audit_log table (all of them):
    ``opsrel db downgrade`` refuses it while there is any."""
    audit_log = sa.table("audit_log", schema=schema)
    return connection.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one()


def downgrade() -> None:
    from opsrel_core.persistence.migrate import refuse_audit_loss

    schema, prefix = _schema()
    refuse_audit_loss(revision, op.get_bind(), schema)
    op.drop_index(op.f('ix_alert_delivery_attempt_delivery_id'), table_name='alert_delivery_attempt', schema=schema)
    op.drop_table('alert_delivery_attempt', schema=schema)
    op.drop_index(op.f('ix_dq_report_item_report_id'), table_name='dq_report_item', schema=schema)
    op.drop_table('dq_report_item', schema=schema)
    op.drop_index(op.f('ix_alert_delivery_status_next_attempt_at'), table_name='alert_delivery', schema=schema)
    op.drop_table('alert_delivery', schema=schema)
    op.drop_index(op.f('ix_validation_result_partition_key_status'), table_name='validation_result', schema=schema)
    op.drop_table('validation_result', schema=schema)
    op.drop_index('uq_result_version_one_active', table_name='result_version', schema=schema, sqlite_where=sa.text('is_active'), postgresql_where=sa.text('is_active'))
    op.drop_table('result_version', schema=schema)
    op.drop_index(op.f('ix_lineage_edge_to_node_id'), table_name='lineage_edge', schema=schema)
    op.drop_table('lineage_edge', schema=schema)
    op.drop_table('execution_event', schema=schema)
    op.drop_table('execution_context', schema=schema)
    op.drop_index('uq_alert_open_dedupe_key', table_name='alert', schema=schema, sqlite_where=sa.text("status = 'OPEN'"), postgresql_where=sa.text("status = 'OPEN'"))
    op.drop_index(op.f('ix_alert_status_last_seen_at'), table_name='alert', schema=schema)
    op.drop_index(op.f('ix_alert_execution_id'), table_name='alert', schema=schema)
    op.drop_table('alert', schema=schema)
    op.drop_table('dq_report', schema=schema)
    op.drop_index(op.f('ix_batch_execution_status'), table_name='batch_execution', schema=schema)
    op.drop_index(op.f('ix_batch_execution_partition_key'), table_name='batch_execution', schema=schema)
    op.drop_index(op.f('ix_batch_execution_parent_execution_id'), table_name='batch_execution', schema=schema)
    op.drop_index(op.f('ix_batch_execution_job_id_started_at'), table_name='batch_execution', schema=schema)
    op.drop_index(op.f('ix_batch_execution_error_code'), table_name='batch_execution', schema=schema)
    op.drop_table('batch_execution', schema=schema)
    op.drop_table('validation_rule_version', schema=schema)
    op.drop_index(op.f('ix_replay_job_id_requested_at'), table_name='replay', schema=schema)
    op.drop_table('replay', schema=schema)
    op.drop_table('validation_rule', schema=schema)
    op.drop_index(op.f('ix_snapshot_asset_key_partition_key'), table_name='snapshot', schema=schema)
    op.drop_table('snapshot', schema=schema)
    op.drop_table('projection_cursor', schema=schema)
    op.drop_table('lineage_node', schema=schema)
    op.drop_index(op.f('ix_error_code_category'), table_name='error_code', schema=schema)
    op.drop_table('error_code', schema=schema)
    op.drop_table('batch_job', schema=schema)
    _drop_audit_log_guard(schema)
    op.drop_index(op.f('ix_audit_log_target_type_target_id'), table_name='audit_log', schema=schema)
    op.drop_index(op.f('ix_audit_log_operator_id_occurred_at'), table_name='audit_log', schema=schema)
    op.drop_index(op.f('ix_audit_log_occurred_at'), table_name='audit_log', schema=schema)
    op.drop_table('audit_log', schema=schema)
    op.drop_table('alert_template', schema=schema)
