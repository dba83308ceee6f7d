"""Sensors that keep the ops schema in step with Dagster's runs when the daemon runs.

- ``opsrel_projection_sensor`` applies the projection: run status changes after the persisted
  cursor, in bounded batches, plus open executions (their progress). It shares its cursor with
  ``opsrel sync``, so either may run; both are idempotent.
- ``opsrel_run_failure_sensor`` projects a failed run as soon as Dagster reports it.

Both start RUNNING (``DefaultSensorStatus.RUNNING``): nothing has to be switched on in the UI.
"""

from collections.abc import Sequence

import dagster as dg

from opsrel_dagster.jobs import OpsrelJob
from opsrel_dagster.projection.apply import RunProjection
from opsrel_dagster.registration import register_jobs
from opsrel_dagster.resources import OpsDatabase
from opsrel_dagster.sensors.acting import acts_as_sensor

PROJECTION_INTERVAL_SECONDS = 15
PROJECTION_BATCHES_PER_TICK = 5


def make_projection_sensor(
    name: str = "opsrel_projection_sensor",
    minimum_interval_seconds: int = PROJECTION_INTERVAL_SECONDS,
    batches_per_tick: int = PROJECTION_BATCHES_PER_TICK,
    partitions_by_job: dict[str, dg.PartitionsDefinition] | None = None,
    lineage_by_job: dict | None = None,
    blocking_checks: dict[str, frozenset[str]] | None = None,
    jobs: Sequence[OpsrelJob] = (),
) -> dg.SensorDefinition:
    """Build the sensor that applies the run projection each tick.

    Args:
        name: sensor name.
        partitions_by_job: each batch job's partitions, to derive open replays' status.
        lineage_by_job: each batch job's lineage layers (context, lineage and DQ reports).
        blocking_checks: the blocking checks declared per asset key (``blocking_checks_of``
            over the code location's definitions): the activation gate requires them.
        jobs: the declared jobs, registered in the batch-job catalog on the first tick of each
            code-location process (``registration.register_jobs``).
        minimum_interval_seconds: seconds between ticks.
        batches_per_tick: bounded work per tick; a backlog continues on the next tick.

    Returns:
        A sensor requiring the ``ops_db`` resource.
    """

    @dg.sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Projects Dagster runs into the ops schema (executions, progress, errors).",
    )
    @acts_as_sensor(name)
    def _projection_sensor(context: dg.SensorEvaluationContext, ops_db: OpsDatabase):
        # A run whose projection raises is set aside by ``sync`` (retried with backoff, SYS-004
        # after repeated attempts): the tick succeeds and the cursor moves on for the others.
        register_jobs(ops_db.engine, jobs)
        report = RunProjection(
            context.instance, ops_db.engine, partitions_by_job, lineage_by_job=lineage_by_job,
            blocking_checks=blocking_checks,
        ).sync(
            max_batches=batches_per_tick
        )
        set_aside = ""
        if report.set_aside:
            set_aside = (
                f"; {report.set_aside} run(s) set aside, oldest {report.oldest_set_aside_run_id}"
                f" ({report.oldest_set_aside_error_code})"
            )
        return dg.SkipReason(
            f"projected {report.runs_projected} runs, refreshed {report.open_refreshed} open "
            f"executions; cursor {report.cursor}{set_aside}"
        )

    return _projection_sensor


def make_run_failure_sensor(name: str = "opsrel_run_failure_sensor") -> dg.SensorDefinition:
    """Build the run-failure sensor that projects a failed run right away.

    Returns:
        A run-failure sensor over this code location's runs, requiring ``ops_db``.
    """

    @dg.run_failure_sensor(
        name=name,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Records a failed run's execution, with its error code, in the ops schema.",
    )
    @acts_as_sensor(name)
    def _run_failure_sensor(context: dg.RunFailureSensorContext, ops_db: OpsDatabase):
        # Set aside rather than raise: a raising run-status sensor would retry this run on
        # every tick and never reach the next failed run.
        RunProjection(context.instance, ops_db.engine).project_or_set_aside(
            context.dagster_run.run_id
        )

    return _run_failure_sensor
