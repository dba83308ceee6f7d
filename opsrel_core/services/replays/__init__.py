"""Replays: requests, their status and their history (``ReplayService``).

The wing's modules: ``requests`` (submit and preview), ``lifecycle`` (launched, stop, status
derived from the runs), ``reads`` (one replay, lists, history), ``partition_runs`` (a job's runs
as a replay sees them), ``views`` (what the use cases answer), ``errors`` (codes). The statuses
and their state machine are ``domain/replay_status.py``; the SQL is
``persistence/repositories/replays.py`` and ``replay_runs.py``. The names below are the ones
other modules import from here.
"""

from opsrel_core.domain.replay_status import (
    ALLOWED_TRANSITIONS, ChildRun, ReplayStatus, ReplayType, derive_status,
)
from opsrel_core.services.replays.errors import (
    INVALID_REQUEST_CODE, MAX_LIST_LIMIT, NOT_FOUND_CODE, REPLAY_ACTION, STOP_ACTION,
)
from opsrel_core.services.replays.service import ReplayService
from opsrel_core.services.replays.views import (
    ReplayExecution, ReplayHistory, ReplayPreview, ReplayView,
)

__all__ = [
    "ALLOWED_TRANSITIONS", "INVALID_REQUEST_CODE", "MAX_LIST_LIMIT", "NOT_FOUND_CODE",
    "REPLAY_ACTION", "STOP_ACTION", "ChildRun", "ReplayExecution", "ReplayHistory",
    "ReplayPreview", "ReplayService", "ReplayStatus", "ReplayType", "ReplayView",
    "derive_status",
]
