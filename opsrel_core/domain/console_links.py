"""Where the operator console shows a thing: the console's URL scheme, in one place.

Every link to the console (alert emails and Slack messages, the URL metadata on a
materialization, the console's own pages) is built here, so that the scheme cannot drift
between the places that print it. Partition keys are path-quoted: a Dagster key may hold ``:``,
``/`` or spaces (hourly keys such as ``2013-11-03-01:00``).
"""

import urllib.parse

CONSOLE_PREFIX = "/console"


def _quoted(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def partition_path(job_id: str, partition_key: str) -> str:
    """The console path of a partition's page, e.g. ``/console/partitions/flights_daily/2013-01-03``."""
    return f"{CONSOLE_PREFIX}/partitions/{_quoted(job_id)}/{_quoted(partition_key)}"


def execution_path(execution_id: str) -> str:
    """The console path of an execution's detail page."""
    return f"{CONSOLE_PREFIX}/executions/{_quoted(execution_id)}"


def replay_path(replay_id: int) -> str:
    """The console path of a replay's page."""
    return f"{CONSOLE_PREFIX}/replays/{int(replay_id)}"


def absolute(base_url: str | None, path: str) -> str | None:
    """``path`` under the console's public base URL (``OPSREL_CONSOLE_URL``, e.g.
    ``https://ops.example.com``), or None when no base URL is configured: a link that would
    point nowhere is better left out."""
    if not base_url or not base_url.strip():
        return None
    return base_url.strip().rstrip("/") + path
