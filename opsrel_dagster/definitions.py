"""The one assembly point of the example code location (``workspace.yaml`` loads ``defs``).

Each domain under ``defs/`` declares its job (``jobs.OpsrelJob``); this module lists the
declarations once in ``ASSEMBLY`` (``assembly.Assembly``), which binds the library's resources
and builds opsrel's sensors. The runner, ``opsrel reproduce`` and the CLI take a job from the
assembly (``assembly.load_assembly``) and never import a domain.
"""

from opsrel_dagster.assembly import Assembly
from opsrel_dagster.defs.flights import FLIGHTS
from opsrel_dagster.defs.weather import WEATHER
from opsrel_dagster.jobs import OpsrelJob

ASSEMBLY = Assembly([FLIGHTS, WEATHER])
"""The example code location's jobs; the first is the default job of a command without
``--job``."""

JOBS: dict[str, OpsrelJob] = ASSEMBLY.jobs
"""Every declared job of the code location, by job id."""


def opsrel_job(job_id: str | None = None) -> OpsrelJob:
    """The declared job ``job_id``; without one, the default job (``Assembly.job``).

    Raises:
        LookupError: no job of that id (the message lists the declared ids).
    """
    return ASSEMBLY.job(job_id)


def blocking_checks() -> dict[str, frozenset[str]]:
    """The blocking asset checks of every declared job, by asset key."""
    return ASSEMBLY.blocking_checks()


defs = ASSEMBLY.definitions()
