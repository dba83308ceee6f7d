"""What every ``opsrel`` command prints and how it exits: text tables, JSON, coded errors with
their exit status, and the redaction of configured secrets."""

import sys
from typing import NoReturn

import click


def _redacted(text: str) -> str:
    # The one redaction rule, with every secret of the environment (the database URL's password
    # among them).
    from opsrel_core.log_redaction import redactor_from_env

    return redactor_from_env().redact(text)


def table(headers: list[str], rows: list[list[object]]) -> str:
    """Rows as a left-aligned text table under a header line; None shows as ``-``.

    Args:
        headers: column names.
        rows: one list of cell values per row, as many as ``headers``.

    Returns:
        The table, without a trailing newline (only the header when there are no rows).
    """
    cells = [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in [headers, *cells])


# Exit statuses every command keeps (README): 0 done, 1 an unknown id (or a failed run),
# 2 bad input or a refused request (nothing written), 3 a system that did not answer.
EXIT_UNKNOWN_ID, EXIT_BAD_INPUT, EXIT_UNAVAILABLE = 1, 2, 3


def exit_code_of(exc: Exception) -> int:
    """The exit status for a coded error: ``EXIT_UNKNOWN_ID`` for an id that names nothing
    (``NotFoundException``, BAT-002, BAT-010, BAT-011), ``EXIT_UNAVAILABLE`` for EXT and SYS
    codes (a system did not answer), ``EXIT_BAD_INPUT`` for anything else (a refused request)."""
    from opsrel_core.domain import error_codes
    from opsrel_core.errors import NotFoundException

    code = getattr(exc, "code", "")
    if isinstance(exc, NotFoundException) or code in (
        error_codes.BAT_EXECUTION_NOT_FOUND, error_codes.BAT_REPLAY_NOT_FOUND,
        error_codes.BAT_RECORD_NOT_FOUND,
    ):
        return EXIT_UNKNOWN_ID
    if code[:3] in ("EXT", "SYS"):
        return EXIT_UNAVAILABLE
    return EXIT_BAD_INPUT


def fail(exc: Exception, prefix: str = "") -> NoReturn:
    """Print ``[CODE] message`` (after ``prefix``) on stderr and exit by ``exit_code_of``.

    Args:
        exc: an ``OpsException`` (its code and operator message are printed).
        prefix: e.g. ``"replay refused "``; empty by default.
    """
    message = getattr(exc, "operator_message", str(exc))
    status = exit_code_of(exc)
    if status == EXIT_UNAVAILABLE:  # a driver's or server's message: one line, as for cron mail
        message = " ".join(message.split())
    click.echo(f"{prefix}[{getattr(exc, 'code', '?')}] {message}", err=True)
    sys.exit(status)


def _dump(value: object) -> str:
    import dataclasses
    import json

    from opsrel_core.services.audit_log import json_safe

    def default(obj: object) -> object:
        if dataclasses.is_dataclass(obj):
            return dataclasses.asdict(obj)  # type: ignore[arg-type]
        return json_safe(obj)  # times UTC ISO 8601, enums by value

    return json.dumps(value, indent=2, default=default)
