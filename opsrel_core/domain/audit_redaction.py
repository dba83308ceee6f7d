"""What an audit record may not hold: credentials, masked as ``[redacted]``.

The audit log is append-only and readable by every viewer, so a credential that lands in it stays
readable for as long as the log is kept. Every state and reason therefore passes through this
rule when a record is written, and states pass again when a record is read, so that records
written before a form of credential was known are shown masked too.

Two kinds of credential are masked: fields named as credentials (``token_hash``, ``password``,
``slack_webhook_url``...), whatever their value, and values shaped as credentials, whatever their
field (a plaintext API token, the password inside a URL, a Slack webhook URL, whose path is its
secret). This is the audit log's own rule; ``opsrel_core.domain.redaction`` masks the configured
secrets of a running process in errors and logs.
"""

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

_SECRET_KEY_PARTS = ("token_hash", "password", "passwd", "secret", "credential", "api_key",
                     "apikey", "private_key", "authorization", "webhook", "dsn", "cookie")
_SECRET_KEYS = frozenset({"token", "bearer", "access_token", "refresh_token", "auth_token"})
# A token is ``opsrel_`` and 43 URL-safe characters; names such as ``opsrel_replay_launch_sensor``
# are far shorter and stay readable.
_PLAINTEXT_TOKEN = re.compile(r"\bopsrel_[A-Za-z0-9_-]{40,}")
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:)[^/@\s]+(?=@)")
_SLACK_WEBHOOK = re.compile(r"https?://hooks\.slack(?:-gov)?\.com/\S*", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    """True when a state field of this name holds a credential (``token_hash``, ``password``,
    ``smtp_password``, ``client_secret``, ``slack_webhook_url``, ``api_key``, ``token``...)."""
    folded = key.casefold()
    return (folded in _SECRET_KEYS or folded.endswith("_token")
            or any(part in folded for part in _SECRET_KEY_PARTS))


def redact_text(text: str) -> str:
    """``text`` with credential-shaped parts masked: plaintext API tokens, the password of a URL
    (``scheme://user:[redacted]@host``) and Slack webhook URLs."""
    if "opsrel_" not in text and "://" not in text:
        return text  # the common case, without a regular expression (states hold many keys)
    text = _PLAINTEXT_TOKEN.sub(REDACTED, text)
    text = _SLACK_WEBHOOK.sub(REDACTED, text)
    return _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)


def redact_state(state: Any) -> Any:
    """A JSON state with every credential masked, the one rule for what the audit log holds.

    Fields named as credentials (``is_secret_key``) keep their key with the value ``"[redacted]"``
    (null stays null, so a record still says whether one was set); other strings pass through
    ``redact_text``; mappings and lists are walked recursively. Applied when a record is written
    (``audit_change``) and again when one is read (``AuditLogView.of``), so rows written before
    the rule are masked too.

    Args:
        state: a captured state (a dict), or any JSON value; None stays None.

    Returns:
        A masked copy; ``state`` itself is not changed.
    """
    if isinstance(state, Mapping):
        return {k: (None if v is None else REDACTED) if is_secret_key(str(k)) else redact_state(v)
                for k, v in state.items()}
    if isinstance(state, list):
        return [redact_state(v) for v in state]
    if isinstance(state, str):
        return redact_text(state)
    return state
