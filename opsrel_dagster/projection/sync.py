"""``RunProjection.sync`` (``RunSync``): run status changes after a persisted storage-id cursor,
in bounded batches (the cursor saved after each), then open executions, lost workers and replays.
"""

import dataclasses
import datetime as dt
import logging

import dagster as dg
import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.quality import DqReportService
from opsrel_core.services.execution_projection import ExecutionProjector, ProjectionCursorStore
from opsrel_core.services.provenance import LineageOutbox
from opsrel_core.services.projection_failures import ProjectionFailureService
from opsrel_core.services.replays import ReplayService
from opsrel_core.services.worker_reconciler import Liveness, WorkerLossReconciler, WorkerTimeouts
from opsrel_dagster.projection.events import STATUS_EVENT_TYPES, _utc

log = logging.getLogger(__name__)

CURSOR_NAME = "dagster_run_status_changes"

_SET_ASIDE = object()  # a projection outcome: the run raised and was set aside


class RunSync:
    """Syncs the ops schema with Dagster's run storage; mixed into ``RunProjection``, which sets
    the attributes below and applies each run (``_project_or_set_aside``)."""

    instance: dg.DagsterInstance
    engine: sa.Engine
    partitions_by_job: dict[str, dg.PartitionsDefinition]
    replays: ReplayService
    projector: ExecutionProjector
    lineage: LineageOutbox | None
    cursors: ProjectionCursorStore
    failures: ProjectionFailureService
    due_per_sync: int
    _worker_timeouts: WorkerTimeouts | None
    _alerts: OpsAlertService | None

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
