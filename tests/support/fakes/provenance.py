"""In-memory repositories of the provenance wing: the lineage graph, execution contexts and the
OpenLineage outbox kept in dictionaries and lists, with the same guards as the SQL.

Each store holds its data across transactions; pass ``store.repository`` where a service takes
``repository=``. Rows are snapshots (``SimpleNamespace``): a row read before a write does not
change, as a database row does not. Writes land at once (the fakes have no rollback). The
lineage walk yields the rows the recursive query does: the start nodes at depth 0, then each
edge into (upstream) or out of (downstream) a node of the previous depth, up to ``MAX_DEPTH``,
each distinct row once.
"""

import dataclasses
import datetime as dt
import itertools
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from opsrel_core.domain import lineage_graph
from opsrel_core.domain.lineage_graph import UPSTREAM
from opsrel_core.domain.lineage_nodes import VERSIONED_NODE_TYPES, NodeRef


class LineageStore:
    """The fake graph: nodes by identity and edges per execution."""

    def __init__(self, executions: Sequence[str] = ()) -> None:
        self.executions: set[str] = set(executions)
        self.nodes: dict[NodeRef, int] = {}
        self.edges: list[tuple[int, int, str]] = []  # (from_node_id, to_node_id, execution_id)
        self._ids = itertools.count(1)

    def repository(self, session: Any = None) -> "FakeLineageRepository":
        """A repository over this store (``session`` is ignored)."""
        return FakeLineageRepository(self)

    def next_id(self) -> int:
        return next(self._ids)


class FakeLineageRepository:
    """``LineageRepository`` over a ``LineageStore``."""

    def __init__(self, store: LineageStore):
        self._s = store

    def execution_exists(self, execution_id: str) -> bool:
        return execution_id in self._s.executions

    def node_ids(self, refs: Sequence[NodeRef]) -> dict[NodeRef, int]:
        return {ref: self._s.nodes[ref] for ref in refs if ref in self._s.nodes}

    def add_nodes(self, refs: Sequence[NodeRef]) -> dict[NodeRef, int]:
        added = {}
        for ref in refs:
            assert ref not in self._s.nodes, f"unique (type, asset, partition, version): {ref}"
            added[ref] = self._s.nodes[ref] = self._s.next_id()
        return added

    def edges_of(self, execution_id: str) -> set[tuple[int, int]]:
        return {(f, t) for f, t, e in self._s.edges if e == execution_id}

    def add_edges(self, execution_id: str, pairs: Sequence[tuple[int, int]]) -> None:
        for f, t in pairs:
            assert f != t, "no_self_loop"
            assert (f, t, execution_id) not in self._s.edges, "unique (from, to, execution)"
            self._s.edges.append((f, t, execution_id))

    def walk_from_node(self, ref: NodeRef, direction: str) -> list[tuple]:
        return self._walk([n for n in self._s.nodes if n == ref], direction)

    def walk_from_snapshot(self, snapshot_id: str) -> list[tuple]:
        starts = [n for n in self._s.nodes
                  if n.node_type == "SNAPSHOT" and n.version_ref == snapshot_id]
        return self._walk(starts, lineage_graph.DOWNSTREAM)

    def walk_from_asset_partition(self, asset_key: str, partition_key: str) -> list[tuple]:
        starts = [n for n in self._s.nodes
                  if (n.asset_key, n.partition_key) == (asset_key, partition_key)
                  and n.node_type in VERSIONED_NODE_TYPES]
        return self._walk(starts, lineage_graph.DOWNSTREAM)

    def _walk(self, starts: list[NodeRef], direction: str) -> list[tuple]:
        refs = {node_id: ref for ref, node_id in self._s.nodes.items()}
        level = {(self._s.nodes[r], self._s.nodes[r], None, 0) for r in starts}
        rows = set(level)
        while level:
            step = set()
            for node_id, _via, _execution, depth in level:
                if depth >= lineage_graph.MAX_DEPTH:
                    continue
                for f, t, execution_id in self._s.edges:
                    via, nxt = (t, f) if direction == UPSTREAM else (f, t)
                    if via == node_id:
                        step.add((nxt, via, execution_id, depth + 1))
            level = step - rows
            rows |= level
        return [(*row, *dataclasses.astuple(refs[row[0]])) for row in sorted(
            rows, key=lambda r: (r[3], r[0], r[1], r[2] or ""))]


class ContextStore:
    """The fake ``execution_context`` table, and the locks taken."""

    def __init__(self, executions: Sequence[str] = (), now: dt.datetime | None = None) -> None:
        self.executions: set[str] = set(executions)
        self.contexts: dict[str, dict[str, Any]] = {}
        self.locks: list[str] = []
        self.updates = 0  # update statements (a merge that changes nothing writes none)
        self.now = now or dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.timezone.utc)

    def repository(self, session: Any = None) -> "FakeExecutionContextRepository":
        """A repository over this store (``session`` is ignored)."""
        return FakeExecutionContextRepository(self)


class FakeExecutionContextRepository:
    """``ExecutionContextRepository`` over a ``ContextStore``."""

    def __init__(self, store: ContextStore):
        self._s = store

    def lock(self, key: str) -> None:
        self._s.locks.append(key)

    def execution_exists(self, execution_id: str) -> bool:
        return execution_id in self._s.executions

    def get(self, execution_id: str, *, fresh: bool = False) -> SimpleNamespace | None:
        values = self._s.contexts.get(execution_id)
        return None if values is None else SimpleNamespace(**values)

    def add(self, values: dict[str, Any]) -> SimpleNamespace:
        assert values["execution_id"] not in self._s.contexts, "primary key"
        self._s.contexts[values["execution_id"]] = {**values, "created_at": self._s.now}
        return SimpleNamespace(**self._s.contexts[values["execution_id"]])

    def update(self, execution_id: str, values: dict[str, Any]) -> SimpleNamespace:
        self._s.contexts[execution_id].update(values)
        self._s.updates += 1
        return SimpleNamespace(**self._s.contexts[execution_id])


class OutboxStore:
    """The fake ``lineage_event`` and ``lineage_event_attempt`` tables, and the runs' records
    an event reports (``records``: ``{execution_id: RunRecords}``)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.attempts: list[dict[str, Any]] = []
        self.records: dict[str, Any] = {}
        self._ids = itertools.count(1)

    def repository(self, session: Any = None) -> "FakeLineageEventRepository":
        """A repository over this store (``session`` is ignored)."""
        return FakeLineageEventRepository(self)

    def reader(self, session: Any = None) -> "FakeRunRecordReader":
        """A reader of ``records`` (``session`` is ignored)."""
        return FakeRunRecordReader(self)

    def next_id(self) -> int:
        return next(self._ids)


class FakeLineageEventRepository:
    """``LineageEventRepository`` over an ``OutboxStore``."""

    def __init__(self, store: OutboxStore):
        self._s = store

    def has_event(self, execution_id: str, event_type: str) -> bool:
        return any((e["execution_id"], e["event_type"]) == (execution_id, event_type)
                   for e in self._s.events)

    def add_event(self, values: dict[str, Any]) -> None:
        assert not self.has_event(values["execution_id"], values["event_type"]), "unique"
        self._s.events.append({"last_error": None, "sent_at": None, **values,
                               "event_id": self._s.next_id()})

    def events(self, execution_id: str | None = None) -> list[SimpleNamespace]:
        return [SimpleNamespace(**e) for e in self._s.events
                if execution_id is None or e["execution_id"] == execution_id]

    def attempts_of(self, event_ids: Sequence[int]) -> list[SimpleNamespace]:
        return [SimpleNamespace(**a) for a in self._s.attempts if a["event_id"] in event_ids]

    def next_due(self, now: dt.datetime) -> SimpleNamespace | None:
        unsent = [e for e in self._s.events if e["status"] in _UNSENT]
        due = [e for e in unsent if e["next_attempt_at"] <= now and not any(
            o["execution_id"] == e["execution_id"] and o["event_id"] < e["event_id"]
            for o in unsent)]
        due.sort(key=lambda e: (e["next_attempt_at"], e["event_id"]))
        return SimpleNamespace(**due[0]) if due else None

    def claim(self, event: Any, lease_until: dt.datetime) -> bool:
        row = self._event(event.event_id)
        if (row["status"], row["attempts"]) != (event.status, event.attempts):
            return False
        row.update(attempts=event.attempts + 1, next_attempt_at=lease_until)
        return True

    def attempt_count(self, event_id: int) -> int:
        return sum(a["event_id"] == event_id for a in self._s.attempts)

    def add_attempt(self, values: dict[str, Any]) -> None:
        self._s.attempts.append({"http_status": None, "error": None, **values,
                                 "attempt_id": self._s.next_id()})

    def settle(self, event_id: int, attempt: int, values: dict[str, Any]) -> None:
        row = self._event(event_id)
        if row["attempts"] == attempt and row["status"] in _UNSENT:
            row.update(values)

    def _event(self, event_id: int) -> dict[str, Any]:
        return next(e for e in self._s.events if e["event_id"] == event_id)


class FakeRunRecordReader:
    """``RunRecordReader`` over ``OutboxStore.records`` (``outcome`` and snapshots as given)."""

    def __init__(self, store: OutboxStore):
        self._s = store

    def records(self, execution_id: str, *, outcome: bool,
                snapshot_ids: Sequence[str] = ()) -> Any:
        found = self._s.records.get(execution_id)
        if found is None or outcome:
            return found
        return dataclasses.replace(found, versions=(), results=(), snapshot_assets={})


_UNSENT = ("PENDING", "RETRY")
