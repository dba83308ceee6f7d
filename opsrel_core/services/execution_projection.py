"""The old home of the executions' projection: its names, re-exported from
``opsrel_core.services.batch_execution`` (``observations``, ``projection``, ``ingestion``) so
importers outside ``opsrel_core`` keep working."""

from opsrel_core.services.batch_execution.ingestion import IngestionStatus, ProjectionCursorStore
from opsrel_core.services.batch_execution.observations import (
    ObservedFailure, ObservedStatus, RunObservation,
)
from opsrel_core.services.batch_execution.projection import ExecutionProjector

__all__ = [
    "ExecutionProjector", "IngestionStatus", "ObservedFailure", "ObservedStatus",
    "ProjectionCursorStore", "RunObservation",
]
