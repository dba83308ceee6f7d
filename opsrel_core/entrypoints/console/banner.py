"""The ingestion banner shown on every console page when the projection lags or has runs set
aside.

Read from the same status as the admin API's ``/admin/ingestion`` (one cursor row and one
summary of the set-aside runs per page), so the console and the API never disagree about it.
"""

from typing import Any

from opsrel_core.services.batch_execution.ingestion import ProjectionCursorStore

LAG_SECONDS = 300.0  # a lag beyond this is shown: the 3am operator must not trust the pages


def ingestion_banner(services: Any, lag_seconds: float = LAG_SECONDS) -> str | None:
    """One line for the banner, or None when ingestion is healthy.

    Args:
        services: the application's services (its ``engine`` is read).
        lag_seconds: the lag (seconds) from which the banner shows.

    Returns:
        e.g. ``"Ingestion is behind: dagster_run_status_changes lags 612 s; 2 runs set aside
        (oldest run-lost, SYS-002). Pages may not show the latest runs."``, or None.
    """
    parts = []
    for status in ProjectionCursorStore(services.engine).ingestion_status():
        issues = []
        if status.lag_seconds > lag_seconds:
            issues.append(f"lags {status.lag_seconds:.0f} s")
        if status.set_aside:
            issues.append(
                f"{status.set_aside} run{'s' if status.set_aside != 1 else ''} set aside "
                f"(oldest {status.oldest_set_aside_run_id}, {status.oldest_set_aside_error_code})")
        if issues:
            parts.append(f"{status.name} " + "; ".join(issues))
    if not parts:
        return None
    return "Ingestion is behind: " + " · ".join(parts) + ". Pages may not show the latest runs."
