"""Result versions with recorded lineage, as a run of the flights pipeline leaves them: per run,
clean_flights (TRANSFORM) -> carrier_daily_stats (AGGREGATION) -> ontime_performance (RESULT)."""

from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.provenance import LineageService, NodeRef
from opsrel_core.services.results import ResultVersionService

DAY = "2013-01-01"
CLEAN, STATS, RESULT = "clean_flights", "carrier_daily_stats", "ontime_performance"


def record_run(engine, execution_id, outcome="SUCCESS", assets=(CLEAN, STATS, RESULT)):
    """A run that made a version of each asset for DAY, with its lineage, then ended."""
    executions = BatchExecutionService(engine)
    executions.register_execution(ExecutionSpec(execution_id, "flights_daily", partition_key=DAY,
                                                operator_id="op"))
    executions.start_execution(execution_id)
    service = ResultVersionService(engine)
    made = {a: service.create_version(asset_key=a, partition_key=DAY, execution_id=execution_id,
                                      content_hash=f"sha256:{execution_id}{a}", row_count=3,
                                      storage_uri=None) for a in assets}
    layers = {CLEAN: "TRANSFORM", STATS: "AGGREGATION", RESULT: "RESULT"}
    nodes = {a: NodeRef.versioned(layers[a], a, DAY, v.version_number) for a, v in made.items()}
    edges = [(NodeRef.snapshot("flights_snapshot", DAY, f"sha256:{execution_id}"), nodes[CLEAN])] \
        if CLEAN in nodes else []
    if STATS in nodes:
        clean = nodes.get(CLEAN) or NodeRef.versioned(
            "TRANSFORM", CLEAN, DAY, service.get_active_version(CLEAN, DAY).version_number)
        edges.append((clean, nodes[STATS]))
    if RESULT in nodes and STATS in nodes:
        edges.append((nodes[STATS], nodes[RESULT]))
    LineageService(engine).record_execution_lineage(execution_id, edges)
    if outcome == "SUCCESS":
        executions.complete_execution(execution_id)
    else:
        executions.fail_execution(execution_id, "SYS-001", error_message="boom")
    service.activate_execution_versions(execution_id)
    return made
