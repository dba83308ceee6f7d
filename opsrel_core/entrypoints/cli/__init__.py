"""``opsrel`` command-line interface: the core commands (``opsrel db ...``, ``reports``,
``executions``, ``tokens`` ...), one module per command group, registered on the group ``cli``.

Commands that need Dagster (``opsrel run``, ``opsrel sync``) are added to the same group by
``opsrel_dagster.app.cli``, which is the console script's entry point; this package never imports
dagster.
"""

from opsrel_core.entrypoints.cli.group import cli

# Each module registers its commands on ``cli`` when imported. ``alerts`` defines `alerts
# resolve` and ``late`` `alerts late`, added to the alerts group by the console script.
from opsrel_core.entrypoints.cli import (  # noqa: F401
    alerts,
    api,
    audit,
    corrections,
    db,
    executions,
    late,
    lineage,
    reports,
    tokens,
    versions,
)

__all__ = ["cli"]
