"""Typed OpenLineage settings, built at the edge from the environment and passed in.

OpenLineage is off unless ``OPSREL_OPENLINEAGE_URL`` names an endpoint: then no lineage event is
recorded at all. The API key is a ``Secret`` (``'***'`` in every repr), sent as a Bearer token.
"""

import dataclasses
import functools
import urllib.parse
from collections.abc import Mapping

from opsrel_core.config.environment import number as _number, or_process, text as _text
from opsrel_core.config.secrets import Secret
from opsrel_core.domain.redaction import Redactor

import opsrel_core

# The path Marquez (and any OpenLineage HTTP receiver following it) accepts run events on.
DEFAULT_LINEAGE_PATH = "/api/v1/lineage"
DEFAULT_NAMESPACE = "opsrel"
DEFAULT_PRODUCER = f"urn:opsrel:opsrel:{opsrel_core.__version__}"


@dataclasses.dataclass(frozen=True)
class OpenLineageSettings:
    """Where and how OpenLineage run events are sent.

    Attributes:
        url: the endpoint events are POSTed to (``http://marquez:5000/api/v1/lineage``); a URL
            without a path gets ``/api/v1/lineage``. None: OpenLineage is off.
        api_key: sent as ``Authorization: Bearer <key>`` when set (a ``Secret``).
        namespace: the OpenLineage namespace of opsrel's jobs and datasets.
        producer: the URI naming opsrel as the events' producer.
        timeout_seconds: bound on one POST (seconds).
        max_attempts: an event is FAILED after this many attempts.
        backoff_base_seconds, backoff_cap_seconds: retry delay ``base * 2**(attempt-1)``, capped
            (seconds).
        claim_lease_seconds: how long a claimed event is hidden from other dispatchers (seconds).
    """

    url: str | None = None
    api_key: Secret | None = None
    namespace: str = DEFAULT_NAMESPACE
    producer: str = DEFAULT_PRODUCER
    timeout_seconds: float = 10.0
    max_attempts: int = 8
    backoff_base_seconds: float = 30.0
    backoff_cap_seconds: float = 3600.0
    claim_lease_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.url is not None:
            parsed = urllib.parse.urlsplit(self.url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError(
                    f"OPSREL_OPENLINEAGE_URL must be an http(s) URL, got scheme {parsed.scheme!r}"
                )
            if "@" in parsed.netloc:
                # urllib never sends a URL's user and password: it takes them for the host (a DNS
                # query for ``user:pw@host``) or the port, and its error, recorded on the event
                # and logged, holds the password. The message names neither.
                raise ValueError(
                    "OPSREL_OPENLINEAGE_URL must not carry a user or password (user:...@host); "
                    "give the credential as OPSREL_OPENLINEAGE_API_KEY")
            if parsed.path in ("", "/"):
                object.__setattr__(
                    self, "url", urllib.parse.urlunsplit(parsed._replace(path=DEFAULT_LINEAGE_PATH))
                )
        if not self.namespace.strip():
            raise ValueError("OPSREL_OPENLINEAGE_NAMESPACE must not be blank")
        for name in ("timeout_seconds", "backoff_base_seconds", "backoff_cap_seconds",
                     "claim_lease_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")

    @property
    def enabled(self) -> bool:
        """True when an endpoint is configured: only then are events recorded and sent."""
        return self.url is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "OpenLineageSettings":
        """Build settings from ``OPSREL_OPENLINEAGE_URL``, ``OPSREL_OPENLINEAGE_API_KEY``,
        ``OPSREL_OPENLINEAGE_NAMESPACE`` (default ``opsrel``), ``OPSREL_OPENLINEAGE_TIMEOUT_SECONDS``
        (10) and ``OPSREL_OPENLINEAGE_MAX_ATTEMPTS`` (8); empty values count as unset.

        Raises:
            ValueError: an invalid value (not an http(s) URL, a bad number); the message never
                holds the API key.
        """
        env = or_process(environ)

        get = functools.partial(_text, env)
        number = functools.partial(_number, env)

        key = get("OPSREL_OPENLINEAGE_API_KEY")
        return cls(
            url=get("OPSREL_OPENLINEAGE_URL"),
            api_key=Secret(key) if key else None,
            namespace=get("OPSREL_OPENLINEAGE_NAMESPACE") or DEFAULT_NAMESPACE,
            timeout_seconds=number("OPSREL_OPENLINEAGE_TIMEOUT_SECONDS", 10.0),
            max_attempts=number("OPSREL_OPENLINEAGE_MAX_ATTEMPTS", 8, int),
        )

    def redact(self, text: str) -> str:
        """Return ``text`` with every form of the API key as ``***`` (whole, in part, encoded or
        echoed; the one rule of ``opsrel_core.domain.redaction``)."""
        key = self.api_key.get_secret_value() if self.api_key is not None else None
        return Redactor([key], []).redact(text) if key else text
