"""LineageService: which inputs made a result, and which results an input feeds.

A lineage node is one asset partition at one version (``opsrel_core.domain.lineage_nodes``).
Edges run from an input node to the node made from it and are recorded per execution, so a
snapshot re-used by a replay gets a second edge to the same source, not a second node. The
framework-free service takes what a run produced (the Dagster adapter supplies the pairs) and
answers backtraces and dependents with one recursive query each
(``opsrel_core.persistence.repositories.lineage``), assembled by
``opsrel_core.domain.lineage_graph``.
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import error_codes
from opsrel_core.domain.lineage_graph import DOWNSTREAM, UPSTREAM, Lineage, assemble
from opsrel_core.domain.lineage_graph import versions_derived
from opsrel_core.domain.lineage_nodes import NodeRef, distinct_edges, node_order, nodes_of
from opsrel_core.errors import BatchExecutionException, LogicException, NotFoundException
from opsrel_core.persistence.repositories.lineage import LineageRepository
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.uow import UnitOfWork

Repository = Callable[[Session], Any]
_RETRIES = 10


@retry_transient_methods
class LineageService:
    """Records lineage per execution and answers backtraces and dependents.

    Args:
        engine: engine of the ops database.
        repository: the lineage SQL over a session (``LineageRepository``); injectable so the
            unit tier keeps the graph in an in-memory fake.
    """

    def __init__(self, engine: sa.Engine, *, repository: Repository = LineageRepository):
        self._engine = engine
        self._repository = repository

    # -- writes ------------------------------------------------------------------------------

    def record_execution_lineage(
        self, execution_id: str, edges: Sequence[tuple[NodeRef, NodeRef]]
    ) -> int:
        """Record what an execution derived from what, in one transaction; idempotent.

        Nodes are inserted once per identity (a concurrent writer's node is found and used) and
        each ``(from, to)`` pair once per execution, so recording the same run again adds nothing.

        Args:
            execution_id: the recorded execution (``batch_execution``) that made the outputs.
            edges: ``(input, output)`` pairs, e.g. ``(snapshot, clean_flights v2)``.

        Returns:
            The number of edges added by this call.

        Raises:
            BatchExecutionException: BAT-002 when the execution is not recorded.
            LogicException: LOG-001 for an edge from a node to itself, or when concurrent
                writers kept conflicting for every attempt.
        """
        pairs = distinct_edges(edges)
        refs = nodes_of(pairs)
        for _attempt in range(_RETRIES):
            with UnitOfWork(self._engine) as uow:
                repo = self._repository(uow.session)
                if not repo.execution_exists(execution_id):
                    raise BatchExecutionException(
                        error_codes.BAT_EXECUTION_NOT_FOUND, f"no execution {execution_id!r}"
                    )
                try:
                    ids = repo.node_ids(refs)
                    ids.update(repo.add_nodes([ref for ref in refs if ref not in ids]))
                    recorded = repo.edges_of(execution_id)
                    new = [(ids[f], ids[t]) for f, t in pairs if (ids[f], ids[t]) not in recorded]
                    repo.add_edges(execution_id, new)
                    uow.commit()
                except sa.exc.IntegrityError:
                    continue  # a concurrent writer inserted the same node or edge: look again
                return len(new)
        raise LogicException(
            error_codes.LOG_INVARIANT_BROKEN,
            f"could not record the lineage of {execution_id} after {_RETRIES} attempts",
        )

    # -- reads -------------------------------------------------------------------------------

    def backtrace(self, node: NodeRef) -> Lineage:
        """Every ancestor of a node (its inputs, their inputs, ... up to the sources).

        Answered by one recursive query. A node never recorded gives an empty ``Lineage``.
        """
        with UnitOfWork(self._engine) as uow:
            rows = self._repository(uow.session).walk_from_node(node, UPSTREAM)
        return assemble(rows, UPSTREAM)

    def backtrace_version(
        self, asset_key: str, partition_key: str, version_number: int, node_type: str = "RESULT"
    ) -> Lineage:
        """The backtrace of one result version, e.g. ``("delay_simulation", "2013-02-08", 3)``."""
        node = NodeRef.versioned(node_type, asset_key, partition_key, version_number)
        return self.backtrace(node)

    def backtrace_recorded_version(
        self, asset_key: str, partition_key: str, version_number: int,
        node_types: Sequence[str] = ("RESULT", "AGGREGATION", "TRANSFORM"),
    ) -> Lineage:
        """The backtrace of a result version that must have been recorded (CLI and admin API).

        Args:
            asset_key, partition_key, version_number: the result version, e.g.
                ``("delay_simulation", "2013-02-08", 2)``.
            node_types: the layers to look in, in order; the first one holding the version wins
                (its type is ``roots[0].node_type``).

        Returns:
            The lineage, with the version's node as its one root.

        Raises:
            NotFoundException: BAT-010 when no node of these types records this version (an
                unknown asset, partition or version number), instead of an empty backtrace.
        """
        for node_type in node_types:
            found = self.backtrace_version(asset_key, partition_key, version_number, node_type)
            if found.roots:
                return found
        raise NotFoundException(
            error_codes.BAT_REPLAY_NOT_FOUND,
            f"no result version {asset_key} {partition_key} v{version_number} is recorded "
            f"(looked in {', '.join(node_types)}); `opsrel versions list` shows the versions",
            {"asset_key": asset_key, "partition_key": partition_key, "version": version_number},
        )

    def snapshots_of(self, node: NodeRef) -> tuple[NodeRef, ...]:
        """The snapshots a node was made from (directly or through intermediate assets)."""
        return self.backtrace(node).of_type("SNAPSHOT")

    def sources_of(self, node: NodeRef) -> tuple[NodeRef, ...]:
        """The sources a node was made from."""
        return self.backtrace(node).of_type("SOURCE")

    def dependents(self, node: NodeRef) -> Lineage:
        """Every descendant of a node (what was made from it, and so on), by one recursive query."""
        with UnitOfWork(self._engine) as uow:
            rows = self._repository(uow.session).walk_from_node(node, DOWNSTREAM)
        return assemble(rows, DOWNSTREAM)

    def results_depending_on_snapshot(self, snapshot_id: str) -> tuple[NodeRef, ...]:
        """The RESULT versions made from a snapshot, whichever asset partition recorded it.

        Args:
            snapshot_id: ``sha256:<hex>``; every SNAPSHOT node with this id is a start node (the
                same content can be the snapshot of more than one partition).

        Returns:
            The RESULT nodes, sorted by asset, partition and version.
        """
        with UnitOfWork(self._engine) as uow:
            rows = self._repository(uow.session).walk_from_snapshot(snapshot_id)
        return tuple(sorted(assemble(rows, DOWNSTREAM).of_type("RESULT"), key=node_order))


def versions_made_from(
    session: Session, asset_key: str, partition_key: str,
    repository: Repository = LineageRepository,
) -> dict[tuple[str, str, int], frozenset[int]]:
    """Per downstream result version, the versions of one asset partition it was made from.

    One downstream walk from every versioned node of the asset partition, in the caller's
    transaction (a restore reads it beside the change it reports on).

    Args:
        session: the caller's open session.
        asset_key, partition_key: the upstream asset partition, e.g. ``("clean_flights",
            "2013-01-01")``.
        repository: the lineage SQL over ``session`` (a fake in the unit tier).

    Returns:
        ``{(asset, partition, version number): versions of the upstream it derives from}``, for
        every versioned descendant (at any depth); the upstream's own nodes are not keys.
    """
    rows = repository(session).walk_from_asset_partition(asset_key, partition_key)
    return versions_derived(rows, asset_key, partition_key)
