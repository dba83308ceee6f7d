"""The audit log's pure rules: what a state holds as JSON, which names and values are
credentials, and which actions are well-formed."""

import datetime as dt
import decimal
import enum
import uuid

import pytest

from opsrel_core.domain.audit_records import (
    AuditActionType, action_kind, json_safe, require_attribution, with_derived,
)
from opsrel_core.domain.audit_redaction import REDACTED, is_secret_key, redact_state, redact_text
from opsrel_core.errors import BatchExecutionException


class Colour(enum.Enum):
    RED = "red"


def test_json_safe_converts_column_values():
    naive = dt.datetime(2024, 3, 1, 10, 0)
    value = {"at": naive, "day": dt.date(2024, 3, 1), "n": decimal.Decimal("1.50"),
             "id": uuid.UUID(int=1), "raw": b"\x01\xff", "c": Colour.RED, 3: (1, None)}
    assert json_safe(value) == {
        "at": "2024-03-01T10:00:00+00:00", "day": "2024-03-01", "n": "1.50",
        "id": "00000000-0000-0000-0000-000000000001", "raw": "01ff", "c": "red", "3": [1, None]}


@pytest.mark.parametrize("key", ["token_hash", "smtp_password", "client_secret", "api_key",
                                 "slack_webhook_url", "Token", "refresh_token", "ops_dsn"])
def test_credential_names(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["operator_id", "reason", "token_id", "status"])
def test_ordinary_names(key):
    assert not is_secret_key(key)


def test_credential_values_are_masked_wherever_they_are():
    token = "opsrel_" + "x" * 43
    assert redact_text("https://hooks.slack.com/services/T0/B0/abc") == REDACTED
    assert redact_text(f"use {token} now") == f"use {REDACTED} now"
    assert redact_text("opsrel_replay_launch_sensor") == "opsrel_replay_launch_sensor"
    state = {"password": "p", "api_key": None, "nested": [{"url": "smtp://u:pw@host"}]}
    assert redact_state(state) == {"password": REDACTED, "api_key": None,
                                   "nested": [{"url": f"smtp://u:{REDACTED}@host"}]}
    assert state["password"] == "p"  # a copy: the captured state is not changed


def test_action_kind_checks_the_action():
    assert action_kind("CONFIG_CHANGE", "SET_K") is AuditActionType.CONFIG_CHANGE
    for kind, action in (("NO_SUCH_KIND", "SET_K"), ("BATCH_ACTION", " "),
                         ("BATCH_ACTION", "A" * 51), ("BATCH_ACTION", None)):
        with pytest.raises(ValueError):
            action_kind(kind, action)


def test_attribution_is_normalized_and_its_reason_masked():
    token = "opsrel_" + "y" * 43
    assert require_attribution("ｋｉｍ", f"leaked {token}") == ("kim", f"leaked {REDACTED}")
    with pytest.raises(BatchExecutionException) as info:
        require_attribution("kim", "\u200b")
    assert info.value.code == "BAT-008"


def test_derived_fields_are_added_to_an_existing_state_only():
    def derive(state):
        return {"stop_requested": state["status"] == "STOPPING"}
    assert with_derived({"status": "STOPPING"}, derive) == {
        "status": "STOPPING", "stop_requested": True}
    assert with_derived(None, derive) is None
    assert with_derived({"status": "RUNNING"}, None) == {"status": "RUNNING"}
