"""How long an open execution may go without a sign of life before its worker counts as lost
(``opsrel_core.services.worker_reconciler``)."""

import dataclasses
from collections.abc import Mapping

from opsrel_core.config.environment import or_process

DEFAULT_WORKER_TIMEOUT_SECONDS = 1800.0
DEFAULT_START_TIMEOUT_SECONDS = 600.0


@dataclasses.dataclass(frozen=True)
class WorkerTimeouts:
    """How long an open execution may go without a sign of life, in seconds.

    Attributes:
        worker_timeout_seconds: for RUNNING executions (> 0).
        start_timeout_seconds: for READY executions that are not queued (> 0).
    """

    worker_timeout_seconds: float = DEFAULT_WORKER_TIMEOUT_SECONDS
    start_timeout_seconds: float = DEFAULT_START_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if self.worker_timeout_seconds <= 0 or self.start_timeout_seconds <= 0:
            raise ValueError("worker and start timeouts must be > 0 seconds")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "WorkerTimeouts":
        """Read ``OPSREL_WORKER_TIMEOUT_SECONDS`` and ``OPSREL_START_TIMEOUT_SECONDS``.

        Raises:
            ValueError: a value that is not a positive number (the message names the variable).
        """
        env = or_process(environ)

        def seconds(name: str, default: float) -> float:
            raw = (env.get(name) or "").strip()
            try:
                value = float(raw) if raw else default
            except ValueError:
                raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
            if value <= 0:
                raise ValueError(f"{name} must be > 0 seconds, got {raw!r}")
            return value

        return cls(
            worker_timeout_seconds=seconds("OPSREL_WORKER_TIMEOUT_SECONDS", DEFAULT_WORKER_TIMEOUT_SECONDS),
            start_timeout_seconds=seconds("OPSREL_START_TIMEOUT_SECONDS", DEFAULT_START_TIMEOUT_SECONDS),
        )
