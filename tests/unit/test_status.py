"""Pure tests of the execution state machine table and the error taxonomy."""

import itertools

import pytest

from opsrel_core.domain import error_codes
from opsrel_core.domain.status import (
    ALLOWED_TRANSITIONS,
    TERMINAL_STATUSES,
    ExecutionStatus,
    TriggerType,
    can_transition,
)
from opsrel_core.errors import (
    BatchExecutionException,
    DataQualityException,
    ExternalApiException,
    InputDataException,
    LogicException,
    OpsException,
    SystemException,
)
from opsrel_core.persistence.tables import EXECUTION_STATUSES, TRIGGER_TYPES

S = ExecutionStatus
ALL = list(ExecutionStatus)
NON_TERMINAL = [s for s in ALL if s not in TERMINAL_STATUSES]

# --- the transition table ----------------------------------------------------------------------


def test_terminal_statuses():
    assert TERMINAL_STATUSES == {S.SUCCESS, S.FAILED, S.STOPPED}
    for status in ALL:
        assert status.is_terminal == (status in TERMINAL_STATUSES)


def test_table_covers_every_status():
    assert set(ALLOWED_TRANSITIONS) == set(ALL)


def test_exact_allowed_moves():
    allowed = {(a, b) for a, b in itertools.product(ALL, ALL) if can_transition(a, b)}
    assert allowed == {
        (S.READY, S.RUNNING),
        (S.READY, S.FAILED),
        (S.READY, S.STOPPED),
        (S.RUNNING, S.SUCCESS),
        (S.RUNNING, S.FAILED),
        (S.RUNNING, S.STOPPED),
    }


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATUSES, key=lambda s: s.value))
def test_no_move_out_of_a_terminal_status(terminal):
    assert ALLOWED_TRANSITIONS[terminal] == frozenset()
    for target in ALL:
        assert not can_transition(terminal, target)


@pytest.mark.parametrize("status", ALL)
def test_staying_is_not_a_transition(status):
    assert not can_transition(status, status)


def test_nothing_moves_back_to_ready():
    for status in ALL:
        assert not can_transition(status, S.READY)


def _reachable(start: S) -> set[S]:
    seen: set[S] = set()
    frontier = [start]
    while frontier:
        cur = frontier.pop()
        for nxt in ALLOWED_TRANSITIONS[cur]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen


@pytest.mark.parametrize("status", NON_TERMINAL)
def test_every_non_terminal_status_can_reach_every_terminal_one(status):
    assert TERMINAL_STATUSES <= _reachable(status)


def test_the_graph_has_no_cycles():
    for status in ALL:
        assert status not in _reachable(status)


def test_every_status_is_reachable_from_ready():
    assert _reachable(S.READY) | {S.READY} == set(ALL)


def test_statuses_match_the_database_check_constraints():
    assert tuple(s.value for s in ALL) == EXECUTION_STATUSES
    assert {t.value for t in TriggerType} == set(TRIGGER_TYPES)


def test_status_is_a_str_enum():
    assert S("RUNNING") is S.RUNNING
    assert S.RUNNING == "RUNNING"
    with pytest.raises(ValueError):
        S("CANCELED")


# --- error taxonomy ----------------------------------------------------------------------------

CLASSES = [
    (InputDataException, "INP", error_codes.INP_EMPTY_FILE),
    (ExternalApiException, "EXT", error_codes.EXT_SOURCE_UNAVAILABLE),
    (BatchExecutionException, "BAT", error_codes.BAT_INVALID_TRANSITION),
    (DataQualityException, "DQ", error_codes.DQ_FAIL_RULE),
    (LogicException, "LOG", error_codes.LOG_INVARIANT_BROKEN),
    (SystemException, "SYS", error_codes.SYS_UNEXPECTED),
]


@pytest.mark.parametrize(("cls", "category", "code"), CLASSES, ids=[c[1] for c in CLASSES])
def test_category_class_accepts_its_own_codes(cls, category, code):
    exc = cls(code, "operator detail", {"column": "carrier"})
    assert isinstance(exc, OpsException)
    assert cls.category == category
    assert exc.code == code
    assert exc.operator_message == "operator detail"
    assert exc.details == {"column": "carrier"}
    assert code in str(exc)


@pytest.mark.parametrize(("cls", "category", "code"), CLASSES, ids=[c[1] for c in CLASSES])
def test_category_mismatch_raises_value_error(cls, category, code):
    for other_cls, other_category, other_code in CLASSES:
        if other_category != category:
            with pytest.raises(ValueError):
                cls(other_code, "wrong category")


@pytest.mark.parametrize("code", ["XYZ-001", "INP001", "", "inp-001"])
def test_unknown_category_prefix_raises_value_error(code):
    with pytest.raises(ValueError):
        OpsException(code, "x")
    with pytest.raises(ValueError):
        InputDataException(code, "x")


def test_base_class_takes_any_known_category():
    for _cls, _category, code in CLASSES:
        exc = OpsException(code, "m")
        assert exc.code == code


def test_code_and_operator_message_are_kept_apart():
    exc = InputDataException("INP-003", "column 'carrier' missing in flights_2013-01-01.csv")
    assert exc.code == "INP-003"
    assert exc.operator_message == "column 'carrier' missing in flights_2013-01-01.csv"
    assert "INP-003" not in exc.operator_message
    assert "INP-003" in str(exc)
    assert exc.operator_message in str(exc)
    assert exc.details == {}


def test_details_are_copied():
    details = {"a": 1}
    exc = LogicException("LOG-001", "m", details)
    details["a"] = 2
    assert exc.details == {"a": 1}


def test_exceptions_can_be_raised_and_caught_as_base():
    with pytest.raises(OpsException) as info:
        raise DataQualityException("DQ-001", "rule delay_nonneg failed on 3 rows")
    assert info.value.code == "DQ-001"


@pytest.mark.parametrize("category", error_codes.CATEGORIES)
def test_category_of(category):
    assert error_codes.category_of(f"{category}-001") == category
