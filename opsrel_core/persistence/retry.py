"""Retry of transient database failures: an ops write survives a database that drops out briefly.

A dropped connection (a restarted PostgreSQL, a terminated backend, a pooler hiccup) or a busy
SQLite database surfaces as ``OperationalError`` / an invalidated connection. Service methods
are idempotent (compare-and-set transitions, unique keys), so they are retried with backoff; the
pool's pre-ping replaces dead connections in between. After the last attempt the failure is
raised as ``SystemException`` SYS-002 with the driver's message for the operator.
"""

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.errors import SystemException

log = logging.getLogger(__name__)

BACKOFF_SECONDS: tuple[float, ...] = (0.1, 0.3, 1.0, 2.0, 4.0)

_SQLITE_TRANSIENT = ("locked", "busy", "unable to open", "disk i/o")

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)


def is_transient(exc: BaseException) -> bool:
    """True for failures a retry can cure: operational errors and invalidated connections."""
    if isinstance(exc, sa.exc.OperationalError):
        if exc.orig is not None and type(exc.orig).__module__.startswith("sqlite3"):
            # SQLite says OperationalError for a missing table too; only contention and an
            # unreachable file are worth a retry.
            message = str(exc.orig).lower()
            return any(word in message for word in _SQLITE_TRANSIENT)
        return True
    return isinstance(exc, sa.exc.DBAPIError) and bool(exc.connection_invalidated)


def retry_transient(fn: F) -> F:
    """Retry ``fn`` on transient database failures, sleeping ``BACKOFF_SECONDS`` in between.

    Raises:
        SystemException: SYS-002 once every attempt failed transiently.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for attempt, pause in enumerate((*BACKOFF_SECONDS, None)):
            try:
                return fn(*args, **kwargs)
            except sa.exc.DBAPIError as exc:
                if not is_transient(exc):
                    raise
                if pause is None:
                    raise SystemException(
                        error_codes.SYS_DATABASE_UNAVAILABLE,
                        f"{fn.__qualname__} failed after {attempt + 1} attempts: "
                        f"{type(exc.orig).__name__}: {str(exc.orig).strip()[:500]}",
                    ) from exc
                log.warning("transient database error in %s, retrying: %s", fn.__qualname__, exc.orig)
                time.sleep(pause)
        raise AssertionError("unreachable")

    return wrapper  # type: ignore[return-value]


def retry_transient_methods(cls: C) -> C:
    """Class decorator: wrap every public method defined on ``cls`` with ``retry_transient``."""
    for name, value in list(vars(cls).items()):
        if not name.startswith("_") and callable(value) and not isinstance(value, (staticmethod, classmethod, type)):
            setattr(cls, name, retry_transient(value))
    return cls


def outage_of(exc: BaseException) -> SystemException | None:
    """The SYS-002 error for a failure that means the ops database cannot be reached, else None.

    One rule for every entry point (the admin API answers 503, the CLI exits 3): SYS-002 raised
    by ``retry_transient`` after its attempts, or a transient database failure raised where no
    retry wraps the call (opening the engine, running the migrations). The message names the
    driver's error and never the URL's password (drivers do not print it).

    Args:
        exc: any exception; the exceptions it was raised from or while handling (``__cause__``,
            ``__context__``) are looked at too, so a database failure wrapped by a framework
            (Dagster, Alembic) is still recognized.

    Returns:
        A ``SystemException`` with code SYS-002, or None for any other failure.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _outage(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _outage(exc: BaseException) -> SystemException | None:
    if isinstance(exc, SystemException):
        return exc if exc.code == error_codes.SYS_DATABASE_UNAVAILABLE else None
    if isinstance(exc, sa.exc.DBAPIError) and is_transient(exc):
        first_line = str(exc.orig).strip().splitlines()[0][:300] if str(exc.orig).strip() else ""
        return SystemException(
            error_codes.SYS_DATABASE_UNAVAILABLE,
            f"the ops database cannot be reached ({type(exc.orig).__name__}: {first_line}); "
            "check that it runs and that OPSREL_DATABASE_URL names it, then try again",
        )
    return None
