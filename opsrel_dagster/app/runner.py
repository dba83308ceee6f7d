"""The headless main job behind ``opsrel run`` and ``opsrel sync``.

Runs go through Dagster with the persistent instance (``DAGSTER_HOME``; by default
``.opsrel/dagster_home``), one run per daily partition with ``dagster.materialize`` (in-process
executor: no process per step), and each run is projected into the ops schema right after it
ends, so the result is there without the daemon.
"""

import datetime as dt
import getpass
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import dagster as dg
import sqlalchemy as sa

from opsrel_core.errors import OpsException
from opsrel_core.persistence import migrate
from opsrel_core.persistence.engine import make_engine
from opsrel_core.config import OpsSettings
from opsrel_dagster import tags as opsrel_tags
from opsrel_dagster.app.dagster_home import ensure_dagster_home
from opsrel_dagster.app.run_summary import PartitionSummary, RunSummaries
from opsrel_dagster.assembly import Assembly, load_assembly
from opsrel_dagster.jobs import OpsrelJob
from opsrel_dagster.projection.apply import RunProjection
from opsrel_dagster.projection.sync import CURSOR_NAME, SyncReport
from opsrel_dagster.registration import register_jobs

if TYPE_CHECKING:
    from opsrel_core.services.replays import ReplayView

log = logging.getLogger(__name__)

# Dagster's console logger prints every event, and two stack traces per failed step; the summary
# (status, error code, operator message) is what an operator reads. Run logs stay in Dagster's
# event log and show in the UI.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def partition_keys_between(job: OpsrelJob, first: str | dt.date, last: str | dt.date) -> list[str]:
    """The job's partition keys from ``first`` to ``last`` inclusive, in the partitions
    definition's order (``OpsrelJob.keys_between``: keys as Dagster spells them, or local dates
    for a job cut finer than a day).

    Raises:
        click.BadParameter: a bound outside the job's partitions, or ``last`` before ``first``.
    """
    try:
        return job.keys_between(str(first), str(last))
    except ValueError as exc:
        import click

        raise click.BadParameter(str(exc)) from None


class HeadlessRunner:
    """Materializes a declared job (``jobs.OpsrelJob``) per partition and records each run.

    Args:
        settings: opsrel settings (ops database URL, home folder).
        instance: the Dagster instance runs are recorded in.
        engine: engine of the ops database (migrated to head).
    """

    def __init__(self, settings: OpsSettings, instance: dg.DagsterInstance, engine: sa.Engine,
                 job: OpsrelJob | None = None, assembly: Assembly | None = None):
        # The jobs come from the assembly: the runner never imports a domain.
        self.assembly = assembly or load_assembly()
        self.settings = settings
        self.instance = instance
        self.engine = engine
        self.job = job or self.assembly.job()
        jobs = self.assembly.jobs.values()
        # The catalog must know every declared job's keys before a run of it is projected
        # (the projection finds a run's job there) or replayed (the core expands ranges there).
        register_jobs(engine, jobs)
        self.projection = RunProjection(
            instance, engine, {j.job_id: j.partitions_def for j in jobs},
            lineage_by_job={j.job_id: j.lineage for j in jobs},
            blocking_checks=self.assembly.blocking_checks(),
        )

    @classmethod
    def from_env(cls, job_id: str | None = None) -> "HeadlessRunner":
        """Set everything up from the environment: Dagster home, ops schema at head, instance;
        the runner runs the declared job ``job_id`` (default: the code location's only job).

        Raises:
            LookupError: no declared job ``job_id``.
        """
        assembly = load_assembly()
        job = assembly.job(job_id)
        settings = OpsSettings.from_env()
        settings.home.mkdir(parents=True, exist_ok=True)
        ensure_dagster_home(settings)
        migrate.upgrade(settings.database_url)
        return cls(settings, dg.DagsterInstance.get(), make_engine(settings.database_url), job,
                   assembly)

    def partition_keys(self, start: str | dt.date, end: str | dt.date) -> list[str]:
        """The runner's job's partitions from ``start`` to ``end`` inclusive
        (``partition_keys_between``)."""
        return partition_keys_between(self.job, start, end)

    def run_partitions(
        self,
        partition_keys: list[str],
        on_progress: Callable[[int, int, str | None], None] | None = None,
        *,
        run_tags: dict[str, str] | None = None,
        tags_of_run: Callable[[list[str]], dict[str, str]] | None = None,
        may_launch: Callable[[], bool] | None = None,
        range_size: int | None = None,
    ) -> list[PartitionSummary]:
        """Run the pipeline once per partition (or per range of days), in order, and project
        each run.

        A failed run does not stop the others; ``may_launch`` returning False does: the
        remaining partitions are never launched.

        Args:
            partition_keys: days to run, ``YYYY-MM-DD``.
            on_progress: called with (done, total, current partition or None).
            run_tags: tags for every run; by default the CLI trigger and an automatic
                attribution (the OS user, "headless run"), so re-running a partition that
                has a result is allowed and recorded with who and why.
            tags_of_run: extra tags of the run over these days (a replay's plan tags,
                ``replay_plan.run_tags_for``).
            may_launch: asked before each run (e.g. "is the replay being stopped?"); None
                launches every run.
            range_size: None (default): one run per partition. N > 1: consecutive days in
                ranges of up to N days, each one Dagster run (every flights asset has the
                single-run backfill policy; the run carries Dagster's range tags
                ``dagster/asset_partition_range_start/end`` as a single-run backfill's run does),
                one result version per day. A range run fails or succeeds as a whole.

        Returns:
            One summary per launched partition, in input order (the days of a range run share
            its run id, status and error; ``seconds`` is the run's time shared evenly by them).

        Raises:
            ValueError: ``range_size`` below 1.
        """
        if range_size is not None and range_size < 1:
            raise ValueError(f"range_size must be at least 1, got {range_size}")
        summaries: list[PartitionSummary] = []
        total = len(partition_keys)
        for days in self.job.ranges(partition_keys, range_size or 1):
            if on_progress:
                on_progress(len(summaries), total, days[0])
            if may_launch is not None and not may_launch():
                break
            tags = {**self.default_tags(), **(run_tags or {})}
            if tags_of_run:
                tags.update(tags_of_run(days))
            summaries.extend(self._run(days, tags))
        if on_progress:
            on_progress(total, total, None)
        return summaries

    def _run(self, days: list[str], tags: dict[str, str]) -> list[PartitionSummary]:
        """One Dagster run over ``days`` (one partition, or a range of consecutive days), then
        its projection; one summary per day."""
        if len(days) > 1:
            tags = {**tags, "dagster/asset_partition_range_start": days[0],
                    "dagster/asset_partition_range_end": days[-1]}
        began = dt.datetime.now(dt.timezone.utc)
        result = dg.materialize(
            self.job.materializable(),
            partition_key=days[0] if len(days) == 1 else None,
            instance=self.instance,
            resources=self.assembly.resources(self.job),
            tags=tags,
            run_config=QUIET_RUN_CONFIG,
            raise_on_error=False,
        )
        seconds = (dt.datetime.now(dt.timezone.utc) - began).total_seconds()
        try:
            read = RunSummaries(self.instance, self.engine, self.projection, self.job)
            if len(days) == 1:
                return [read.of_partition(days[0], result.run_id, seconds)]
            return read.of_range(days, result.run_id, seconds)
        except OpsException as exc:
            # The run itself is done and in Dagster's storage; recording it failed (for
            # example the ops database stayed down past the retries). The next `opsrel sync`
            # or sensor tick records it; the other partitions still run.
            return [
                PartitionSummary(
                    partition_key=day, run_id=result.run_id, status="UNRECORDED",
                    error_code=exc.code, error_message=exc.operator_message, rows={},
                    snapshot_id=None, summary_figure=None, seconds=round(seconds / len(days), 3),
                )
                for day in days
            ]

    def run_replay(
        self,
        partition_keys: list[str],
        *,
        kind: str,
        operator_id: str,
        reason: str,
        request_key: str | None = None,
        on_progress: Callable[[int, int, str | None], None] | None = None,
        range_size: int | None = None,
    ) -> tuple["ReplayView", list[PartitionSummary]]:
        """Replay partitions: record the replay (``ReplayService.request``: its plan, audit record,
        request identity, one writer per partition), run exactly its plan's keys with the plan's
        tags, then derive the replay's status from its executions.

        Args:
            partition_keys: the days to replay, in order.
            kind: ``"single"``, ``"range"`` or ``"full"``.
            operator_id, reason: required, non-blank (BAT-008 otherwise, nothing written).
            request_key: idempotency key (this operator's); the same request already recorded
                is not run again.
            range_size: None: one run per partition; N > 1: ranges of up to N consecutive days,
                each one Dagster run (``run_partitions``; a range run is tagged with the
                execution it replaces only when all its days replace the same one).

        Returns:
            The replay as stored after its runs, and one summary per partition run.

        Raises:
            OpsException: BAT-008, BAT-009 (also a key reused for another request) or BAT-012
                (a partition has a run in flight); nothing is written or run.
        """
        from opsrel_core.domain.replay_plan import ReplayAsk, run_tags_for
        from opsrel_core.services.replays import ReplayService, ReplayStatus
        replays = ReplayService(self.engine)
        job_keys = self.job.partitions_def.get_partition_keys()
        ask = ReplayAsk(kind, self.job.job_id, operator_id, reason, tuple(partition_keys))
        replay = replays.request(ask, request_key=request_key, job_keys=job_keys)
        if replay.status != "REQUESTED":
            return replays.refresh_status(replay.replay_id, replay.keys(job_keys)), []
        plan = replays.launch_plan(replay, job_keys)
        replays.mark_launched(replay.replay_id)
        summaries = self.run_partitions(
            list(plan.partitions),
            on_progress,
            run_tags={opsrel_tags.TRIGGER: "CLI"},
            tags_of_run=lambda days: run_tags_for(plan, replay.replay_id, days),
            # A stop requested meanwhile (API, another shell) launches no further child.
            may_launch=lambda: replays.get_replay(replay.replay_id).status is ReplayStatus.RUNNING,
            range_size=range_size,
        )
        final = replays.refresh_status(replay.replay_id, list(plan.partitions))
        if final.status in ("SUCCESS", "FAILED", "STOPPED"):
            from opsrel_core.services.quality import DqReportService

            DqReportService(self.engine).build_replay_report(replay.replay_id)
        return final, summaries

    @staticmethod
    def default_tags() -> dict[str, str]:
        """Tags of a headless run: trigger CLI, operator = the OS user, an automatic reason."""
        return {
            opsrel_tags.TRIGGER: "CLI",
            opsrel_tags.OPERATOR: getpass.getuser(),
            opsrel_tags.REASON: "headless run (opsrel run)",
        }

    def dispatch_alerts(self) -> None:
        """Send pending alert deliveries once; a failure to send is logged, never raised (the
        deliveries stay pending for the dispatch sensor or ``opsrel alerts dispatch``)."""
        from opsrel_dagster.sensors.alert_dispatch import dispatch_alerts

        try:
            dispatch_alerts(self.engine)
        except Exception:  # noqa: BLE001 - the runs are recorded; delivery catches up later
            log.exception("alert dispatch failed; deliveries stay pending")
        self.dispatch_lineage()

    def dispatch_lineage(self) -> None:
        """Send pending OpenLineage run events once (nothing when OpenLineage is off); a failure
        is logged, never raised (the events stay pending for the dispatch sensor)."""
        from opsrel_dagster.sensors.lineage_dispatch import dispatch_lineage

        try:
            dispatch_lineage(self.engine)
        except Exception:  # noqa: BLE001 - the runs are recorded; delivery catches up later
            log.exception("OpenLineage dispatch failed; events stay pending")

    def sync(self, reset: bool = False) -> SyncReport:
        """Apply the projection once (from the beginning when ``reset``)."""
        if reset:
            self.projection.cursors.set(CURSOR_NAME, None)
        return self.projection.sync()
