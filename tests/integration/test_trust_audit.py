"""The audit log tells the whole truth, on real SQLite and real PostgreSQL.

- Token create and revoke through the CLI require a reason and are audited; no audit record holds
  a token hash, and a record written with one (by an older version) is masked on read.
- Each record names its acting principal beside the operator: ``os:<user>`` for the CLI,
  ``sensor:<name>`` for a sensor.
- Operator names and reasons pass the one rule (look-alike names, zero-width reasons refused).
- Tokens expire and record their last use.
- A downgrade that would destroy audit records is refused (library and CLI), nothing changed.
"""

import datetime as dt
import getpass
import json

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from opsrel_core.domain import error_codes
from opsrel_core.entrypoints.cli import cli
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence import migrate
from opsrel_core.persistence.engine import make_engine
from opsrel_core.persistence.tables import ApiToken, AuditLog
from opsrel_core.services.api_tokens import ApiTokenService, TokenRefused, hash_token
from opsrel_core.services.audit_log import REDACTED, AuditLogService, acting_principal
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec

OS_PRINCIPAL = f"os:{getpass.getuser()}"
JOB = "flights_daily"


def _cli(database_url: str, *args: str):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, list(args), env={"OPSREL_DATABASE_URL": database_url})
    return result


def _audit_rows(engine: sa.Engine) -> list[dict]:  # type: ignore[type-arg]
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            sa.select(AuditLog).order_by(AuditLog.audit_id)).mappings()]


def _token_hashes(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(ApiToken.token_hash)).scalars())


# -- audit records hold no secret; the CLI audits token changes ----------------------------------


def test_cli_token_create_and_revoke_are_audited_as_the_os_user_without_the_hash(
        database_url, engine):
    created = _cli(database_url, "tokens", "create", "--operator", "alice", "--role", "admin",
                   "--reason", "on call this week", "--json")
    assert created.exit_code == 0, created.output
    token = json.loads(created.stdout)
    revoked = _cli(database_url, "tokens", "revoke", str(token["token_id"]), "--reason",
                   "rotation", "--json")
    assert revoked.exit_code == 0, revoked.output
    rows = _audit_rows(engine)
    assert [(r["action"], r["operator_id"], r["principal"], r["reason"]) for r in rows] == [
        ("CREATE_API_TOKEN", getpass.getuser(), OS_PRINCIPAL, "on call this week"),
        ("REVOKE_API_TOKEN", getpass.getuser(), OS_PRINCIPAL, "rotation"),
    ]
    assert [r["audit_id"] for r in rows] == [token["audit_id"], json.loads(revoked.stdout)["audit_id"]]
    # As stored: the hash's field is kept, its value is not.
    assert rows[0]["after_state"]["token_hash"] == REDACTED
    assert rows[1]["before_state"]["token_hash"] == REDACTED
    assert rows[1]["after_state"]["revoked_at"] is not None
    [stored_hash] = _token_hashes(engine)
    assert stored_hash == hash_token(token["token"])
    listed = _cli(database_url, "audit", "list", "--json")
    table = _cli(database_url, "audit", "list")
    assert listed.exit_code == 0 and table.exit_code == 0
    for output in (listed.stdout, table.stdout, json.dumps(rows, default=str)):
        assert stored_hash not in output and token["token"] not in output
    assert [r["principal"] for r in json.loads(listed.stdout)] == [OS_PRINCIPAL] * 2
    header, *lines = table.stdout.splitlines()
    assert header.split()[3:5] == ["operator", "principal"]
    assert [line.split()[3:6] for line in lines] == [
        [getpass.getuser(), OS_PRINCIPAL, "REVOKE_API_TOKEN"],
        [getpass.getuser(), OS_PRINCIPAL, "CREATE_API_TOKEN"]]


_CREATE = ["tokens", "create", "--role", "admin"]


@pytest.mark.parametrize(("args", "said"), [
    (_CREATE + ["--operator", "alice"], "Missing option '--reason'"),
    (_CREATE + ["--operator", "alice", "--reason", "\u200b\u200b"], "[BAT-008] reason"),
    (_CREATE + ["--operator", "ali\u200bce", "--reason", "x"], "U+200B"),
    (_CREATE + ["--operator", "\u0430lice", "--reason", "x"], "several scripts"),
    (_CREATE + ["--operator", "alice ", "--reason", "x"], "spaces around it"),
    (_CREATE + ["--operator", "sensor:opsrel_landing_sensor", "--reason", "x"], "names a principal"),
    (_CREATE + ["--operator", "os:root", "--reason", "x"], "names a principal"),
    (_CREATE + ["--operator", "alice", "--reason", "x", "--expires-in", "soon"], "not a duration"),
    (_CREATE + ["--operator", "alice", "--reason", "x", "--expires-at", "2001-01-01T00:00:00Z"],
     "not in the future"),
    (["tokens", "revoke", "1"], "Missing option '--reason'"),
    (["tokens", "revoke", "1", "--reason", "\u200b"], "[BAT-008] reason"),
])
def test_cli_token_commands_refuse_without_a_usable_reason_or_name(database_url, engine, args,
                                                                     said):
    ApiTokenService(engine).create("bob", "viewer", by="root", reason="seed")
    before = (_audit_rows(engine), _token_hashes(engine))
    result = _cli(database_url, *args)
    assert result.exit_code == 2, result.output
    assert said in result.output
    assert (_audit_rows(engine), _token_hashes(engine)) == before


def test_a_record_written_with_a_token_hash_is_masked_on_read(database_url, engine):
    """A record an older version wrote (the hash in its states) stays in the append-only log,
    but neither the service nor the CLI ever shows it."""
    secret_hash = hash_token("opsrel_an-old-token")
    hook = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"
    state = {"token_id": 7, "operator_id": "bob", "token_hash": secret_hash, "role": "admin",
             "settings": {"smtp_password": "hunter2", "slack_webhook_url": hook,
                          "database_url": "postgresql://ops:pa55word@db/ops", "retries": 3}}
    with engine.begin() as conn:
        conn.execute(sa.insert(AuditLog.__table__).values(
            occurred_at=dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc), operator_id="root",
            action_type="CONFIG_CHANGE", action="CREATE_API_TOKEN", target_type="api_token",
            target_id="7", reason="old record", before_state=None, after_state=state))
    [stored] = _audit_rows(engine)
    assert stored["after_state"]["token_hash"] == secret_hash  # the row itself is not rewritten
    assert stored["principal"] is None
    [view] = AuditLogService(engine).list_audit_logs()
    assert view.after_state == {
        "token_id": 7, "operator_id": "bob", "token_hash": REDACTED, "role": "admin",
        "settings": {"smtp_password": REDACTED, "slack_webhook_url": REDACTED,
                     "database_url": f"postgresql://ops:{REDACTED}@db/ops", "retries": 3}}
    assert view.principal is None
    for args in (["audit", "list", "--json"], ["audit", "list"]):
        shown = _cli(database_url, *args)
        assert shown.exit_code == 0, shown.output
        for secret in (secret_hash, "hunter2", "XXXXSECRETXXXX", "pa55word"):
            assert secret not in shown.stdout
    assert json.loads(_cli(database_url, "audit", "list", "--json").stdout)[0]["principal"] is None


# -- names: one rule on every path ----------------------------------------------------------------


def test_every_path_that_takes_an_operator_name_refuses_look_alikes(engine):
    from opsrel_core.domain.replay_plan import ReplayAsk
    from opsrel_core.services.execution_commands import ExecutionCommands
    from opsrel_core.services.replays import ReplayService

    BatchExecutionService(engine).register_execution(
        ExecutionSpec("run-1", JOB, partition_key="2013-01-01"))
    before = _audit_rows(engine)
    attempts = [
        lambda: ApiTokenService(engine).create("ali\u200bce", "viewer", by="root", reason="x"),
        lambda: ApiTokenService(engine).create("alice", "viewer", by="r\u043eot", reason="x"),
        lambda: ApiTokenService(engine).create("token:1", "viewer", by="root", reason="x"),
        lambda: ExecutionCommands(engine).request_stop(
            "run-1", operator_id="alice\u202e", reason="stuck"),
        lambda: ExecutionCommands(engine).request_stop(
            "run-1", operator_id="alice", reason="\u200b\u200c"),
        lambda: ReplayService(engine).request(
            ReplayAsk("single", JOB, " alice", "rule v2", ("2013-01-01",))),
    ]
    for attempt in attempts:
        with pytest.raises(BatchExecutionException) as refused:
            attempt()
        assert refused.value.code == error_codes.BAT_ATTRIBUTION_REQUIRED
    assert _audit_rows(engine) == before
    # A full-width name is the same name: recorded in its NFKC form.
    _, view = ApiTokenService(engine).create("ｋｉｍ", "viewer", by="root", reason="x")
    assert view.operator_id == "kim"


# -- the acting principal ------------------------------------------------------------------------


def test_a_sensor_records_itself_as_the_principal_of_its_audit_records(
        database_url, engine, tmp_path, monkeypatch):
    """The landing sensor records a replay of a partition whose file changed: its audit record
    names ``sensor:opsrel_landing_sensor``, and nothing of it is left set after the tick."""
    from opsrel_dagster.sensors.landing import make_landing_sensor
    from opsrel_dagster.resources import OpsDatabase

    executions = BatchExecutionService(engine)
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    executions.register_execution(ExecutionSpec("run-1", JOB, partition_key="2013-01-01"),
                                  at=long_ago)
    executions.start_execution("run-1", at=long_ago)
    executions.complete_execution("run-1", at=long_ago)
    (tmp_path / "flights_2013-01-01.csv").write_text("year,month,day\n2013,1,1\n")
    monkeypatch.setenv("OPSREL_LANDING_DIR", str(tmp_path))
    partitions = dg.DailyPartitionsDefinition(start_date="2013-01-01", end_date="2013-01-03")
    sensor = make_landing_sensor(JOB, dg.AssetSelection.all(), partitions)
    with dg.DagsterInstance.ephemeral() as instance:
        result = sensor(dg.build_sensor_context(
            instance=instance, resources={"ops_db": OpsDatabase(database_url=database_url)}))
    assert len(result.run_requests) == 1
    [record] = [r for r in _audit_rows(engine) if r["action"] == "REPLAY"]
    assert (record["operator_id"], record["principal"]) == (
        "sensor:opsrel_landing_sensor", "sensor:opsrel_landing_sensor")
    assert acting_principal.get() is None


def test_code_outside_every_entry_point_acts_as_its_os_user(engine):
    _, view = ApiTokenService(engine).create("bob", "viewer", by="root", reason="script")
    [record] = AuditLogService(engine).list_audit_logs()
    assert (record.audit_id, record.principal) == (view.audit_id, OS_PRINCIPAL)


# -- tokens: expiry and last use ------------------------------------------------------------------


def test_tokens_expire_and_record_their_last_use_to_the_minute(database_url, engine):
    tokens = ApiTokenService(engine)
    created = _cli(database_url, "tokens", "create", "--operator", "carol", "--role", "viewer",
                   "--reason", "a week of dashboards", "--expires-in", "7d", "--json")
    assert created.exit_code == 0, created.output
    shown = json.loads(created.stdout)
    expires_at = dt.datetime.fromisoformat(shown["expires_at"])
    now = dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(days=7) - dt.timedelta(minutes=1) < expires_at - now <= dt.timedelta(days=7)
    assert shown["last_used_at"] is None
    plaintext = shown["token"]

    first = now + dt.timedelta(hours=1)
    assert tokens.identify(plaintext, at=first).principal == f"token:{shown['token_id']}"
    tokens.identify(plaintext, at=first + dt.timedelta(seconds=30))  # within the minute
    [view] = tokens.list_tokens()
    assert view.last_used_at == first
    later = first + dt.timedelta(minutes=5)
    tokens.identify(plaintext, at=later)
    assert tokens.list_tokens()[0].last_used_at == later

    with pytest.raises(TokenRefused, match="expired at"):
        tokens.identify(plaintext, at=expires_at + dt.timedelta(seconds=1))
    assert tokens.list_tokens()[0].last_used_at == later  # a refused token was not used

    listed = _cli(database_url, "tokens", "list")
    header, row = listed.stdout.splitlines()
    assert header.split()[-5:] == ["expires", "(UTC)", "last", "used", "(UTC)"]
    assert f"{expires_at:%Y-%m-%d %H:%M:%S}" in row and f"{later:%Y-%m-%d %H:%M:%S}" in row
    day = (now + dt.timedelta(days=90)).date()
    at = _cli(database_url, "tokens", "create", "--operator", "dave", "--role", "viewer",
              "--reason", "until the audit", "--expires-at", f"{day}T12:00:00", "--json")
    assert at.exit_code == 0, at.output
    assert json.loads(at.stdout)["expires_at"] == f"{day}T12:00:00+00:00"  # naive is UTC
    too_far = _cli(database_url, "tokens", "create", "--operator", "eve", "--role", "viewer",
                   "--reason", "forever", "--expires-at", "2999-01-01T00:00:00Z")
    assert too_far.exit_code == 2 and "more than ten years ahead" in too_far.output


# -- downgrades never destroy the audit log ---------------------------------------------------------


def test_a_downgrade_that_would_destroy_audit_records_is_refused(empty_database_url):
    url = empty_database_url
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        # No execution exists: before, ``downgrade base`` dropped this record with exit 0.
        ApiTokenService(engine).create("alice", "admin", by="root", reason="first admin")
        before = _audit_rows(engine)
        for target in ("base", "0001", "0010"):
            with pytest.raises(migrate.DowngradeRefused) as refused:
                migrate.downgrade(url, target)
            assert refused.value.records == 1
        refused_cli = _cli(url, "db", "downgrade", "base")
        assert refused_cli.exit_code == 1
        assert refused_cli.output.startswith("downgrade to base refused, nothing changed: ")
        assert "the audit log holds 1 record(s)" in refused_cli.output
        assert migrate.current_revision(url) == migrate.head_revision()
        assert _audit_rows(engine) == before
    finally:
        engine.dispose()


def test_a_downgrade_with_only_unattributed_records_keeps_them(empty_database_url):
    """Records written before the principal was recorded lose nothing when it is dropped, so
    that downgrade runs; the audit log's own table is still never dropped with rows in it."""
    url = empty_database_url
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(AuditLog.__table__).values(
                occurred_at=dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc),
                operator_id="root", action_type="CONFIG_CHANGE", action="X", target_type="config",
                target_id="c", reason="before principals"))
        down = _cli(url, "db", "downgrade", "0010")
        assert down.exit_code == 0, down.output
        with engine.connect() as conn:
            assert conn.execute(sa.text(
                "SELECT reason FROM " + ("ops." if url.startswith("postgresql") else "")
                + "audit_log")).scalars().all() == ["before principals"]
        assert _cli(url, "db", "downgrade", "base").exit_code == 1
        assert migrate.current_revision(url) == "0010"
    finally:
        engine.dispose()
