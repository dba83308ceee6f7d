"""The SQL of the lineage graph, over the session of the caller's unit of work.

``LineageRepository`` inserts ``lineage_node`` and ``lineage_edge`` rows and walks the graph by
one recursive query per answer, through ``lineage_edge``'s ``to_node_id`` index (upstream) or its
``(from_node_id, to_node_id, execution_id)`` unique index (downstream). A walk's rows are
``(node_id, via_id, execution_id, depth, node_type, asset_key, partition_key, version_ref)`` as
``opsrel_core.domain.lineage_graph`` reads them. It never commits: the caller's unit of work
does. A concurrent writer of the same node or edge surfaces as ``IntegrityError`` at the flush,
and the caller decides to look again.
"""

import dataclasses
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import lineage_graph
from opsrel_core.domain.lineage_graph import DOWNSTREAM, UPSTREAM
from opsrel_core.domain.lineage_nodes import VERSIONED_NODE_TYPES, NodeRef
from opsrel_core.persistence.tables import BatchExecution, LineageEdge, LineageNode, utcnow

_LOOKUP_CHUNK = 200  # node keys per lookup statement, well below any bind-parameter limit


class LineageRepository:
    """Writes and walks the lineage graph in ``session`` (of an open unit of work)."""

    def __init__(self, session: Session):
        self._session = session

    # -- writes ------------------------------------------------------------------------------

    def execution_exists(self, execution_id: str) -> bool:
        """Whether the execution is recorded (``batch_execution``)."""
        return self._session.get(BatchExecution, execution_id) is not None

    def node_ids(self, refs: Sequence[NodeRef]) -> dict[NodeRef, int]:
        """The ids of the recorded nodes among ``refs`` (absent ones are not keys)."""
        ids: dict[NodeRef, int] = {}
        for start in range(0, len(refs), _LOOKUP_CHUNK):
            chunk = refs[start : start + _LOOKUP_CHUNK]
            rows = self._session.execute(
                sa.select(
                    LineageNode.node_id,
                    LineageNode.node_type,
                    LineageNode.asset_key,
                    LineageNode.partition_key,
                    LineageNode.version_ref,
                ).where(sa.or_(*(_is_node(ref) for ref in chunk)))
            )
            ids.update({NodeRef(*row[1:]): row[0] for row in rows})
        return ids

    def add_nodes(self, refs: Sequence[NodeRef]) -> dict[NodeRef, int]:
        """Insert nodes (flushed) and return their new ids.

        Raises:
            sqlalchemy.exc.IntegrityError: a concurrent writer inserted one of them first.
        """
        if not refs:
            return {}
        rows = [LineageNode(**dataclasses.asdict(ref), created_at=utcnow()) for ref in refs]
        self._session.add_all(rows)
        self._session.flush()
        return {
            NodeRef(r.node_type, r.asset_key, r.partition_key, r.version_ref): r.node_id
            for r in rows
        }

    def edges_of(self, execution_id: str) -> set[tuple[int, int]]:
        """The ``(from_node_id, to_node_id)`` pairs the execution recorded."""
        return set(
            self._session.execute(
                sa.select(LineageEdge.from_node_id, LineageEdge.to_node_id).where(
                    LineageEdge.execution_id == execution_id
                )
            ).tuples()
        )

    def add_edges(self, execution_id: str, pairs: Sequence[tuple[int, int]]) -> None:
        """Insert the execution's edges ``(from_node_id, to_node_id)``.

        Raises:
            sqlalchemy.exc.IntegrityError: a concurrent writer inserted one of them first.
        """
        if pairs:
            self._session.execute(sa.insert(LineageEdge), [
                {"from_node_id": f, "to_node_id": t, "execution_id": execution_id}
                for f, t in pairs
            ])

    # -- walks -------------------------------------------------------------------------------

    def walk_from_node(self, ref: NodeRef, direction: str) -> list[Any]:
        """The rows of a walk from one node (none when it was never recorded)."""
        return self._session.execute(_walk_statement(_is_node(ref), direction)).all()

    def walk_from_snapshot(self, snapshot_id: str) -> list[Any]:
        """The rows of a downstream walk from every SNAPSHOT node with this id."""
        start = sa.and_(LineageNode.node_type == "SNAPSHOT", LineageNode.version_ref == snapshot_id)
        return self._session.execute(_walk_statement(start, DOWNSTREAM)).all()

    def walk_from_asset_partition(self, asset_key: str, partition_key: str) -> list[Any]:
        """The rows of a downstream walk from every versioned node of one asset partition."""
        start = sa.and_(LineageNode.asset_key == asset_key,
                        LineageNode.partition_key == partition_key,
                        LineageNode.node_type.in_(VERSIONED_NODE_TYPES))
        return self._session.execute(_walk_statement(start, DOWNSTREAM)).all()


def _is_node(ref: NodeRef) -> sa.ColumnElement[bool]:
    """The condition selecting one node by its unique key (answered by that unique index)."""
    return sa.and_(
        LineageNode.node_type == ref.node_type,
        LineageNode.asset_key == ref.asset_key,
        LineageNode.partition_key == ref.partition_key,
        LineageNode.version_ref == ref.version_ref,
    )


def _walk_statement(start: sa.ColumnElement[bool], direction: str) -> sa.Select:
    """One recursive query: rows ``(node, via, execution, depth, node key...)``.

    The anchor is the start node(s) at depth 0 (``via`` = itself); each step follows the edges
    into (upstream) or out of (downstream) the nodes of the previous step and reads the next
    node by primary key, so the cost follows the size of the answer, not of the history. UNION,
    not UNION ALL, folds paths that reach the same edge at the same depth, and
    ``depth < MAX_DEPTH`` ends any cycle.
    """
    node, edge = LineageNode, LineageEdge
    key = (node.node_type, node.asset_key, node.partition_key, node.version_ref)
    anchor = sa.select(
        node.node_id.label("node_id"),
        node.node_id.label("via_id"),
        sa.cast(sa.null(), edge.execution_id.type).label("execution_id"),
        # Inline literals: a bound 0 could be typed smallint by the driver, and PostgreSQL
        # requires the anchor and the recursive step to agree on column types.
        sa.literal_column("0", sa.Integer).label("depth"),
        *key,
    ).where(start)
    walk = anchor.cte("lineage_walk", recursive=True)
    if direction == UPSTREAM:
        next_id, via_id = edge.from_node_id, edge.to_node_id
    else:
        next_id, via_id = edge.to_node_id, edge.from_node_id
    step = (
        sa.select(
            node.node_id, via_id, edge.execution_id, walk.c.depth + sa.literal_column("1"), *key
        )
        .select_from(walk)
        .join(edge, via_id == walk.c.node_id)
        .join(node, node.node_id == next_id)
        # Read at call time, so a bound lowered for a test holds for the walk as well.
        .where(walk.c.depth < lineage_graph.MAX_DEPTH)
    )
    return sa.select(walk.union(step))
