"""The admin API's limits: the largest body, and the brake on failed authentication
(``opsrel_core.entrypoints.api.limits`` enforces them)."""

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from opsrel_core.config.environment import or_process

MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ApiLimits:
    """The admin API's limits.

    Attributes:
        max_body_bytes: largest request body accepted, in bytes (``OPSREL_API_MAX_BODY_BYTES``,
            default 1 MiB); larger is a 413 problem.
        auth_failures: failed authentication attempts a client IP may make within the window
            (``OPSREL_API_AUTH_FAILURES``, default 10); past it every request of that IP is a
            429 problem until the oldest failure leaves the window.
        auth_window_seconds: length of the sliding window, in seconds
            (``OPSREL_API_AUTH_WINDOW_SECONDS``, default 60).
    """

    max_body_bytes: int = MIB
    auth_failures: int = 10
    auth_window_seconds: float = 60.0

    def __post_init__(self) -> None:
        # A window of nan or inf would make every request of a braked address a 500
        # (``math.ceil`` of it in ``retry_after``): a finite number of seconds only.
        if (self.max_body_bytes < 1 or self.auth_failures < 1
                or not 0 < self.auth_window_seconds < math.inf):
            raise ValueError(f"API limits must be positive (the window finite), got {self}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ApiLimits":
        """Read the limits from the environment (defaults for unset variables).

        Raises:
            ValueError: a variable that is not a positive number.
        """
        env = or_process(environ)
        values: dict[str, Any] = {}
        for field, name, kind in (("max_body_bytes", "OPSREL_API_MAX_BODY_BYTES", int),
                                  ("auth_failures", "OPSREL_API_AUTH_FAILURES", int),
                                  ("auth_window_seconds", "OPSREL_API_AUTH_WINDOW_SECONDS", float)):
            raw = env.get(name)
            if raw:
                try:
                    values[field] = kind(raw)
                except ValueError:
                    raise ValueError(f"{name} must be a positive number, got {raw!r}") from None
        return cls(**values)
