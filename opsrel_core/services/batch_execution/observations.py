"""What the orchestrator observed about a run, in opsrel's vocabulary: the projection's input.

The Dagster adapter (``opsrel_dagster.projection``) translates a Dagster run into a
``RunObservation``; ``ExecutionProjector.apply`` (``batch_execution.projection``) applies it.
"""

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping

from opsrel_core.domain.attribution import Attribution
from opsrel_core.domain.result_versions import CheckEvidence
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.services.batch_execution.views import ExecutionSpec


class ObservedStatus(str, enum.Enum):
    """A run's status as the orchestrator reports it, already mapped to opsrel's vocabulary.

    CANCELING is kept apart from RUNNING: it records that a stop was requested.
    """

    READY = "READY"
    RUNNING = "RUNNING"
    CANCELING = "CANCELING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    STOPPED = "STOPPED"


@dataclasses.dataclass(frozen=True)
class ObservedFailure:
    """Why a run failed: a catalog code, the operator message, where it failed."""

    error_code: str
    error_message: str
    asset_key: str | None = None
    partition_key: str | None = None


@dataclasses.dataclass(frozen=True)
class RunObservation:
    """Everything the projection needs about one run, at one moment.

    Attributes:
        spec: identity and launch context of the execution.
        status: the observed status.
        created_at, started_at, ended_at: UTC times from the orchestrator (None when unknown).
        steps_total: steps planned; steps_done: steps finished successfully.
        rows_written: rows materialized so far, summed over assets.
        failure: set when ``status`` is FAILED.
        stop_requested_at: when a stop was requested (Dagster CANCELING), even if the run then
            ended otherwise.
        attribution: who and why the run is (``opsrel_core.domain.attribution``); its audit
            record, when one is due, is written with the execution row.
        evidence: the checks the activation gate weighs when the execution ended SUCCESS.
        will_retry: the orchestrator will retry a failed run: its failure raises no alert (the
            retry's own outcome decides).
        snapshots: ``{partition_key: snapshot_id}`` of the input snapshots the run's
            materializations name (the inputs of its OpenLineage end event).
    """

    spec: ExecutionSpec
    status: ObservedStatus
    created_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    steps_total: int = 0
    steps_done: int = 0
    rows_written: int = 0
    failure: ObservedFailure | None = None
    stop_requested_at: dt.datetime | None = None
    attribution: Attribution | None = None
    evidence: CheckEvidence | None = None
    will_retry: bool = False
    snapshots: Mapping[str, str] = dataclasses.field(default_factory=dict)


def terminal_of(status: ObservedStatus) -> ExecutionStatus | None:
    """The execution status an observed end is (SUCCESS, FAILED, STOPPED), None for the others."""
    if status in (ObservedStatus.SUCCESS, ObservedStatus.FAILED, ObservedStatus.STOPPED):
        return ExecutionStatus(status.value)
    return None
