"""The headless main job behind ``opsrel run`` and ``opsrel sync``.

Runs go through Dagster with the persistent instance (``DAGSTER_HOME``; by default
``.opsrel/dagster_home``), one run per daily partition with ``dagster.materialize`` (in-process
executor: no process per step), and each run is projected into the ops schema right after it
ends, so the result is there without the daemon.
"""

import dataclasses
import datetime as dt
import getpass
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import sqlalchemy as sa

from opsrel_core.errors import OpsException
from opsrel_core.persistence import migrate
from opsrel_core.persistence.engine import make_engine
from opsrel_core.settings import OpsSettings
from opsrel_dagster import tags as opsrel_tags
from opsrel_dagster.assembly import Assembly, load_assembly
from opsrel_dagster.job_spec import BY_PARTITION_METADATA, SNAPSHOT_IDS_METADATA, OpsrelJob
from opsrel_dagster.projection import CURSOR_NAME, RunProjection, SyncReport
from opsrel_dagster.registration import register_jobs

if TYPE_CHECKING:
    from opsrel_core.services.replays import ReplayView

DAGSTER_YAML = """\
# Dagster instance for opsrel's embedded default: SQLite storage in this folder.
# To use PostgreSQL instead, see README ("Switch to PostgreSQL").
telemetry:
  enabled: false
"""

log = logging.getLogger(__name__)

# Dagster's console logger prints every event, and two stack traces per failed step; the summary
# (status, error code, operator message) is what an operator reads. Run logs stay in Dagster's
# event log and show in the UI.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclasses.dataclass(frozen=True)
class PartitionSummary:
    """Outcome of one partition's run.

    Attributes:
        partition_key: the partition, as the job's partitions definition spells it.
        run_id: the Dagster run id (= execution id).
        status: the execution status recorded in the ops schema.
        error_code: the catalog code when the run failed or was stopped.
        error_message: the operator message when it failed.
        rows: rows materialized per asset key.
        snapshot_id: the input snapshot's content hash, when the snapshot was taken.
        summary_figure: the figure the job declares for its summary (``summary_asset``'s
            ``summary_metadata_key``: for the flights job the flights counted by the
            ``ontime_performance`` result), None when the job declares none or no result was
            written.
        seconds: wall-clock duration of the run, seconds.
    """

    partition_key: str
    run_id: str
    status: str
    error_code: str | None
    error_message: str | None
    rows: dict[str, int]
    snapshot_id: str | None
    summary_figure: int | None
    seconds: float

    def as_dict(self) -> dict[str, object]:
        """The summary as a JSON-ready dict."""
        return dataclasses.asdict(self)


def ensure_dagster_home(settings: OpsSettings) -> Path:
    """Use ``DAGSTER_HOME`` when set; otherwise create and use ``<OPSREL_HOME>/dagster_home``.

    Returns:
        The Dagster home folder (it exists and holds a ``dagster.yaml``).
    """
    home = Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home).absolute()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


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
    """Materializes a declared job (``job_spec.OpsrelJob``) per partition and records each run.

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
            if len(days) == 1:
                return [self._summary(days[0], result.run_id, seconds)]
            return self._range_summaries(days, result.run_id, seconds)
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
        from opsrel_dagster.alerting import dispatch_alerts

        try:
            dispatch_alerts(self.engine)
        except Exception:  # noqa: BLE001 - the runs are recorded; delivery catches up later
            log.exception("alert dispatch failed; deliveries stay pending")
        self.dispatch_lineage()

    def dispatch_lineage(self) -> None:
        """Send pending OpenLineage run events once (nothing when OpenLineage is off); a failure
        is logged, never raised (the events stay pending for the dispatch sensor)."""
        from opsrel_dagster.openlineage import dispatch_lineage

        try:
            dispatch_lineage(self.engine)
        except Exception:  # noqa: BLE001 - the runs are recorded; delivery catches up later
            log.exception("OpenLineage dispatch failed; events stay pending")

    def sync(self, reset: bool = False) -> SyncReport:
        """Apply the projection once (from the beginning when ``reset``)."""
        if reset:
            self.projection.cursors.set(CURSOR_NAME, None)
        return self.projection.sync()

    def _materializations(self, run_id: str) -> list[tuple[str, dg.AssetMaterialization]]:
        """The run's materializations as (asset key, materialization), in event order."""
        records = self.instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
        found = []
        for record in records:
            materialization = record.event_log_entry.dagster_event.event_specific_data.materialization
            found.append((materialization.asset_key.to_user_string(), materialization))
        return found

    def _summary(self, key: str, run_id: str, seconds: float) -> PartitionSummary:
        from opsrel_core.services.result_versions import ResultVersionService

        execution = self.projection.project_run(run_id)
        job = self.job
        # The rows each result version recorded (any job: its IO manager counted them).
        rows: dict[str, int] = {
            v.asset_key: v.row_count
            for v in ResultVersionService(self.engine).versions_of_execution(run_id)
            if v.partition_key == key and v.row_count is not None}
        snapshot_id = None
        summary_figure = None
        for asset, materialization in self._materializations(run_id):
            metadata = materialization.metadata
            if asset == job.snapshot_asset and job.snapshot_metadata_key in metadata:
                snapshot_id = str(getattr(metadata[job.snapshot_metadata_key], "value", ""))
            if asset == job.summary_asset and job.summary_metadata_key in metadata:
                summary_figure = int(getattr(metadata[job.summary_metadata_key], "value", 0))
        return PartitionSummary(
            partition_key=key,
            run_id=run_id,
            status=execution.status.value if execution else "UNKNOWN",
            error_code=execution.error_code if execution else None,
            error_message=execution.error_message if execution else None,
            rows=rows,
            snapshot_id=snapshot_id,
            summary_figure=summary_figure,
            seconds=round(seconds, 3),
        )

    def _range_summaries(self, days: list[str], run_id: str, seconds: float) -> list[PartitionSummary]:
        """Each day's summary of a range run: the execution's status, the rows of each day's
        versions, its snapshot and its flight total (from the steps' per-day metadata)."""
        from opsrel_core.services.result_versions import ResultVersionService
        job = self.job
        execution = self.projection.project_run(run_id)
        rows: dict[str, dict[str, int]] = {day: {} for day in days}
        for version in ResultVersionService(self.engine).versions_of_execution(run_id):
            rows.setdefault(version.partition_key, {})[version.asset_key] = version.row_count
        snapshots: dict[str, str] = {}
        flights: dict[str, int] = {}
        for asset, materialization in self._materializations(run_id):
            metadata = materialization.metadata
            if asset == job.snapshot_asset and SNAPSHOT_IDS_METADATA in metadata:
                snapshots.update(dict(getattr(metadata[SNAPSHOT_IDS_METADATA], "value", {})))
            if asset == job.summary_asset and BY_PARTITION_METADATA in metadata:
                for day, figures in dict(getattr(metadata[BY_PARTITION_METADATA], "value",
                                                 {})).items():
                    if job.summary_metadata_key in figures:
                        flights[day] = int(figures[job.summary_metadata_key])
        return [
            PartitionSummary(
                partition_key=day,
                run_id=run_id,
                status=execution.status.value if execution else "UNKNOWN",
                error_code=execution.error_code if execution else None,
                error_message=execution.error_message if execution else None,
                rows=rows[day],
                snapshot_id=snapshots.get(day),
                summary_figure=flights.get(day),
                seconds=round(seconds / len(days), 3),
            )
            for day in days
        ]

    @staticmethod
    def render_table(summaries: list[PartitionSummary], figure: str = "summary_figure") -> str:
        """Render the summaries as a plain-text table, one line per partition; ``figure`` heads
        the summary figure's column (the job's ``summary_metadata_key``)."""
        assets = []
        for summary in summaries:
            for asset in summary.rows:
                if asset not in assets:
                    assets.append(asset)
        header = ["partition", "status", "error", figure, *assets, "snapshot_id", "run_id"]
        lines = [header]
        for s in summaries:
            snap = (s.snapshot_id or "-")[:19]
            lines.append(
                [s.partition_key, s.status, s.error_code or "-",
                 "-" if s.summary_figure is None else str(s.summary_figure),
                 *[str(s.rows.get(a, "-")) for a in assets], snap, s.run_id]
            )
        widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
        text = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in lines]
        failed = [s for s in summaries if s.status != "SUCCESS"]
        text.append("")
        text.append(f"{len(summaries) - len(failed)} of {len(summaries)} partitions SUCCESS")
        for s in failed:
            text.append(f"  {s.partition_key} {s.status} {s.error_code or ''}: {s.error_message or ''}")
        return "\n".join(text)
