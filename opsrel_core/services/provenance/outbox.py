"""The outbox of OpenLineage run events: recorded with what they report.

``LineageOutbox`` is called inside the transaction that records a fact, so the event and the fact
land together or not at all:

* START with the move to RUNNING (``BatchExecutionService``);
* FAIL or ABORT with the move to FAILED or STOPPED (an execution that never started gets its
  START in the same transaction first);
* COMPLETE with the activation of a successful execution's result versions
  (``ResultVersionService.activate_execution_versions``): whether each version became active is
  known only then.

Each execution has at most one event of each type (a unique key): recording again is a no-op.
The events are sent by ``LineageDispatcher`` (``opsrel_core.services.provenance.dispatcher``).
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from opsrel_core.domain.openlineage_events import (
    RunInputs, require_event_type, run_event, run_uuid,
)
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.config import OpenLineageSettings
from opsrel_core.persistence.repositories.openlineage_outbox import (
    LineageEventRepository,
    RunRecordReader,
)
from opsrel_core.persistence.tables import utcnow

_TERMINAL_EVENTS = {ExecutionStatus.FAILED: "FAIL", ExecutionStatus.STOPPED: "ABORT"}


def build_run_event(
    session: Session, execution_id: str, event_type: str, settings: OpenLineageSettings,
    inputs: RunInputs | None = None, reader: Callable[[Session], Any] = RunRecordReader,
) -> dict[str, Any]:
    """Build one run event of an execution as it stands in ``session``.

    Args:
        session: a session inside the transaction that records the event (its writes flushed).
        execution_id: a recorded execution.
        event_type: ``START``, ``COMPLETE``, ``FAIL`` or ``ABORT``.
        settings: namespace and producer.
        inputs: the snapshots the run read (terminal events); START carries none.
        reader: reads the run's records over ``session`` (``RunRecordReader``).

    Returns:
        The RunEvent as JSON-ready dict (``Serde.to_dict``), nulls left out.

    Raises:
        ValueError: an unknown event type.
        LookupError: the execution is not recorded.
    """
    require_event_type(event_type)
    inputs = inputs or RunInputs()
    records = reader(session).records(
        execution_id, outcome=event_type != "START", snapshot_ids=list(inputs.snapshots.values()))
    if records is None:
        raise LookupError(f"no execution with id {execution_id!r}")
    return run_event(records, event_type, settings.namespace, settings.producer, inputs)


class LineageOutbox:
    """Records run events in the caller's transaction.

    Args:
        settings: OpenLineage settings; must be enabled (an endpoint configured).
        repository: the outbox SQL over a session (``LineageEventRepository``).
        reader: reads a run's records over a session (``RunRecordReader``).

    Raises:
        ValueError: OpenLineage is off (callers pass no outbox then).
    """

    def __init__(self, settings: OpenLineageSettings, *,
                 repository: Callable[[Session], Any] = LineageEventRepository,
                 reader: Callable[[Session], Any] = RunRecordReader):
        if not settings.enabled:
            raise ValueError("OpenLineage is off (OPSREL_OPENLINEAGE_URL is unset)")
        self.settings = settings
        self._repository = repository
        self._reader = reader

    def on_transition(self, session: Session, execution_id: str, to_status: ExecutionStatus,
                      inputs: RunInputs | None = None) -> None:
        """Record what a status move means in OpenLineage: START for RUNNING, START (when
        missing) and FAIL or ABORT for FAILED or STOPPED. SUCCESS records nothing here: its
        COMPLETE is recorded with the activation (``on_activation``)."""
        if to_status == ExecutionStatus.RUNNING:
            self.record(session, execution_id, "START")
        elif to_status in _TERMINAL_EVENTS:
            self.record(session, execution_id, "START")
            self.record(session, execution_id, _TERMINAL_EVENTS[to_status], inputs)

    def on_activation(self, session: Session, execution_id: str,
                      inputs: RunInputs | None = None) -> None:
        """Record the COMPLETE event of a successful execution (and its START when missing),
        with each result version's activation as decided in this transaction."""
        self.record(session, execution_id, "START")
        self.record(session, execution_id, "COMPLETE", inputs)

    def record(self, session: Session, execution_id: str, event_type: str,
               inputs: RunInputs | None = None) -> bool:
        """Add one event unless the execution already has one of this type.

        Returns:
            True when it was added now.

        Raises:
            ValueError: an unknown event type.
            LookupError: the execution is not recorded.
        """
        session.flush()  # the event describes the rows as this transaction leaves them
        repo = self._repository(session)
        if repo.has_event(execution_id, event_type):
            return False
        payload = build_run_event(session, execution_id, event_type, self.settings, inputs,
                                  self._reader)
        now = utcnow()
        repo.add_event({
            "execution_id": execution_id, "event_type": event_type,
            "run_id": run_uuid(execution_id), "payload": payload, "status": "PENDING",
            "attempts": 0, "next_attempt_at": now, "created_at": now,
        })
        return True
