"""Names of the error codes opsrel raises itself.

The catalog rows (user message, operator message, severity, retryable, auto_alert) live in the
``error_code`` table, loaded by the data migrations (``0002_initial_data``, ``0003_...``); this module only names
the codes that code refers to, so that a typo is an import error, not a silent unknown code.
``tests/integration/test_migrations.py`` checks that every name here exists in the catalog.
"""

# INP: input data
INP_EMPTY_FILE = "INP-001"
INP_MALFORMED_FILE = "INP-002"
INP_MISSING_COLUMN = "INP-003"
INP_WRONG_PARTITION = "INP-004"
INP_NO_SOURCE_DATA = "INP-005"

# EXT: external systems
EXT_SOURCE_UNAVAILABLE = "EXT-001"
EXT_SMTP_FAILED = "EXT-002"
EXT_WEBHOOK_FAILED = "EXT-003"
EXT_PAGERDUTY_FAILED = "EXT-004"  # a PagerDuty event refused or not answered (migration 0020)

# BAT: batch execution
BAT_INVALID_TRANSITION = "BAT-001"
BAT_EXECUTION_NOT_FOUND = "BAT-002"
BAT_DUPLICATE_EXECUTION = "BAT-003"
BAT_RUN_CANCELED = "BAT-004"
BAT_STEP_FAILED = "BAT-005"
BAT_NO_ACTIVE_VERSION = "BAT-006"
BAT_REPLAY_REASON_REQUIRED = "BAT-007"
BAT_ATTRIBUTION_REQUIRED = "BAT-008"
BAT_REPLAY_INVALID = "BAT-009"
BAT_REPLAY_NOT_FOUND = "BAT-010"
BAT_RECORD_NOT_FOUND = "BAT-011"  # an alert or API token id (migration 0009)
BAT_PARTITION_BUSY = "BAT-012"  # a run or replay of the partition is in flight (migration 0010)
BAT_ALREADY_ACKNOWLEDGED = "BAT-013"  # an alert acknowledged by another operator (migration 0013)
BAT_REPLAY_LIMIT = "BAT-014"  # an operator's limit of pending replays reached (migration 0013)
BAT_PARTITION_LATE = "BAT-015"  # no active version past the job's deadline (migration 0019)

# DQ: data quality
DQ_FAIL_RULE = "DQ-001"
DQ_WARN_ACCUMULATED = "DQ-002"
DQ_CHECK_ERRORED = "DQ-003"

# LOG: logic
LOG_INVARIANT_BROKEN = "LOG-001"
LOG_EMPTY_RESULT = "LOG-002"
LOG_INCONSISTENT_TOTALS = "LOG-003"

# SYS: system
SYS_UNEXPECTED = "SYS-001"
SYS_DATABASE_UNAVAILABLE = "SYS-002"
SYS_WORKER_LOST = "SYS-003"
SYS_RUN_SET_ASIDE = "SYS-004"  # a run whose projection keeps failing (migration 0010)

CATEGORIES: tuple[str, ...] = ("INP", "EXT", "BAT", "DQ", "LOG", "SYS")

# Every code of the catalog, as loaded by the data migrations. A test keeps this set equal to the
# ``error_code`` table, so an exception can refuse an unknown code without a database round trip.
KNOWN_CODES: frozenset[str] = frozenset(
    value
    for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, str) and "-" in value and name[:3] in (
        "INP", "EXT", "BAT", "DQ_", "LOG", "SYS"
    )
)


def category_of(code: str) -> str:
    """Return the category prefix of an error code.

    Args:
        code: a catalog code such as ``"INP-001"``.

    Returns:
        The prefix (``"INP"``), one of ``CATEGORIES``.

    Raises:
        ValueError: the code does not start with a known category.
    """
    prefix = code.split("-", 1)[0]
    if prefix not in CATEGORIES:
        raise ValueError(f"error code {code!r} has no known category prefix {CATEGORIES}")
    return prefix
