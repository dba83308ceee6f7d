"""Provenance: what made a result (lineage), what ran (execution context), and who hears of it
(OpenLineage run events).

* Lineage: ``LineageService`` records per execution which asset partition versions were made from
  which (``NodeRef`` pairs), and answers backtraces and dependents by one recursive query each;
  ``versions_made_from`` is the restore's read in the caller's transaction.
* Execution context: ``ExecutionContextService`` records an execution's snapshot ids, rule
  versions, parameters, code and library versions, additively and idempotently;
  ``library_versions`` and ``git_commit`` fill it; ``lock_subject`` serializes writers of one
  subject.
* OpenLineage: ``LineageOutbox`` records a run event in the transaction of what it reports,
  ``LineageDispatcher`` sends due events at least once and in order per run, and
  ``LineageEventService`` reads them back with their attempts.

The modules: ``lineage``, ``context``, ``code_version``, ``outbox`` (with ``build_run_event``),
``dispatcher``, ``events``. The pure rules are ``opsrel_core.domain.lineage_nodes``,
``lineage_graph``, ``run_context``, ``openlineage_events`` and ``openlineage_facets`` (that one
imports the OpenLineage client, so it is not re-exported here); the SQL is
``opsrel_core.persistence.repositories.lineage``, ``execution_context`` and
``openlineage_outbox``.
"""

from opsrel_core.domain.lineage_graph import (
    DOWNSTREAM, MAX_DEPTH, UPSTREAM, Lineage, LineageEdgeView, LineageNodeView,
)
from opsrel_core.domain.lineage_nodes import LINEAGE_NODE_TYPES, VERSIONED_NODE_TYPES, NodeRef
from opsrel_core.domain.openlineage_events import (
    EVENT_TYPES, RUN_ID_NAMESPACE, RunInputs, dataset_name, run_uuid,
)
from opsrel_core.persistence.repositories.execution_context import lock_subject
from opsrel_core.services.provenance.code_version import (
    DEFAULT_PACKAGES, git_commit, library_versions,
)
from opsrel_core.services.provenance.context import ExecutionContextService, ExecutionContextView
from opsrel_core.services.provenance.dispatcher import (
    LineageDispatcher, LineageDispatchReport, LineageSender,
)
from opsrel_core.services.provenance.events import (
    LineageAttemptView, LineageEventService, LineageEventView,
)
from opsrel_core.services.provenance.lineage import LineageService, versions_made_from
from opsrel_core.services.provenance.outbox import LineageOutbox, build_run_event

__all__ = [
    "DEFAULT_PACKAGES", "DOWNSTREAM", "EVENT_TYPES", "LINEAGE_NODE_TYPES", "MAX_DEPTH",
    "RUN_ID_NAMESPACE", "UPSTREAM", "VERSIONED_NODE_TYPES", "ExecutionContextService",
    "ExecutionContextView", "Lineage", "LineageAttemptView", "LineageDispatchReport",
    "LineageDispatcher", "LineageEdgeView", "LineageEventService", "LineageEventView",
    "LineageNodeView", "LineageOutbox", "LineageSender", "LineageService", "NodeRef",
    "RunInputs", "build_run_event", "dataset_name", "git_commit", "library_versions",
    "lock_subject", "run_uuid", "versions_made_from",
]
