"""Who and why a run is: one rule for every entry point.

A run is *attributed* when someone (an operator, or an automation acting on its own schedule)
decided it: only an attributed run may replace an active result. The orchestrator adapter
translates a run into ``LaunchFacts`` (its tags and how it was launched); ``attribute`` decides,
with no I/O, and everything that needs the answer calls it: the projection (trigger type,
operator, the audit record), the IO manager's fail-fast guard, and the activation gate.

The rules, in order:

- A **retry** (an automatic re-run after a failure) continues its parent's launch: it carries the
  parent's decision (its tags are the parent's) and is recorded as a retry of that run, audited
  by the orchestrator, not as a new act of the parent's operator.
- A **re-execution** of an earlier run copies that run's tags, which are not a new decision: it is
  recorded as "re-execution of run X" and is attributed only when it carries an operator and a
  reason of its own (tags that differ from its parent's).
- A **replay** run carries its replay's operator and reason (the replay has its own audit record).
- A **sensor** or **schedule** run is automatic: ``sensor:<name>`` / ``schedule:<name>`` decided it.
- Anything else (the Dagster UI, a backfill, Python, ``opsrel run``) is attributed when its tags
  carry a usable operator name and a reason (``operator_names``: a look-alike or invisible name,
  or a reason with no visible character, counts as none); such a run gets a ``MANUAL_RUN`` audit
  record.
"""

import dataclasses
from collections.abc import Mapping

from opsrel_core.domain import operator_names, run_tags
from opsrel_core.domain.status import TriggerType
from opsrel_core.errors import BatchExecutionException

RETRY_OPERATOR = "orchestrator:run_retry"
"""The audit operator of an automatic retry: the orchestrator launched it, no person did."""
REEXECUTION_OPERATOR = "orchestrator:reexecution"
"""The audit operator of a re-execution that carries no operator of its own."""

MANUAL_RUN_ACTION = "MANUAL_RUN"
REEXECUTION_ACTION = "REEXECUTE_RUN"
RETRY_ACTION = "RETRY_RUN"


@dataclasses.dataclass(frozen=True)
class LaunchFacts:
    """What the orchestrator says about how a run was launched, as plain data.

    Attributes:
        tags: the run's tags (opsrel's own are read from here: ``opsrel_core.domain.run_tags``).
        parent_run_id: the run this one re-executes or retries (None for a fresh launch).
        parent_tags: the parent run's tags, when the parent is known (None otherwise).
        retry_number: set (1, 2, ...) when the run is an automatic retry of its parent.
        sensor_name, schedule_name: the automation that requested the run, if any.
        backfill_id: the backfill the run belongs to, if any.
    """

    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    parent_run_id: str | None = None
    parent_tags: Mapping[str, str] | None = None
    retry_number: int | None = None
    sensor_name: str | None = None
    schedule_name: str | None = None
    backfill_id: str | None = None


@dataclasses.dataclass(frozen=True)
class Attribution:
    """Who and why a run is.

    Attributes:
        trigger: how it was launched (REPLAY, RETRY, REEXECUTE, BACKFILL, SENSOR, SCHEDULE, CLI,
            MANUAL).
        operator_id: who decided it (an operator id, ``sensor:<name>``, ``schedule:<name>``), or
            None when nobody did.
        reason: why, in the decider's words or the automatic wording ("re-execution of run X").
        decided: True when an operator or an automation decided this run: it may replace an
            active result. Tags copied from a parent do not make a decision.
        parent_run_id: the orchestrator parent of a retry or re-execution.
        audit_action: the audit record the execution gets when it is recorded
            (``MANUAL_RUN``, ``REEXECUTE_RUN``, ``RETRY_RUN``), or None (a replay has its own
            record; sensor and schedule runs are automatic).
        audit_operator_id: the operator of that audit record.
    """

    trigger: TriggerType
    operator_id: str | None
    reason: str | None
    decided: bool
    parent_run_id: str | None = None
    audit_action: str | None = None
    audit_operator_id: str | None = None

    @property
    def may_replace(self) -> bool:
        """True when the run may replace an active result (someone decided it)."""
        return self.decided

    @property
    def audit_reason(self) -> str | None:
        """The reason of the audit record (None when no record is due)."""
        return self.reason if self.audit_action else None


def _text(tags: Mapping[str, str] | None, name: str) -> str:
    value = ((tags or {}).get(name) or "").strip()
    # Who and why pass the audit log's rule for names and reasons: a tag holding a look-alike
    # name (zero-width, bidi or mixed-script characters) or an invisible reason attributes
    # nothing, so the run is unattributed instead of failing when it is recorded.
    try:
        if value and name == run_tags.OPERATOR:
            return operator_names.normalize_operator_name(value)
        if value and name == run_tags.REASON:
            return operator_names.require_reason(value)
    except BatchExecutionException:
        return ""
    return value


def _own(tags: Mapping[str, str], parent_tags: Mapping[str, str] | None) -> tuple[str, str]:
    # The operator and reason a re-execution carries of its own: tags equal to the parent's
    # were copied by the orchestrator and say nothing new.
    operator, reason = _text(tags, run_tags.OPERATOR), _text(tags, run_tags.REASON)
    if not operator or not reason:
        return "", ""
    if parent_tags is None:
        return "", ""  # the parent is unknown: the tags cannot be told apart from copies
    copied = (operator, reason) == (_text(parent_tags, run_tags.OPERATOR),
                                    _text(parent_tags, run_tags.REASON))
    return ("", "") if copied else (operator, reason)


def _short(run_id: str) -> str:
    return run_id[:8]


def attribute(facts: LaunchFacts) -> Attribution:
    """Decide who and why a run is (see the module docstring for the rules).

    Args:
        facts: the run as the orchestrator adapter translated it.

    Returns:
        The run's ``Attribution``; never raises.
    """
    if facts.parent_run_id and facts.retry_number:
        base = _fresh(facts)
        whose = f" ({base.operator_id}: {base.reason})" if base.decided else ""
        return Attribution(
            trigger=TriggerType.RETRY,
            operator_id=base.operator_id,
            reason=f"automatic retry {facts.retry_number} of run {_short(facts.parent_run_id)}"
            + whose,
            decided=base.decided,
            parent_run_id=facts.parent_run_id,
            audit_action=RETRY_ACTION,
            audit_operator_id=RETRY_OPERATOR,
        )
    if facts.parent_run_id:
        operator, reason = _own(facts.tags, facts.parent_tags)
        wording = f"re-execution of run {_short(facts.parent_run_id)}"
        return Attribution(
            trigger=TriggerType.REEXECUTE,
            operator_id=operator or None,
            reason=f"{wording}: {reason}" if reason else wording,
            decided=bool(operator),
            parent_run_id=facts.parent_run_id,
            audit_action=REEXECUTION_ACTION,
            audit_operator_id=operator or REEXECUTION_OPERATOR,
        )
    return _fresh(facts)


def _fresh(facts: LaunchFacts) -> Attribution:
    # A run launched anew (or the launch a retry continues).
    tags = facts.tags
    operator, reason = _text(tags, run_tags.OPERATOR), _text(tags, run_tags.REASON)
    if _text(tags, run_tags.REPLAY_ID):
        return Attribution(TriggerType.REPLAY, operator or None, reason or None,
                           decided=bool(operator and reason))
    automation = (("sensor", facts.sensor_name, TriggerType.SENSOR) if facts.sensor_name else
                  ("schedule", facts.schedule_name, TriggerType.SCHEDULE) if facts.schedule_name
                  else None)
    if automation is not None:
        kind, name, trigger = automation
        return Attribution(trigger, operator or f"{kind}:{name}",
                           reason or f"automatic run requested by {kind} {name}", decided=True)
    if facts.backfill_id:
        trigger = TriggerType.BACKFILL
    elif _text(tags, run_tags.TRIGGER) == TriggerType.CLI.value:
        trigger = TriggerType.CLI
    else:
        trigger = TriggerType.MANUAL
    decided = bool(operator and reason)
    return Attribution(
        trigger, operator or None, reason or None, decided=decided,
        audit_action=MANUAL_RUN_ACTION if decided else None,
        audit_operator_id=operator if decided else None,
    )
