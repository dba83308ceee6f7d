"""The codes and the errors of the replay use cases.

BAT-008 for a missing operator or reason (nothing is written); BAT-009 for an invalid request
(unknown job, empty or reversed range, keys outside it or outside the job's partition set) and,
as a ``ConflictException``, for a request key reused for another request; BAT-012
(``ConflictException``) for a partition with a run in flight; BAT-014 (``ConflictException``) for
an operator who has their limit of pending replays; BAT-010 for an unknown replay or version.
"""

from typing import Any

from opsrel_core.domain import error_codes
from opsrel_core.errors import BatchExecutionException, LogicException, OpsException

INVALID_REQUEST_CODE = error_codes.BAT_REPLAY_INVALID
NOT_FOUND_CODE = error_codes.BAT_REPLAY_NOT_FOUND
REPLAY_ACTION = "REPLAY"  # the audit record's action of a request
STOP_ACTION = "STOP_REPLAY"  # the audit record's action of a stop request
MAX_LIST_LIMIT = 1000
# Compare-and-set attempts of one status move before giving up: each lost race means another
# writer moved the replay, so a few suffice unless something keeps rewriting it.
CAS_ATTEMPTS = 10


def error(code: str, message: str, details: dict[str, Any] | None = None) -> OpsException:
    """A ``BatchExecutionException`` for a BAT code, else a ``LogicException``."""
    kind = BatchExecutionException if code.startswith("BAT") else LogicException
    return kind(code, message, details)


def not_found(replay_id: int) -> OpsException:
    """``NOT_FOUND_CODE``: no replay with this id."""
    return error(NOT_FOUND_CODE, f"no replay with id {replay_id!r}", {"replay_id": replay_id})


def busy(replay_id: int) -> OpsException:
    """LOG-001 (``LOG_INVARIANT_BROKEN``): the replay kept changing under concurrent writers."""
    return error(error_codes.LOG_INVARIANT_BROKEN,
                 f"replay {replay_id} kept changing under concurrent writers; gave up")
