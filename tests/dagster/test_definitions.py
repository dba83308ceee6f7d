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
        "raw_weather", "weather_snapshot", "clean_weather", "airport_hour_weather",
        "flight_category",
    }
    for key in keys:
        node = graph.get(dg.AssetKey(key))
        assert node.partitions_def is not None
        assert node.code_version
        assert node.description
    checks = {key.name for key in graph.asset_check_keys}
    assert "flight_key_unique" in checks and "cancelled_share_max" in checks
    assert "wind_speed_range" in checks and "dewp_not_above_temp" in checks
    assert len(checks) == 8 + 8
    sensors = {s.name: s for s in defs.sensors}
    # The default job's sensors keep their names; another job's carry its id.
    assert set(sensors) == {
        "opsrel_projection_sensor", "opsrel_run_failure_sensor", "opsrel_landing_sensor",
        "opsrel_alert_dispatch_sensor", "opsrel_replay_launch_sensor",
        "opsrel_lineage_dispatch_sensor", "opsrel_late_partition_sensor",
        "opsrel_landing_sensor_weather_hourly", "opsrel_replay_launch_sensor_weather_hourly",
    }
    assert all(s.default_status == dg.DefaultSensorStatus.RUNNING for s in sensors.values())


def test_the_assembly_declares_both_jobs_and_defaults_to_flights():
    from opsrel_dagster.definitions import ASSEMBLY, JOBS, opsrel_job

    assert list(JOBS) == ["flights_daily", "weather_hourly"]
    assert ASSEMBLY.default_job_id == "flights_daily" and opsrel_job() is JOBS["flights_daily"]
    assert opsrel_job("weather_hourly").partitions_def.get_partition_keys()[:2] == [
        "2013-01-01-00:00", "2013-01-01-01:00"]
    # The domains bind the library's resources as the assembly does: one instance each.
    flights, weather = JOBS.values()
    for key in ("ops_db", "io_manager"):
        assert flights.resources()[key] is weather.resources()[key]


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
