"""The projection of Dagster's run records and event log into the ops schema.

Every Dagster run of the code location becomes one execution (execution id = run id), whichever
way it was launched. ``project_run`` brings one run's execution up to date; ``sync`` reads run
status changes after a persisted storage-id cursor, in bounded batches (the cursor is saved after
each batch), and also refreshes executions still open in the ops schema. Both are idempotent: the
run-status sensors, ``opsrel sync`` and ``opsrel run`` may all apply the same run.

Reads use Dagster's indexed queries (``fetch_run_status_changes``, ``get_records_for_run`` with
event types): on the SQLite default each run's events live in their own file, so reading a
run's whole log costs tens of milliseconds per run, while the indexed queries are two orders of
magnitude cheaper. A run's own log is read only when needed (the step failure of a failed run).
"""

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable

import dagster as dg
import sqlalchemy as sa

from opsrel_core.alert_settings import AlertSettings
from opsrel_core.openlineage_settings import OpenLineageSettings
from opsrel_core.domain import error_codes
from opsrel_core.domain.attribution import attribute
from opsrel_core.errors import OpsException
from opsrel_core.services.batch_execution import ExecutionSpec, ExecutionView
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.batch_jobs import BatchJobCatalog
from opsrel_core.services.dq_alert_policy import WarnPolicy
from opsrel_core.services.dq_reports import DqReportService
from opsrel_core.services.provenance import LineageOutbox
from opsrel_core.services.projection_failures import DEFAULT_DUE_LIMIT, ProjectionFailureService
from opsrel_core.services.replays import ReplayService
from opsrel_core.services.worker_reconciler import Liveness, WorkerLossReconciler, WorkerTimeouts
from opsrel_core.services.execution_projection import (
    ExecutionProjector,
    ObservedFailure,
    ObservedStatus,
    ProjectionCursorStore,
    RunObservation,
)
from opsrel_dagster import tags as opsrel_tags
from opsrel_dagster.failures import ERROR_CODE_KEY
from opsrel_dagster.launch_facts import (
    check_evidence, launch_facts, will_retry, with_retry_decision,
)
from opsrel_dagster.provenance import LineageSpec, _run_facts, record_provenance

log = logging.getLogger(__name__)

CURSOR_NAME = "dagster_run_status_changes"

STATUS_EVENT_TYPES = (
    dg.DagsterEventType.RUN_ENQUEUED,
    dg.DagsterEventType.RUN_STARTING,
    dg.DagsterEventType.RUN_START,
    dg.DagsterEventType.RUN_SUCCESS,
    dg.DagsterEventType.RUN_FAILURE,
    dg.DagsterEventType.RUN_CANCELING,
    dg.DagsterEventType.RUN_CANCELED,
)

_RUN_EVENT_TYPES = {
    dg.DagsterEventType.RUN_CANCELING,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.RUN_FAILURE,
}

_STATUS_MAP = {
    dg.DagsterRunStatus.QUEUED: ObservedStatus.READY,
    dg.DagsterRunStatus.NOT_STARTED: ObservedStatus.READY,
    dg.DagsterRunStatus.MANAGED: ObservedStatus.READY,
    dg.DagsterRunStatus.STARTING: ObservedStatus.READY,
    dg.DagsterRunStatus.STARTED: ObservedStatus.RUNNING,
    dg.DagsterRunStatus.SUSPENDED: ObservedStatus.RUNNING,
    dg.DagsterRunStatus.CANCELING: ObservedStatus.CANCELING,
    dg.DagsterRunStatus.SUCCESS: ObservedStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE: ObservedStatus.FAILED,
    dg.DagsterRunStatus.CANCELED: ObservedStatus.STOPPED,  # an operator's stop, not a failure
}


def _utc(ts: float | dt.datetime | None) -> dt.datetime | None:
    if ts is None:
        return None
    if isinstance(ts, dt.datetime):
        return ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc)


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _metadata_text(value: object) -> str | None:
    if value is None:
        return None
    inner = getattr(value, "value", value)
    return str(inner)


def _root_cause(error):  # type: ignore[no-untyped-def]
    # Dagster wraps user exceptions (DagsterExecutionStepExecutionError); the operator needs
    # the original class and message.
    while error is not None and error.cause is not None and error.cls_name.startswith("Dagster"):
        error = error.cause
    return error


def _failure_of(records: Iterable[dg.EventLogRecord], partition_key: str | None) -> ObservedFailure:
    run_failure_message = None
    failed_checks = []
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
                failed_checks.append(evaluation)
            continue
        if (
            event.event_type == dg.DagsterEventType.STEP_FAILURE
            and event.step_failure_data.error is not None
            and event.step_failure_data.error.cls_name == "DagsterAssetCheckFailedError"
            and failed_checks
        ):
            # A blocking data-quality rule failed: its code (DQ-001) is in the check's
            # metadata; downstream steps were skipped.
            first = failed_checks[0]
            metadata = dict(first.metadata)
            names = ", ".join(c.check_name for c in failed_checks)
            rows = _metadata_text(metadata.get("failing_rows"))
            return ObservedFailure(
                error_code=_metadata_text(metadata.get(ERROR_CODE_KEY)) or error_codes.DQ_FAIL_RULE,
                error_message=f"blocking data-quality rule(s) failed: {names}"
                + (f" ({rows} failing rows in {first.check_name})" if rows else ""),
                asset_key=first.asset_key.to_user_string(),
                partition_key=partition_key,
            )
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            data = event.step_failure_data
            user = data.user_failure_data
            metadata = dict(user.metadata) if user is not None else {}
            code = _metadata_text(metadata.get(ERROR_CODE_KEY))
            error = _root_cause(data.error)
            if code:
                message = _metadata_text(metadata.get("operator_message")) or (
                    user.description if user is not None else ""
                )
            else:
                # Not one of ours: keep the original class and message for the operator.
                code = error_codes.SYS_UNEXPECTED
                message = error.message.strip() if error else "step failed"
                if error and not message.startswith(error.cls_name):
                    message = f"{error.cls_name}: {message}"
            return ObservedFailure(
                error_code=code,
                error_message=message or "",
                asset_key=event.step_key,
                # In a range run the failing day is the one the step named, not the whole range.
                partition_key=partition_key or _metadata_text(metadata.get("partition_key")) or None,
            )
        if event.event_type == dg.DagsterEventType.RUN_FAILURE:
            run_failure_message = record.event_log_entry.message
    return ObservedFailure(
        error_code=error_codes.SYS_UNEXPECTED,
        error_message=run_failure_message or "the run failed before any step failed",
        partition_key=partition_key,
    )


class RunProjection:
    """Projects Dagster runs of one instance into one ops database.

    Args:
        instance: the Dagster instance whose runs are read.
        engine: engine of the ops database.
        partitions_by_job: each batch job's partitions, to derive the status of open replays
            from their executions (jobs missing here keep their replays' status as is).
        blocking_checks: the blocking checks the code location declares per asset key
            (``opsrel_dagster.launch_facts.blocking_checks_of``); the activation gate keeps a
            version inactive when one of its asset's did not run. None declares none.
        lineage_settings: OpenLineage settings; from the environment when omitted. When an
            endpoint is configured, each execution's start and end record OpenLineage run events.
    """

    def __init__(
        self,
        instance: dg.DagsterInstance,
        engine: sa.Engine,
        partitions_by_job: dict[str, dg.PartitionsDefinition] | None = None,
        alert_settings: AlertSettings | None = None,
        lineage_by_job: "dict[str, LineageSpec] | None" = None,
        worker_timeouts: WorkerTimeouts | None = None,
        blocking_checks: dict[str, frozenset[str]] | None = None,
        lineage_settings: OpenLineageSettings | None = None,
    ):
        self.instance = instance
        # The blocking checks the code location declares per asset (``blocking_checks_of``):
        # the activation gate keeps a version inactive when one of its asset's did not run.
        self.blocking_checks = dict(blocking_checks or {})
        self.engine = engine
        self.partitions_by_job = partitions_by_job or {}
        self.lineage_by_job = lineage_by_job or {}
        self.replays = ReplayService(engine)
        alerts, policy = None, None
        try:
            settings = alert_settings if alert_settings is not None else AlertSettings.from_env()
            alerts = OpsAlertService(engine, settings)
            policy = WarnPolicy.from_env()
        except ValueError as exc:  # a misconfigured channel must not stop runs being recorded
            log.error("alerts disabled: the alert settings are invalid: %s", exc)
        self.lineage = None
        try:
            ol = lineage_settings if lineage_settings is not None else OpenLineageSettings.from_env()
            self.lineage = LineageOutbox(ol) if ol.enabled else None
        except ValueError as exc:  # a misconfigured endpoint must not stop runs being recorded
            log.error("OpenLineage events disabled: the OpenLineage settings are invalid: %s", exc)
        self.projector = ExecutionProjector(engine, alerts, policy, self.lineage)
        # Built lazily on the first sync: bad timeout settings fail the sync, not construction.
        self._worker_timeouts = worker_timeouts
        self._alerts = alerts
        self.catalog = BatchJobCatalog(engine)
        self.cursors = ProjectionCursorStore(engine)
        self.failures = ProjectionFailureService(engine, alerts)
        self.due_per_sync = DEFAULT_DUE_LIMIT
        self._plan_steps: dict[str, list[str]] = {}

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

    def project_run(self, run_id: str, record: dg.RunRecord | None = None) -> ExecutionView | None:
        """Bring one run's execution up to date in the ops schema.

        Args:
            run_id: the Dagster run.
            record: the run's ``RunRecord`` when already read (``sync`` reads a batch's records
                in one storage call); read here when None.

        Returns:
            The execution as stored, or None when the run is not one of the catalog's jobs.
        """
        read = self._read_run(run_id, record)
        if read is None:
            return None
        view = self.projector.apply(read.observation)
        spec = self.lineage_by_job.get(view.job_id)
        if spec is not None and view.status.is_terminal:
            try:
                # The run and its events as observed: the run was already terminal when its
                # record was read, so the events read after it are complete.
                record_provenance(self.instance, self.engine, view, spec,
                                  run=read.run, event_records=read.events)
            except Exception:  # noqa: BLE001 - retried on the next sync; the end is recorded
                log.exception("could not record the provenance of %s", run_id)
        return view

    def sync(self, batch_size: int = 200, max_batches: int | None = None) -> "SyncReport":
        """Project every run whose status changed since the stored cursor, then open executions.

        A run whose projection raises never stops the others: it is set aside
        (``ProjectionFailureService``: its error code, retried with backoff, one SYS-004 alert
        after repeated attempts) and the cursor moves on. Each sync first retries the set-aside
        runs that are due; a set-aside run recorded at last is cleared.

        Args:
            batch_size: status-change records read per event type and batch.
            max_batches: stop after this many batches (None: until caught up). The cursor is
                saved after each batch, so an interrupted sync resumes where it stopped; when a
                backlog remains, the time of its oldest event is saved too (the lag the admin
                API reports), else it is cleared.

        Returns:
            A ``SyncReport`` with counts, the set-aside figures and the new cursor.

        Raises:
            SystemException: SYS-002 when the ops database itself stays unavailable (nothing
                can be recorded, set-aside rows included).
        """
        report = SyncReport()
        projected: set[str] = set()
        ignored: set[str] = set()
        set_aside = self.failures.run_ids()
        attempted: set[str] = set()

        def project(run_id: str, record: dg.RunRecord | None = None) -> None:
            attempted.add(run_id)
            outcome = self._project_or_set_aside(run_id, record, set_aside)
            if outcome is _SET_ASIDE:
                report.set_aside_now += 1
            elif outcome is None:
                ignored.add(run_id)
            else:
                projected.add(run_id)

        for run_id in self.failures.due(limit=self.due_per_sync):
            report.set_aside_retried += 1
            project(run_id)
            if run_id not in set_aside:
                report.set_aside_cleared += 1
        batches = 0
        has_more = False
        while max_batches is None or batches < max_batches:
            after = self._cursor()
            run_ids, new_cursor, has_more = self._changed_runs(after, batch_size)
            records = self._batch_records(run_ids)
            for run_id in run_ids:
                if run_id in attempted:
                    continue  # already tried in this sync (a due set-aside run)
                if records is None:
                    project(run_id)  # read one by one: only an unreadable run is set aside
                elif run_id in records:
                    project(run_id, records[run_id])
                else:
                    ignored.add(run_id)
            report.runs_projected, report.runs_ignored = len(projected), len(ignored - projected)
            if new_cursor != after:
                self.cursors.set(CURSOR_NAME, str(new_cursor))
            report.cursor = new_cursor
            batches += 1
            if not has_more:
                break
        # The backlog's age for the admin API, so falling behind is visible: when the oldest
        # unapplied event happened.
        report.oldest_pending_at = self._oldest_pending(report.cursor) if has_more else None
        self.cursors.record_backlog(CURSOR_NAME, report.oldest_pending_at)
        for execution_id in self.projector.executions.list_open_execution_ids():
            if execution_id in set_aside:
                continue  # retried when due, not on every sync
            view = self._project_or_set_aside(execution_id, None, set_aside)
            if view is _SET_ASIDE:
                report.set_aside_now += 1
            elif view is None and not self._run_exists(execution_id):
                # The run is gone from Dagster's storage: it will never report an end.
                self.projector.executions.fail_execution(
                    execution_id,
                    error_codes.SYS_WORKER_LOST,
                    error_message="the Dagster run no longer exists in the instance's storage "
                    "(deleted or lost); its execution can never end by itself",
                )
            report.open_refreshed += 1
        report.runs_projected, report.runs_ignored = len(projected), len(ignored - projected)
        report.workers_lost = self.reconcile_lost_workers()
        report.replays_refreshed = self.refresh_replays()
        summary = self.failures.summary()
        report.set_aside = summary.count
        report.oldest_set_aside_run_id = summary.oldest_run_id
        report.oldest_set_aside_error_code = summary.oldest_error_code
        report.oldest_set_aside_at = summary.oldest_failed_at
        return report

    def _batch_records(self, run_ids: list[str]) -> "dict[str, dg.RunRecord] | None":
        # One storage call for the batch's run records, not one per run (benchmark B3). None
        # when that call raises (one record Dagster cannot read fails the whole call).
        if not run_ids:
            return {}
        try:
            return {
                r.dagster_run.run_id: r
                for r in self.instance.get_run_records(dg.RunsFilter(run_ids=run_ids))
            }
        except Exception:  # noqa: BLE001 - read one by one instead; the unreadable one is set aside
            log.warning("the run records of a batch of %d runs could not be read together",
                        len(run_ids), exc_info=True)
            return None

    def project_or_set_aside(self, run_id: str) -> "ExecutionView | None":
        """``project_run``, except that a run whose projection raises is set aside (its error
        recorded, retried by a later ``sync``) instead of raising; a set-aside run recorded
        now is cleared.

        Returns:
            The execution as stored, or None when the run is not one of the catalog's jobs or
            was set aside.
        """
        outcome = self._project_or_set_aside(run_id, None, self.failures.run_ids())
        return None if outcome is _SET_ASIDE else outcome

    def _project_or_set_aside(
        self, run_id: str, record: dg.RunRecord | None, set_aside: set[str]
    ) -> "ExecutionView | None | object":
        # ``set_aside``: the run ids currently set aside, kept up to date here, so that only
        # those pay for a delete when they are recorded.
        try:
            view = self.project_run(run_id, record)
        except Exception as exc:  # noqa: BLE001 - set aside with its code; the others go on
            code = exc.code if isinstance(exc, OpsException) else error_codes.SYS_UNEXPECTED
            text = exc.operator_message if isinstance(exc, OpsException) else str(exc)
            log.warning("run %s could not be recorded and is set aside: %s", run_id, exc,
                        exc_info=True)
            self.failures.set_aside(run_id, code, f"{type(exc).__name__}: {text}")
            set_aside.add(run_id)
            return _SET_ASIDE
        if run_id in set_aside:
            self.failures.cleared(run_id)
            set_aside.discard(run_id)
        return view

    def reconcile_lost_workers(self) -> int:
        """Fail open executions whose run showed no sign of life within the timeout.

        A worker killed hard writes no terminal event, so without this its execution would stay
        open for ever.

        Uses ``WorkerLossReconciler`` (SYS-003, compare-and-set, one alert) with the newest event
        of each run as its heartbeat; runs waiting in Dagster's queue have no start timeout. A
        run failed here is also reported failed to Dagster, so its UI does not show it started
        for ever; a later event from the lost worker changes nothing in the ops schema.

        Returns:
            How many executions were failed (or stopped, when a stop had been requested).
        """
        reconciler = WorkerLossReconciler(
            self.engine, self._worker_timeouts or WorkerTimeouts.from_env(), self._alerts,
            self.lineage,
        )
        ended = reconciler.reconcile(self._liveness)
        for view in ended:
            records = self.instance.get_run_records(dg.RunsFilter(run_ids=[view.execution_id]), limit=1)
            if records and not records[0].dagster_run.is_finished:
                self.instance.report_run_failed(
                    records[0].dagster_run,
                    f"opsrel: worker lost ({view.error_code}): {view.error_message}",
                )
        return len(ended)

    def _liveness(self, run_id: str) -> Liveness | None:
        try:
            records = self.instance.get_run_records(dg.RunsFilter(run_ids=[run_id]), limit=1)
            newest = self.instance.get_records_for_run(run_id, limit=1, ascending=False).records
        except Exception:  # noqa: BLE001 - one unreadable run must not stop the reconciler
            # Its projection raises too, so it is set aside (and alerts); its worker cannot be
            # judged until it can be read.
            log.warning("the liveness of run %s could not be read", run_id, exc_info=True)
            return Liveness(finished=True)
        if not records:
            return None
        run = records[0].dagster_run
        return Liveness(
            last_seen_at=_utc(newest[0].event_log_entry.timestamp) if newest else None,
            queued=run.status == dg.DagsterRunStatus.QUEUED,
            finished=run.is_finished,
        )

    def refresh_replays(self) -> int:
        """Derive the status of RUNNING and STOPPING replays from their executions.

        Returns:
            How many replays were refreshed.
        """
        count = 0
        for status in ("RUNNING", "STOPPING"):
            for replay in self.replays.list_replays(status=status, limit=500):
                partitions = self.partitions_by_job.get(replay.job_id)
                if partitions is None or replay.partition_start is None:
                    continue
                expected = replay.keys(partitions.get_partition_keys())  # its plan's keys
                refreshed = self.replays.refresh_status(replay.replay_id, expected)
                if refreshed.status in ("SUCCESS", "FAILED", "STOPPED"):
                    DqReportService(self.engine).build_replay_report(replay.replay_id)
                count += 1
        return count

    def _known_replay(self, tag: str | None) -> int | None:
        # A replay id typed by hand into the launch dialog may not exist: do not link it.
        replay_id = _int_or_none(tag)
        if replay_id is None:
            return None
        return replay_id if self.replays.find_replay(replay_id) is not None else None

    def _run_exists(self, run_id: str) -> bool:
        return bool(self.instance.get_run_records(dg.RunsFilter(run_ids=[run_id]), limit=1))

    def _cursor(self) -> int:
        stored = self.cursors.get(CURSOR_NAME)
        return int(stored) if stored else 0

    def _oldest_pending(self, after: int) -> dt.datetime | None:
        # The first status change after the cursor, over every event type (indexed queries).
        times = []
        for event_type in STATUS_EVENT_TYPES:
            result = self.instance.fetch_run_status_changes(
                dg.RunStatusChangeRecordsFilter(event_type=event_type, after_storage_id=after or None),
                limit=1,
                ascending=True,
            )
            times += [_utc(r.event_log_entry.timestamp) for r in result.records]
        return min(times, default=None)

    def _changed_runs(self, after: int, batch_size: int) -> tuple[list[str], int, bool]:
        # Merge per-type streams: only records up to the smallest last id among truncated
        # streams are safe to consume, so nothing between batches is skipped.
        records = []
        safe_limit = None
        for event_type in STATUS_EVENT_TYPES:
            result = self.instance.fetch_run_status_changes(
                dg.RunStatusChangeRecordsFilter(event_type=event_type, after_storage_id=after or None),
                limit=batch_size,
                ascending=True,
            )
            records.extend(result.records)
            if len(result.records) >= batch_size:
                last = result.records[-1].storage_id
                safe_limit = last if safe_limit is None else min(safe_limit, last)
        if safe_limit is not None:
            records = [r for r in records if r.storage_id <= safe_limit]
        records.sort(key=lambda r: r.storage_id)
        run_ids: list[str] = []
        for record in records:
            if record.run_id not in run_ids:
                run_ids.append(record.run_id)
        new_cursor = records[-1].storage_id if records else after
        return run_ids, new_cursor, safe_limit is not None

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


_SET_ASIDE = object()  # a projection outcome: the run raised and was set aside


def _terminal(status: ObservedStatus) -> bool:
    return status in (ObservedStatus.SUCCESS, ObservedStatus.FAILED, ObservedStatus.STOPPED)


@dataclasses.dataclass
class SyncReport:
    """What one ``sync`` did: runs projected and ignored (not ours), open executions refreshed,
    and the runs set aside (their projection raised; retried with backoff).

    Attributes:
        set_aside: runs set aside after this sync (0: every run seen is recorded).
        set_aside_now: failed attempts in this sync (new or retried runs that raised again).
        set_aside_retried: due set-aside runs tried again first; set_aside_cleared: of those,
            recorded at last.
        oldest_set_aside_run_id, oldest_set_aside_error_code, oldest_set_aside_at: the run
            set aside longest ago (by first failure, UTC), its code; None when none is.
    """

    runs_projected: int = 0
    runs_ignored: int = 0
    open_refreshed: int = 0
    workers_lost: int = 0
    replays_refreshed: int = 0
    cursor: int = 0
    oldest_pending_at: dt.datetime | None = None  # set when a backlog remains (max_batches)
    set_aside: int = 0
    set_aside_now: int = 0
    set_aside_retried: int = 0
    set_aside_cleared: int = 0
    oldest_set_aside_run_id: str | None = None
    oldest_set_aside_error_code: str | None = None
    oldest_set_aside_at: dt.datetime | None = None

    def to_json(self) -> dict[str, object]:
        """The report as JSON-ready values (times as ISO 8601 strings)."""
        return {
            key: value.isoformat() if isinstance(value, dt.datetime) else value
            for key, value in dataclasses.asdict(self).items()
        }
