"""Bad input: a good partition first, then bad deliveries for the same partition through
the real pipeline (``HeadlessRunner``: Dagster in process, both ops backends; on PostgreSQL
Dagster's storage too). Each bad delivery ends FAILED with a clear INP or DQ code, nothing is
half-written (no snapshot or result version from a refused file) and the earlier active result
stays active. ``tests/dagster/test_flights_bad_input.py`` covers the refusal of each file shape
without an earlier result; this file covers the kinds it does not (truncated, encodings,
separators, extra columns, duplicated rows, a 1 GB file) and the "earlier result intact" part.
"""

import datetime as dt
import os
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.persistence.tables import ResultVersion, Snapshot
from opsrel_core.services.batch_execution import BatchExecutionService
from opsrel_dagster.defs.flights import RESULT_ASSET_KEYS
from opsrel_dagster.defs.flights.landing import MAX_LANDING_BYTES, landing_file_for
from opsrel_dagster.defs.flights.package_data import package_flights_for_day
from tests.dagster.conftest import opsrel_env, runner  # noqa: F401 - the pipeline fixtures

DAY = dt.date(2013, 1, 2)
KEY = DAY.isoformat()


def _day_csv() -> str:
    return package_flights_for_day(DAY).to_csv(index=False)


def truncated(path: Path) -> None:
    text = _day_csv()
    path.write_text(text[: len(text) // 2 + 7])  # cut in the middle of a row


def latin1_encoded(path: Path) -> None:
    frame = package_flights_for_day(DAY)
    frame.loc[frame.index[0], "tailnum"] = "N\u00d1123"  # Ñ: one byte in Latin-1, invalid UTF-8
    path.write_bytes(frame.to_csv(index=False).encode("latin-1"))


def utf16_encoded(path: Path) -> None:
    path.write_bytes(_day_csv().encode("utf-16"))


def semicolon_separated(path: Path) -> None:
    package_flights_for_day(DAY).to_csv(path, index=False, sep=";")


def tab_separated(path: Path) -> None:
    package_flights_for_day(DAY).to_csv(path, index=False, sep="\t")


def missing_columns(path: Path) -> None:
    package_flights_for_day(DAY).drop(columns=["carrier", "origin"]).to_csv(path, index=False)


def duplicated_rows(path: Path) -> None:
    frame = package_flights_for_day(DAY)
    pd.concat([frame, frame.head(3)]).to_csv(path, index=False)


def dates_of_another_partition(path: Path) -> None:
    frame = package_flights_for_day(DAY + dt.timedelta(days=1))
    frame.to_csv(path, index=False)


def one_gigabyte(path: Path) -> None:
    # A real header and rows, then extended to 1 GiB without writing the bytes (sparse): the
    # size is what the landing path must refuse before reading.
    path.write_text(package_flights_for_day(DAY).head(10).to_csv(index=False))
    os.truncate(path, 1024**3)


BAD_DELIVERIES = [
    (lambda p: p.write_bytes(b""), error_codes.INP_EMPTY_FILE, "is empty"),
    (truncated, error_codes.INP_MALFORMED_FILE, "truncated"),
    (latin1_encoded, error_codes.INP_MALFORMED_FILE, "UnicodeDecodeError"),
    (utf16_encoded, error_codes.INP_MALFORMED_FILE, "UTF-16"),
    (semicolon_separated, error_codes.INP_MALFORMED_FILE, "separated by ';'"),
    (tab_separated, error_codes.INP_MALFORMED_FILE, "separated by '\\t'"),
    (missing_columns, error_codes.INP_MISSING_COLUMN, "carrier, origin"),
    (dates_of_another_partition, error_codes.INP_WRONG_PARTITION, "2013-01-03"),
    (one_gigabyte, error_codes.INP_MALFORMED_FILE, f"more than the {MAX_LANDING_BYTES} bytes"),
    (duplicated_rows, error_codes.DQ_FAIL_RULE, "flight_key_unique"),
]


def _state(engine) -> dict:
    with engine.connect() as conn:
        active = set(conn.execute(
            sa.select(ResultVersion.asset_key, ResultVersion.version_id, ResultVersion.execution_id)
            .where(ResultVersion.partition_key == KEY, ResultVersion.is_active)).all())
        snapshots = set(conn.execute(sa.select(Snapshot.snapshot_id)).scalars())
        versions = conn.execute(sa.select(sa.func.count()).select_from(ResultVersion)).scalar_one()
    return {"active": active, "snapshots": snapshots, "versions": versions}


def test_bad_deliveries_after_a_good_partition_fail_coded_and_keep_the_active_result(runner, opsrel_env):
    landing = Path(opsrel_env["OPSREL_LANDING_DIR"])
    (good,) = runner.run_partitions([KEY])
    assert good.status == "SUCCESS" and good.error_code is None
    assert good.summary_figure == len(package_flights_for_day(DAY))
    before = _state(runner.engine)
    assert {a for a, _, e in before["active"] if e == good.run_id} >= set(RESULT_ASSET_KEYS)
    executions = BatchExecutionService(runner.engine)
    path = landing_file_for(landing, DAY)

    for write, code, fragment in BAD_DELIVERIES:
        path.unlink(missing_ok=True)
        write(path)
        (bad,) = runner.run_partitions([KEY])
        name = getattr(write, "__name__", "empty")
        assert (bad.status, bad.error_code) == ("FAILED", code), (name, bad)
        assert fragment in (bad.error_message or ""), (name, bad.error_message)
        assert bad.summary_figure is None
        recorded = executions.get_execution(bad.run_id)
        assert (recorded.status, recorded.error_code) == ("FAILED", code), name
        after = _state(runner.engine)
        # The earlier result is still the active one, for every asset of the partition.
        assert after["active"] == before["active"], name
        if code.startswith("INP"):
            # Refused before anything was stored: no snapshot, no version.
            assert after == before, name
        else:
            # Read, stored and checked: the new versions exist but none became active.
            assert after["versions"] > before["versions"], name
            before = after

    # The bad file is still there; a good re-delivery replaces the result as usual.
    path.unlink()
    package_flights_for_day(DAY).to_csv(path, index=False)
    (fixed,) = runner.run_partitions([KEY])
    assert fixed.status == "SUCCESS" and fixed.summary_figure == good.summary_figure


def test_extra_columns_are_ignored_and_give_the_same_result(runner, opsrel_env):
    """Documented: extra columns are kept in the raw frame and ignored downstream; the result
    equals the package's day (the operator sees the extra columns in the snapshot only)."""
    landing = Path(opsrel_env["OPSREL_LANDING_DIR"])
    (good,) = runner.run_partitions([KEY])
    frame = package_flights_for_day(DAY).assign(source_system="upstream-v2", batch=7)
    frame.to_csv(landing_file_for(landing, DAY), index=False)
    (extra,) = runner.run_partitions([KEY])
    assert extra.status == "SUCCESS" and extra.error_code is None
    assert extra.summary_figure == good.summary_figure
    assert extra.rows == good.rows
