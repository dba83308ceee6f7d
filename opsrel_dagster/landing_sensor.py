"""A sensor that runs a partition when its landing file arrives or changes.

It watches ``OPSREL_LANDING_DIR`` for the job's landing files, named by the job's declaration
(``OpsrelJob.landing_file``: ``flights_{partition}.csv`` for the flights job, so
``flights_2013-01-04.csv``). Each file is identified by the
sha256 of its bytes, and the run key is ``<partition>:<sha256>``: Dagster launches a run key once
per sensor, so the same file never runs twice, even after the cursor is reset. The cursor keeps the
last hash requested per partition, so that a changed file's reason names both hashes.

A file for a partition that already has an execution (an active result, or a failed run that the
new file redoes) is an automatic replay through the core's plan: a replay record (operator
``sensor:<name>``, request key ``landing:<day>:<sha256>``, reason naming the old and new hashes) is
written with its audit record, and the run carries the plan's tags (replay id, parent execution).
The run is attributed either way, so the re-run policy (``replay_policy``) lets it through.

One writer per partition: while the partition has a run or replay in flight the file waits (the
cursor keeps the old hash; a later tick looks again), and a file that a successful run started
after its last change has already read (say the operator's replay) is recorded as seen and
launches nothing.
"""

import datetime as dt
import hashlib
import json
from pathlib import Path

import dagster as dg

from opsrel_core.config import RuntimeSettings
from opsrel_dagster import tags as opsrel_tags
from opsrel_dagster.acting import acts_as_sensor
from opsrel_dagster.resources import OpsDatabase

DEFAULT_LANDING_FILE = "flights_{partition}.csv"
MAX_REQUESTS_PER_TICK = 50


def file_digest(path: Path) -> str:
    """``sha256:<hex>`` of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def landed_files(
    landing_dir: Path, partition_keys: list[str], landing_file: str = DEFAULT_LANDING_FILE,
) -> list[tuple[str, Path]]:
    """(partition key, path) of each regular landing file named for a partition of the job, in
    the job's key order.

    Args:
        landing_dir: the landing folder.
        partition_keys: the job's keys, in order.
        landing_file: the file name of a partition, ``{partition}`` standing for its key; a
            file is matched by its whole name, never by a pattern over keys (an hourly key such
            as ``2013-11-03-01:00-0500`` is spelled only by its partitions definition).
    """
    by_name = {landing_file.format(partition=key): key for key in partition_keys}
    present = {entry.name: entry for entry in landing_dir.iterdir() if entry.name in by_name}
    return [(by_name[name], present[name]) for name in by_name
            if name in present and present[name].is_file()]


def make_landing_sensor(
    job_id: str,
    asset_selection: dg.AssetSelection,
    partitions_def: dg.PartitionsDefinition,
    name: str = "opsrel_landing_sensor",
    minimum_interval_seconds: int = 30,
    landing_file: str = DEFAULT_LANDING_FILE,
) -> dg.SensorDefinition:
    """Build the landing-folder sensor for one job.

    Args:
        job_id: the batch job of the catalog (for replay records), e.g. ``"flights_daily"``.
        asset_selection: the assets each run materializes.
        partitions_def: their partitions; files named for no partition are ignored.
        name: sensor name (also the automatic operator id ``sensor:<name>``).
        minimum_interval_seconds: seconds between ticks.
        landing_file: a partition's file name, ``{partition}`` standing for its key.

    Returns:
        A sensor requiring the ``ops_db`` resource; it skips while ``OPSREL_LANDING_DIR`` is unset.
    """

    @dg.sensor(
        name=name,
        asset_selection=asset_selection,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Runs a partition when {landing_file} lands in OPSREL_LANDING_DIR; "
        "a changed file for a partition with a result is recorded as an automatic replay.",
    )
    @acts_as_sensor(name)
    def _landing_sensor(context: dg.SensorEvaluationContext, ops_db: OpsDatabase):
        from opsrel_core.domain.replay_plan import run_tags_for
        from opsrel_core.errors import ConflictException
        from opsrel_core.services.replays import ReplayService

        landing_dir = RuntimeSettings.from_env().landing_dir
        if landing_dir is None:
            return dg.SkipReason("OPSREL_LANDING_DIR is not set")
        if not landing_dir.is_dir():
            return dg.SkipReason(f"landing folder {landing_dir} does not exist")
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        job_keys = partitions_def.get_partition_keys()
        replays = ReplayService(ops_db.engine)
        operator = f"sensor:{name}"
        requests = []
        for partition_key, path in landed_files(landing_dir, job_keys, landing_file):
            digest = file_digest(path)
            previous = seen.get(partition_key)
            if previous == digest:
                continue
            if replays.busy_partitions(job_id, [partition_key]):
                # One writer per partition: the cursor keeps the old hash, so the file is
                # looked at again on a later tick, once the run in flight has ended.
                context.log.info(f"{path.name}: partition {partition_key} has a run in flight; "
                                 "waiting")
                continue
            modified = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.timezone.utc)
            request_key = f"landing:{partition_key}:{digest}"
            if (replays.succeeded_since(job_id, partition_key, modified)
                    or replays.find_replay_by_request_key(operator, request_key) is not None):
                # A run that started after the file last changed already read it (say the
                # operator's replay), or this very file was replayed before (a reset cursor).
                seen[partition_key] = digest
                continue
            if replays.parent_execution_id(job_id, partition_key) is None:
                tags = {opsrel_tags.OPERATOR: operator,
                        opsrel_tags.REASON: f"landing file {path.name} arrived ({digest})"}
            else:
                before = previous or "a result from earlier input"
                try:
                    replay = replays.replay_single(
                        job_id=job_id, partition_key=partition_key, operator_id=operator,
                        reason=f"landing file {path.name} changed: {before} -> {digest}",
                        request_key=request_key, job_keys=job_keys,
                    )
                except ConflictException as exc:  # a writer came in since the check: wait
                    context.log.info(f"{path.name}: {exc.operator_message}")
                    continue
                plan = replays.launch_plan(replay, job_keys)
                replays.mark_launched(replay.replay_id)
                tags = run_tags_for(plan, replay.replay_id, [partition_key])
            requests.append(
                dg.RunRequest(run_key=f"{partition_key}:{digest}", partition_key=partition_key, tags=tags)
            )
            seen[partition_key] = digest
            if len(requests) >= MAX_REQUESTS_PER_TICK:
                break  # the rest on the next tick; the cursor says where we are
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))

    return _landing_sensor
