"""The whole code location loads, as `dagster dev` and workspace.yaml load it."""

import dagster as dg
import yaml

from opsrel_dagster.definitions import defs


def test_definitions_load_and_hold_the_pipeline_and_sensors():
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {
        "raw_flights", "flights_snapshot", "clean_flights", "carrier_daily_stats",
        "ontime_performance", "delay_explanation", "delay_simulation",
    }
    for key in keys:
        node = graph.get(dg.AssetKey(key))
        assert node.partitions_def is not None
        assert node.code_version
        assert node.description
    checks = {key.name for key in graph.asset_check_keys}
    assert "flight_key_unique" in checks and "cancelled_share_max" in checks
    assert len(checks) == 8
    sensors = {s.name: s for s in defs.sensors}
    assert set(sensors) == {
        "opsrel_projection_sensor", "opsrel_run_failure_sensor", "opsrel_landing_sensor",
        "opsrel_alert_dispatch_sensor", "opsrel_replay_launch_sensor",
        "opsrel_lineage_dispatch_sensor", "opsrel_late_partition_sensor",
    }
    assert all(s.default_status == dg.DefaultSensorStatus.RUNNING for s in sensors.values())


def test_workspace_points_at_the_definitions():
    with open("workspace.yaml") as fh:
        workspace = yaml.safe_load(fh)
    [entry] = workspace["load_from"]
    assert entry["python_module"]["module_name"] == "opsrel_dagster.definitions"
    assert entry["python_module"]["attribute"] == "defs"


def test_batch_job_partition_set_matches_the_partitions_definition(engine):
    # The core refuses replays outside batch_job's bounds (it never imports Dagster): they must
    # be the code location's DailyPartitionsDefinition.
    from opsrel_core.persistence.uow import UnitOfWork
    from opsrel_core.persistence.tables import BatchJob
    from opsrel_dagster.defs.flights import FLIGHTS_JOB_ID, flights_partitions

    keys = flights_partitions.get_partition_keys()
    with UnitOfWork(engine) as uow:
        job = uow.session.get_one(BatchJob, FLIGHTS_JOB_ID)
        assert (job.partitions, job.partition_start, job.partition_end) == (
            "daily", keys[0], keys[-1])
