"""The ``opsrel`` CLI's error contract, the same for every command: an unknown id exits 1 with
its catalog code, bad input exits 2, every mutating command takes a reason; ``tokens list``,
``replay status|list``.

Rows are recorded through the core services into the CLI's own embedded ops database (no
pipeline run is needed to have an unknown id or a recorded lineage)."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsrel_core.config import AlertSettings
from opsrel_core.persistence import migrate
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.api_tokens import ApiTokenService, hash_token
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.provenance import LineageService, NodeRef
from opsrel_core.services.replays import ReplayService
from opsrel_dagster.app.cli import cli
from tests.dagster.test_cli import cli_env  # noqa: F401 - the embedded setup fixture
from tests.support.catalog import register_declared

JOB = "flights_daily"


@pytest.fixture
def ops_engine(cli_env):  # noqa: F811
    """The engine of the ops database the CLI uses (migrated and its jobs registered, as
    ``opsrel db upgrade`` would)."""
    url = f"sqlite:///{Path(cli_env['OPSREL_HOME']) / 'ops.db'}"
    Path(cli_env["OPSREL_HOME"]).mkdir(parents=True, exist_ok=True)
    migrate.upgrade(url)
    engine = make_engine(url)
    register_declared(engine)
    yield engine
    engine.dispose()


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize(("args", "expected"), [
    (["replay", "status", "999"], "[BAT-010] no replay with id 999"),
    (["replay", "status", "999", "--json"], "[BAT-010] no replay with id 999"),
    (["alerts", "ack", "999", "--reason", "seen"], "[BAT-011] no alert with id 999"),
    (["tokens", "revoke", "999", "--reason", "rotated"], "[BAT-011] no API token with id 999"),
    (["executions", "show", "nope-123"], "[BAT-002] no execution"),
    (["reproduce", "nope-123"], "[BAT-002]"),
    (["reports", "show", "--replay", "999"], "[BAT-010] no replay with id 999"),
])
def test_an_unknown_id_exits_1_with_its_code(ops_engine, args, expected):
    result = _invoke(*args)
    assert result.exit_code == 1, result.output
    assert expected in result.stderr
    assert result.stdout == ""


def test_lineage_of_a_version_never_recorded_exits_1_with_its_code(ops_engine):
    BatchExecutionService(ops_engine).register_execution(
        ExecutionSpec(execution_id="run-1", job_id=JOB, partition_key="2013-02-08"))
    LineageService(ops_engine).record_execution_lineage("run-1", [(
        NodeRef.snapshot("flights_snapshot", "2013-02-08", "sha256:" + "a" * 64),
        NodeRef.versioned("RESULT", "delay_simulation", "2013-02-08", 1))])
    base = ["lineage", "backtrace", "--asset", "delay_simulation", "--partition", "2013-02-08"]
    v1 = _invoke(*base, "--version", "1", "--json")
    assert v1.exit_code == 0, v1.output
    assert [n["node"]["version_ref"] for n in json.loads(v1.stdout)["nodes"]] == [
        "sha256:" + "a" * 64]
    v2 = _invoke(*base, "--version", "2")
    assert v2.exit_code == 1 and v2.stdout == ""
    assert "[BAT-010] no result version delay_simulation 2013-02-08 v2" in v2.stderr
    no_active = _invoke(*base)  # no result_version row: nothing is active
    assert no_active.exit_code == 1
    assert "[BAT-006] delay_simulation 2013-02-08 has no active version" in no_active.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["reports", "show", "--partition", "bogus"], "Invalid value for --partition"),
    (["alerts", "ack", "1"], "Missing option '--reason'"),
    (["alerts", "ack", "1", "--reason", "  "], "must not be blank"),
    (["replay", "list", "--limit", "0"], "--limit"),
])
def test_bad_input_exits_2_and_writes_nothing(ops_engine, args, message):
    alert = OpsAlertService(ops_engine, AlertSettings.from_env({})).send_alert(
        "execution_failed", severity="ERROR", title="t", message="m")
    result = _invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    shown = OpsAlertService(ops_engine, AlertSettings.from_env({})).list_alerts()
    assert [(a.alert_id, a.status) for a in shown] == [(alert.alert_id, "OPEN")]


def test_alerts_ack_with_a_reason_records_it(ops_engine):
    alert = OpsAlertService(ops_engine, AlertSettings.from_env({})).send_alert(
        "execution_failed", severity="ERROR", title="t", message="m")
    result = _invoke("alerts", "ack", str(alert.alert_id), "--operator", "hana",
                     "--reason", "looking into it")
    assert result.exit_code == 0, result.output
    [record] = json.loads(_invoke("audit", "list", "--json").stdout)
    assert (record["operator_id"], record["reason"], record["action"]) == (
        "hana", "looking into it", "ACKNOWLEDGE_ALERT")


def test_tokens_list_shows_records_never_secrets(ops_engine):
    tokens = ApiTokenService(ops_engine)
    alice, _ = tokens.create("alice", "operator", by="root", reason="new colleague")
    bot_token, bot = tokens.create("bot", "viewer", by="root", reason="dashboard")
    tokens.revoke(bot.token_id, by="root", reason="dashboard retired")
    listed = _invoke("tokens", "list")
    assert listed.exit_code == 0, listed.output
    header, first, second = listed.stdout.splitlines()
    assert header.split() == ["token_id", "operator", "role", "created", "(UTC)", "revoked",
                              "(UTC)", "expires", "(UTC)", "last", "used", "(UTC)"]
    # revoked, expires, last used: "-" when none (times are "date time", two words)
    assert first.split()[:3] == ["1", "alice", "operator"] and first.split()[5:] == ["-"] * 3
    assert second.split()[:3] == ["2", "bot", "viewer"] and second.split()[5] != "-"
    assert second.split()[7:] == ["-", "-"]
    as_json = _invoke("tokens", "list", "--json")
    rows = json.loads(as_json.stdout)
    assert [(r["token_id"], r["operator_id"], r["role"]) for r in rows] == [
        (1, "alice", "operator"), (2, "bot", "viewer")]
    assert set(rows[0]) == {"token_id", "operator_id", "role", "created_at", "revoked_at",
                            "expires_at", "last_used_at"}
    assert rows[0]["revoked_at"] is None and rows[1]["revoked_at"] is not None
    for output in (listed.stdout, as_json.stdout):
        for secret in (alice, bot_token, hash_token(alice), hash_token(bot_token)):
            assert secret not in output


def test_replay_status_shows_who_and_why_and_replay_list_filters(ops_engine):
    replays = ReplayService(ops_engine)
    first = replays.replay_single(job_id=JOB, partition_key="2013-01-03", operator_id="alice",
                                  reason="carrier file re-delivered")
    second = replays.replay_range(job_id=JOB, start="2013-01-01", end="2013-01-02",
                                  partition_keys=["2013-01-01", "2013-01-02"],
                                  operator_id="bob", reason="rule v2")
    replays.mark_launched(second.replay_id)
    shown = _invoke("replay", "status", str(first.replay_id))
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["replay_id", "status", "type", "partitions", "operator", "reason",
                                "requested", "(UTC)"]
    assert lines[1].split()[:5] == ["1", "REQUESTED", "SINGLE", "2013-01-03..2013-01-03", "alice"]
    assert "carrier file re-delivered" in lines[1]
    assert lines[-1] == "replay 1: REQUESTED"
    as_json = json.loads(_invoke("replay", "status", "1", "--json").stdout)
    assert "mode" not in as_json  # the replay row does not say how it was launched
    assert (as_json["operator_id"], as_json["reason"], as_json["replay_type"]) == (
        "alice", "carrier file re-delivered", "SINGLE")
    assert as_json["executions"] == []

    listed = _invoke("replay", "list")
    assert [line.split()[:2] for line in listed.stdout.splitlines()[1:]] == [
        ["2", "RUNNING"], ["1", "REQUESTED"]]
    running = json.loads(_invoke("replay", "list", "--status", "RUNNING", "--json").stdout)
    assert [(r["replay_id"], r["operator_id"], r["reason"]) for r in running] == [
        (2, "bob", "rule v2")]
    assert [r["replay_id"] for r in json.loads(
        _invoke("replay", "list", "--limit", "1", "--json").stdout)] == [2]
