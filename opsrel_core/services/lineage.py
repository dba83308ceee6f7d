"""LineageService: which inputs made a result, and which results an input feeds.

A lineage node is one asset partition at one version; ``version_ref`` follows one convention:

* ``SOURCE``: the source's URI (``file:///landing/flights_2013-01-01.csv``) or its content hash;
  an unpartitioned source (a reference table) uses partition ``""``.
* ``SNAPSHOT``: the snapshot id, ``sha256:<hex>`` (``snapshot.snapshot_id``).
* ``TRANSFORM``, ``AGGREGATION``, ``RESULT``: ``v<version_number>`` of the asset partition's
  result version (``result_version.version_number``).

Edges run from an input node to the node made from it and are recorded per execution, so a
snapshot re-used by a replay gets a second edge to the same source, not a second node. The
framework-free service takes what a run produced (the Dagster adapter supplies the pairs) and
answers backtraces and dependents with one recursive query each, walking ``lineage_edge`` through
its ``to_node_id`` index (upstream) or its ``(from_node_id, to_node_id, execution_id)`` unique
index (downstream). Walks stop at ``MAX_DEPTH`` edges, so a cycle cannot make a query run away.
"""

import dataclasses
import re
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import error_codes
from opsrel_core.errors import BatchExecutionException, LogicException, NotFoundException
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import (
    LINEAGE_NODE_TYPES,
    BatchExecution,
    LineageEdge,
    LineageNode,
    utcnow,
)
from opsrel_core.persistence.uow import UnitOfWork

MAX_DEPTH = 50
UPSTREAM, DOWNSTREAM = "UPSTREAM", "DOWNSTREAM"
VERSIONED_NODE_TYPES = ("TRANSFORM", "AGGREGATION", "RESULT")
_VERSION_REF = re.compile(r"v[1-9][0-9]*")
_RETRIES = 10
_LOOKUP_CHUNK = 200  # node keys per lookup statement, well below any bind-parameter limit


@dataclasses.dataclass(frozen=True, order=True)
class NodeRef:
    """The identity of a lineage node (see the module docstring for ``version_ref``).

    Raises:
        ValueError: unknown ``node_type``, a blank asset or version, a value longer than its
            column, or a versioned node whose ``version_ref`` is not ``v<N>``.
    """

    node_type: str
    asset_key: str
    partition_key: str
    version_ref: str

    def __post_init__(self) -> None:
        if self.node_type not in LINEAGE_NODE_TYPES:
            raise ValueError(f"node_type must be one of {LINEAGE_NODE_TYPES}: {self.node_type!r}")
        if not self.asset_key.strip() or not self.version_ref.strip():
            raise ValueError(f"asset_key and version_ref must not be blank: {self!r}")
        limits = ((self.asset_key, 200), (self.partition_key, 100), (self.version_ref, 100))
        if any(len(value) > limit for value, limit in limits):
            raise ValueError(f"a key is longer than its column (200/100/100): {self!r}")
        if self.node_type in VERSIONED_NODE_TYPES and not _VERSION_REF.fullmatch(self.version_ref):
            raise ValueError(f"{self.node_type} version_ref must be 'v<N>': {self.version_ref!r}")

    @classmethod
    def source(cls, asset_key: str, partition_key: str, uri_or_hash: str) -> "NodeRef":
        """A SOURCE node: its URI or content hash is the version."""
        return cls("SOURCE", asset_key, partition_key, uri_or_hash)

    @classmethod
    def snapshot(cls, asset_key: str, partition_key: str, snapshot_id: str) -> "NodeRef":
        """A SNAPSHOT node: its ``sha256:<hex>`` id is the version."""
        return cls("SNAPSHOT", asset_key, partition_key, snapshot_id)

    @classmethod
    def versioned(
        cls, node_type: str, asset_key: str, partition_key: str, version_number: int
    ) -> "NodeRef":
        """A TRANSFORM, AGGREGATION or RESULT node at result version ``version_number``."""
        return cls(node_type, asset_key, partition_key, f"v{version_number}")

    @property
    def version_number(self) -> int | None:
        """The result version number of a versioned node, else None."""
        if self.node_type not in VERSIONED_NODE_TYPES:
            return None
        return int(self.version_ref[1:])


@dataclasses.dataclass(frozen=True)
class LineageNodeView:
    """A node reached by a walk, ``depth`` edges (shortest path) away from the start."""

    node: NodeRef
    depth: int


@dataclasses.dataclass(frozen=True)
class LineageEdgeView:
    """An edge between two nodes of a walk, with every execution that recorded it."""

    from_node: NodeRef
    to_node: NodeRef
    execution_ids: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Lineage:
    """The answer of a walk: the start node(s), the nodes reached and the edges between them.

    Attributes:
        direction: ``UPSTREAM`` (ancestors) or ``DOWNSTREAM`` (descendants).
        roots: the start nodes as recorded; empty when no such node was ever recorded.
        nodes: the nodes reached (roots excluded), by depth, type, asset, partition, version.
        edges: every edge walked, sorted.
        truncated: some path reached ``MAX_DEPTH`` and may go on (a cycle or a very deep graph).
    """

    direction: str
    roots: tuple[NodeRef, ...]
    nodes: tuple[LineageNodeView, ...]
    edges: tuple[LineageEdgeView, ...]
    truncated: bool

    def of_type(self, node_type: str) -> tuple[NodeRef, ...]:
        """The nodes reached of one type, in ``nodes`` order."""
        return tuple(view.node for view in self.nodes if view.node.node_type == node_type)

    @property
    def snapshot_ids(self) -> tuple[str, ...]:
        """The distinct snapshot ids among the nodes reached, sorted."""
        return tuple(sorted({ref.version_ref for ref in self.of_type("SNAPSHOT")}))


@retry_transient_methods
class LineageService:
    """Records lineage per execution and answers backtraces and dependents.

    Args:
        engine: engine of the ops database.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine

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
        pairs = list(dict.fromkeys(edges))
        for from_ref, to_ref in pairs:
            if from_ref == to_ref:
                raise LogicException(
                    error_codes.LOG_INVARIANT_BROKEN,
                    f"a lineage node cannot feed itself: {from_ref}",
                )
        # A fixed insertion order keeps concurrent writers of overlapping nodes from deadlocking.
        refs = sorted({ref for pair in pairs for ref in pair})
        for _attempt in range(_RETRIES):
            with UnitOfWork(self._engine) as uow:
                if uow.session.get(BatchExecution, execution_id) is None:
                    raise BatchExecutionException(
                        error_codes.BAT_EXECUTION_NOT_FOUND, f"no execution {execution_id!r}"
                    )
                try:
                    ids = self._insert_or_get_nodes(uow.session, refs)
                    added = self._insert_edges(uow.session, execution_id, pairs, ids)
                    uow.commit()
                except sa.exc.IntegrityError:
                    continue  # a concurrent writer inserted the same node or edge: look again
                return added
        raise LogicException(
            error_codes.LOG_INVARIANT_BROKEN,
            f"could not record the lineage of {execution_id} after {_RETRIES} attempts",
        )

    # -- reads -------------------------------------------------------------------------------

    def backtrace(self, node: NodeRef) -> Lineage:
        """Every ancestor of a node (its inputs, their inputs, ... up to the sources).

        Answered by one recursive query. A node never recorded gives an empty ``Lineage``.
        """
        return self._walk(_is_node(node), UPSTREAM)

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
        return self._walk(_is_node(node), DOWNSTREAM)

    def results_depending_on_snapshot(self, snapshot_id: str) -> tuple[NodeRef, ...]:
        """The RESULT versions made from a snapshot, whichever asset partition recorded it.

        Args:
            snapshot_id: ``sha256:<hex>``; every SNAPSHOT node with this id is a start node (the
                same content can be the snapshot of more than one partition).

        Returns:
            The RESULT nodes, sorted by asset, partition and version.
        """
        lineage = self._walk(
            sa.and_(LineageNode.node_type == "SNAPSHOT", LineageNode.version_ref == snapshot_id),
            DOWNSTREAM,
        )
        return tuple(sorted(lineage.of_type("RESULT"), key=_node_order))

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _insert_or_get_nodes(session: Session, refs: list[NodeRef]) -> dict[NodeRef, int]:
        ids: dict[NodeRef, int] = {}
        for start in range(0, len(refs), _LOOKUP_CHUNK):
            chunk = refs[start : start + _LOOKUP_CHUNK]
            rows = session.execute(
                sa.select(
                    LineageNode.node_id,
                    LineageNode.node_type,
                    LineageNode.asset_key,
                    LineageNode.partition_key,
                    LineageNode.version_ref,
                ).where(sa.or_(*(_is_node(ref) for ref in chunk)))
            )
            ids.update({NodeRef(*row[1:]): row[0] for row in rows})
        missing = [
            LineageNode(**dataclasses.asdict(ref), created_at=utcnow())
            for ref in refs
            if ref not in ids
        ]
        if missing:
            session.add_all(missing)
            session.flush()
            ids.update({_ref_of(row): row.node_id for row in missing})
        return ids

    @staticmethod
    def _insert_edges(
        session: Session,
        execution_id: str,
        pairs: list[tuple[NodeRef, NodeRef]],
        ids: dict[NodeRef, int],
    ) -> int:
        recorded = set(
            session.execute(
                sa.select(LineageEdge.from_node_id, LineageEdge.to_node_id).where(
                    LineageEdge.execution_id == execution_id
                )
            ).tuples()
        )
        new = [
            {"from_node_id": ids[f], "to_node_id": ids[t], "execution_id": execution_id}
            for f, t in pairs
            if (ids[f], ids[t]) not in recorded
        ]
        if new:
            session.execute(sa.insert(LineageEdge), new)
        return len(new)

    def _walk(self, start: sa.ColumnElement[bool], direction: str) -> Lineage:
        with UnitOfWork(self._engine) as uow:
            rows = uow.session.execute(_walk_statement(start, direction)).all()
        return _assemble(rows, direction)


def _is_node(ref: NodeRef) -> sa.ColumnElement[bool]:
    """The condition selecting one node by its unique key (answered by that unique index)."""
    return sa.and_(
        LineageNode.node_type == ref.node_type,
        LineageNode.asset_key == ref.asset_key,
        LineageNode.partition_key == ref.partition_key,
        LineageNode.version_ref == ref.version_ref,
    )


def _ref_of(row: LineageNode) -> NodeRef:
    return NodeRef(row.node_type, row.asset_key, row.partition_key, row.version_ref)


def _node_order(ref: NodeRef) -> tuple[int, str, str, int, str]:
    """Pipeline order: type as listed, then asset, partition, version (v10 after v9)."""
    return (
        LINEAGE_NODE_TYPES.index(ref.node_type),
        ref.asset_key,
        ref.partition_key,
        ref.version_number or 0,
        ref.version_ref,
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
        .where(walk.c.depth < MAX_DEPTH)
    )
    return sa.select(walk.union(step))


def _assemble(rows: Iterable[sa.Row], direction: str) -> Lineage:
    refs: dict[int, NodeRef] = {}
    depths: dict[int, int] = {}
    executions: dict[tuple[int, int], set[str]] = {}
    deepest = 0
    for node_id, via_id, execution_id, depth, *key in rows:
        refs[node_id] = NodeRef(*key)
        depths[node_id] = min(depth, depths.get(node_id, depth))
        deepest = max(deepest, depth)
        if depth > 0:
            pair = (node_id, via_id) if direction == UPSTREAM else (via_id, node_id)
            executions.setdefault(pair, set()).add(execution_id)
    roots = sorted((refs[i] for i, d in depths.items() if d == 0), key=_node_order)
    nodes = sorted(
        (LineageNodeView(refs[i], d) for i, d in depths.items() if d > 0),
        key=lambda view: (view.depth, _node_order(view.node)),
    )
    edges = sorted(
        (
            LineageEdgeView(refs[f], refs[t], tuple(sorted(ids)))
            for (f, t), ids in executions.items()
        ),
        key=lambda e: (_node_order(e.from_node), _node_order(e.to_node)),
    )
    return Lineage(
        direction=direction,
        roots=tuple(roots),
        nodes=tuple(nodes),
        edges=tuple(edges),
        truncated=deepest >= MAX_DEPTH,
    )


def versions_made_from(
    session: Session, asset_key: str, partition_key: str
) -> dict[tuple[str, str, int], frozenset[int]]:
    """Per downstream result version, the versions of one asset partition it was made from.

    One downstream walk (``_walk_statement``) from every versioned node of the asset partition,
    in the caller's transaction (a restore reads it beside the change it reports on).

    Args:
        session: the caller's open session.
        asset_key, partition_key: the upstream asset partition, e.g. ``("clean_flights",
            "2013-01-01")``.

    Returns:
        ``{(asset, partition, version number): versions of the upstream it derives from}``, for
        every versioned descendant (at any depth); the upstream's own nodes are not keys.
    """
    start = sa.and_(LineageNode.asset_key == asset_key, LineageNode.partition_key == partition_key,
                    LineageNode.node_type.in_(VERSIONED_NODE_TYPES))
    refs: dict[int, NodeRef] = {}
    parents: dict[int, set[int]] = {}
    for node_id, via_id, _execution, depth, *key in session.execute(
            _walk_statement(start, DOWNSTREAM)):
        refs[node_id] = NodeRef(*key)
        if depth > 0:
            parents.setdefault(node_id, set()).add(via_id)
    roots = {i for i, ref in refs.items()
             if ref.asset_key == asset_key and ref.partition_key == partition_key}
    found: dict[int, frozenset[int]] = {i: frozenset({refs[i].version_number or 0}) for i in roots}
    # Fixed point over the walked edges: a cycle (bounded by MAX_DEPTH) cannot loop forever.
    for _round in range(MAX_DEPTH + 1):
        changed = False
        for node_id, via in parents.items():
            if node_id in roots:
                continue
            union = frozenset().union(*(found.get(v, frozenset()) for v in via))
            if union != found.get(node_id, frozenset()):
                found[node_id], changed = union, True
        if not changed:
            break
    return {(refs[i].asset_key, refs[i].partition_key, refs[i].version_number): versions
            for i, versions in found.items()
            if i not in roots and refs[i].version_number is not None and versions}
