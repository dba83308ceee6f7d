"""A code location's opsrel assembly: its declared jobs, the library's resources and sensors.

A code location lists its jobs once, ``ASSEMBLY = Assembly([JOB_A, JOB_B])``, and exposes
``defs = ASSEMBLY.definitions()`` to Dagster. The assembly binds the library's resources
(``ops_db``, the versioned ``io_manager``) once for every job, builds opsrel's sensors from the
declarations (projection, run failure, late partitions, alert and lineage dispatch; per job the
landing and replay-launch sensors) and runs each run in one process.

The ``opsrel`` application finds the assembly of the code location it serves through
``OPSREL_DEFINITIONS`` (a module name, default ``opsrel_dagster.definitions``, the example code
location): ``load_assembly`` imports that module and reads its ``ASSEMBLY``.
"""

import importlib
import os
import sys
from collections.abc import Iterable
from typing import Any

import dagster as dg

from opsrel_core.config import RuntimeSettings, variables_set
from opsrel_core.config.runtime import DEFAULT_DEFINITIONS, DEFINITIONS_ENV
from opsrel_dagster.io_managers import VersionedIOManager
from opsrel_dagster.jobs import OpsrelJob
from opsrel_dagster.resources import OpsDatabase
from opsrel_dagster.sensors.alert_dispatch import make_alert_dispatch_sensor
from opsrel_dagster.sensors.landing import make_landing_sensor
from opsrel_dagster.sensors.late_partitions import make_late_partition_sensor
from opsrel_dagster.sensors.lineage_dispatch import make_lineage_dispatch_sensor
from opsrel_dagster.sensors.projection import make_projection_sensor, make_run_failure_sensor
from opsrel_dagster.sensors.replay_launch import make_replay_launch_sensor

def env_bound(name: str) -> Any:
    """``dg.EnvVar(name)`` when the environment sets ``name``, else ``""``.

    Dagster fails a run whose resource reads an unset ``EnvVar`` and has no default for one,
    while the embedded setup sets no variable at all: an unset variable leaves the field empty,
    which each resource resolves to the embedded default when it is used (the ops database under
    ``OPSREL_HOME``, no landing folder). A set variable is bound, so the Dagster UI shows the
    resource's field as that variable, and the run resolves it in its own process.
    """
    return dg.EnvVar(name) if variables_set([name]) else ""


def library_resources() -> dict[str, Any]:
    """The library's resources, by key, bound to the variables the environment sets now:
    ``ops_db`` (``OPSREL_DATABASE_URL``, ``OPSREL_HOME``) and the versioned ``io_manager``
    over it (every materialization a new result version; nothing is overwritten)."""
    ops_db = OpsDatabase(database_url=env_bound("OPSREL_DATABASE_URL"),
                         home=env_bound("OPSREL_HOME"))
    return {"ops_db": ops_db, "io_manager": VersionedIOManager(ops_db=ops_db)}


LIBRARY_RESOURCES: dict[str, Any] = library_resources()
"""The resources the library's IO manager, checks and sensors need, by key: one instance each
for the whole code location, bound when the code location is loaded (``library_resources``)."""
OPS_DB: OpsDatabase = LIBRARY_RESOURCES["ops_db"]
"""The ops database resource of ``LIBRARY_RESOURCES``."""


class Assembly:
    """The declared jobs of one code location.

    Args:
        jobs: the declarations, the default job first.
        default_job_id: the job a command without ``--job`` means (default: the first).

    Raises:
        ValueError: no job, or two jobs with one id.
    """

    def __init__(self, jobs: Iterable[OpsrelJob], default_job_id: str | None = None):
        listed = list(jobs)
        if not listed:
            raise ValueError("an assembly declares at least one job")
        self.jobs: dict[str, OpsrelJob] = {job.job_id: job for job in listed}
        if len(self.jobs) != len(listed):
            raise ValueError(f"job ids must be unique: {[job.job_id for job in listed]}")
        self.default_job_id = default_job_id or listed[0].job_id
        if self.default_job_id not in self.jobs:
            raise ValueError(f"the default job {self.default_job_id!r} is not declared")

    def job(self, job_id: str | None = None) -> OpsrelJob:
        """The declared job ``job_id``; without one, the default job.

        Raises:
            LookupError: no job of that id (the message lists the declared ids).
        """
        if job_id is None:
            return self.jobs[self.default_job_id]
        if job_id in self.jobs:
            return self.jobs[job_id]
        raise LookupError(f"no declared job {job_id!r}; the code location declares "
                          f"{', '.join(sorted(self.jobs))}")

    def blocking_checks(self) -> dict[str, frozenset[str]]:
        """The blocking asset checks of every declared job, by asset key."""
        found: dict[str, frozenset[str]] = {}
        for job in self.jobs.values():
            found.update(job.blocking_checks())
        return found

    def resources(self, job: OpsrelJob | None = None) -> dict[str, Any]:
        """The resources a run of ``job`` binds: the library's, then the job's own."""
        return {**LIBRARY_RESOURCES, **(job.resources() if job else {})}

    def sensors(self) -> list[dg.SensorDefinition]:
        """opsrel's sensors for these jobs. The default job's landing and replay-launch sensors
        keep the plain names (a sensor's cursor is kept under its name, so renaming one makes a
        running deployment forget what it launched); another job's carry its id."""
        sensors = [
            make_projection_sensor(
                partitions_by_job={j.job_id: j.partitions_def for j in self.jobs.values()},
                lineage_by_job={j.job_id: j.lineage for j in self.jobs.values()},
                blocking_checks=self.blocking_checks(),
                jobs=tuple(self.jobs.values()),
            ),
            make_run_failure_sensor(),
            make_late_partition_sensor(),
            make_alert_dispatch_sensor(),
            make_lineage_dispatch_sensor(),
        ]
        for job in self.jobs.values():
            suffix = "" if job.job_id == self.default_job_id else f"_{job.job_id}"
            if job.landing_file is not None:
                sensors.append(make_landing_sensor(
                    job.job_id, job.asset_selection, job.partitions_def,
                    name=f"opsrel_landing_sensor{suffix}", landing_file=job.landing_file))
            sensors.append(make_replay_launch_sensor(
                job.job_id, job.asset_selection, job.partitions_def,
                name=f"opsrel_replay_launch_sensor{suffix}",
                range_size=job.replay_range_size))
        return sensors

    def definitions(self) -> dg.Definitions:
        """The code location's ``Definitions``: every job's assets, checks, sensors, schedules
        and jobs, the library's resources with each job's own, opsrel's sensors, and the
        in-process executor (small steps: one process per run, not per step)."""
        parts = [job.definitions for job in self.jobs.values()]
        resources: dict[str, Any] = dict(LIBRARY_RESOURCES)
        for part in parts:
            # A domain that binds a library key itself keeps its own instance.
            resources.update(part.resources or {})
        return dg.Definitions(
            assets=[a for part in parts for a in (part.assets or [])],
            asset_checks=[c for part in parts for c in (part.asset_checks or [])],
            schedules=[s for part in parts for s in (part.schedules or [])],
            jobs=[j for part in parts for j in (part.jobs or [])],
            sensors=[*(s for part in parts for s in (part.sensors or [])), *self.sensors()],
            resources=resources,
            executor=dg.in_process_executor,
        )


def load_assembly(module_name: str | None = None) -> Assembly:
    """The assembly of the code location the application serves: ``ASSEMBLY`` of the module
    ``module_name`` (default: ``OPSREL_DEFINITIONS``, else the example code location).

    The working folder is on the import path (as for ``dagster dev -m``), after the installed
    packages.

    Raises:
        LookupError: the module cannot be imported or holds no ``Assembly`` named ``ASSEMBLY``
            (the message names the module and the variable).
    """
    name = module_name or RuntimeSettings.from_env().definitions
    # As `dagster dev -m` does: a code location in the working folder is importable without an
    # install. Appended, so that it never shadows an installed package of the same name.
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise LookupError(
            f"{DEFINITIONS_ENV}={name}: the module cannot be imported ({exc}); run opsrel from "
            "the folder that holds it, install it, or add its folder to PYTHONPATH") from exc
    assembly = getattr(module, "ASSEMBLY", None)
    if not isinstance(assembly, Assembly):
        raise LookupError(f"{DEFINITIONS_ENV}={name}: the module defines no ASSEMBLY "
                          "(opsrel_dagster.assembly.Assembly of its declared jobs)")
    return assembly
