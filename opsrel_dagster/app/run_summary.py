"""What ``opsrel run`` and ``opsrel replay`` report per partition: a finished run read into one
summary per partition (``RunSummaries``), and the summaries as a text table (``render_table``)."""

import dataclasses

import dagster as dg
import sqlalchemy as sa

from opsrel_dagster.jobs import BY_PARTITION_METADATA, SNAPSHOT_IDS_METADATA, OpsrelJob
from opsrel_dagster.projection.apply import RunProjection


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


class RunSummaries:
    """Reads a finished run of ``job`` (projecting it first) into partition summaries.

    Args:
        instance: the Dagster instance the run is recorded in.
        engine: engine of the ops database.
        projection: the runner's projection of Dagster runs into the ops schema.
        job: the declared job the run ran.
    """

    def __init__(self, instance: dg.DagsterInstance, engine: sa.Engine,
                 projection: RunProjection, job: OpsrelJob):
        self.instance = instance
        self.engine = engine
        self.projection = projection
        self.job = job

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

    def of_partition(self, key: str, run_id: str, seconds: float) -> PartitionSummary:
        """The summary of a one-partition run: the execution's status, the rows of the versions
        it made for ``key``, its snapshot and the job's summary figure (``seconds``: the run's
        wall-clock time)."""
        from opsrel_core.services.results import ResultVersionService

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

    def of_range(self, days: list[str], run_id: str, seconds: float) -> list[PartitionSummary]:
        """Each day's summary of a range run: the execution's status, the rows of each day's
        versions, its snapshot and its flight total (from the steps' per-day metadata)."""
        from opsrel_core.services.results import ResultVersionService
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
