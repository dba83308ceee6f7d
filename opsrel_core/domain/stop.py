"""A stop is final: how an execution ends once a stop was requested, and how the stop reached
the orchestrator.

Once a stop is recorded for an execution (an operator's request through the admin API or the
CLI, or the orchestrator's CANCELING), the execution ends STOPPED whatever the orchestrator
reports afterwards. A worker that could not be reached may still finish and report SUCCESS (or
fail because it was interrupted): that end is overruled and kept in the execution's history as
ignored, and none of the execution's results become active. Plain data and plain functions: the
services apply them inside the transaction that writes the end.
"""

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

from opsrel_core.domain.status import ExecutionStatus

STATUS_EVENT_PREFIX = "status:"
"""History events that move the status (``status:RUNNING``); every other key is an annotation."""
IGNORED_EVENT_PREFIX = "ignored:"
"""An end the orchestrator reported after a stop, overruled (``ignored:SUCCESS``)."""
DELIVERY_EVENT_PREFIX = "stop_delivery:"
"""What the orchestrator did with the stop (``stop_delivery:NOT_TERMINATED``)."""

FINAL_STATUS = ExecutionStatus.STOPPED
STOP_IS_FINAL = (
    "the stop is final: the execution ends STOPPED whatever Dagster reports afterwards, and none "
    "of its results become active"
)


class StopDelivery(str, enum.Enum):
    """What the orchestrator did when asked to stop an execution's run."""

    PENDING = "PENDING"
    """Recorded in the ops schema, not yet handed to Dagster (the replay launch sensor of the
    daemon does that on its next tick)."""
    TERMINATED = "TERMINATED"
    """Dagster ended the run (CANCELED)."""
    TERMINATING = "TERMINATING"
    """Dagster reached the run's worker and asked it to stop; the run is CANCELING until it does."""
    NOT_TERMINATED = "NOT_TERMINATED"
    """Dagster could not terminate the worker (an in-process run, or no reachable code server):
    the run is only CANCELING and the worker may still finish. Its end is ignored."""
    RUN_FINISHED = "RUN_FINISHED"
    """The run had already finished in Dagster when the stop reached it."""
    RUN_NOT_FOUND = "RUN_NOT_FOUND"
    """Dagster holds no run with the execution's id."""


DELIVERY_MESSAGES: Mapping[StopDelivery, str] = {
    StopDelivery.PENDING: "not yet delivered to Dagster: the replay launch sensor (dagster-daemon) "
    "cancels the run on its next tick",
    StopDelivery.TERMINATED: "Dagster terminated the run",
    StopDelivery.TERMINATING: "Dagster asked the run's worker to stop; the run is CANCELING",
    StopDelivery.NOT_TERMINATED: "Dagster could not terminate the worker: the run is only "
    "CANCELING and the worker may still finish; whatever it reports is ignored",
    StopDelivery.RUN_FINISHED: "the run had already finished in Dagster",
    StopDelivery.RUN_NOT_FOUND: "Dagster holds no run with this id",
}


@dataclasses.dataclass(frozen=True)
class End:
    """How an execution ends.

    Attributes:
        status: the status it ends with.
        ignored: the end the orchestrator reported, when a stop overruled it; else None.
    """

    status: ExecutionStatus
    ignored: ExecutionStatus | None = None


def end_after(observed: ExecutionStatus, stop_requested_at: dt.datetime | None) -> End:
    """The status an execution ends with when the orchestrator reports ``observed``.

    Args:
        observed: a terminal status as reported (SUCCESS, FAILED or STOPPED).
        stop_requested_at: when a stop was recorded for the execution (UTC), or None.

    Returns:
        ``End(observed)`` without a stop; with a stop, ``End(STOPPED, ignored=observed)`` for a
        SUCCESS or FAILED report (a worker that finished or failed after the stop), and
        ``End(STOPPED)`` for STOPPED.

    Raises:
        ValueError: ``observed`` is not terminal.
    """
    if not observed.is_terminal:
        raise ValueError(f"{observed.value} is not an end")
    if stop_requested_at is None or observed is FINAL_STATUS:
        return End(observed)
    return End(FINAL_STATUS, ignored=observed)


def ignored_event_key(observed: ExecutionStatus) -> str:
    """The history key of an overruled end (``ignored:SUCCESS``): recorded once per status."""
    return f"{IGNORED_EVENT_PREFIX}{observed.value}"


def ignored_event_detail(
    observed: ExecutionStatus, stop_requested_at: dt.datetime, **extra: Any
) -> dict[str, Any]:
    """The detail of an ``ignored:<status>`` history event (JSON-ready).

    Args:
        observed: the overruled end.
        stop_requested_at: when the stop was recorded (UTC).
        extra: further JSON values to keep (for example the failure's ``error_code``).
    """
    return {
        "observed_status": observed.value,
        "stop_requested_at": stop_requested_at.isoformat(),
        "reason": f"Dagster reported {observed.value} after a stop was requested; {STOP_IS_FINAL}",
        **extra,
    }


def delivery_event_key(delivery: StopDelivery) -> str:
    """The history key of a stop's delivery (``stop_delivery:NOT_TERMINATED``)."""
    return f"{DELIVERY_EVENT_PREFIX}{delivery.value}"


def delivery_of_event_key(event_key: str) -> StopDelivery | None:
    """The delivery a history key records, or None for any other key."""
    if not event_key.startswith(DELIVERY_EVENT_PREFIX):
        return None
    return StopDelivery(event_key[len(DELIVERY_EVENT_PREFIX):])


def is_status_event(event_key: str) -> bool:
    """True for a history event that moved the status (the others annotate it)."""
    return event_key.startswith(STATUS_EVENT_PREFIX)


def audit_marker(state: Mapping[str, Any] | None) -> dict[str, Any]:
    """Fields derived from an execution's audited snapshot that say where its stop stands.

    Args:
        state: the ``batch_execution`` row as captured for the audit record (or None).

    Returns:
        ``{"stop_requested": bool, "final_status": "STOPPED" | None}``: once a stop is recorded
        the execution's end is decided, while its ``status`` still reads RUNNING.
    """
    requested = bool(state and state.get("stop_requested_at"))
    return {"stop_requested": requested, "final_status": FINAL_STATUS.value if requested else None}
