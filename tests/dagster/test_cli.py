"""The ``opsrel`` CLI end to end: the headless main job and the ``db`` commands."""

import getpass
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsrel_core.persistence import migrate
from opsrel_dagster.app.cli import cli


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch) -> dict[str, str]:
    """A fresh embedded setup: nothing migrated, no Dagster home yet (as after a clone)."""
    landing = tmp_path / "landing"
    landing.mkdir()
    env = {
        "OPSREL_HOME": str(tmp_path / "home"),
        "OPSREL_LANDING_DIR": str(landing),
    }
    monkeypatch.delenv("OPSREL_DATABASE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("OPSREL_DAGSTER_URL", raising=False)  # the embedded default
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_run_first_week_of_january_all_success_with_matching_counts(cli_env):
    result = CliRunner().invoke(cli, ["run", "--from", "2013-01-01", "--to", "2013-01-07", "--json"])
    assert result.exit_code == 0, result.output
    summaries = json.loads(result.stdout)
    assert [s["partition_key"] for s in summaries] == [f"2013-01-0{d}" for d in range(1, 8)]
    assert all(s["status"] == "SUCCESS" and s["error_code"] is None for s in summaries)
    for s in summaries:
        assert s["summary_figure"] == s["rows"]["raw_flights"] == s["rows"]["clean_flights"]
        assert s["snapshot_id"].startswith("sha256:")
    assert summaries[0]["rows"]["raw_flights"] == 842
    # set up by the command itself: the embedded ops database and Dagster home
    home = Path(cli_env["OPSREL_HOME"])
    assert (home / "ops.db").exists()
    assert (home / "dagster_home" / "dagster.yaml").exists()


def test_run_table_output_and_failure_exit_code(cli_env):
    Path(cli_env["OPSREL_LANDING_DIR"], "flights_2013-01-02.csv").write_text("year,month,day\n")
    result = CliRunner().invoke(cli, ["run", "--from", "2013-01-01", "--to", "2013-01-02"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["partition", "status", "error", "flights_total"]  # the figure the job declares
    assert lines[0].split()[-1] == "run_id"
    assert lines[1].split()[:4] == ["2013-01-01", "SUCCESS", "-", "842"]
    assert lines[2].split()[:4] == ["2013-01-02", "FAILED", "INP-001", "-"]
    assert "1 of 2 partitions SUCCESS" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2013-13-01", "--to", "2013-01-02"], "'2013-13-01' is not a partition of job flights_daily (daily, 2013-01-01..2013-12-31)"),
        (["--from", "2013-01-05", "--to", "2013-01-02"], "is before"),
        (["--from", "2012-12-31", "--to", "2013-01-02"], "'2012-12-31' is not a partition"),
    ],
)
def test_run_rejects_bad_ranges_before_running_anything(cli_env, args, message):
    result = CliRunner().invoke(cli, ["run", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_db_commands(cli_env):
    runner = CliRunner()
    url = f"sqlite:///{Path(cli_env['OPSREL_HOME']) / 'ops.db'}"
    behind = runner.invoke(cli, ["db", "current"])
    assert behind.exit_code == 1 and "current: base" in behind.output
    up = runner.invoke(cli, ["db", "upgrade"])
    assert up.exit_code == 0, up.output
    assert migrate.current_revision(url) == migrate.head_revision()
    current = runner.invoke(cli, ["db", "current"])
    assert current.exit_code == 0 and "up to date" in current.output
    down = runner.invoke(cli, ["db", "downgrade", "base"])
    assert down.exit_code == 0 and migrate.current_revision(url) is None
    sql = runner.invoke(cli, ["db", "sql", "--dialect", "postgresql"])
    assert sql.exit_code == 0
    assert "CREATE TABLE ops.batch_execution" in sql.output
    assert "INSERT INTO ops.error_code" in sql.output


def test_executions_list_and_a_reused_request_key(cli_env):
    runner = CliRunner()
    ran = runner.invoke(cli, ["run", "--from", "2013-01-01", "--to", "2013-01-02"])
    assert ran.exit_code == 0
    run_ids = [line.split()[-1] for line in ran.stdout.splitlines()[1:3]]
    listed = runner.invoke(cli, ["executions", "list", "--status", "SUCCESS"])
    assert listed.exit_code == 0
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:3] == ["execution_id", "status", "partition"]
    assert {line.split()[0] for line in rows} == set(run_ids)
    first = runner.invoke(cli, ["replay", "single", "2013-01-01", "--reason", "a",
                                "--request-key", "k1"])
    assert first.exit_code == 0 and "replay 1: SUCCESS" in first.stdout
    same = runner.invoke(cli, ["replay", "single", "2013-01-01", "--reason", "a",
                               "--request-key", "k1"])
    assert same.exit_code == 0 and "nothing was run again" in same.stdout
    other = runner.invoke(cli, ["replay", "single", "2013-01-02", "--reason", "b",
                                "--request-key", "k1"])
    assert other.exit_code == 2
    assert "BAT-009" in other.output and "already used by replay 1" in other.output


def test_versions_audit_and_tokens_commands(cli_env):
    runner = CliRunner()
    for _ in range(2):
        assert runner.invoke(cli, ["run", "--from", "2013-01-03", "--to", "2013-01-03"]).exit_code == 0
    listed = runner.invoke(cli, ["versions", "list", "--asset", "ontime_performance",
                                 "--partition", "2013-01-03"])
    lines = listed.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["version", "active"], ["v2", "active"], ["v1", "-"]]
    audit = runner.invoke(cli, ["audit", "list", "--json"])
    records = json.loads(audit.stdout)
    assert [r["action"] for r in records] == ["MANUAL_RUN", "MANUAL_RUN"]
    created = runner.invoke(cli, ["tokens", "create", "--operator", "ops-bot", "--role", "viewer",
                                  "--reason", "dashboard"])
    assert created.exit_code == 0
    token = created.stdout.splitlines()[-1]
    assert token.startswith("opsrel_")
    from opsrel_core.persistence.engine import make_engine
    from opsrel_core.services.api_tokens import ApiTokenService

    engine = make_engine(f"sqlite:///{Path(cli_env['OPSREL_HOME']) / 'ops.db'}")
    assert ApiTokenService(engine).authenticate(token)[0] == "ops-bot"
    assert runner.invoke(cli, ["tokens", "revoke", "1", "--reason", "rotated"]).exit_code == 0
    assert ApiTokenService(engine).authenticate(token) is None
    engine.dispose()


def test_replay_subcommands_tables_json_and_cron_exit_codes(cli_env, monkeypatch):
    from tests.support.receivers import free_port

    runner = CliRunner()
    reversed_range = runner.invoke(cli, ["replay", "range", "2013-01-02", "2013-01-01", "--reason", "x"])
    assert reversed_range.exit_code == 2 and "is before" in reversed_range.output
    outside = runner.invoke(cli, ["replay", "single", "2012-12-31", "--reason", "x"])
    assert outside.exit_code == 2 and "'2012-12-31' is not a partition" in outside.output
    # submit mode with no webserver answering: exit 3 and nothing recorded
    monkeypatch.setenv("OPSREL_DAGSTER_URL", f"http://127.0.0.1:{free_port()}")
    unreachable = runner.invoke(cli, ["replay", "single", "2013-01-01", "--reason", "x", "--wait"])
    assert unreachable.exit_code == 3, unreachable.output
    assert "SYS-001" in unreachable.output and "did not answer" in unreachable.output
    monkeypatch.delenv("OPSREL_DAGSTER_URL")
    assert runner.invoke(cli, ["replay", "status", "1"]).exit_code == 1  # no replay 1

    # embedded: the range runs here, the command waits and reports
    ran = runner.invoke(cli, ["replay", "range", "2013-01-01", "2013-01-02", "--reason", "rule v2",
                              "--operator", "alice", "--json"])
    assert ran.exit_code == 0, ran.output
    done = json.loads(ran.stdout)
    assert (done["replay_id"], done["status"], done["mode"]) == (1, "SUCCESS", "embedded")
    assert [p["partition_key"] for p in done["partitions"]] == ["2013-01-01", "2013-01-02"]
    status = runner.invoke(cli, ["replay", "status", "1", "--json"])
    assert status.exit_code == 0
    shown = json.loads(status.stdout)
    assert shown["status"] == "SUCCESS"
    assert [e["partition"] for e in shown["executions"]] == ["2013-01-01", "2013-01-02"]
    assert {e["execution_id"] for e in shown["executions"]} == {
        p["run_id"] for p in done["partitions"]}
    table = runner.invoke(cli, ["replay", "status", "1"]).stdout.splitlines()
    assert table[-1] == "replay 1: SUCCESS"
    audit = runner.invoke(cli, ["audit", "list", "--operator", "alice"])
    header, row = audit.stdout.splitlines()
    assert header.split()[:4] == ["audit_id", "occurred", "(UTC)", "operator"]
    assert row.split()[3:7] == ["alice", f"os:{getpass.getuser()}", "REPLAY", "replay:1"]

    # the other commands: unknown ids are exit 1, JSON on request
    assert runner.invoke(cli, ["executions", "show", "no-such-run"]).exit_code == 1
    assert runner.invoke(cli, ["alerts", "ack", "999", "--reason", "seen"]).exit_code == 1
    assert json.loads(runner.invoke(cli, ["alerts", "list", "--json"]).stdout) == []
    assert runner.invoke(cli, ["alerts", "list"]).stdout.split() == [
        "alert_id", "status", "severity", "count", "error", "title"]
    created = runner.invoke(cli, ["tokens", "create", "--operator", "bot", "--role", "operator",
                                  "--reason", "nightly replays", "--json"])
    token = json.loads(created.stdout)
    assert token["token"].startswith("opsrel_") and token["role"] == "operator"
    assert token["audit_id"] is not None and token["created_at"].endswith("+00:00")
    revoked = json.loads(runner.invoke(cli, ["tokens", "revoke", str(token["token_id"]),
                                             "--reason", "rotated", "--json"]).stdout)
    assert revoked["revoked_at"] is not None and revoked["audit_id"] is not None
    assert runner.invoke(cli, ["tokens", "revoke", "99", "--reason", "rotated"]).exit_code == 1
    actions = [r["action"] for r in json.loads(runner.invoke(cli, ["audit", "list", "--json"]).stdout)]
    assert actions[:2] == ["REVOKE_API_TOKEN", "CREATE_API_TOKEN"]


def test_stop_a_replay_and_an_execution_from_the_cli(cli_env):
    """``opsrel replay stop ID --reason`` stops a replay as a whole (audited once; a repeat
    returns the same record); ``opsrel executions stop`` says the stop is final; exit codes 1
    for an unknown id, 2 for a refusal."""
    import sqlalchemy as sa

    from opsrel_core.entrypoints.cli.group import _engine
    from opsrel_core.persistence.tables import Replay
    from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
    from opsrel_core.services.replays import ReplayService
    from tests.support.catalog import register_declared

    engine = _engine()
    register_declared(engine)  # as the replay commands do before they run
    replays = ReplayService(engine)
    replay = replays.replay_single(job_id="flights_daily", partition_key="2013-01-04",
                                   operator_id="alice", reason="rule v2")
    runner = CliRunner()
    assert runner.invoke(cli, ["replay", "stop", str(replay.replay_id)]).exit_code == 2  # no --reason
    first = runner.invoke(cli, ["replay", "stop", str(replay.replay_id), "--reason", "wrong day",
                                "--operator", "bob", "--json"])
    assert first.exit_code == 0, first.output
    stopped = json.loads(first.output)
    assert (stopped["status"], stopped["already_requested"]) == ("STOPPING", False)
    again = runner.invoke(cli, ["replay", "stop", str(replay.replay_id), "--reason", "again"])
    assert again.exit_code == 0
    assert "STOPPING" in again.output and "(already requested)" in again.output
    assert f"audit {stopped['audit_id']}" in again.output
    assert replays.get_replay(replay.replay_id).status.value == "STOPPING"
    audit = json.loads(runner.invoke(cli, ["audit", "list", "--operator", "bob", "--json"]).output)
    assert [(a["action"], a["reason"]) for a in audit] == [("STOP_REPLAY", "wrong day")]
    missing = runner.invoke(cli, ["replay", "stop", "999", "--reason", "x"])
    assert missing.exit_code == 1 and "BAT-010" in missing.output
    ended = replays.replay_single(job_id="flights_daily", partition_key="2013-01-05",
                                  operator_id="alice", reason="rule v2")
    with engine.begin() as conn:
        conn.execute(sa.update(Replay).where(Replay.replay_id == ended.replay_id)
                     .values(status="SUCCESS"))
    late = runner.invoke(cli, ["replay", "stop", str(ended.replay_id), "--reason", "late"])
    assert late.exit_code == 2 and "BAT-001" in late.output

    executions = BatchExecutionService(engine)
    executions.register_execution(ExecutionSpec("run-9", "flights_daily", partition_key="2013-01-06"))
    executions.start_execution("run-9")
    stop = runner.invoke(cli, ["executions", "stop", "run-9", "--reason", "hung"])
    assert stop.exit_code == 0, stop.output
    assert "ends STOPPED" in stop.output and "not yet delivered to Dagster" in stop.output
    shown = runner.invoke(cli, ["executions", "show", "run-9"])
    assert "stop delivery PENDING" in shown.output
    assert runner.invoke(cli, ["executions", "stop", "nope", "--reason", "x"]).exit_code == 1
    engine.dispose()


def test_alerts_list_says_which_alerts_a_silence_holds(cli_env):
    """A silenced alert is recorded and listed, never delivered; the table says so."""
    from opsrel_core.config import AlertSettings, Secret
    from opsrel_core.persistence.engine import make_engine
    from opsrel_core.services.alert_silences import SilenceService
    from opsrel_core.services.alerts import OpsAlertService

    url = f"sqlite:///{Path(cli_env['OPSREL_HOME']) / 'ops.db'}"
    Path(cli_env["OPSREL_HOME"]).mkdir(parents=True)
    migrate.upgrade(url)
    engine = make_engine(url)
    silence = SilenceService(engine).create_silence(
        operator_id="kim", reason="vendor re-sends", error_code="INP-001", duration_seconds=3600)
    alerts = OpsAlertService(engine, AlertSettings(slack_webhook_url=Secret("http://127.0.0.1:9/x")))
    for code, key in (("INP-001", "held"), ("EXT-001", "loud")):
        alerts.send_alert("execution_failed", severity="ERROR", title=key, message=key,
                          error_code=code, job_id="flights_daily", dedupe_key=key)
    engine.dispose()
    rows = {line.split()[-1]: line for line in
            CliRunner().invoke(cli, ["alerts", "list"]).stdout.splitlines()[1:]}
    assert f"OPEN (silenced by {silence.silence_id})" in rows["held"]
    assert "silenced" not in rows["loud"]
