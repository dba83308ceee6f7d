"""The one assembly point of the opsrel code location (``workspace.yaml`` loads ``defs``).

Each domain under ``defs/`` declares its job (``job_spec.OpsrelJob``); this module collects the
declarations in ``JOBS``, merges their definitions, and builds opsrel's sensors from them. The
runner, ``opsrel reproduce`` and the CLI take a job from here (``opsrel_job``) and never import
a domain.
"""

import dagster as dg

from opsrel_dagster.alerting import make_alert_dispatch_sensor
from opsrel_dagster.defs.flights import FLIGHTS
from opsrel_dagster.defs.weather import WEATHER
from opsrel_dagster.job_spec import OpsrelJob
from opsrel_dagster.landing_sensor import make_landing_sensor
from opsrel_dagster.openlineage import make_lineage_dispatch_sensor
from opsrel_dagster.replay_sensor import make_replay_launch_sensor
from opsrel_dagster.sensors import (
    make_late_partition_sensor, make_projection_sensor, make_run_failure_sensor,
)

JOBS: dict[str, OpsrelJob] = {job.job_id: job for job in (FLIGHTS, WEATHER)}
"""Every declared job of the code location, by job id."""

DEFAULT_JOB_ID = FLIGHTS.job_id
"""The job a command without ``--job`` means, and whose sensors keep their plain names (the
names runs and replays were attributed to before a second job was declared)."""


def opsrel_job(job_id: str | None = None) -> OpsrelJob:
    """The declared job ``job_id``; without one, the default job (``DEFAULT_JOB_ID``).

    Raises:
        LookupError: no job of that id (the message lists the declared ids).
    """
    if job_id is None:
        return JOBS[DEFAULT_JOB_ID]
    if job_id in JOBS:
        return JOBS[job_id]
    raise LookupError(f"no declared job {job_id!r}; the code location declares "
                      f"{', '.join(sorted(JOBS))}")


def blocking_checks() -> dict[str, frozenset[str]]:
    """The blocking asset checks of every declared job, by asset key."""
    found: dict[str, frozenset[str]] = {}
    for job in JOBS.values():
        found.update(job.blocking_checks())
    return found


def _sensors() -> list[dg.SensorDefinition]:
    sensors = [
        make_projection_sensor(
            partitions_by_job={j.job_id: j.partitions_def for j in JOBS.values()},
            lineage_by_job={j.job_id: j.lineage for j in JOBS.values()},
            blocking_checks=blocking_checks(),
        ),
        make_run_failure_sensor(),
        make_late_partition_sensor(),
        make_alert_dispatch_sensor(),
        make_lineage_dispatch_sensor(),
    ]
    for job in JOBS.values():
        suffix = "" if job.job_id == DEFAULT_JOB_ID else f"_{job.job_id}"
        if job.landing_file is not None:
            sensors.append(make_landing_sensor(job.job_id, job.asset_selection,
                                               job.partitions_def,
                                               name=f"opsrel_landing_sensor{suffix}"))
        sensors.append(make_replay_launch_sensor(job.job_id, job.asset_selection,
                                                 job.partitions_def,
                                                 name=f"opsrel_replay_launch_sensor{suffix}"))
    return sensors


defs = dg.Definitions.merge(
    *(job.definitions for job in JOBS.values()),
    dg.Definitions(
        # Small pandas steps: one process per run, not per step (measured here: about 4 s a
        # partition, against about 20 s with the multiprocess executor).
        executor=dg.in_process_executor,
        sensors=_sensors(),
    ),
)
