"""The answer of a lineage walk, assembled from the rows of one recursive walk.

A walk starts at one or more nodes and follows the edges into them (``UPSTREAM``: what they were
made from) or out of them (``DOWNSTREAM``: what was made from them). Each walked row is
``(node_id, via_id, execution_id, depth, node_type, asset_key, partition_key, version_ref)``:
the start nodes at depth 0 with ``via_id`` themselves and no execution, every other row one
edge from ``via_id`` to ``node_id`` recorded by ``execution_id``. Walks stop at ``MAX_DEPTH``
edges, so a cycle cannot make a query run away; an answer that reached the bound says so
(``truncated``).

Pure: the rows come from ``opsrel_core.persistence.repositories.lineage`` (or a fake).
"""

import dataclasses
from collections.abc import Iterable

from opsrel_core.domain.lineage_nodes import NodeRef, node_order

MAX_DEPTH = 50
UPSTREAM, DOWNSTREAM = "UPSTREAM", "DOWNSTREAM"


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


def assemble(rows: Iterable[tuple], direction: str) -> Lineage:
    """The ``Lineage`` of a walk's rows (see the module docstring for their shape).

    Args:
        rows: the walked rows, in any order, repeats allowed.
        direction: ``UPSTREAM`` or ``DOWNSTREAM``, as walked.

    Returns:
        Roots, nodes at their shortest depth, and each edge with the sorted ids of the
        executions that recorded it.
    """
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
    roots = sorted((refs[i] for i, d in depths.items() if d == 0), key=node_order)
    nodes = sorted(
        (LineageNodeView(refs[i], d) for i, d in depths.items() if d > 0),
        key=lambda view: (view.depth, node_order(view.node)),
    )
    edges = sorted(
        (
            LineageEdgeView(refs[f], refs[t], tuple(sorted(ids)))
            for (f, t), ids in executions.items()
        ),
        key=lambda e: (node_order(e.from_node), node_order(e.to_node)),
    )
    return Lineage(
        direction=direction,
        roots=tuple(roots),
        nodes=tuple(nodes),
        edges=tuple(edges),
        truncated=deepest >= MAX_DEPTH,
    )


def versions_derived(
    rows: Iterable[tuple], asset_key: str, partition_key: str
) -> dict[tuple[str, str, int], frozenset[int]]:
    """Per downstream result version, the versions of one asset partition it was made from.

    Args:
        rows: the rows of one ``DOWNSTREAM`` walk from every versioned node of the asset
            partition.
        asset_key, partition_key: the upstream asset partition, e.g. ``("clean_flights",
            "2013-01-01")``.

    Returns:
        ``{(asset, partition, version number): versions of the upstream it derives from}``, for
        every versioned descendant (at any depth); the upstream's own nodes are not keys.
    """
    refs: dict[int, NodeRef] = {}
    parents: dict[int, set[int]] = {}
    for node_id, via_id, _execution, depth, *key in rows:
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
