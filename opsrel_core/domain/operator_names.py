"""Operator names and reasons as the audit log records them: one rule for every entry point.

An operator name says who acted; two names that look the same must be the same name. So a name is
taken in its NFKC form (full-width ``ｋｉｍ`` is ``kim``), and refused when it holds what a reader
cannot see or tell apart: control characters, format characters (zero-width spaces and joiners,
the byte-order mark), bidirectional overrides and isolates, surrounding spaces, or letters of more
than one script (a Cyrillic ``а`` inside a Latin name). A reason is free text but must say
something: at least one visible character (a reason of zero-width characters only is blank).

Principals are the authenticated actors the audit log records beside the operator name:
``token:<id>`` (an admin API token), ``os:<user>`` (the OS user running the CLI) and
``sensor:<name>`` (a Dagster sensor). Those prefixes are reserved: no API token may be minted for a
name that starts with one.

Every refusal is a ``BatchExecutionException`` with BAT-008 (the catalog's code for an action
whose attribution is missing or unusable; nothing is written), naming the field and the offending
character.
"""

import getpass
import os
import unicodedata

from opsrel_core.domain import error_codes
from opsrel_core.errors import BatchExecutionException

MAX_OPERATOR_NAME_LENGTH = 100
RESERVED_PRINCIPAL_PREFIXES = ("token:", "os:", "sensor:")

# Scripts that share letters with Latin shapes, and script families that are written together
# (Japanese mixes Han, Hiragana and Katakana; Korean mixes Hangul and Han).
_SCRIPT_FAMILIES = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK", "CJK": "CJK"}


def _refuse(field: str, message: str) -> BatchExecutionException:
    return BatchExecutionException(
        error_codes.BAT_ATTRIBUTION_REQUIRED, f"{field} {message}; nothing was written",
        {"field": field},
    )


def _char(ch: str) -> str:
    name = unicodedata.name(ch, "unnamed character")
    return f"U+{ord(ch):04X} ({name})"


def _script(ch: str) -> str | None:
    """The script of a letter, from its Unicode name (``LATIN SMALL LETTER A`` -> LATIN)."""
    if not ch.isalpha():
        return None
    first = unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0]
    return _SCRIPT_FAMILIES.get(first, first)


def normalize_operator_name(value: object, field: str = "operator_id") -> str:
    """The operator name as recorded: NFKC, checked.

    Args:
        value: the name as an entry point received it (a token's operator, ``--operator``, the
            OS user, a sensor's ``sensor:<name>``).
        field: the field named in the error (``operator_id``, ``by``).

    Returns:
        The NFKC form of ``value`` (1..100 characters).

    Raises:
        BatchExecutionException: BAT-008 when ``value`` is missing, not a string, blank, longer
            than 100 characters, has spaces around it, holds a control, format (zero-width),
            bidirectional-override, line-separator, private-use or unassigned character, or
            mixes letters of several scripts.
    """
    if not isinstance(value, str) or not value.strip():
        raise _refuse(field, f"is required and must not be blank (got {value!r})")
    name = unicodedata.normalize("NFKC", value)
    if name != name.strip():
        raise _refuse(field, f"{value!r} has spaces around it; give the name without them")
    for ch in name:
        category = unicodedata.category(ch)
        if category[0] == "C" or category in ("Zl", "Zp") or unicodedata.bidirectional(ch) in (
            "LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"
        ):
            raise _refuse(field, f"{value!r} holds an invisible or control character {_char(ch)}")
        if ch.isspace() and ch != " ":
            raise _refuse(field, f"{value!r} holds the space character {_char(ch)}; use a plain "
                                 "space")
    if len(name) > MAX_OPERATOR_NAME_LENGTH:
        raise _refuse(field, f"is longer than {MAX_OPERATOR_NAME_LENGTH} characters")
    scripts = sorted({s for s in map(_script, name) if s is not None})
    if len(scripts) > 1:
        raise _refuse(field, f"{value!r} mixes letters of several scripts ({', '.join(scripts)}); "
                             "a look-alike of another name is refused")
    return name


def require_reason(value: object, field: str = "reason") -> str:
    """A reason as recorded: it must hold at least one visible character.

    Args:
        value: the reason as given.

    Returns:
        ``value`` unchanged.

    Raises:
        BatchExecutionException: BAT-008 when ``value`` is missing, not a string, or holds no
            visible character (only spaces, control or zero-width characters).
    """
    if not isinstance(value, str) or not any(
        unicodedata.category(ch)[0] not in ("Z", "C") for ch in value
    ):
        raise _refuse(field, f"is required and must say why in visible characters (got {value!r})")
    return value


def refuse_reserved_principal(name: str, field: str = "operator_id") -> str:
    """Refuse a name that would pass for a principal (``token:``, ``os:``, ``sensor:``).

    Returns:
        ``name`` unchanged.

    Raises:
        BatchExecutionException: BAT-008 when ``name`` starts with a reserved prefix (case
            ignored).
    """
    folded = name.casefold()
    for prefix in RESERVED_PRINCIPAL_PREFIXES:
        if folded.startswith(prefix):
            raise _refuse(field, f"{name!r} starts with {prefix!r}, which names a principal "
                                 "(a token, an OS user or a sensor); choose a person's name")
    return name


def os_principal() -> str:
    """``os:<user>``: the principal of a process acting as its OS user (the CLI).

    Falls back to ``os:uid-<n>`` when the OS has no name for the user.
    """
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no USER variable and no passwd entry (a bare container)
        user = f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"os:{user}"


def sensor_principal(sensor_name: str) -> str:
    """``sensor:<name>``: the principal of a Dagster sensor's evaluation."""
    return f"sensor:{sensor_name}"


def token_principal(token_id: int) -> str:
    """``token:<id>``: the principal of an admin API call made with that token."""
    return f"token:{token_id}"
