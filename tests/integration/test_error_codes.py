"""The error-code catalog and the exception taxonomy, on both backends.

The service returns the catalog's values; ``KNOWN_CODES`` equals the ``error_code`` table; an
exception refuses a code the catalog lacks; the user-facing message is the catalog's, never the
operator message the exception carries.
"""

import pytest
import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.errors import (
    BatchExecutionException,
    DataQualityException,
    ExternalApiException,
    InputDataException,
    LogicException,
    OpsException,
    SystemException,
)
from opsrel_core.persistence.tables import ErrorCode
from opsrel_core.services.error_codes import ErrorCodeService

CLASSES = {
    "INP": InputDataException,
    "EXT": ExternalApiException,
    "BAT": BatchExecutionException,
    "DQ": DataQualityException,
    "LOG": LogicException,
    "SYS": SystemException,
}


@pytest.fixture
def codes(engine) -> ErrorCodeService:
    return ErrorCodeService(engine)


def test_get_returns_the_catalog_values(codes):
    sys1 = codes.get("SYS-001")
    assert (sys1.category, sys1.title, sys1.severity, sys1.retryable, sys1.auto_alert) == (
        "SYS", "Unexpected error", "CRITICAL", True, True,
    )
    assert sys1.user_message == "An internal error occurred. The operations team has been notified."
    inp5 = codes.get("INP-005")
    assert (inp5.severity, inp5.retryable, inp5.auto_alert) == ("WARNING", False, False)
    assert inp5.user_message == "No input was available for this date."
    ext2 = codes.get("EXT-002")
    assert (ext2.retryable, ext2.auto_alert) == (True, False)
    assert codes.get("BAT-002").severity == "INFO"


def test_is_retryable_and_is_auto_alert(codes):
    assert codes.is_retryable("SYS-001") and codes.is_auto_alert("SYS-001")
    assert not codes.is_auto_alert("INP-005")
    assert not codes.is_retryable("INP-001") and codes.is_auto_alert("INP-001")
    assert codes.is_retryable("EXT-003") and not codes.is_auto_alert("EXT-003")
    assert not codes.is_retryable("BAT-001") and not codes.is_auto_alert("BAT-001")
    assert codes.is_auto_alert("DQ-001") and codes.is_retryable("DQ-003")


def test_unknown_code(codes):
    assert codes.find("NOPE-001") is None
    with pytest.raises(KeyError):
        codes.get("INP-999")
    with pytest.raises(KeyError):
        codes.is_retryable("INP-999")
    with pytest.raises(KeyError):
        codes.is_auto_alert("INP-999")


def test_list_codes_by_category(codes):
    bat = [c.code for c in codes.list_codes("BAT")]
    assert bat[:5] == [f"BAT-00{i}" for i in range(1, 6)]  # the initial catalog; later ones follow
    assert bat == sorted(c for c in error_codes.KNOWN_CODES if c.startswith("BAT-"))
    assert [c.code for c in codes.list_codes("DQ")] == ["DQ-001", "DQ-002", "DQ-003"]
    everything = codes.list_codes()
    assert [c.code for c in everything] == sorted(c.code for c in everything)
    assert len(everything) >= 22  # 0002_initial_data loads 22; later migrations add more
    for category in error_codes.CATEGORIES:
        listed = codes.list_codes(category)
        assert listed and all(c.category == category for c in listed)
        assert all(c.code.startswith(category + "-") for c in listed)
    assert sum(len(codes.list_codes(c)) for c in error_codes.CATEGORIES) == len(everything)


@pytest.mark.parametrize("category", ["XYZ", "inp", "", "INP-001"])
def test_unknown_category_is_a_value_error(codes, category):
    with pytest.raises(ValueError):
        codes.list_codes(category)


def test_known_codes_equal_the_catalog_table(engine):
    with engine.connect() as conn:
        in_table = set(conn.scalars(sa.select(ErrorCode.__table__.c.code)))
    assert error_codes.KNOWN_CODES == in_table


def test_every_catalog_entry_keeps_user_and_operator_messages_apart(codes):
    for view in codes.list_codes():
        assert view.user_message.strip() and view.operator_message.strip()
        assert view.user_message != view.operator_message, view.code


@pytest.mark.parametrize("cls", [OpsException, *CLASSES.values()])
@pytest.mark.parametrize("code", ["INP-999", "SYS-000", "XYZ-001", "", "inp-001"])
def test_unknown_code_on_any_exception_class_is_a_value_error(cls, code):
    with pytest.raises(ValueError):
        cls(code, "operator detail")


@pytest.mark.parametrize("category, cls", CLASSES.items())
def test_each_class_takes_its_own_codes_only(category, cls):
    own = sorted(c for c in error_codes.KNOWN_CODES if c.startswith(category + "-"))
    assert own
    for code in own:
        exc = cls(code, "detail")
        assert (exc.code, exc.operator_message, exc.details) == (code, "detail", {})
        assert isinstance(exc, OpsException)
    other = next(c for c in sorted(error_codes.KNOWN_CODES) if not c.startswith(category + "-"))
    with pytest.raises(ValueError):
        cls(other, "detail")


@pytest.mark.parametrize(
    "exc",
    [
        InputDataException(
            "INP-003", "flights_2013-01-01.csv lacks column 'carrier'", {"column": "carrier"}
        ),
        SystemException("SYS-001", "KeyError: 'dep_delay' in clean_flights"),
        BatchExecutionException("BAT-001", "execution run-1 cannot move from SUCCESS to FAILED"),
        DataQualityException("DQ-001", "rule dep_delay_range failed on 17 rows"),
        OpsException("EXT-002", "SMTP 550 at mail.internal:25"),
    ],
    ids=lambda e: e.code,
)
def test_user_message_is_the_catalogs_never_the_operators(codes, exc):
    message = codes.user_message_for(exc)
    assert message == codes.get(exc.code).user_message
    assert exc.operator_message not in message
    assert message not in str(exc)


def test_user_message_for_exact_values(codes):
    exc = InputDataException("INP-001", "landing/2013-01-01.csv has a header and 0 rows")
    assert codes.user_message_for(exc) == (
        "The input for this date had no records, so no result was produced."
    )
    assert str(exc) == "[INP-001] landing/2013-01-01.csv has a header and 0 rows"
