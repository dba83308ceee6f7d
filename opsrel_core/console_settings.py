"""The operator console's settings; moved to ``opsrel_core.config.console`` (re-exported)."""

from opsrel_core.config.console import DEFAULT_DAGSTER_URL, ConsoleSettings

__all__ = ["ConsoleSettings", "DEFAULT_DAGSTER_URL"]
