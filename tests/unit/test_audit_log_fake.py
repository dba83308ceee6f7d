"""The audit log's rules over the in-memory repository: attribution refused before anything runs,
states captured before and after, credentials masked, the acting principal recorded, and the
reads' filters and keyset cursor. No database server: the unit of work runs on an empty
in-memory SQLite the fake never queries (a mapping target needs no table)."""

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.repositories.audit import AuditRepository
from opsrel_core.services.audit_log import (
    MISSING_REQUIRED_FIELD_CODE, REDACTED, AuditLogService, acting_as,
)
from tests.support.fakes.audit import AuditStore, FakeAuditRepository

T0 = dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.timezone.utc)
TOKEN = "opsrel_" + "A" * 43


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    eng = sa.create_engine("sqlite://")
    yield eng
    eng.dispose()


@pytest.fixture
def store() -> AuditStore:
    return AuditStore()


@pytest.fixture
def audit(engine, store) -> AuditLogService:
    return AuditLogService(engine, repository=store.repository)


def _change(audit: AuditLogService, config: dict, *, operator_id: str = "park",
            at: dt.datetime = T0, target_id: str = "alert_policy", **kw):
    return audit.log_config_change(
        operator_id=operator_id, reason=kw.pop("reason", "too many alerts"),
        action="SET_WARN_THRESHOLD", target=config, target_id=target_id,
        mutate=lambda c: c.update(warn_threshold=5), at=at, **kw)


def test_the_fake_has_every_method_of_the_repository():
    def public(cls: type) -> set[str]:
        return {n for n in vars(cls) if not n.startswith("_")}
    assert public(FakeAuditRepository) == public(AuditRepository)


def test_a_config_change_records_its_states_and_principal(audit, store):
    config = {"warn_threshold": 3, "since": T0}
    with acting_as("token:7"):
        view = _change(audit, config)
    assert config["warn_threshold"] == 5
    assert (view.audit_id, view.operator_id, view.action_type, view.target_type,
            view.target_id, view.principal) == (
        1, "park", "CONFIG_CHANGE", "config", "alert_policy", "token:7")
    assert view.before_state == {"warn_threshold": 3, "since": "2024-03-01T10:00:00+00:00"}
    assert view.after_state == {"warn_threshold": 5, "since": "2024-03-01T10:00:00+00:00"}
    assert view.occurred_at == T0
    assert [r["audit_id"] for r in store.records] == [1]


def test_credentials_never_reach_the_stored_record(audit, store):
    config = {"smtp_password": "hunter2-secret", "smtp_user": None, "token_hash": None,
              "url": "postgresql://ops:pw-123@db/ops", "note": f"paste {TOKEN}"}
    view = _change(audit, config, reason=f"rotate {TOKEN}")
    stored = store.records[0]
    assert stored["before_state"]["smtp_password"] == REDACTED
    assert stored["before_state"]["token_hash"] is None  # null stays null: none was set
    assert stored["before_state"]["url"] == f"postgresql://ops:{REDACTED}@db/ops"
    assert stored["before_state"]["note"] == f"paste {REDACTED}"
    assert stored["reason"] == view.reason == f"rotate {REDACTED}"
    assert view.before_state == stored["before_state"]


def test_a_stored_credential_is_masked_again_when_read(audit, store):
    _change(audit, {"warn_threshold": 3})
    store.records[0]["after_state"] = {"api_key": "written-before-the-rule"}
    [view] = audit.list_audit_logs()
    assert view.after_state == {"api_key": REDACTED}


@pytest.mark.parametrize("field", ["operator_id", "reason"])
@pytest.mark.parametrize("blank", [None, "", "  ", "\u200b"], ids=repr)
def test_an_unattributed_change_is_refused_before_it_runs(audit, store, field, blank):
    config = {"warn_threshold": 3}
    kwargs = {"operator_id": "kim", "reason": "because", field: blank}
    with pytest.raises(BatchExecutionException) as info:
        audit.log_config_change(action="SET_K", target=config, target_id="cfg",
                                mutate=lambda c: c.update(warn_threshold=5), **kwargs)
    assert info.value.code == MISSING_REQUIRED_FIELD_CODE == "BAT-008"
    assert (config, store.records) == ({"warn_threshold": 3}, [])


@pytest.mark.parametrize("action, target_id", [("", "cfg"), ("A" * 51, "cfg"), ("SET_K", None)])
def test_a_malformed_change_is_refused_before_it_runs(audit, store, action, target_id):
    config = {"k": 1}
    with pytest.raises(ValueError):
        audit.log_config_change(operator_id="kim", reason="r", action=action, target=config,
                                target_id=target_id, mutate=lambda c: c.update(k=2))
    assert (config, store.records) == ({"k": 1}, [])


def test_reads_filter_and_page_newest_first(audit):
    hour = dt.timedelta(hours=1)
    ids = [_change(audit, {"k": i}, operator_id=("kim", "lee")[i % 2], at=T0 + i * hour,
                   target_id=f"cfg-{i % 3}").audit_id for i in range(6)]
    assert [v.audit_id for v in audit.list_audit_logs()] == ids[::-1]
    assert [v.audit_id for v in audit.list_audit_logs(operator_id="lee")] == [ids[5], ids[3], ids[1]]
    assert [v.audit_id for v in audit.list_audit_logs(target_type="config", target_id="cfg-0")] == [
        ids[3], ids[0]]
    # ``since`` is inclusive, ``until`` exclusive; an aware time in another zone is read as UTC.
    kst = dt.timezone(dt.timedelta(hours=9))
    window = audit.list_audit_logs(since=(T0 + hour).astimezone(kst), until=T0 + 3 * hour)
    assert [v.audit_id for v in window] == [ids[2], ids[1]]
    first = audit.list_audit_logs(limit=4)
    second = audit.list_audit_logs(limit=4, before_audit_id=first[-1].audit_id)
    assert [v.audit_id for v in first + second] == ids[::-1]
    assert audit.newest_audit_id("config", "cfg-1", "SET_WARN_THRESHOLD") == ids[4]
    assert audit.newest_audit_id("config", "cfg-9", "SET_WARN_THRESHOLD") is None


@pytest.mark.parametrize("limit", [0, 1001])
def test_a_page_size_out_of_range_is_refused(audit, limit):
    with pytest.raises(ValueError, match="limit must be 1..1000"):
        audit.list_audit_logs(limit=limit)
