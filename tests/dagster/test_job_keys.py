"""Partition keys as a declared job's partitions definition spells them (``OpsrelJob``): ranges
expand in the definition's order, never by date arithmetic; the landing sensor matches a file by
the declared name; each declared job is registered in the batch-job catalog with its keys."""

from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from opsrel_core.persistence import migrate
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.batch_jobs import BatchJobCatalog
from opsrel_dagster.app.cli import cli
from opsrel_dagster.keys import adjacent_ranges
from opsrel_dagster.jobs import OpsrelJob
from opsrel_dagster.sensors.landing import landed_files
from opsrel_dagster.registration import register_jobs, registration_of
from tests.support.catalog import FLIGHTS_REGISTRATION
from tests.support.hourly_keys import hourly_keys

HOURLY = dg.HourlyPartitionsDefinition(start_date="2013-01-01-00:00", end_date="2014-01-01-00:00",
                                       timezone="America/New_York")


def _job(partitions_def: dg.PartitionsDefinition, job_id: str = "weather_hourly") -> OpsrelJob:
    @dg.asset(partitions_def=partitions_def)
    def observations() -> int:
        return 1

    return OpsrelJob(job_id=job_id, definitions=dg.Definitions(assets=[observations]),
                     partitions_def=partitions_def, asset_selection=dg.AssetSelection.all(),
                     lineage=None, result_assets=("observations",),  # type: ignore[arg-type]
                     landing_file="weather_{partition}.csv")


def test_hourly_ranges_follow_the_definition_across_both_dst_days():
    job = _job(HOURLY)
    assert job.partitions_kind() == "hourly"
    assert job.partition_keys() == list(hourly_keys())  # Dagster and zoneinfo agree: 8,760
    fall = job.keys_between("2013-11-03", "2013-11-03")
    assert len(fall) == 25
    assert fall[1:3] == ["2013-11-03-01:00", "2013-11-03-01:00-0500"]
    assert job.keys_between("2013-11-03-00:00", "2013-11-03-23:00") == fall
    spring = job.keys_between("2013-03-10", "2013-03-10")
    assert len(spring) == 23 and "2013-03-10-02:00" not in spring
    assert job.keys_between("2013-11-03-01:00", "2013-11-03-01:00-0500") == fall[1:3]
    assert len(job.keys_between("2013-03-09-23:00", "2013-03-11")) == 1 + 23 + 24


@pytest.mark.parametrize(("first", "last", "message"), [
    ("2013-03-10-02:00", "2013-03-10", "'2013-03-10-02:00' is not a partition of job "
     "weather_hourly (hourly, 2013-01-01-00:00..2013-12-31-23:00)"),
    ("2013-11-03-05:00", "2013-11-03-01:00", "2013-11-03-01:00 is before 2013-11-03-05:00"),
    ("2012-12-31", "2013-01-01", "'2012-12-31' is not a partition"),
    ("2013-13-01", "2013-01-01", "'2013-13-01' is not a partition"),
])
def test_a_bound_outside_the_definition_is_refused_with_its_first_and_last_keys(first, last, message):
    with pytest.raises(ValueError) as refused:
        _job(HOURLY).keys_between(first, last)
    assert message in str(refused.value)


def test_static_and_monthly_keys_keep_their_declared_order():
    static = _job(dg.StaticPartitionsDefinition(["lga", "ewr", "jfk"]), "airports")
    assert static.partitions_kind() == "static"
    assert static.keys_between("lga", "ewr") == ["lga", "ewr"]  # declared order, not sorted
    with pytest.raises(ValueError):
        static.keys_between("jfk", "lga")
    monthly = _job(dg.MonthlyPartitionsDefinition(start_date="2013-01-01", end_date="2014-01-01"),
                   "monthly")
    assert monthly.partitions_kind() == "monthly"
    assert monthly.keys_between("2013-02-01", "2013-04-01") == ["2013-02-01", "2013-03-01",
                                                                 "2013-04-01"]


def test_single_run_ranges_join_neighbours_in_key_order_only():
    job = _job(HOURLY)
    keys = ["2013-11-03-00:00", "2013-11-03-01:00", "2013-11-03-01:00-0500", "2013-11-03-02:00",
            "2013-11-03-05:00"]
    assert job.ranges(keys, 3) == [keys[:3], [keys[3]], [keys[4]]]
    spring = ["2013-03-10-01:00", "2013-03-10-03:00"]  # neighbours: there is no 02:00
    assert job.ranges(spring, 24) == [spring]


def test_landing_files_are_matched_by_the_declared_name(tmp_path: Path):
    job = _job(HOURLY)
    for name in ("weather_2013-11-03-01:00-0500.csv", "weather_2013-11-03-01:00.csv",
                 "weather_2013-03-10-02:00.csv", "flights_2013-11-03.csv", "notes.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "weather_2013-11-03-02:00.csv").mkdir()  # not a regular file
    found = landed_files(tmp_path, job.partition_keys(), job.landing_file or "")
    assert [(key, path.name) for key, path in found] == [
        ("2013-11-03-01:00", "weather_2013-11-03-01:00.csv"),
        ("2013-11-03-01:00-0500", "weather_2013-11-03-01:00-0500.csv"),
    ]


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_declared_job_registers_its_keys_once(database_url):
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        job = _job(HOURLY)
        registration = registration_of(job)
        assert (registration.partitions, len(registration.partition_keys)) == ("hourly", 8760)
        assert registration.asset_selection == ("observations",)
        assert register_jobs(engine, [job]) == ["weather_hourly"]
        assert register_jobs(engine, [job]) == []  # once per process and database
        assert BatchJobCatalog(engine).register(registration) is False  # and idempotent
        partition_set = BatchJobCatalog(engine).partition_set("weather_hourly")
        assert partition_set is not None and len(partition_set.between(
            "2013-11-03-00:00", "2013-11-03-23:00")) == 25
    finally:
        engine.dispose()


def test_the_core_tests_register_the_flights_job_as_its_declaration_does():
    # The core tests have no Dagster: they register the job from a copy of these values.
    from opsrel_dagster.defs.flights import FLIGHTS

    assert registration_of(FLIGHTS) == FLIGHTS_REGISTRATION


def test_db_upgrade_registers_the_code_locations_jobs(tmp_path: Path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    monkeypatch.setenv("OPSREL_DATABASE_URL", url)
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "batch-job catalog: flights_daily, weather_hourly registered" in result.output
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            keys = conn.execute(sa.text(
                "SELECT count(*), min(partition_key), max(partition_key) FROM batch_job_partition "
                "WHERE job_id = 'flights_daily'")).one()
        assert tuple(keys) == (365, "2013-01-01", "2013-12-31")
    finally:
        engine.dispose()


def test_a_version_stored_under_an_hourly_key_reads_back(tmp_path: Path):
    import pickle

    from opsrel_dagster.result_files import file_uri_path

    stored = tmp_path / "flight_category" / "2013-11-03-01:00-0500.pkl"
    stored.parent.mkdir()
    stored.write_bytes(pickle.dumps({"rows": 3}))
    uri = stored.resolve().as_uri()
    assert "%3A" in uri  # Path.as_uri percent-encodes the key's colons
    assert file_uri_path(uri) == stored.resolve()
    assert pickle.loads(file_uri_path(uri).read_bytes()) == {"rows": 3}


def test_adjacent_ranges_take_the_order_as_a_list_or_positions():
    order = ["a", "b", "c", "d", "e"]
    assert adjacent_ranges(order, ["a", "b", "d", "e"], 3) == [["a", "b"], ["d", "e"]]
    assert adjacent_ranges({k: i for i, k in enumerate(order)}, order, 2) == [
        ["a", "b"], ["c", "d"], ["e"]]
    assert adjacent_ranges(order, ["a", "zz", "b"], 5) == [["a"], ["zz"], ["b"]]
    assert adjacent_ranges(order, ["c", "b"], 5) == [["c"], ["b"]]  # order of the keys kept
