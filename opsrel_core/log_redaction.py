"""Redaction at the entry points: the secrets the environment configures, applied to every log
record and to uncaught exceptions of the process.

The rule itself is ``opsrel_core.domain.redaction``. The entry points (the CLI, hence
``opsrel api serve``; the Dagster dispatch sensor and ``dispatch_alerts``) call
``install_log_redaction`` once they know their settings. It hooks the log record factory, so
every record of the process (opsrel's, uvicorn's, Dagster's, whatever handler prints or stores
it) is redacted when it is created:

* the message and its arguments are redacted (arguments keep their position, so formatters that
  read ``record.args``, like uvicorn's access log, keep working);
* an exception whose formatted traceback holds a secret is logged without its traceback: the
  record keeps ``<ExceptionType>: <redacted message>`` and says the traceback was withheld;
* a stack trace (``stack_info``) is redacted.

An uncaught exception whose traceback holds a secret is printed the same way (``sys.excepthook``).
"""

import logging
import sys
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from opsrel_core.config.redaction import redactor_from_env
from opsrel_core.domain.redaction import WITHHELD, Redactor

def redact_record(record: logging.LogRecord, redactor: Redactor) -> logging.LogRecord:
    """Redact one log record in place (see the module docstring) and return it."""
    if not redactor:
        return record
    if isinstance(record.msg, str):
        record.msg = redactor.redact(record.msg)
    elif record.msg is not None and redactor.finds(str(record.msg)):
        record.msg = redactor.redact(str(record.msg))
    if isinstance(record.args, tuple):
        record.args = tuple(_redact_arg(a, redactor) for a in record.args)
    elif isinstance(record.args, Mapping):
        record.args = {k: _redact_arg(v, redactor) for k, v in record.args.items()}
    exc = record.exc_info[1] if record.exc_info else None
    if exc is not None and redactor.traceback_holds_secret(exc):
        summary = f" [{WITHHELD}] {redactor.describe_exception(exc)}"
        record.msg = f"{record.msg}{summary.replace('%', '%%') if record.args else summary}"
        record.exc_info = None
        record.exc_text = None
    elif record.exc_text:
        record.exc_text = redactor.redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redactor.redact(record.stack_info)
    try:
        message = record.getMessage()
    except Exception:  # a malformed record is the logging module's to report
        return record
    if redactor.finds(message):  # a secret assembled from several arguments
        record.msg, record.args = redactor.redact(message), ()
    return record


def _redact_arg(value: Any, redactor: Redactor) -> Any:
    if value is None or isinstance(value, (int, float, bool)):
        return value
    text = value if isinstance(value, str) else str(value)
    return redactor.redact(text) if redactor.finds(text) else value


class RedactingFilter(logging.Filter):
    """A ``logging.Filter`` that redacts each record (``redact_record``) and lets it pass.

    Args:
        redactor: the secrets to remove; replace it with ``use``.
    """

    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redactor = redactor

    def use(self, redactor: Redactor) -> None:
        """Redact with ``redactor`` from now on."""
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record, self.redactor)
        return True


_lock = threading.Lock()
_installed: RedactingFilter | None = None


def install_log_redaction(redactor: Redactor | None = None) -> RedactingFilter:
    """Redact every log record of this process and its uncaught exceptions; idempotent.

    The first call wraps the log record factory and ``sys.excepthook``; a later call only
    replaces the redactor (settings read again by a long-running process).

    Args:
        redactor: the secrets; ``redactor_from_env()`` when omitted.

    Returns:
        The installed filter (also usable on a handler of one's own).
    """
    global _installed
    redactor = redactor if redactor is not None else redactor_from_env()
    with _lock:
        if _installed is not None:
            _installed.use(redactor)
            return _installed
        active = RedactingFilter(redactor)
        make_record = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_record(make_record(*args, **kwargs), active.redactor)

        logging.setLogRecordFactory(factory)
        previous_hook = sys.excepthook

        def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
            if active.redactor.traceback_holds_secret(exc):
                print(f"{active.redactor.describe_exception(exc)} [{WITHHELD}]", file=sys.stderr)
                return
            previous_hook(kind, exc, tb)

        sys.excepthook = excepthook
        _installed = active
        return active


__all__ = [
    "RedactingFilter", "WITHHELD", "install_log_redaction", "redact_record", "redactor_from_env",
]
