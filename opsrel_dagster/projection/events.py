"""Dagster's run statuses and event records as the core's observations.

The run statuses the projection reads changes of (``STATUS_EVENT_TYPES``), the event types it
reads of one run, how a Dagster run status maps onto ``ObservedStatus``, and how a failed run's
events name its failure (error code, message, asset and partition).
"""

import datetime as dt
from collections.abc import Iterable

import dagster as dg

from opsrel_core.domain import error_codes
from opsrel_core.services.execution_projection import ObservedFailure, ObservedStatus
from opsrel_dagster.failures import ERROR_CODE_KEY

STATUS_EVENT_TYPES = (
    dg.DagsterEventType.RUN_ENQUEUED,
    dg.DagsterEventType.RUN_STARTING,
    dg.DagsterEventType.RUN_START,
    dg.DagsterEventType.RUN_SUCCESS,
    dg.DagsterEventType.RUN_FAILURE,
    dg.DagsterEventType.RUN_CANCELING,
    dg.DagsterEventType.RUN_CANCELED,
)

_RUN_EVENT_TYPES = {
    dg.DagsterEventType.RUN_CANCELING,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.RUN_FAILURE,
}

_STATUS_MAP = {
    dg.DagsterRunStatus.QUEUED: ObservedStatus.READY,
    dg.DagsterRunStatus.NOT_STARTED: ObservedStatus.READY,
    dg.DagsterRunStatus.MANAGED: ObservedStatus.READY,
    dg.DagsterRunStatus.STARTING: ObservedStatus.READY,
    dg.DagsterRunStatus.STARTED: ObservedStatus.RUNNING,
    dg.DagsterRunStatus.SUSPENDED: ObservedStatus.RUNNING,
    dg.DagsterRunStatus.CANCELING: ObservedStatus.CANCELING,
    dg.DagsterRunStatus.SUCCESS: ObservedStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE: ObservedStatus.FAILED,
    dg.DagsterRunStatus.CANCELED: ObservedStatus.STOPPED,  # an operator's stop, not a failure
}


def _utc(ts: float | dt.datetime | None) -> dt.datetime | None:
    if ts is None:
        return None
    if isinstance(ts, dt.datetime):
        return ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc)


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _metadata_text(value: object) -> str | None:
    if value is None:
        return None
    inner = getattr(value, "value", value)
    return str(inner)


def _root_cause(error):  # type: ignore[no-untyped-def]
    # Dagster wraps user exceptions (DagsterExecutionStepExecutionError); the operator needs
    # the original class and message.
    while error is not None and error.cause is not None and error.cls_name.startswith("Dagster"):
        error = error.cause
    return error


def _failure_of(records: Iterable[dg.EventLogRecord], partition_key: str | None) -> ObservedFailure:
    run_failure_message = None
    failed_checks = []
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
                failed_checks.append(evaluation)
            continue
        if (
            event.event_type == dg.DagsterEventType.STEP_FAILURE
            and event.step_failure_data.error is not None
            and event.step_failure_data.error.cls_name == "DagsterAssetCheckFailedError"
            and failed_checks
        ):
            # A blocking data-quality rule failed: its code (DQ-001) is in the check's
            # metadata; downstream steps were skipped.
            first = failed_checks[0]
            metadata = dict(first.metadata)
            names = ", ".join(c.check_name for c in failed_checks)
            rows = _metadata_text(metadata.get("failing_rows"))
            return ObservedFailure(
                error_code=_metadata_text(metadata.get(ERROR_CODE_KEY)) or error_codes.DQ_FAIL_RULE,
                error_message=f"blocking data-quality rule(s) failed: {names}"
                + (f" ({rows} failing rows in {first.check_name})" if rows else ""),
                asset_key=first.asset_key.to_user_string(),
                partition_key=partition_key,
            )
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            data = event.step_failure_data
            user = data.user_failure_data
            metadata = dict(user.metadata) if user is not None else {}
            code = _metadata_text(metadata.get(ERROR_CODE_KEY))
            error = _root_cause(data.error)
            if code:
                message = _metadata_text(metadata.get("operator_message")) or (
                    user.description if user is not None else ""
                )
            else:
                # Not one of ours: keep the original class and message for the operator.
                code = error_codes.SYS_UNEXPECTED
                message = error.message.strip() if error else "step failed"
                if error and not message.startswith(error.cls_name):
                    message = f"{error.cls_name}: {message}"
            return ObservedFailure(
                error_code=code,
                error_message=message or "",
                asset_key=event.step_key,
                # In a range run the failing day is the one the step named, not the whole range.
                partition_key=partition_key or _metadata_text(metadata.get("partition_key")) or None,
            )
        if event.event_type == dg.DagsterEventType.RUN_FAILURE:
            run_failure_message = record.event_log_entry.message
    return ObservedFailure(
        error_code=error_codes.SYS_UNEXPECTED,
        error_message=run_failure_message or "the run failed before any step failed",
        partition_key=partition_key,
    )
