"""How ``GET /metrics`` is served: its cache and whether a scrape needs a token."""

import dataclasses
from collections.abc import Mapping

from opsrel_core.config.environment import or_process

DEFAULT_CACHE_SECONDS = 5.0
MAX_CACHE_SECONDS = 3600.0


@dataclasses.dataclass(frozen=True)
class MetricsSettings:
    """How ``GET /metrics`` is served.

    Attributes:
        cache_seconds: how old the read a scrape serves may be: while scraped, the metrics are
            read again every this many seconds in the background (``OPSREL_METRICS_CACHE_SECONDS``,
            default 5, at most 3600; 0 reads on every scrape, in the scrape).
        require_token: scrapes need an API token of role viewer or above
            (``OPSREL_METRICS_AUTH=viewer``, the default); ``OPSREL_METRICS_AUTH=none`` serves
            them without one, for a server bound to a private address only.
    """

    cache_seconds: float = DEFAULT_CACHE_SECONDS
    require_token: bool = True

    def __post_init__(self) -> None:
        # At most an hour: a longer wait (``inf``, ``1e10``) overflows the background reader's
        # timer, which then dies and leaves the first read served as fresh for ever.
        if not 0 <= self.cache_seconds <= MAX_CACHE_SECONDS:
            raise ValueError(f"OPSREL_METRICS_CACHE_SECONDS must be 0..{MAX_CACHE_SECONDS:g}, "
                             f"got {self.cache_seconds}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "MetricsSettings":
        """Read ``OPSREL_METRICS_CACHE_SECONDS`` and ``OPSREL_METRICS_AUTH`` (viewer|none).

        Raises:
            ValueError: a value that is not a number 0..3600, or an unknown auth mode.
        """
        env = or_process(environ)
        raw = (env.get("OPSREL_METRICS_CACHE_SECONDS") or "").strip()
        try:
            cache = float(raw) if raw else DEFAULT_CACHE_SECONDS
        except ValueError:
            raise ValueError(
                f"OPSREL_METRICS_CACHE_SECONDS must be a number, got {raw!r}") from None
        mode = (env.get("OPSREL_METRICS_AUTH") or "viewer").strip().lower()
        if mode not in ("viewer", "none"):
            raise ValueError(f"OPSREL_METRICS_AUTH must be viewer or none, got {mode!r}")
        return cls(cache_seconds=cache, require_token=mode == "viewer")
