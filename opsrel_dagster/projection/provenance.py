"""What produced an execution's results: context, lineage and the data-quality report.

When an execution ends, ``record_provenance`` reads what the run itself left in Dagster's event
log (the snapshot id and source URI in materialization metadata, the rule versions in asset check
evaluations, the assets' code versions) and records, idempotently:

- the execution context (snapshot ids, rule versions, parameters, code and library versions);
- the lineage edges SOURCE -> SNAPSHOT -> TRANSFORM -> AGGREGATION -> RESULT between the nodes of
  the versions the run made (``LineageSpec`` says each asset's layer and inputs);
- the partition's daily data-quality report (rebuilt from the active version's results, with a
  newer attempt that stayed inactive beside it), shown in the Dagster UI as markdown metadata of
  an observation on each checked asset partition.
"""

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

import opsrel_core
from opsrel_core.services.batch_execution import ExecutionView
from opsrel_core.services.quality import DqReportService, render_markdown
from opsrel_core.services.provenance import (
    ExecutionContextService,
    git_commit,
    library_versions,
)
from opsrel_core.services.provenance import LineageService, NodeRef
from opsrel_core.services.results import ResultVersionService

REPO_DIR = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class AssetLayer:
    """An asset's lineage layer and the assets it reads (``extra_sources``: unpartitioned inputs
    outside the job, as ``(asset_key, version_ref)``)."""

    node_type: str
    inputs: tuple[str, ...] = ()
    extra_sources: tuple[tuple[str, str], ...] = ()


LineageSpec = dict[str, AssetLayer]


def _value(entry: object) -> object:
    return getattr(entry, "value", entry)


_FACT_EVENT_TYPES = {
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
}


def _run_facts(
    instance: dg.DagsterInstance, run_id: str,
    event_records: "Sequence[dg.EventLogRecord] | None" = None,
) -> dict[str, object]:
    if event_records is None:
        records = instance.get_records_for_run(run_id, of_type=_FACT_EVENT_TYPES).records
    else:
        records = [r for r in event_records if r.event_log_entry.dagster_event is not None
                   and r.event_log_entry.dagster_event.event_type in _FACT_EVENT_TYPES]
    snapshot_ids: set[str] = set()
    snapshots: dict[str, str] = {}  # partition -> snapshot id
    source_uris: dict[str, str] = {}
    code_versions: dict[str, str] = {}
    rule_versions: dict[str, str] = {}
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.event_specific_data.materialization
            asset = mat.asset_key.to_user_string()
            if "snapshot_id" in mat.metadata:
                snapshot_ids.add(str(_value(mat.metadata["snapshot_id"])))
                if mat.partition:
                    snapshots[mat.partition] = str(_value(mat.metadata["snapshot_id"]))
            if "source_uri" in mat.metadata and mat.partition:
                source_uris[mat.partition] = str(_value(mat.metadata["source_uri"]))
            # A range run's step reports every day's value as one mapping ``{day: value}``.
            for key, into in (("opsrel/snapshot_ids", snapshots), ("opsrel/source_uris", source_uris)):
                if key in mat.metadata:
                    into.update({k: str(v) for k, v in dict(_value(mat.metadata[key])).items()})
            snapshot_ids.update(snapshots.values())
            if mat.tags and "dagster/code_version" in mat.tags:
                code_versions[asset] = mat.tags["dagster/code_version"]
        else:
            metadata = dict(event.event_specific_data.metadata)
            if "opsrel/rule_id" in metadata and "opsrel/rule_version" in metadata:
                rule_versions[str(_value(metadata["opsrel/rule_id"]))] = str(
                    _value(metadata["opsrel/rule_version"])
                )
    return {
        "snapshot_ids": sorted(snapshot_ids),
        "snapshots": snapshots,
        "source_uris": source_uris,
        "code_versions": code_versions,
        "rule_versions": rule_versions,
    }


def lineage_edges(
    spec: LineageSpec, versions: list, snapshot_ids: list[str], source_uris: dict[str, str],
    snapshots: dict[str, str] | None = None,
) -> list[tuple[NodeRef, NodeRef]]:
    """The edges between the nodes of one execution's versions.

    A SOURCE node's version is its source URI; a SNAPSHOT node's its snapshot id (``snapshots``
    by partition, for a range run; else the run's snapshot); the others' their result version
    number.
    """
    by_key = {(v.asset_key, v.partition_key): v for v in versions}

    def node(asset: str, partition: str) -> NodeRef | None:
        layer = spec.get(asset)
        version = by_key.get((asset, partition))
        if layer is None or version is None:
            return None
        if layer.node_type == "SOURCE":
            return NodeRef.source(asset, partition, source_uris.get(partition, version.content_hash)[:100])
        if layer.node_type == "SNAPSHOT":
            snapshot = (snapshots or {}).get(partition) or next(iter(snapshot_ids), None)
            return NodeRef.snapshot(asset, partition, snapshot) if snapshot else None
        return NodeRef.versioned(layer.node_type, asset, partition, version.version_number)

    edges = []
    for version in versions:
        layer = spec.get(version.asset_key)
        target = node(version.asset_key, version.partition_key)
        if layer is None or target is None:
            continue
        for upstream in layer.inputs:
            source = node(upstream, version.partition_key)
            if source is None:
                # The input was not made in this run: link the version the run read (active).
                continue
            edges.append((source, target))
        for asset, ref in layer.extra_sources:
            edges.append((NodeRef.source(asset, "", ref), target))
    return edges


def record_provenance(
    instance: dg.DagsterInstance, engine: sa.Engine, execution: ExecutionView, spec: LineageSpec,
    *, run: dg.DagsterRun | None = None,
    event_records: "Sequence[dg.EventLogRecord] | None" = None,
) -> bool:
    """Record the context, lineage and daily DQ report of an execution that has ended.

    Idempotent: does nothing when the execution's context is already recorded.

    Args:
        instance, engine: Dagster's instance and the ops database's engine.
        execution: the execution as recorded (terminal, else nothing is done).
        spec: each asset's lineage layer.
        run: the execution's Dagster run when the caller already read it (the projection);
            read from the instance when None.
        event_records: the run's event records when the caller read them after the run ended
            (at least its ASSET_MATERIALIZATION and ASSET_CHECK_EVALUATION records; others are
            ignored); read from the instance when None. Each one passed saves a Dagster storage
            call (benchmark B3).

    Returns:
        True when something was recorded now.
    """
    contexts = ExecutionContextService(engine)
    if not execution.status.is_terminal or contexts.find_context(execution.execution_id):
        return False
    facts = _run_facts(instance, execution.execution_id, event_records)
    if run is None:
        run = instance.get_run_by_id(execution.execution_id)
    versions = ResultVersionService(engine).versions_of_execution(execution.execution_id)
    edges = lineage_edges(spec, versions, facts["snapshot_ids"], facts["source_uris"],
                          facts["snapshots"])
    if edges:
        LineageService(engine).record_execution_lineage(execution.execution_id, edges)
    contexts.record_context(
        execution.execution_id,
        snapshot_ids=facts["snapshot_ids"],
        rule_versions=facts["rule_versions"],
        parameters={
            "partition_key": execution.partition_key,
            "partition_range": [execution.partition_range_start, execution.partition_range_end]
            if execution.partition_range_start else None,
            "run_config": _json_safe(run.run_config if run else {}),
            "tags": dict(run.tags) if run else execution.run_tags,
        },
        code_version={
            "opsrel": opsrel_core.__version__,
            "assets": facts["code_versions"],
            "git_commit": git_commit(REPO_DIR),
        },
        library_versions=library_versions(),
    )
    # Each partition's report: the run's one partition, or every partition a range run made,
    # its key as the job spells it.
    keys = [execution.partition_key] if execution.partition_key else sorted(
        {v.partition_key for v in versions if v.partition_key != "__all__"})
    # Built in one transaction, a range run's every partition at once.
    built = DqReportService(engine).build_partition_reports(execution.job_id, keys)
    for key, report in zip(keys, built):
        show_report(instance, report, key)
    return True


def show_report(instance: dg.DagsterInstance, report, partition_key: str) -> None:  # type: ignore[no-untyped-def]
    """Show a data-quality report in the Dagster UI: an observation of each checked asset's
    partition carrying the report as markdown metadata (``opsrel/dq_report``), the counts of
    what the partition is (``opsrel/dq_pass``, ...: its active version's) and, when a newer
    attempt stayed inactive, that attempt (``opsrel/dq_latest_attempt``)."""
    attempt = report.latest_attempt
    for asset_key in sorted(report.summary):
        counts = report.summary[asset_key]
        metadata = {
            "opsrel/dq_report": dg.MetadataValue.md(render_markdown(report)),
            "opsrel/dq_basis": report.basis,
            "opsrel/dq_pass": counts.get("PASS", 0),
            "opsrel/dq_warn": counts.get("WARN", 0),
            "opsrel/dq_fail": counts.get("FAIL", 0),
        }
        if attempt is not None:
            metadata["opsrel/dq_latest_attempt"] = (
                f"{attempt.outcome} (execution {attempt.execution_id}, {attempt.status}"
                + (f", replay {attempt.replay_id}" if attempt.replay_id is not None else "")
                + ", not active)")
        instance.report_runless_asset_event(
            dg.AssetObservation(asset_key=asset_key, partition=partition_key, metadata=metadata)
        )


def _json_safe(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, float):
        return value if value == value else None
    return str(value)
