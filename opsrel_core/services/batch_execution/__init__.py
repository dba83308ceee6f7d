"""Executions: ``BatchExecutionService`` records each run and moves it through its lifecycle.

READY -> RUNNING -> SUCCESS | FAILED | STOPPED (see ``opsrel_core.domain.status``). Every status
change is a compare-and-set on the current status inside one transaction, and is recorded once in
the append-only ``execution_event`` history. Applying the same event twice changes nothing and is
not an error; a move the transition table forbids (for example FAILED after SUCCESS) raises
``BatchExecutionException`` with code BAT-001 and leaves the row as it was.

A stop is final (``opsrel_core.domain.stop``): once a stop is recorded, a SUCCESS or a failure
reported afterwards ends the execution STOPPED, and the overruled end is kept in the history as
``ignored:<status>``. Events whose key does not start with ``status:`` annotate the history
(ignored ends, the stop's delivery); they never move the status.

The modules: ``views`` (what is recorded and read back), ``registering`` (a new
execution's transaction), ``moving`` (a status change's transaction), ``service`` (the use cases
and the reads). What each event moves to is the pure
``opsrel_core.domain.execution_moves``; the SQL is
``opsrel_core.persistence.repositories.executions``.

The projection records the orchestrator's runs as executions: ``observations`` (what was
observed of a run), ``projection`` (``ExecutionProjector``: an observation applied, a successful
run's versions through the activation gate), ``ingestion`` (``ProjectionCursorStore``: how far
it has read, and its lag). They are imported from their modules, not from this package: the
projection uses ``opsrel_core.services.results``, which uses this package's views.
"""

from opsrel_core.domain.status import ExecutionStatus, TriggerType
from opsrel_core.services.batch_execution.service import BatchExecutionService
from opsrel_core.services.batch_execution.views import ExecutionSpec, ExecutionView

__all__ = [
    "BatchExecutionService", "ExecutionSpec", "ExecutionStatus", "ExecutionView", "TriggerType",
]
