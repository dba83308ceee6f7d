"""Translate a Dagster run into the plain facts the core's rules decide on.

``launch_facts`` reads how a run was launched (its tags, its Dagster parent, retry, sensor,
schedule, backfill) for the core's rule ``opsrel_core.domain.attribution.attribute`` (callers
write ``attribute(launch_facts(run, instance))``); ``check_evidence`` reads a
run's asset check evaluations for the activation gate; ``blocking_checks_of`` lists the blocking
checks a code location declares per asset. No rule lives here: only translation.
"""

import json
import time
from collections.abc import Iterable

import dagster as dg

from opsrel_core.domain.activation import CheckOutcome
from opsrel_core.domain.attribution import LaunchFacts
from opsrel_core.services.results import CheckEvidence

PARENT_RUN_TAG = "dagster/parent_run_id"
RETRY_NUMBER_TAG = "dagster/retry_number"
WILL_RETRY_TAG = "dagster/will_retry"
SENSOR_TAG = "dagster/sensor_name"
SCHEDULE_TAG = "dagster/schedule_name"
BACKFILL_TAG = "dagster/backfill"
FAILED_PARTITIONS_KEY = "opsrel/failed_partitions"
"""Check metadata of a range run: the partitions the check failed for (written by
``checks.results``, read by ``check_evidence``: one name for both)."""


def _retry_number(tags: dict[str, str]) -> int | None:
    try:
        number = int(tags.get(RETRY_NUMBER_TAG) or 0)
    except ValueError:
        return None
    return number or None


def launch_facts(run: dg.DagsterRun, instance: dg.DagsterInstance | None = None) -> LaunchFacts:
    """The launch facts of a run.

    Args:
        run: the Dagster run.
        instance: to read the parent run's tags (a re-execution copies them, and only tags that
            differ are the re-execution's own); without it the parent's tags are unknown.

    Returns:
        ``LaunchFacts``. The parent is the run's ``parent_run_id`` (set by every re-execution,
        also one launched from Python, which may lack the parent tag) or the parent tag.
    """
    tags = dict(run.tags)
    parent = run.parent_run_id or tags.get(PARENT_RUN_TAG)
    parent_tags = None
    if parent and instance is not None:
        parent_run = instance.get_run_by_id(parent)
        parent_tags = dict(parent_run.tags) if parent_run is not None else None
    return LaunchFacts(
        tags=tags,
        parent_run_id=parent,
        parent_tags=parent_tags,
        retry_number=_retry_number(tags),
        sensor_name=tags.get(SENSOR_TAG),
        schedule_name=tags.get(SCHEDULE_TAG),
        backfill_id=tags.get(BACKFILL_TAG),
    )


def will_retry(run: dg.DagsterRun) -> bool:
    """True when Dagster marked a failed run for an automatic retry."""
    return (run.tags.get(WILL_RETRY_TAG) or "").lower() == "true"


def with_retry_decision(instance: dg.DagsterInstance, run: dg.DagsterRun,
                        wait_seconds: float = 2.0) -> dg.DagsterRun:
    """The run as it stands once Dagster decided whether a failed run is retried.

    With run retries enabled, Dagster stores a run's FAILURE first and tags its decision
    (``dagster/will_retry``, true or false) in a second write a moment later. A run read in
    between would look like a final failure and raise an alert for a run about to be retried,
    so a failed run without the tag is read again for up to ``wait_seconds`` (seconds); a
    worker that died between the two writes leaves no tag, and the run is then taken as is.
    """
    if (run.status != dg.DagsterRunStatus.FAILURE or WILL_RETRY_TAG in run.tags
            or not instance.run_retries_enabled):
        return run
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
        fresh = instance.get_run_by_id(run.run_id)
        if fresh is not None and WILL_RETRY_TAG in fresh.tags:
            return fresh
    return run


def check_evidence(
    event_records: Iterable[dg.EventLogRecord], blocking_checks: dict[str, frozenset[str]]
) -> CheckEvidence:
    """The activation gate's evidence from a run's ``ASSET_CHECK_EVALUATION`` events.

    Args:
        event_records: the run's event records (others are ignored).
        blocking_checks: the blocking checks declared per asset key (``blocking_checks_of``).

    Returns:
        ``CheckEvidence``; a range run's failed days come from the check's
        ``opsrel/failed_partitions`` metadata, else a failed evaluation fails every day.
    """
    checks: dict[tuple[str, str], CheckOutcome] = {}
    for record in event_records:
        event = record.event_log_entry.dagster_event
        if event is None or event.event_type != dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            continue
        evaluation = event.event_specific_data
        failed = evaluation.metadata.get(FAILED_PARTITIONS_KEY)
        days = getattr(failed, "value", failed) or []
        if isinstance(days, str):
            days = json.loads(days)
        key = (evaluation.asset_key.to_user_string(), evaluation.check_name)
        checks[key] = CheckOutcome(passed=bool(evaluation.passed),
                                   failed_partitions=frozenset(str(d) for d in days))
    return CheckEvidence(blocking_checks=blocking_checks, checks=checks)


def blocking_checks_of(defs: dg.Definitions) -> dict[str, frozenset[str]]:
    """The blocking asset checks a code location declares, by asset key (``"a/b"`` form).

    Args:
        defs: the code location's definitions (or one domain's).

    Returns:
        ``{asset_key: frozenset(check names)}`` for every asset with at least one blocking check.
    """
    found: dict[str, set[str]] = {}
    for checks_def in defs.asset_checks or []:
        for spec in checks_def.check_specs:
            if spec.blocking:
                found.setdefault(spec.asset_key.to_user_string(), set()).add(spec.name)
    for assets_def in defs.assets or []:
        for spec in getattr(assets_def, "check_specs", []) or []:
            if spec.blocking:
                found.setdefault(spec.asset_key.to_user_string(), set()).add(spec.name)
    return {asset: frozenset(names) for asset, names in found.items()}
