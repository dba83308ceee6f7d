"""A Dagster run read from the instance's storage as one ``RunObservation``.

``RunReader`` is the reading half of ``RunProjection`` (``apply``): the run's record, its plan's
steps, the launch facts its attribution is decided on and the event records its progress,
failure and check evidence come from, read with Dagster's indexed queries (event types given):
on the SQLite default each run's events live in their own file, so reading a run's whole log
costs tens of milliseconds per run, while the indexed queries are two orders of magnitude cheaper.
"""

import dataclasses

import dagster as dg

from opsrel_core.domain.attribution import attribute
from opsrel_core.services.batch_execution import ExecutionSpec
from opsrel_core.services.batch_jobs import BatchJobCatalog
from opsrel_core.services.execution_projection import (
    ExecutionProjector,
    ObservedStatus,
    RunObservation,
)
from opsrel_core.services.provenance import LineageOutbox
from opsrel_core.services.replays import ReplayService
from opsrel_dagster import tags as opsrel_tags
from opsrel_dagster.projection.events import (
    _RUN_EVENT_TYPES, _STATUS_MAP, _failure_of, _int_or_none, _utc,
)
from opsrel_dagster.projection.launch_facts import (
    check_evidence, launch_facts, will_retry, with_retry_decision,
)
from opsrel_dagster.projection.provenance import _run_facts


class RunReader:
    """Reads Dagster runs into observations; mixed into ``RunProjection``, which sets the
    attributes below."""

    instance: dg.DagsterInstance
    catalog: BatchJobCatalog
    projector: ExecutionProjector
    replays: ReplayService
    blocking_checks: dict[str, frozenset[str]]
    lineage: LineageOutbox | None
    _plan_steps: dict[str, list[str]]

    def observe(self, run_id: str) -> RunObservation | None:
        """Translate one Dagster run into a ``RunObservation``.

        Returns:
            None when the run does not exist or materializes none of the catalog's assets.
        """
        read = self._read_run(run_id)
        return read.observation if read is not None else None

    def _read_run(self, run_id: str, record: dg.RunRecord | None = None) -> "_RunRead | None":
        # The observation with what it was read from (the run and its event records), so the
        # provenance step does not read them again (benchmark B3: a Dagster storage call costs
        # a new PostgreSQL connection). ``record``: the run's record when the caller already
        # holds it (``sync`` reads a batch's records in one call).
        if record is None:
            records = self.instance.get_run_records(dg.RunsFilter(run_ids=[run_id]), limit=1)
            if not records:
                return None
            record = records[0]
        run = record.dagster_run
        steps = self._steps_of(run)
        if run.asset_selection:
            asset_keys = {key.to_user_string() for key in run.asset_selection}
        else:
            asset_keys = set(steps)
        job = self.catalog.job_for_assets(asset_keys)
        if job is None:
            return None
        run_tags = dict(run.tags)
        partition_key = run_tags.get("dagster/partition")
        start = run_tags.get("dagster/asset_partition_range_start")
        end = run_tags.get("dagster/asset_partition_range_end")
        # Who and why: the core's one rule over the run's launch facts.
        who = attribute(launch_facts(run, self.instance))
        # The execution a run is linked to: its Dagster parent (a re-execution or retry is its
        # own execution, linked to the run it re-executes), else the execution a replay names.
        parent = who.parent_run_id or run_tags.get(opsrel_tags.PARENT_EXECUTION_ID)
        if parent and self.projector.executions.find_execution(parent) is None:
            parent = None  # a parent outside the ops schema cannot be linked
        spec = ExecutionSpec(
            execution_id=run.run_id,
            job_id=job.job_id,
            trigger_type=who.trigger,
            partition_key=partition_key,
            partition_range=(start, end) if start and end else None,
            backfill_id=run_tags.get("dagster/backfill"),
            run_tags=run_tags,
            parent_execution_id=parent,
            replay_id=self._known_replay(run_tags.get(opsrel_tags.REPLAY_ID)),
            operator_id=who.operator_id,
            steps_total=len(steps),
        )
        events = self.instance.get_records_for_run(run_id, of_type=_RUN_EVENT_TYPES).records
        steps_done = 0
        rows_written = 0
        stop_requested_at = None
        for event_record in events:
            event = event_record.event_log_entry.dagster_event
            if event is None:
                continue
            if event.event_type == dg.DagsterEventType.RUN_CANCELING and stop_requested_at is None:
                # Kept even when the run later ends FAILED: a failure after a stop request is
                # a stop (no failure alert, no retry), whether or not the projection saw the
                # CANCELING status.
                stop_requested_at = _utc(event_record.event_log_entry.timestamp)
            elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
                steps_done += 1
            elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                rows = event.event_specific_data.materialization.metadata.get("dagster/row_count")
                if rows is not None:
                    rows_written += int(getattr(rows, "value", rows))
        status = _STATUS_MAP.get(run.status, ObservedStatus.READY)
        # In a range run no single partition failed that we can name from the run alone.
        failure = _failure_of(events, partition_key) if status == ObservedStatus.FAILED else None
        observation = RunObservation(
            spec=spec,
            status=status,
            created_at=_utc(record.create_timestamp),
            started_at=_utc(record.start_time),
            ended_at=_utc(record.end_time),
            steps_total=len(steps),
            steps_done=min(steps_done, len(steps)) if steps else steps_done,
            rows_written=rows_written,
            failure=failure,
            stop_requested_at=stop_requested_at,
            attribution=who,
            evidence=check_evidence(events, self.blocking_checks),
            will_retry=will_retry(with_retry_decision(self.instance, run)),
            # The inputs of the run's OpenLineage end event (only read when it is recorded).
            snapshots=_run_facts(self.instance, run_id, events)["snapshots"]
            if self.lineage is not None and _terminal(status) else {},
        )
        return _RunRead(observation, run, events)

    def _known_replay(self, tag: str | None) -> int | None:
        # A replay id typed by hand into the launch dialog may not exist: do not link it.
        replay_id = _int_or_none(tag)
        if replay_id is None:
            return None
        return replay_id if self.replays.find_replay(replay_id) is not None else None

    def _steps_of(self, run: dg.DagsterRun) -> list[str]:
        snapshot_id = run.execution_plan_snapshot_id
        if snapshot_id is None:
            return list(run.step_keys_to_execute or [])
        if snapshot_id not in self._plan_steps:
            plan = self.instance.get_execution_plan_snapshot(snapshot_id)
            keys = plan.step_keys_to_execute or [step.key for step in plan.steps]
            self._plan_steps[snapshot_id] = list(keys)
        return self._plan_steps[snapshot_id]


@dataclasses.dataclass(frozen=True)
class _RunRead:
    observation: RunObservation
    run: dg.DagsterRun
    events: list[dg.EventLogRecord]


def _terminal(status: ObservedStatus) -> bool:
    return status in (ObservedStatus.SUCCESS, ObservedStatus.FAILED, ObservedStatus.STOPPED)
