"""The ingestion banner shown on every console page when the projection lags or has runs set
aside."""

from typing import Any


def ingestion_banner(services: Any) -> str | None:
    """One line for the banner, or None when ingestion is healthy."""
    return None
