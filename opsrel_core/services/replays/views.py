"""What the replay use cases answer: a replay as read back, its history, the preview.

Built from rows of the ``replay``, ``batch_execution`` and ``result_version`` tables (ORM objects
or ``sa.Row``: both are read by column name). Times are aware UTC datetimes.
"""

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from opsrel_core.domain import request_identity
from opsrel_core.domain.replay_plan import ReplayPlan, stored_keys
from opsrel_core.domain.replay_status import ReplayStatus, ReplayType
from opsrel_core.services.batch_execution import ExecutionView
from opsrel_core.services.results import ResultVersionView


@dataclasses.dataclass(frozen=True)
class ReplayView:
    """A replay row as read back. Times are UTC; partitions are inclusive keys; ``request_key``
    is the key as its operator sent it (stored scoped to the operator, ``request_identity``)."""

    replay_id: int
    request_key: str
    replay_type: ReplayType
    job_id: str
    partition_start: str | None
    partition_end: str | None
    backfill_id: str | None
    status: ReplayStatus
    reason: str
    operator_id: str
    requested_at: dt.datetime
    ended_at: dt.datetime | None
    # The keys the replay runs (its plan); None on rows recorded before plans were stored, which
    # cover partition_start..partition_end.
    partition_keys: tuple[str, ...] | None = None

    @classmethod
    def of(cls, row: Any) -> "ReplayView":
        """Build the view from a ``replay`` row (ORM object or ``sa.Row``)."""
        values = {f.name: getattr(row, f.name) for f in dataclasses.fields(cls)}
        values.update(
            replay_type=ReplayType(row.replay_type), status=ReplayStatus(row.status),
            requested_at=aware(row.requested_at), ended_at=aware(row.ended_at),
            partition_keys=None if row.partition_keys is None else tuple(row.partition_keys),
            request_key=request_identity.client_key(row.operator_id, row.request_key),
        )
        return cls(**values)

    def keys(self, job_keys: Sequence[str]) -> list[str]:
        """The keys this replay runs: its plan, else (older rows) ``job_keys`` in start..end."""
        return stored_keys(self.partition_keys, self.partition_start, self.partition_end, job_keys)


ReplayPreview = ReplayPlan  # what POST /admin/batch/replay/preview answers: the plan itself


@dataclasses.dataclass(frozen=True)
class ReplayExecution:
    """One execution of a replay and the result versions it made (by asset, partition)."""

    execution: ExecutionView
    versions: tuple[ResultVersionView, ...]


@dataclasses.dataclass(frozen=True)
class ReplayHistory:
    """A replay and its executions, oldest first."""

    replay: ReplayView
    executions: tuple[ReplayExecution, ...]


def execution_view(row: Any) -> ExecutionView:
    """The view of a ``batch_execution`` row, its times aware UTC."""
    view = ExecutionView.of(row)
    return dataclasses.replace(view, **{
        name: aware(getattr(view, name))
        for name in ("created_at", "started_at", "ended_at", "stop_requested_at")
    })


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` as an aware UTC datetime (None stays None)."""
    # SQLite returns naive datetimes; everything stored is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value
