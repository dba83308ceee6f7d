"""The redaction rule: no secret leaves its place, whole, in part, encoded or echoed.

Secrets are the credentials opsrel is configured with: the SMTP password, the password of the
ops database URL, API tokens, and credential URLs such as a Slack incoming-webhook URL, whose
path is the credential. ``Redactor.redact`` replaces every form of them in a text by ``***``
before the text is stored (a delivery's ``last_error``, an attempt's error, an alert message) or
logged (``opsrel_core.log_redaction`` applies it to every log record of the entry points).

What counts as the same secret. Text and secrets are compared in a canonical form that undoes
what libraries and receivers do to a string when they echo it:

* percent-encoding (``quote``/``quote_plus``, upper or lower case hex, encoded more than once:
  ``%2F``, ``%2f``, ``%252F``), JSON and Python escapes (``\\/``, ``\\u002f``, ``\\x2f``);
* letter case (an echo in upper case still tells the secret);
* whitespace: spaces, tabs and line breaks, written raw, escaped (``\\t``) or encoded (``%09``,
  ``+``) are ignored, so a URL with a tab or a space inside (as pasted into an environment
  variable) is matched in every form a library prints it.

What counts as a part of a secret. Any run of ``PARTIAL_CHARS`` (8) consecutive characters of a
secret is redacted, so a receiver that echoes a truncated or cut token gives nothing away; a
secret shorter than that is redacted whole. For a credential URL the secret part is its path
from the first segment that is not a route word (``/services/`` in a Slack URL, lower-case
letters, ``-`` and ``_`` only), its query, its fragment and its password; each of its path
segments and query values of at least ``SEGMENT_CHARS`` (6) characters is redacted on its own
too. The URL's host is no secret and stays readable. The whole URL is always redacted.

Base64 forms (``base64(password)``, and the ``AUTH PLAIN`` blob ``base64("\\0user\\0password")``
that an SMTP server may echo) are registered by the caller as secrets of their own (see
``AlertSettings.redactor``).
"""

import base64
import re
import traceback
import urllib.parse
from collections.abc import Iterable

MASK = "***"
WITHHELD = "traceback withheld: it holds a secret"
PARTIAL_CHARS = 8
SEGMENT_CHARS = 6

_PERCENT = re.compile(r"%(?:25)*([0-9A-Fa-f]{2})")
_UNICODE_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")
_HEX_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})")
_NOISE = frozenset(b" \t\n\r\f\v+")
_ROUTE_WORD = re.compile(r"[a-z][a-z_-]*")
_UPPER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")


def _canonical(text: str) -> tuple[bytes, list[tuple[int, int]]]:
    """The canonical bytes of ``text`` and, for each byte, the span of ``text`` it comes from."""
    out = bytearray()
    spans: list[tuple[int, int]] = []

    def emit(data: bytes, start: int, end: int) -> None:
        for byte in data.translate(_UPPER):
            if byte not in _NOISE:
                out.append(byte)
                spans.append((start, end))

    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "%":
            m = _PERCENT.match(text, i)
            if m:
                emit(bytes([int(m.group(1), 16)]), i, m.end())
                i = m.end()
                continue
        elif c == "\\" and i + 1 < n:
            nxt = text[i + 1]
            if nxt in "tnrfv":  # an escaped whitespace character
                i += 2
                continue
            m = _UNICODE_ESCAPE.match(text, i) if nxt == "u" else (
                _HEX_ESCAPE.match(text, i) if nxt == "x" else None)
            if m:
                emit(chr(int(m.group(1), 16)).encode("utf-8", "surrogatepass"), i, m.end())
                i = m.end()
                continue
            if nxt in "/\\\"'":
                emit(nxt.encode(), i, i + 2)
                i += 2
                continue
        emit(c.encode("utf-8", "surrogatepass"), i, i + 1)
        i += 1
    return bytes(out), spans


def _key(secret: str) -> bytes:
    return _canonical(secret)[0]


class Redactor:
    """Replaces every form of the configured secrets in a text by ``***``.

    Args:
        secrets: secret strings (passwords, tokens); empty values are ignored. Redacted whole
            and by any run of ``PARTIAL_CHARS`` of their characters.
        credential_urls: URLs that are a credential themselves (webhook URLs): redacted whole,
            and their secret part (see the module docstring) as a secret.

    A Redactor without secrets returns texts unchanged. It is immutable and thread-safe.
    """

    def __init__(self, secrets: Iterable[str | None] = (), credential_urls: Iterable[str | None] = ()):
        whole: set[bytes] = set()
        partial: set[bytes] = set()
        for url in credential_urls:
            if not url:
                continue
            whole.add(_key(url))
            partial.update(_key(part) for part in _secret_parts_of_url(url))
        partial.update(_key(s) for s in secrets if s)
        partial.discard(b"")
        whole.discard(b"")
        self._windows = frozenset(
            key[i:i + PARTIAL_CHARS]
            for key in partial if len(key) >= PARTIAL_CHARS
            for i in range(len(key) - PARTIAL_CHARS + 1)
        )
        # Shorter partial secrets are matched whole; longer ones are covered by their windows.
        self._whole = tuple(sorted(
            whole | {k for k in partial if len(k) < PARTIAL_CHARS}, key=len, reverse=True
        ))

    def __bool__(self) -> bool:
        return bool(self._windows or self._whole)

    def __or__(self, other: "Redactor") -> "Redactor":
        """A redactor of the secrets of both."""
        both = Redactor()
        both._windows = self._windows | other._windows
        both._whole = tuple(sorted(set(self._whole) | set(other._whole), key=len, reverse=True))
        return both

    def _spans(self, text: str) -> list[tuple[int, int]]:
        """Merged spans of ``text`` that hold a secret, in order."""
        if not self or not text:
            return []
        canon, origin = _canonical(text)
        found: list[tuple[int, int]] = []
        for key in self._whole:
            start = canon.find(key)
            while start != -1:
                found.append((start, start + len(key)))
                start = canon.find(key, start + 1)
        if self._windows:
            for i in range(len(canon) - PARTIAL_CHARS + 1):
                if canon[i:i + PARTIAL_CHARS] in self._windows:
                    found.append((i, i + PARTIAL_CHARS))
        merged: list[tuple[int, int]] = []
        for a, b in sorted((origin[a][0], origin[b - 1][1]) for a, b in found):
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    def finds(self, text: str) -> bool:
        """True when ``text`` holds a secret in any form this redactor knows."""
        return bool(self._spans(text))

    def redact(self, text: str) -> str:
        """Return ``text`` with every form of every secret replaced by ``***``.

        Args:
            text: any text (an error message, a log line, a traceback, a URL).

        Returns:
            The text; unchanged when it holds no secret.
        """
        spans = self._spans(text)
        if not spans:
            return text
        parts, last = [], 0
        for a, b in spans:
            parts += [text[last:a], MASK]
            last = b
        parts.append(text[last:])
        return "".join(parts)

    def describe_exception(self, exc: BaseException) -> str:
        """``"<ExceptionType>: <message>"`` with secrets redacted: what may be logged of an
        exception whose traceback holds a secret."""
        return self.redact(f"{type(exc).__name__}: {exc}")

    def traceback_holds_secret(self, exc: BaseException) -> bool:
        """True when the formatted traceback of ``exc`` (its chain included) holds a secret; such
        an exception is logged by ``describe_exception`` only, never with its traceback."""
        return self.finds("".join(traceback.format_exception(exc)))


def redact(text: str, secrets: Iterable[str | None] = (), credential_urls: Iterable[str | None] = ()) -> str:
    """``Redactor(secrets, credential_urls).redact(text)``: the one redaction rule as a function.

    Args:
        text: the text to clean.
        secrets: secret strings (passwords, tokens).
        credential_urls: URLs that are a credential themselves (webhook URLs).

    Returns:
        ``text`` with every form of every secret replaced by ``***`` (see the module docstring).
    """
    return Redactor(secrets, credential_urls).redact(text)


def url_password(url: str | None) -> str | None:
    """The password of a URL such as a SQLAlchemy database URL (``scheme://user:pw@host/db``),
    or None; never raises, even for a malformed URL."""
    if not url:
        return None
    try:
        return urllib.parse.urlsplit(url).password or None
    except ValueError:
        # A malformed authority: everything between '//' and the last '@' may be the secret.
        authority = url.split("//", 1)[-1].rsplit("@", 1)
        return authority[0].split(":", 1)[-1] if len(authority) == 2 else None


def base64_forms(secret: str | None, user: str | None = None) -> list[str]:
    """Base64 encodings under which a login may echo a password: the password itself (``AUTH
    LOGIN``) and, with a user, the ``AUTH PLAIN`` blob ``"\\0user\\0password"``; with and
    without padding. Empty without a secret."""
    if not secret:
        return []
    raw = [secret.encode("utf-8")]
    if user:
        raw.append(b"\0" + user.encode("utf-8") + b"\0" + secret.encode("utf-8"))
    forms = []
    for data in raw:
        encoded = base64.b64encode(data).decode("ascii")
        forms += [encoded, encoded.rstrip("=")]
    return forms


def _secret_parts_of_url(url: str) -> list[str]:
    """The parts of a credential URL that are secret (see the module docstring)."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError:
        return [url]
    found: list[str] = []
    segments = parts.path.split("/")
    first = next(
        (i for i, seg in enumerate(segments) if seg and not _ROUTE_WORD.fullmatch(seg)), None
    )
    secret_path = "/".join(segments[first:]) if first is not None else ""
    tail = secret_path + (f"?{parts.query}" if parts.query else "") + (
        f"#{parts.fragment}" if parts.fragment else "")
    if tail:
        found.append(tail)
    elif parts.path.strip("/"):
        found.append(parts.path)  # only route words: keep the whole path secret
    if first is not None:
        found += [seg for seg in segments[first:] if len(seg.strip()) >= SEGMENT_CHARS]
    for _, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=False):
        if len(value) >= SEGMENT_CHARS:
            found.append(value)
    password = url_password(url)
    if password:
        found.append(password)
    return found


__all__ = [
    "MASK", "WITHHELD", "PARTIAL_CHARS", "SEGMENT_CHARS", "Redactor", "base64_forms", "redact", "url_password",
]
