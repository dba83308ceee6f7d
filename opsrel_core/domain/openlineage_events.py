"""OpenLineage run events of an execution, built from its records with the client's models.

One execution is one OpenLineage run of the job named by its batch job id:

* ``runId``: the execution id when it is a UUID (a Dagster run id is), else a stable uuid5 of
  it; the execution id itself is always in the ``opsrel`` run facet.
* inputs: the snapshots the execution read (``<asset>/<partition>``), each with its content
  hash (``sha256:<hex>``) as the dataset version.
* outputs: every result version it made (``<asset>/<partition>``, version ``v<N>``), with the
  data-quality assertions of the pandera rules run on it (rule id, passed, column).
* run facets: ``parent`` (the execution a re-execution, retry or replay redoes or replaces),
  ``errorMessage`` for FAIL and ABORT (the message starts with the opsrel error code), and
  ``opsrel`` (``opsrel_core.domain.openlineage_facets``).

Pure: ``RunRecords`` holds what the ops schema says about the run (read by
``opsrel_core.services.provenance.run_events``); the client is imported only where events are
built, because OpenLineage is off by default and importing it costs every process about half a
second.
"""

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.generated.base import RunFacet

# uuid5 namespace of execution ids that are not UUIDs themselves (fixed: the same id always maps
# to the same runId).
RUN_ID_NAMESPACE = uuid.UUID("6f0c5d1e-4b0a-5c51-9a53-6f7073726c00")
EVENT_TYPES = ("START", "COMPLETE", "FAIL", "ABORT")
_PASSED = ("PASS",)


@dataclasses.dataclass(frozen=True)
class RunInputs:
    """What an execution read that the ops schema does not link to it by itself.

    Attributes:
        snapshots: ``{partition_key: snapshot_id}`` of the input snapshots, as the run's own
            materializations name them.
    """

    snapshots: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class RunRecords:
    """What the ops schema holds about one run, as an event reports it.

    Attributes:
        execution: the ``batch_execution`` row (any object with its columns as attributes).
        parent_job_id: the job of ``execution.parent_execution_id`` when that is recorded.
        replay_reason: the reason of ``execution.replay_id`` when the run's tags name none.
        versions: the ``result_version`` rows the run made, by asset and partition.
        results: ``(validation_result, validation_rule_version, rule severity)`` per rule run,
            in result order.
        snapshot_assets: ``{snapshot_id: asset_key}`` of the recorded input snapshots.
    """

    execution: Any
    parent_job_id: str | None = None
    replay_reason: str | None = None
    versions: Sequence[Any] = ()
    results: Sequence[tuple[Any, Any, str]] = ()
    snapshot_assets: Mapping[str, str] = dataclasses.field(default_factory=dict)


def run_uuid(execution_id: str) -> str:
    """The OpenLineage ``runId`` of an execution: the id itself when it is a UUID (canonical
    lower-case form), else ``uuid5(RUN_ID_NAMESPACE, execution_id)``."""
    try:
        return str(uuid.UUID(execution_id))
    except ValueError:
        return str(uuid.uuid5(RUN_ID_NAMESPACE, execution_id))


def dataset_name(asset_key: str, partition_key: str) -> str:
    """The OpenLineage dataset name of an asset partition: ``<asset>/<partition>`` (the asset
    alone for an unpartitioned one)."""
    return f"{asset_key}/{partition_key}" if partition_key else asset_key


def require_event_type(event_type: str) -> None:
    """Check an event type before anything is read for it.

    Raises:
        ValueError: not one of ``EVENT_TYPES``.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"event_type must be one of {EVENT_TYPES}, got {event_type!r}")


def run_event(records: RunRecords, event_type: str, namespace: str, producer: str,
              inputs: RunInputs | None = None) -> dict[str, Any]:
    """One run event of an execution as its records stand.

    Args:
        records: the run's records (a START needs only ``execution``).
        event_type: ``START``, ``COMPLETE``, ``FAIL`` or ``ABORT``.
        namespace, producer: of the settings (``OpenLineageSettings``).
        inputs: the snapshots the run read (terminal events); START carries none.

    Returns:
        The RunEvent as JSON-ready dict (``Serde.to_dict``), nulls left out.

    Raises:
        ValueError: an unknown event type.
    """
    require_event_type(event_type)
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.generated.error_message_run import ErrorMessageRunFacet
    from openlineage.client.generated.parent_run import Job as ParentJob
    from openlineage.client.generated.parent_run import ParentRunFacet
    from openlineage.client.generated.parent_run import Run as ParentRun
    from openlineage.client.serde import Serde

    from opsrel_core.domain.openlineage_facets import opsrel_facet

    row, start = records.execution, event_type == "START"
    facets: "dict[str, RunFacet]" = {}
    if row.parent_execution_id:
        facets["parent"] = ParentRunFacet(
            run=ParentRun(runId=run_uuid(row.parent_execution_id)),
            job=ParentJob(namespace=namespace, name=records.parent_job_id or row.job_id),
            producer=producer,
        )
    if event_type in ("FAIL", "ABORT") and row.error_code:
        message = f"{row.error_code}: {row.error_message}" if row.error_message else row.error_code
        facets["errorMessage"] = ErrorMessageRunFacet(
            message=message, programmingLanguage="python", producer=producer)
    facets["opsrel"] = opsrel_facet(records, producer)

    return Serde.to_dict(RunEvent(
        eventType=RunState(event_type),
        eventTime=event_time(row, start),
        run=Run(runId=run_uuid(row.execution_id), facets=facets),
        job=Job(namespace=namespace, name=row.job_id),
        inputs=[] if start else _inputs(records, namespace, producer, inputs or RunInputs()),
        outputs=_outputs(records, namespace, producer),
        producer=producer,
    ))


def event_time(row: Any, start: bool) -> str:
    """When the event happened (ISO 8601, UTC): the start for START, else the end."""
    when = (row.started_at or row.created_at) if start else (row.ended_at or row.updated_at)
    when = when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).isoformat()


def rule_column(definition: Mapping[str, Any] | None) -> str | None:
    """The column a rule checks, or None for a table-level rule."""
    # A column-level pandera rule's schema names exactly one column; a table rule names none.
    columns = ((definition or {}).get("schema") or {}).get("columns") or {}
    return next(iter(columns)) if len(columns) == 1 else None


def _inputs(records: RunRecords, ns: str, producer: str,
            inputs: RunInputs) -> "list[InputDataset]":
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet

    datasets = []
    for partition_key, snapshot_id in sorted(inputs.snapshots.items()):
        asset_key = records.snapshot_assets.get(snapshot_id, "snapshot")
        datasets.append(InputDataset(
            namespace=ns, name=dataset_name(asset_key, partition_key),
            facets={"version": DatasetVersionDatasetFacet(
                datasetVersion=snapshot_id, producer=producer)},
        ))
    return datasets


def _outputs(records: RunRecords, ns: str, producer: str) -> "list[OutputDataset]":
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.generated.data_quality_assertions_dataset import (
        Assertion,
        DataQualityAssertionsDatasetFacet,
    )
    from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet

    by_dataset: dict[tuple[str, str], list[Any]] = {}
    for result, rule_version, severity in records.results:
        by_dataset.setdefault((result.asset_key, result.partition_key), []).append(Assertion(
            assertion=rule_version.rule_id, success=result.status in _PASSED,
            column=rule_column(rule_version.definition),
            # A FAIL rule blocks the result's activation, a WARN rule only reports.
            severity="error" if severity == "FAIL" else "warn", params=None,
        ))
    datasets = []
    for version in records.versions:
        facets: dict[str, Any] = {"version": DatasetVersionDatasetFacet(
            datasetVersion=f"v{version.version_number}", producer=producer)}
        assertions = by_dataset.get((version.asset_key, version.partition_key))
        if assertions:
            facets["dataQualityAssertions"] = DataQualityAssertionsDatasetFacet(
                assertions=assertions, producer=producer)
        datasets.append(OutputDataset(
            namespace=ns, name=dataset_name(version.asset_key, version.partition_key),
            facets=facets))
    return datasets
