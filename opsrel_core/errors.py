"""The opsrel error taxonomy.

Every failure opsrel records carries a catalog code. ``OpsException`` keeps two messages apart:
``operator_message`` (what went wrong, for the person on call: file names, columns, values) and
the user-facing message, which comes from the catalog (``error_code.user_message``) and never
carries internals. Category classes fix the code prefix: raising ``InputDataException`` with a
``SYS-`` code is a programming error and raises ``ValueError``.
"""

from typing import Any, ClassVar

from opsrel_core.domain.error_codes import KNOWN_CODES, category_of


class OpsException(Exception):
    """Base of every coded opsrel error.

    Args:
        code: catalog code, e.g. ``"INP-001"``; its prefix must match the class's category.
        operator_message: what happened, for the operator; may name files, columns and values.
        details: optional structured context (JSON-serialisable), e.g. ``{"column": "carrier"}``.

    Raises:
        ValueError: the code is not in the catalog, or its category does not match the class
            (for example an ``EXT-`` code on ``InputDataException``).
    """

    category: ClassVar[str | None] = None

    def __init__(self, code: str, operator_message: str, details: dict[str, Any] | None = None):
        if code not in KNOWN_CODES:
            raise ValueError(f"error code {code!r} is not in the error-code catalog")
        found = category_of(code)
        if self.category is not None and found != self.category:
            raise ValueError(
                f"{type(self).__name__} takes {self.category}- codes, got {code!r}"
            )
        super().__init__(f"[{code}] {operator_message}")
        self.code = code
        self.operator_message = operator_message
        self.details = dict(details or {})


class InputDataException(OpsException):
    """Bad or missing input data (INP)."""

    category = "INP"


class ExternalApiException(OpsException):
    """An external system (mail server, webhook, source API) failed (EXT)."""

    category = "EXT"


class BatchExecutionException(OpsException):
    """An execution lifecycle rule was broken, e.g. an invalid transition (BAT)."""

    category = "BAT"


class NotFoundException(BatchExecutionException, LookupError):
    """An id that names nothing (BAT-002 execution, BAT-010 replay or version, BAT-011 alert or
    API token). Also a ``LookupError``, so callers that catch that keep working."""


class ConflictException(BatchExecutionException):
    """A request that conflicts with what is recorded or in flight: a request key reused for
    another request (BAT-009), a partition with a run in flight (BAT-012). The admin API answers
    409 for it, whatever its code."""


class DataQualityException(OpsException):
    """A data-quality rule failed (DQ)."""

    category = "DQ"


class LogicException(OpsException):
    """A computation broke one of its own invariants (LOG)."""

    category = "LOG"


class SystemException(OpsException):
    """Infrastructure failure or an unexpected exception (SYS)."""

    category = "SYS"
