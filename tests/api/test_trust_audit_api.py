"""The admin API and the audit log's truth: no credential in any answer, the acting token named
on every record, names checked, tokens that expire, on real SQLite and PostgreSQL over HTTP."""

import datetime as dt
import json
import time

import sqlalchemy as sa
from click.testing import CliRunner

from opsrel_core.entrypoints.cli import cli
from opsrel_core.persistence.tables import ApiToken, AuditLog
from opsrel_core.services.api_tokens import hash_token
from opsrel_core.services.audit_log import REDACTED
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec


def _token_id(engine: sa.Engine, operator_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(ApiToken.token_id)
                            .where(ApiToken.operator_id == operator_id)).scalar_one()


def _hashes(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(ApiToken.token_hash)).scalars())


def _audit_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(AuditLog)).scalar_one()


def test_token_changes_over_the_api_name_the_admin_token_and_no_hash_reaches_a_viewer(
        api, engine, database_url):
    admin_id = _token_id(engine, "admin-op")
    created = api.call("POST", "/admin/tokens", token="admin",
                       body={"operator_id": "erin", "role": "operator", "reason": "joins on call"})
    assert created.status == 201, created.body
    revoked = api.call("DELETE", f"/admin/tokens/{created.body['token_id']}?reason=left+the+team",
                       token="admin")
    assert revoked.status == 200, revoked.body
    page = api.call("GET", "/admin/audit-logs", token="viewer")
    assert page.status == 200
    items = page.body["items"]
    assert [(i["action"], i["operator_id"], i["principal"]) for i in items] == [
        ("REVOKE_API_TOKEN", "admin-op", f"token:{admin_id}"),
        ("CREATE_API_TOKEN", "admin-op", f"token:{admin_id}"),
    ]
    assert [i["audit_id"] for i in items] == [revoked.body["audit_id"], created.body["audit_id"]]
    assert items[1]["after_state"]["token_hash"] == REDACTED
    assert items[1]["after_state"]["operator_id"] == "erin"
    cli_read = CliRunner().invoke(cli, ["audit", "list", "--json"],
                                  env={"OPSREL_DATABASE_URL": database_url})
    assert cli_read.exit_code == 0, cli_read.output
    assert [r["principal"] for r in json.loads(cli_read.stdout)] == [f"token:{admin_id}"] * 2
    answer = json.dumps(page.body)
    hashes = _hashes(engine)
    assert hash_token(created.body["token"]) in hashes and len(hashes) == 4
    for secret in (*hashes, created.body["token"], *api.tokens.values()):
        assert secret not in answer and secret not in cli_read.stdout


def test_an_operator_action_names_the_operator_token(api, engine):
    BatchExecutionService(engine).register_execution(
        ExecutionSpec("run-7", "flights_daily", partition_key="2013-01-07"))
    stop = api.call("POST", "/admin/batch/executions/run-7/stop", token="operator",
                    body={"reason": "stuck since noon"})
    assert stop.status == 202, stop.body
    [item] = api.call("GET", "/admin/audit-logs").body["items"]
    assert (item["operator_id"], item["principal"], item["action"]) == (
        "operator-op", f"token:{_token_id(engine, 'operator-op')}", "STOP_EXECUTION")


def test_a_record_holding_a_hash_from_before_is_masked_in_the_answer(api, engine):
    secret_hash = hash_token("opsrel_leaked-long-ago")
    with engine.begin() as conn:
        conn.execute(sa.insert(AuditLog.__table__).values(
            occurred_at=dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc), operator_id="root",
            action_type="CONFIG_CHANGE", action="REVOKE_API_TOKEN", target_type="api_token",
            target_id="9", reason="old record",
            before_state={"token_id": 9, "token_hash": secret_hash, "revoked_at": None},
            after_state={"token_id": 9, "token_hash": secret_hash, "revoked_at": "2026-11-30"}))
    page = api.call("GET", "/admin/audit-logs", token="viewer")
    [item] = page.body["items"]
    assert item["before_state"] == {"token_id": 9, "token_hash": REDACTED, "revoked_at": None}
    assert item["after_state"]["token_hash"] == REDACTED and item["principal"] is None
    assert secret_hash not in json.dumps(page.body)


def test_token_create_refuses_principals_look_alikes_and_blank_reasons(api, engine):
    before = (_audit_count(engine), _hashes(engine))
    refusals = [
        ({"operator_id": "sensor:opsrel_landing_sensor", "role": "admin", "reason": "x"},
         "BAT-008", "names a principal"),
        ({"operator_id": "token:1", "role": "admin", "reason": "x"}, "BAT-008", "principal"),
        ({"operator_id": "os:alice", "role": "admin", "reason": "x"}, "BAT-008", "principal"),
        ({"operator_id": "ali\u200bce", "role": "admin", "reason": "x"}, "BAT-008", "U+200B"),
        ({"operator_id": "alice\u202e", "role": "admin", "reason": "x"}, "BAT-008", "U+202E"),
        ({"operator_id": "\u0430lice", "role": "admin", "reason": "x"}, "BAT-008", "scripts"),
        ({"operator_id": "alice ", "role": "admin", "reason": "x"}, "BAT-008", "spaces"),
        ({"operator_id": "alice", "role": "admin", "reason": "\u200b\u200b\u200b"}, "BAT-008",
         "visible"),
        ({"operator_id": "alice", "role": "admin", "reason": "x",
          "expires_at": "2001-01-01T00:00:00Z"}, "API-422", "not in the future"),
        ({"operator_id": "alice", "role": "admin", "reason": "x",
          "expires_at": "9999-12-31T23:59:59-14:00"}, "API-422", "expires_at"),
        ({"operator_id": "alice", "role": "admin", "reason": "x",
          "expires_at": "0001-01-01T00:00:00+14:00"}, "API-422", "expires_at"),
        ({"operator_id": "alice", "role": "admin", "reason": "x", "expires_in": "7d",
          "expires_at": "2099-01-01T00:00:00Z"}, "API-422", "not both"),
        ({"operator_id": "alice", "role": "admin", "reason": "x", "expires_in": "forever"},
         "API-422", "expires_in"),
    ]
    for body, code, said in refusals:
        reply = api.call("POST", "/admin/tokens", token="admin", body=body)
        assert reply.status == 422, (body, reply.body)
        assert reply.body["error_code"] == code, (body, reply.body)
        assert said in reply.body["detail"], (body, reply.body)
    assert (_audit_count(engine), _hashes(engine)) == before


def test_an_expired_token_gets_a_401_that_says_so(api, engine):
    created = api.call("POST", "/admin/tokens", token="admin",
                       body={"operator_id": "temp", "role": "viewer", "reason": "one look",
                             "expires_in": "2s"})
    assert created.status == 201, created.body
    expires_at = dt.datetime.fromisoformat(created.body["expires_at"].replace("Z", "+00:00"))
    assert dt.timedelta(0) < expires_at - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(seconds=2)
    assert api.call("GET", "/admin/error-codes", token=created.body["token"]).status == 200
    time.sleep(max(0.0, (expires_at - dt.datetime.now(dt.timezone.utc)).total_seconds()) + 0.2)
    reply = api.call("GET", "/admin/error-codes", token=created.body["token"])
    assert reply.status == 401
    assert reply.body["error_code"] == "API-401" and "expired at" in reply.body["detail"]
    assert reply.headers.get("www-authenticate") == "Bearer"


def test_authentication_records_the_last_use_at_most_once_a_minute(api, engine):
    viewer_id = _token_id(engine, "viewer-op")

    def last_used() -> dt.datetime | None:
        with engine.connect() as conn:
            value = conn.execute(sa.select(ApiToken.last_used_at)
                                 .where(ApiToken.token_id == viewer_id)).scalar_one()
        # SQLite returns naive datetimes; everything stored is UTC.
        return value.replace(tzinfo=dt.timezone.utc) if value and not value.tzinfo else value

    assert last_used() is None
    started = dt.datetime.now(dt.timezone.utc)
    assert api.call("GET", "/admin/error-codes").status == 200
    first = last_used()
    assert first is not None
    assert started - dt.timedelta(seconds=1) <= first <= dt.datetime.now(dt.timezone.utc)
    for _ in range(3):  # within the minute: no further write
        assert api.call("GET", "/admin/error-codes").status == 200
    assert last_used() == first
