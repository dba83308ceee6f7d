"""Operator names and reasons: the one rule every entry point applies (pure functions, no DB)."""

import pytest

from opsrel_core.domain import error_codes
from opsrel_core.domain.operator_names import (
    normalize_operator_name,
    refuse_reserved_principal,
    require_reason,
)
from opsrel_core.errors import BatchExecutionException


@pytest.mark.parametrize(("given", "recorded"), [
    ("alice", "alice"),
    ("Kim Lee", "Kim Lee"),
    ("ops-bot_2", "ops-bot_2"),
    ("ｋｉｍ", "kim"),  # full-width letters are the same name
    ("müller", "müller"),
    ("mu\u0308ller", "müller"),  # a combining diaeresis composes
    ("алиса", "алиса"),  # one script, even if not Latin
    ("山田たろう", "山田たろう"),  # Han with Hiragana is one writing system
    ("sensor:opsrel_landing_sensor", "sensor:opsrel_landing_sensor"),
    ("a" * 100, "a" * 100),
])
def test_usable_names_are_recorded_in_their_nfkc_form(given, recorded):
    assert normalize_operator_name(given) == recorded


@pytest.mark.parametrize(("given", "said"), [
    (None, "is required"),
    ("", "is required"),
    ("   ", "is required"),
    ("alice ", "spaces around it"),
    (" alice", "spaces around it"),
    ("ali\u200bce", "U+200B"),  # zero-width space
    ("\u200b\u200b", "U+200B"),  # zero-width only (not blank to str.strip)
    ("ali\u200dce", "U+200D"),  # zero-width joiner
    ("\ufeffalice", "U+FEFF"),  # byte-order mark
    ("alice\u202egpj.exe", "U+202E"),  # right-to-left override
    ("alice\u2066", "U+2066"),  # left-to-right isolate
    ("ali\x00ce", "U+0000"),
    ("ali\tce", "U+0009"),
    ("ali\nce", "U+000A"),
    ("ali\u2028ce", "U+2028"),  # line separator
    ("ali\u1680ce", "U+1680"),  # ogham space mark: a space that is not a plain space
    ("\u0430lice", "CYRILLIC, LATIN"),  # Cyrillic a in a Latin name
    ("p\u0430yp\u0430l", "CYRILLIC, LATIN"),
    ("\u03bfps", "GREEK, LATIN"),  # Greek omicron
    ("a" * 101, "longer than 100"),
])
def test_look_alike_and_invisible_names_are_refused_with_bat_008(given, said):
    with pytest.raises(BatchExecutionException) as refused:
        normalize_operator_name(given)
    assert refused.value.code == error_codes.BAT_ATTRIBUTION_REQUIRED
    assert said in refused.value.operator_message
    assert "nothing was written" in refused.value.operator_message
    assert refused.value.details == {"field": "operator_id"}


def test_the_error_names_the_field_it_checks():
    with pytest.raises(BatchExecutionException) as refused:
        normalize_operator_name("r\u200bot", field="by")
    assert refused.value.details == {"field": "by"}
    assert refused.value.operator_message.startswith("by ")


@pytest.mark.parametrize("reason", [
    "stuck run", "  padded but visible  ", "line one\nline two", "\u200bzero-width then text"])
def test_a_reason_with_a_visible_character_is_kept_as_given(reason):
    assert require_reason(reason) == reason


@pytest.mark.parametrize("reason", [
    None, "", "   ", "\u200b", "\u200b\u200c\u200d\u2060\ufeff", "\t\n", "\u202e\u202c", 42])
def test_a_reason_without_a_visible_character_is_refused(reason):
    with pytest.raises(BatchExecutionException) as refused:
        require_reason(reason)
    assert refused.value.code == error_codes.BAT_ATTRIBUTION_REQUIRED
    assert refused.value.details == {"field": "reason"}


@pytest.mark.parametrize("name", [
    "sensor:opsrel_landing_sensor", "os:alice", "token:17", "Sensor:x", "TOKEN:1"])
def test_principal_names_are_reserved(name):
    with pytest.raises(BatchExecutionException) as refused:
        refuse_reserved_principal(name)
    assert refused.value.code == error_codes.BAT_ATTRIBUTION_REQUIRED
    assert "names a principal" in refused.value.operator_message


@pytest.mark.parametrize("name", ["alice", "sensors-team", "tokenizer", "os2", "kim:ops"])
def test_other_names_are_not_reserved(name):
    assert refuse_reserved_principal(name) == name


@pytest.mark.parametrize(("operator", "reason"), [
    ("ali\u200bce", "late data"), ("\u0430lice", "late data"), ("alice", "\u200b\u200b")])
def test_run_tags_with_a_look_alike_name_or_invisible_reason_attribute_nothing(operator, reason):
    """The same rule for Dagster run tags: such a run is unattributed (no audit record, it may
    not replace an active result) instead of failing when the projection records it."""
    from opsrel_core.domain.attribution import LaunchFacts, attribute

    tags = {"opsrel/operator": operator, "opsrel/reason": reason}
    found = attribute(LaunchFacts(tags=tags))
    assert (found.decided, found.audit_action) == (False, None)
    kept = attribute(LaunchFacts(tags={"opsrel/operator": "ｋｉｍ", "opsrel/reason": "late data"}))
    assert (kept.decided, kept.operator_id, kept.audit_action) == (True, "kim", "MANUAL_RUN")
