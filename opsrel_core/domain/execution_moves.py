"""How an execution moves: the decided status change of each lifecycle event, and progress.

Plain data and plain functions over the values of the execution's row; the service decides with
them inside the transaction that writes the move, so a stop request or another writer that lands
first is always seen. The allowed moves themselves are ``opsrel_core.domain.status``; what a stop
does to an end is ``opsrel_core.domain.stop``.
"""

import dataclasses
import datetime as dt
from typing import Any

from opsrel_core.domain import error_codes
from opsrel_core.domain import stop as stop_rule
from opsrel_core.domain.status import ExecutionStatus, can_transition
from opsrel_core.errors import BatchExecutionException


@dataclasses.dataclass(frozen=True)
class Move:
    """A decided status change.

    Attributes:
        status: the status to move to (the current one: nothing to do but a repeat's bookkeeping).
        values: the columns to set with it (``ended_at``, ``error_code``...).
        ignored: the detail of an end that a stop overruled (recorded as ``ignored:<status>``),
            or None.
        stop_requested_at: set as the stop request's time unless one is already recorded (a
            stop implies a stop request; the earlier request time is kept).
    """

    status: ExecutionStatus
    values: dict[str, Any]
    ignored: dict[str, Any] | None = None
    stop_requested_at: dt.datetime | None = None


def is_repeat(execution_id: str, current: ExecutionStatus, wanted: ExecutionStatus) -> bool:
    """Whether moving ``current -> wanted`` is a repeat of the event that made ``current``.

    Returns:
        True when ``wanted`` is the current status (a no-op); False for an allowed move.

    Raises:
        BatchExecutionException: BAT-001 when the transition table forbids the move (for
            example FAILED after SUCCESS).
    """
    if current == wanted:
        return True
    if not can_transition(current, wanted):
        raise BatchExecutionException(
            error_codes.BAT_INVALID_TRANSITION,
            f"execution {execution_id} cannot move from {current.value} to {wanted.value}",
            {"execution_id": execution_id, "from": current.value, "to": wanted.value},
        )
    return False


def success(stop_requested_at: dt.datetime | None, at: dt.datetime) -> Move:
    """The move of a reported SUCCESS at ``at`` (UTC).

    Without a stop: SUCCESS with ``ended_at``. After a stop: STOPPED with ``error_code`` BAT-004
    and the SUCCESS kept as ignored, since none of a stopped execution's results become active.
    """
    end = stop_rule.end_after(ExecutionStatus.SUCCESS, stop_requested_at)
    if end.ignored is None:
        return Move(end.status, {"ended_at": at})
    return Move(
        end.status,
        {"ended_at": at, "error_code": error_codes.BAT_RUN_CANCELED},
        ignored=stop_rule.ignored_event_detail(end.ignored, stop_requested_at),
    )


def failure(
    stop_requested_at: dt.datetime | None, at: dt.datetime, *,
    error_code: str, error_message: str | None, failed_asset_key: str | None,
    failed_partition_key: str | None,
) -> Move:
    """The move of a reported failure at ``at`` (UTC) with a catalog ``error_code``.

    Without a stop: FAILED with the error columns. After a stop: STOPPED with ``error_code``
    BAT-004, the error message kept for the operator and the failure kept as ignored (with its
    code): a failure caused by the stop is not a failure, so it raises no alert and no retry.
    """
    end = stop_rule.end_after(ExecutionStatus.FAILED, stop_requested_at)
    values = {
        "ended_at": at,
        "error_code": error_code if end.ignored is None else error_codes.BAT_RUN_CANCELED,
        "error_message": error_message,
        "failed_asset_key": failed_asset_key,
        "failed_partition_key": failed_partition_key,
    }
    if end.ignored is None:
        return Move(end.status, values)
    return Move(end.status, values, ignored=stop_rule.ignored_event_detail(
        end.ignored, stop_requested_at, error_code=error_code))


def stop(at: dt.datetime, error_message: str | None = None) -> Move:
    """The move of an operator's stop (or the orchestrator's CANCELED) at ``at`` (UTC).

    STOPPED with ``ended_at`` and ``error_code`` BAT-004; ``error_message`` only when given, so
    an earlier message is not erased.
    """
    values: dict[str, Any] = {"ended_at": at, "error_code": error_codes.BAT_RUN_CANCELED}
    if error_message:
        values["error_message"] = error_message
    return Move(ExecutionStatus.STOPPED, values, stop_requested_at=at)


@dataclasses.dataclass(frozen=True)
class Progress:
    """An execution's progress counts: steps planned, steps finished, rows written."""

    steps_total: int
    steps_done: int
    rows_written: int


def check_progress_counts(steps_done: int, rows_written: int | None) -> None:
    """Refuse a negative count.

    Raises:
        ValueError: ``steps_done`` or ``rows_written`` below 0.
    """
    if steps_done < 0 or (rows_written is not None and rows_written < 0):
        raise ValueError("progress counts must be >= 0")


def advance(
    recorded: Progress, *, steps_done: int, steps_total: int | None, rows_written: int | None
) -> Progress:
    """The progress after a report: every count only moves forward.

    A late, lower figure is ignored (reports from the orchestrator may arrive out of order);
    ``steps_total`` and ``rows_written`` of None keep the recorded figures.

    Raises:
        ValueError: ``steps_done`` above the (new) number of steps planned.
    """
    total = max(recorded.steps_total, steps_total or 0)
    if steps_done > total:
        raise ValueError(f"steps_done {steps_done} exceeds steps_total {total}")
    rows = recorded.rows_written if rows_written is None else max(recorded.rows_written,
                                                                   rows_written)
    return Progress(total, max(recorded.steps_done, steps_done), rows)
