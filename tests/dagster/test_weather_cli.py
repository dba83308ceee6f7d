"""The hourly weather job through the operator's paths: ``opsrel run --job weather_hourly`` and
``opsrel replay range`` over both DST days of 2013 in New York, then versions, lineage, reports
and the admin API on the keys as Dagster spells them (the repeated fall-back hour is two
partitions, ``2013-11-03-01:00`` and ``2013-11-03-01:00-0500``)."""

import json
import urllib.parse
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from opsrel_core.entrypoints.api import create_app
from opsrel_core.config import OpsSettings
from opsrel_dagster.app.cli import cli
from opsrel_dagster.defs.flights.package_data import package_weather
from tests.support.api_server import Api, seed_role_tokens, serve

JOB = "weather_hourly"
REPEATED = ("2013-11-03-01:00", "2013-11-03-01:00-0500")


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch) -> Path:
    """A fresh embedded setup (nothing migrated), as after a clone."""
    for name in ("OPSREL_DATABASE_URL", "DAGSTER_HOME", "OPSREL_DAGSTER_URL", "OPSREL_LANDING_DIR",
                 "OPSREL_DEFINITIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPSREL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _json(*args: str):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _utc_hours(key_window: tuple[str, str]) -> set[pd.Timestamp]:
    frame = package_weather()
    start, end = (pd.Timestamp(t) for t in key_window)
    return set(frame.loc[(frame.time_hour >= start) & (frame.time_hour < end), "time_hour"])


def test_dst_days_run_and_replay_hour_by_hour_through_the_cli_and_the_api(embedded, tmp_path):
    fall = _json("run", "--job", JOB, "--from", "2013-11-03", "--to", "2013-11-03", "--json")
    assert len(fall) == 25 and all(s["status"] == "SUCCESS" for s in fall)
    keys = [s["partition_key"] for s in fall]
    assert keys[1:3] == list(REPEATED) and len(set(s["run_id"] for s in fall)) == 25
    by_key = {s["partition_key"]: s for s in fall}
    # Each repeated hour holds its own UTC hour's observations: 05:00 and 06:00 UTC.
    observed = package_weather()
    for key, utc in zip(REPEATED, ("2013-11-03T05:00:00Z", "2013-11-03T06:00:00Z")):
        rows = observed[observed.time_hour == pd.Timestamp(utc)]
        assert by_key[key]["rows"]["raw_weather"] == len(rows) == 3
        assert by_key[key]["summary_figure"] == len(rows)
    assert by_key[REPEATED[0]]["snapshot_id"] != by_key[REPEATED[1]]["snapshot_id"]

    executions = _json("executions", "list", "--job", JOB, "--limit", "100", "--json")
    items = executions["items"] if isinstance(executions, dict) else executions
    assert sorted(e["partition_key"] for e in items) == sorted(keys)
    assert {e["status"] for e in items} == {"SUCCESS"}

    replay = _json("replay", "range", "2013-03-10", "2013-03-10", "--job", JOB,
                   "--reason", "spring-forward day re-delivered", "--json")
    assert replay["status"] == "SUCCESS"
    spring = [p["partition_key"] for p in replay["partitions"]]
    assert len(spring) == 23 and "2013-03-10-02:00" not in spring
    assert spring[1:3] == ["2013-03-10-01:00", "2013-03-10-03:00"]

    refused = CliRunner().invoke(cli, ["replay", "single", "2013-03-10-02:00", "--job", JOB,
                                       "--reason", "x"])
    assert refused.exit_code == 2 and "is not a partition of job weather_hourly" in refused.output

    again = _json("replay", "single", REPEATED[1], "--job", JOB, "--reason", "second 01:00",
                  "--json")
    assert [p["partition_key"] for p in again["partitions"]] == [REPEATED[1]]
    versions = _json("versions", "list", "--asset", "flight_category", "--partition",
                     REPEATED[1], "--json")
    assert [(v["version_number"], v["is_active"]) for v in
            sorted(versions, key=lambda v: v["version_number"])] == [(1, False), (2, True)]
    first_hour = _json("versions", "list", "--asset", "flight_category", "--partition",
                       REPEATED[0], "--json")
    assert [(v["version_number"], v["is_active"]) for v in first_hour] == [(1, True)]

    lineage = _json("lineage", "backtrace", "--asset", "flight_category", "--partition",
                    REPEATED[1], "--json")
    upstream = {(n["node"]["node_type"], n["node"]["partition_key"]) for n in lineage["nodes"]}
    assert ("SNAPSHOT", REPEATED[1]) in upstream and ("SOURCE", REPEATED[1]) in upstream
    assert not any(key == REPEATED[0] for _, key in upstream)

    day = _json("reports", "day", "2013-11-03", "--job", JOB, "--json")
    assert [p["partition_key"] for p in day["partitions"]] == keys

    url = f"sqlite:///{embedded / 'ops.db'}"
    with serve(create_app(OpsSettings(database_url=url, home=embedded))) as base:
        api = Api(base, seed_role_tokens(url))
        quoted = urllib.parse.quote(REPEATED[1], safe="")
        listed = api.call("GET", f"/admin/batch/executions?job_id={JOB}&partition_from={quoted}"
                          f"&partition_to={quoted}")
        assert listed.status == 200, listed.body
        assert {e["partition_key"] for e in listed.body["items"]} == {REPEATED[1]}
        assert len(listed.body["items"]) == 2  # the run and its replay
        report = api.call("GET", f"/admin/reports/partitions/{JOB}/{quoted}")
        assert report.status == 200 and report.body["partition_key"] == REPEATED[1]
        preview = api.call("POST", "/admin/batch/replay/preview", token="operator", body={
            "job_id": JOB, "type": "range", "partition_start": "2013-11-03-00:00",
            "partition_end": "2013-11-03-23:00", "reason": "preview the fall-back day"})
        assert preview.status == 200, preview.body
        assert len(preview.body["partitions"]) == 25
