"""The operator console's settings, read from the environment once at startup."""

import dataclasses
from collections.abc import Mapping

from opsrel_core.config.environment import or_process

DEFAULT_SESSION_SECONDS = 8 * 3600  # one working shift

DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"


@dataclasses.dataclass(frozen=True)
class ConsoleSettings:
    """Attributes:
        session_seconds: how long a console session lasts after sign-in, in seconds
            (``OPSREL_CONSOLE_SESSION_SECONDS``, default 28800 = 8 h; never past the token's
            own expiry).
        dagster_url: the Dagster UI's base URL, for links to runs (``OPSREL_DAGSTER_URL``,
            default ``http://127.0.0.1:3000``, what ``make dev`` serves).
        public_url: the console's public base URL (``OPSREL_CONSOLE_URL``), used in links
            that leave the console (alert messages, Dagster metadata); None when unset.
    """

    session_seconds: int = DEFAULT_SESSION_SECONDS
    dagster_url: str = DEFAULT_DAGSTER_URL
    public_url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ConsoleSettings":
        """Read the settings above.

        Raises:
            ValueError: ``OPSREL_CONSOLE_SESSION_SECONDS`` is not a whole number >= 60.
        """
        env = or_process(environ)
        raw = (env.get("OPSREL_CONSOLE_SESSION_SECONDS") or "").strip()
        seconds = DEFAULT_SESSION_SECONDS
        if raw:
            if not raw.isdigit() or int(raw) < 60:
                raise ValueError("OPSREL_CONSOLE_SESSION_SECONDS must be a whole number of "
                                 f"seconds >= 60, got {raw!r}")
            seconds = int(raw)
        dagster = (env.get("OPSREL_DAGSTER_URL") or "").strip() or DEFAULT_DAGSTER_URL
        public = (env.get("OPSREL_CONSOLE_URL") or "").strip() or None
        return cls(seconds, dagster.rstrip("/"), public)
