"""Launch requested replays through Dagster, exactly once.

A replay (or a manual start) requested through the admin API is a REQUESTED ``replay`` row,
written with its audit record and its plan's keys. This sensor turns it into run requests for
exactly the keys of that plan (``ReplayService.launch_plan``: the keys the preview showed, with
the plan's tags): one run per partition with the run key ``replay:<id>:<partition>``, or, for a
job declared with a replay range size above 1, single-run ranges of adjacent keys keyed
``replay:<id>:<first>...<last>``. The replay stays REQUESTED, and its requests are asked for
again on every tick, until Dagster holds a run for each of its partitions; only then is it marked
RUNNING. Dagster launches a run key once per sensor, so a repeat is a no-op, while a daemon that
died between the evaluation and storing the runs loses nothing: exactly once either way. Each
run carries the replay id, the operator, the reason and the execution it replaces. For a replay
being stopped (STOPPING), the sensor cancels its runs still queued or in flight, and it cancels
the run of any execution an operator asked to stop.
"""

import dagster as dg

from opsrel_core.domain.replay_plan import ReplayPlan, run_tags_for
from opsrel_core.services.replays import ReplayService
from opsrel_dagster import tags as opsrel_tags
from opsrel_dagster.keys import adjacent_ranges
from opsrel_dagster.resources import OpsDatabase
from opsrel_dagster.sensors.acting import acts_as_sensor
from opsrel_dagster.sensors.stop_delivery import deliver_stops

MAX_REPLAYS_PER_TICK = 20
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def replay_run_requests(plan: ReplayPlan, replay_id: int, keys: list[str],
                        ranges: list[list[str]] | None = None) -> list[dg.RunRequest]:
    """The run requests of a replay's plan, with the plan's tags, keyed for exactly-once launch.

    Args:
        plan: the replay's plan (operator, reason, parents).
        replay_id: the ops ``replay`` row id.
        keys: the plan's keys still to launch.
        ranges: ``keys`` grouped into runs (``keys.adjacent_ranges``); None: one run per key.

    Returns:
        A one-partition run per one-key group, keyed ``replay:<id>:<partition>``; a single-run
        range per longer group, keyed ``replay:<id>:<first>...<last>`` and carrying Dagster's
        range tags ``dagster/asset_partition_range_start|end``, as a single-run backfill's run.
    """
    requests = []
    for group in ranges if ranges is not None else [[key] for key in keys]:
        tags = run_tags_for(plan, replay_id, group)
        if len(group) == 1:
            requests.append(dg.RunRequest(run_key=f"replay:{replay_id}:{group[0]}",
                                          partition_key=group[0], tags=tags))
            continue
        requests.append(dg.RunRequest(
            run_key=f"replay:{replay_id}:{group[0]}...{group[-1]}",
            tags={**tags, RANGE_START_TAG: group[0], RANGE_END_TAG: group[-1]}))
    return requests


def launched_partitions(instance: dg.DagsterInstance, replay_id: int,
                        partitions_def: dg.PartitionsDefinition | None = None) -> set[str]:
    """The partition keys of the runs Dagster holds for a replay (any status).

    Args:
        instance: the Dagster instance the sensor evaluates against.
        replay_id: the ops ``replay`` row id (stamped as the ``opsrel/replay_id`` run tag).
        partitions_def: the job's partitions, through which a range run's tags expand to its
            keys; None counts one-partition runs only.

    Returns:
        The keys of those runs (``dagster/partition``, or every key of a range run's
        ``dagster/asset_partition_range_start..end``); a replay is launched once they cover
        its plan.
    """
    runs = instance.get_runs(dg.RunsFilter(tags={opsrel_tags.REPLAY_ID: str(replay_id)}))
    keys: set[str] = set()
    for run in runs:
        if PARTITION_TAG in run.tags:
            keys.add(run.tags[PARTITION_TAG])
        elif partitions_def is not None and RANGE_START_TAG in run.tags:
            keys.update(partitions_def.get_partition_keys_in_range(
                dg.PartitionKeyRange(run.tags[RANGE_START_TAG], run.tags[RANGE_END_TAG])))
    return keys


def make_replay_launch_sensor(
    job_id: str,
    asset_selection: dg.AssetSelection,
    partitions_def: dg.PartitionsDefinition,
    name: str = "opsrel_replay_launch_sensor",
    minimum_interval_seconds: int = 15,
    range_size: int = 1,
) -> dg.SensorDefinition:
    """Build the sensor that launches REQUESTED replays of one job and cancels STOPPING ones.

    Args:
        job_id: the batch job whose replays it launches (``"flights_daily"``).
        asset_selection: the assets each replay run materializes.
        partitions_def: the job's partitions (for replays recorded without stored keys, which
            cover their keys from start to end, and to group keys into ranges).
        range_size: partitions per run (``OpsrelJob.replay_range_size``): 1 launches a run per
            partition; N > 1 launches adjacent keys of the plan as single-run ranges of up to N
            (every selected asset must have the single-run backfill policy).

    Returns:
        A sensor requiring the ``ops_db`` resource.
    """

    @dg.sensor(
        name=name,
        asset_selection=asset_selection,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Launches requested replays and manual starts (one run per partition, or "
        f"single-run ranges of up to {range_size} adjacent partitions; exactly once by run "
        "key); cancels the runs of replays being stopped.",
    )
    @acts_as_sensor(name)
    def _replay_sensor(context: dg.SensorEvaluationContext, ops_db: OpsDatabase):
        replays = ReplayService(ops_db.engine)
        keys = partitions_def.get_partition_keys()
        requests: list[dg.RunRequest] = []
        for replay in reversed(replays.list_replays(job_id=job_id, status="REQUESTED", limit=MAX_REPLAYS_PER_TICK)):
            plan = replays.launch_plan(replay, keys)  # exactly the keys the request planned
            launched = launched_partitions(context.instance, replay.replay_id, partitions_def)
            missing = [k for k in plan.partitions if k not in launched]
            if missing:
                # Asked again every tick until Dagster holds the runs: the run keys make a
                # repeat a no-op, and a daemon that died before storing them loses nothing.
                requests.extend(replay_run_requests(
                    plan, replay.replay_id, missing,
                    adjacent_ranges(keys, missing, range_size)))
            else:
                replays.mark_launched(replay.replay_id)
        deliver_stops(context.instance, ops_db.engine, job_id)  # stopping replays, stopped runs
        return dg.SensorResult(run_requests=requests)

    return _replay_sensor
