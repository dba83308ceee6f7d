"""Data quality: rules and their versions, validation results, reports and the DQ-002 policy.

**Rules and results.** ``ValidationService`` registers a rule and the version its definition
implies (``opsrel_core.domain.rule_versions``: ``sha256:`` of the canonical JSON of definition
and severity, so an unchanged rule is a no-op and a changed one a new version) and records one
result per execution, rule version and partition. ``CheckRecorder`` does both for a check step
in one transaction.

**Reports.** ``DqReportService``: a report is a summary (PASS, WARN, FAIL and ERROR counts by
asset) and one item per rule, asset and partition, stored in ``dq_report`` / ``dq_report_item``
and built from the validation results:

A report is a summary (PASS, WARN, FAIL and ERROR counts by asset) and one item per rule, asset
and partition, stored in ``dq_report`` / ``dq_report_item`` and built from the validation results
(``ValidationService`` views):

- the partition report of a job's partition (any key its partitions definition spells:
  ``2013-02-01``, ``2013-11-03-01:00``, ``2013-11-03-01:00-0500``) is what the partition is
  (``domain.partition_state``), read from that job's executions: each asset's results come
  from the execution that made its ACTIVE result version, so a replay that passed and was
  activated replaces the earlier FAIL, while a later attempt whose versions stayed inactive (a
  replay that failed a FAIL rule, a stopped run) does not. That attempt, when it is the newest,
  is shown beside the report (``latest_attempt``), never instead of it. An asset without an
  active version is reported from its latest attempt, and the items and the report's ``basis``
  say so. Reading a partition report rebuilds it first when what is active (or the results
  recorded) changed since it was built;
- the daily report of a day is the partition report of the daily job (type DAILY, with its
  ``report_date``); any other key makes a PARTITION report. A day's roll-up of an hourly job
  is a view over that day's partition reports (``domain.dq_rollup``), never stored;
- the replay report takes the results of the replay's executions (the latest per rule, asset and
  partition, when a partition ran more than once within the replay);
- ``compare`` puts a replay's items beside the results of the executions it replaced (each
  replay execution's ``parent_execution_id``): per rule, the status before and after.

Building is idempotent: a report is found by its subject (job and partition, or replay) and
rebuilt in place, its items replaced in one transaction; builders of one subject are serialized,
since the unique constraint on (report_type, job_id, partition_key, replay_id) does not stop
duplicates where a column is NULL.

The rules are ``opsrel_core.domain.dq_subjects`` (which report a key makes) and
``opsrel_core.domain.dq_outcomes`` (counts, outcome, basis, the latest result per rule); the SQL
is ``opsrel_core.persistence.repositories.dq_reports``; the views are built by
``report_reading``.

**Warnings.** ``evaluate_warn_policy`` raises DQ-002 when a WARN rule's warning is news against
its own baseline (``opsrel_core.domain.dq_baseline``, ``opsrel_core.domain.dq_warnings``).

The modules: ``validation_views``, ``staging`` and ``validation`` (rules and results),
``check_recording``, ``report_views``, ``report_subjects``, ``report_reading``,
``report_compare`` and ``reports`` (reports), ``markdown`` (renderings), ``warn_policy``
(DQ-002). The pure rules are in ``opsrel_core.domain`` (``rule_versions``, ``dq_subjects``,
``dq_outcomes``, ``dq_rollup``, ``dq_warnings``, ``dq_baseline``); the SQL in
``opsrel_core.persistence.repositories.validation`` and ``...dq_reports``.
"""

from opsrel_core.domain.dq_outcomes import (
    BASIS_MIXED, BASIS_REPLAY, SEVERITY_RANK, STATUSES, summary_of, worst,
)
from opsrel_core.domain.dq_rollup import DayPartitionView, DayRollupView, rollup
from opsrel_core.domain.dq_warnings import DQ_WARN_ACCUMULATED
from opsrel_core.domain.rule_versions import HASH_PREFIX, canonical_json, rule_version_hash
from opsrel_core.services.quality.check_recording import CheckRecorder, Outcome, RuleSpec
from opsrel_core.services.quality.markdown import render_markdown, render_rollup
from opsrel_core.services.quality.report_views import (
    DqAttemptView, DqReportItemView, DqReportView, basis_of, outcome_of,
)
from opsrel_core.services.quality.reports import MAX_LIST_LIMIT, DqReportService
from opsrel_core.services.quality.staging import result_values, stage_rule
from opsrel_core.services.quality.validation import ValidationService
from opsrel_core.services.quality.validation_views import RuleVersionView, ValidationResultView
from opsrel_core.services.quality.warn_policy import (
    WarnPolicy, evaluate_warn_policy, warning_decision,
)

__all__ = [
    "BASIS_MIXED", "BASIS_REPLAY", "DQ_WARN_ACCUMULATED", "HASH_PREFIX", "MAX_LIST_LIMIT",
    "SEVERITY_RANK", "STATUSES", "CheckRecorder", "DayPartitionView", "DayRollupView",
    "DqAttemptView", "DqReportItemView", "DqReportService", "DqReportView", "Outcome",
    "RuleSpec", "RuleVersionView", "ValidationResultView", "ValidationService", "WarnPolicy",
    "basis_of", "canonical_json", "evaluate_warn_policy", "outcome_of", "render_markdown",
    "render_rollup", "result_values", "rollup", "rule_version_hash", "stage_rule", "summary_of",
    "warning_decision", "worst",
]
