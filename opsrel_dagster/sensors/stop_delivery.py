"""Deliver recorded stops to Dagster, and record what Dagster did with each.

A stop is recorded in the ops schema first (an operator's stop of one execution, or of a whole
replay: STOPPING); ``opsrel_replay_launch_sensor`` calls ``deliver_stops`` on every tick, which
asks Dagster's run coordinator to cancel each such run still queued or in flight and writes the
outcome into the execution's history (``stop_delivery:<state>``, see
``opsrel_core.domain.stop.StopDelivery``). Dagster can terminate a run only when it reaches the
run's worker; a run launched in-process (``dg.materialize``, ``opsrel run``) or without a
reachable code server only moves to CANCELING, and its worker may still finish: that is recorded
as NOT_TERMINATED, shown by the API and the CLI, and the execution still ends STOPPED.
"""

import dataclasses
import logging

import dagster as dg
import sqlalchemy as sa

from opsrel_core.domain.stop import StopDelivery
from opsrel_core.services.batch_execution import BatchExecutionService
from opsrel_core.services.execution_commands import ExecutionCommands
from opsrel_core.services.replays import ReplayService
from opsrel_dagster import tags as opsrel_tags

log = logging.getLogger(__name__)

MAX_REPLAYS_PER_TICK = 20
UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dataclasses.dataclass(frozen=True)
class Delivered:
    """One stop handed to Dagster: the run, and what Dagster did."""

    run_id: str
    delivery: StopDelivery
    message: str


def deliver_stops(instance: dg.DagsterInstance, engine: sa.Engine, job_id: str) -> list[Delivered]:
    """Cancel in Dagster the runs of STOPPING replays of ``job_id`` and of every execution with
    a stop request, and record each outcome on its execution.

    Args:
        instance: the Dagster instance holding the runs.
        engine: engine of the ops database.
        job_id: the batch job whose stopping replays are delivered (executions: every job).

    Returns:
        One ``Delivered`` per run asked to cancel on this call (a run already CANCELING or
        ended is not asked again).
    """
    commands = ExecutionCommands(engine)
    done: list[Delivered] = []
    replays = ReplayService(engine)
    for replay in replays.list_replays(job_id=job_id, status="STOPPING", limit=MAX_REPLAYS_PER_TICK):
        runs = instance.get_runs(
            dg.RunsFilter(tags={opsrel_tags.REPLAY_ID: str(replay.replay_id)}, statuses=UNFINISHED)
        )
        done.extend(_cancel(instance, commands, run) for run in runs)
    # An operator's stop of one execution (admin API, CLI): cancel its run in Dagster.
    for execution_id in BatchExecutionService(engine).list_stop_requested_ids():
        run = instance.get_run_by_id(execution_id)
        if run is None:
            commands.record_stop_delivery(execution_id, StopDelivery.RUN_NOT_FOUND)
        elif run.status in UNFINISHED:
            done.append(_cancel(instance, commands, run))
        elif run.status == dg.DagsterRunStatus.CANCELING:
            # Canceled from elsewhere (the Dagster UI) or by an earlier tick that could not
            # record its outcome: the worker has not stopped.
            commands.record_stop_delivery(
                execution_id, StopDelivery.NOT_TERMINATED,
                detail="the run is CANCELING in Dagster and its worker has not stopped; "
                "whatever it reports is ignored")
        elif run.is_finished:
            commands.record_stop_delivery(execution_id, StopDelivery.RUN_FINISHED)
    return done


def _cancel(instance: dg.DagsterInstance, commands: ExecutionCommands, run: dg.DagsterRun) -> Delivered:
    """Ask Dagster to cancel one run and record what it did."""
    reached = bool(instance.run_coordinator.cancel_run(run.run_id))
    after = instance.get_run_by_id(run.run_id)
    status = None if after is None else after.status
    if status == dg.DagsterRunStatus.CANCELED:
        delivery, message = StopDelivery.TERMINATED, "Dagster terminated the run (CANCELED)"
    elif reached:
        delivery = StopDelivery.TERMINATING
        message = "Dagster reached the run's worker and asked it to stop; the run is CANCELING"
    elif status == dg.DagsterRunStatus.CANCELING:
        delivery = StopDelivery.NOT_TERMINATED
        message = ("Dagster could not terminate the worker (no reachable run worker: an "
                   "in-process run, or its code server is gone); the run is only CANCELING and "
                   "the worker may still finish: whatever it reports is ignored")
    else:
        delivery = StopDelivery.RUN_FINISHED
        message = f"the run was {getattr(status, 'value', status)} when the stop reached Dagster"
    commands.record_stop_delivery(run.run_id, delivery, detail=message)
    log.info("stop of run %s delivered to Dagster: %s", run.run_id, delivery.value)
    return Delivered(run.run_id, delivery, message)
