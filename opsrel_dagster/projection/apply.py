"""The projection of Dagster's run records and event log into the ops schema.

Every Dagster run of the code location becomes one execution (execution id = run id), whichever
way it was launched. ``RunProjection.project_run`` brings one run's execution up to date (read by
``read.RunReader``, applied by the core's ``ExecutionProjector``, its provenance recorded when
it ends); ``RunProjection.sync`` (``sync.RunSync``) reads run status changes after a persisted
storage-id cursor, in bounded batches, and also refreshes executions still open in the ops
schema. Both are idempotent: the run-status sensors, ``opsrel sync`` and ``opsrel run`` may all
apply the same run. A run's own log is read only when needed (the step failure of a failed run).
"""

import logging

import dagster as dg
import sqlalchemy as sa

from opsrel_core.config import AlertSettings
from opsrel_core.config import OpenLineageSettings
from opsrel_core.domain import error_codes
from opsrel_core.errors import OpsException
from opsrel_core.services.batch_execution import ExecutionView
from opsrel_core.services.alerts import OpsAlertService
from opsrel_core.services.batch_jobs import BatchJobCatalog
from opsrel_core.services.quality import WarnPolicy
from opsrel_core.services.provenance import LineageOutbox
from opsrel_core.services.projection_failures import DEFAULT_DUE_LIMIT, ProjectionFailureService
from opsrel_core.services.replays import ReplayService
from opsrel_core.services.worker_reconciler import WorkerTimeouts
from opsrel_core.services.execution_projection import ExecutionProjector, ProjectionCursorStore
from opsrel_dagster.projection.provenance import LineageSpec, record_provenance
from opsrel_dagster.projection.read import RunReader
from opsrel_dagster.projection.sync import _SET_ASIDE, RunSync

log = logging.getLogger(__name__)


class RunProjection(RunReader, RunSync):
    """Projects Dagster runs of one instance into one ops database.

    Args:
        instance: the Dagster instance whose runs are read.
        engine: engine of the ops database.
        partitions_by_job: each batch job's partitions, to derive the status of open replays
            from their executions (jobs missing here keep their replays' status as is).
        blocking_checks: the blocking checks the code location declares per asset key
            (``launch_facts.blocking_checks_of``); the activation gate keeps a
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
