"""Secrets in settings, and how an SMTP connection is protected.

A ``Secret``'s ``repr`` and ``str`` are ``'***'``, so a secret cannot leak through a log line,
an exception message or a settings object's repr; only the code that uses it reads it back.
"""

import enum

# Values that are obviously not a real secret (copied from an example file).
PLACEHOLDER_SECRETS = frozenset({"changeme", "changethis", "change-me", "secret", "password"})


class Secret:
    """A secret string whose ``repr`` and ``str`` are ``'***'``.

    Args:
        value: the secret; read it back with ``get_secret_value()`` only where it is used.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def get_secret_value(self) -> str:
        """The secret itself. Never log, store or return it."""
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        raise TypeError("Secret cannot be pickled")


class SmtpSecurity(str, enum.Enum):
    """How the SMTP connection is protected: plain, upgraded with STARTTLS, or TLS from the start."""

    NONE = "none"
    STARTTLS = "starttls"
    SSL = "ssl"

    @property
    def default_port(self) -> int:
        """25 for none, 587 for starttls, 465 for ssl."""
        return {"none": 25, "starttls": 587, "ssl": 465}[self.value]
