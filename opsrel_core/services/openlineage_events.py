"""OpenLineage run events of an execution, built from the ops schema with the client's models.

One execution is one OpenLineage run of the job named by its batch job id:

* ``runId``: the execution id when it is a UUID (a Dagster run id is), else a stable uuid5 of
  it; the execution id itself is always in the ``opsrel`` run facet.
* inputs: the snapshots the execution read (``<asset>/<partition>``), each with its content
  hash (``sha256:<hex>``) as the dataset version.
* outputs: every result version it made (``<asset>/<partition>``, version ``v<N>``), with the
  data-quality assertions of the pandera rules run on it (rule id, passed, column).
* run facets: ``parent`` (the execution a re-execution, retry or replay redoes or replaces),
  ``errorMessage`` for FAIL and ABORT (the message starts with the opsrel error code), and
  ``opsrel``: trigger, replay id, operator, reason, error code, rule versions and, per result
  version, whether it became active.

Pure reads of one session: the caller records the event in the same transaction as what it
reports (``opsrel_core.services.openlineage_outbox``).
"""

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.openlineage_settings import OpenLineageSettings
from opsrel_core.persistence.tables import (
    BatchExecution,
    Replay,
    ResultVersion,
    Snapshot,
    ValidationResult,
    ValidationRule,
    ValidationRuleVersion,
)

if TYPE_CHECKING:
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.generated.base import RunFacet

    from opsrel_core.services.openlineage_facets import OpsrelRunFacet

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


def build_run_event(
    session: Session, execution_id: str, event_type: str, settings: OpenLineageSettings,
    inputs: RunInputs | None = None,
) -> dict[str, Any]:
    """Build one run event of an execution as it stands in ``session``.

    Args:
        session: a session inside the transaction that records the event (its writes flushed).
        execution_id: a recorded execution.
        event_type: ``START``, ``COMPLETE``, ``FAIL`` or ``ABORT``.
        settings: namespace and producer.
        inputs: the snapshots the run read (terminal events); START carries none.

    Returns:
        The RunEvent as JSON-ready dict (``Serde.to_dict``), nulls left out.

    Raises:
        ValueError: an unknown event type.
        LookupError: the execution is not recorded.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"event_type must be one of {EVENT_TYPES}, got {event_type!r}")
    # The client is imported only where events are built: OpenLineage is off by default, and
    # importing it costs every process about half a second.
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.generated.error_message_run import ErrorMessageRunFacet
    from openlineage.client.generated.parent_run import Job as ParentJob
    from openlineage.client.generated.parent_run import ParentRunFacet
    from openlineage.client.generated.parent_run import Run as ParentRun
    from openlineage.client.serde import Serde
    row = session.get(BatchExecution, execution_id, populate_existing=True)
    if row is None:
        raise LookupError(f"no execution with id {execution_id!r}")
    ns, producer = settings.namespace, settings.producer
    start = event_type == "START"
    versions = [] if start else list(session.scalars(
        sa.select(ResultVersion).where(ResultVersion.execution_id == execution_id)
        .order_by(ResultVersion.asset_key, ResultVersion.partition_key)))
    results = [] if start else list(session.execute(
        sa.select(ValidationResult, ValidationRuleVersion, ValidationRule.severity)
        .join(ValidationRuleVersion,
              ValidationRuleVersion.rule_version_id == ValidationResult.rule_version_id)
        .join(ValidationRule, ValidationRule.rule_id == ValidationRuleVersion.rule_id)
        .where(ValidationResult.execution_id == execution_id)
        .order_by(ValidationResult.result_id)).all())

    facets: "dict[str, RunFacet]" = {}
    if row.parent_execution_id:
        parent = session.get(BatchExecution, row.parent_execution_id)
        facets["parent"] = ParentRunFacet(
            run=ParentRun(runId=run_uuid(row.parent_execution_id)),
            job=ParentJob(namespace=ns, name=parent.job_id if parent else row.job_id),
            producer=producer,
        )
    if event_type in ("FAIL", "ABORT") and row.error_code:
        message = f"{row.error_code}: {row.error_message}" if row.error_message else row.error_code
        facets["errorMessage"] = ErrorMessageRunFacet(
            message=message, programmingLanguage="python", producer=producer)
    facets["opsrel"] = _opsrel_facet(session, row, versions, results, producer)

    return Serde.to_dict(RunEvent(
        eventType=RunState(event_type),
        eventTime=_event_time(row, start),
        run=Run(runId=run_uuid(execution_id), facets=facets),
        job=Job(namespace=ns, name=row.job_id),
        inputs=[] if start else _inputs(session, ns, producer, inputs or RunInputs()),
        outputs=_outputs(ns, producer, versions, results),
        producer=producer,
    ))


def _event_time(row: BatchExecution, start: bool) -> str:
    when = (row.started_at or row.created_at) if start else (row.ended_at or row.updated_at)
    when = when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).isoformat()


def _inputs(session: Session, ns: str, producer: str, inputs: RunInputs) -> "list[InputDataset]":
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet

    datasets = []
    for partition_key, snapshot_id in sorted(inputs.snapshots.items()):
        snapshot = session.get(Snapshot, snapshot_id)
        asset_key = snapshot.asset_key if snapshot is not None else "snapshot"
        datasets.append(InputDataset(
            namespace=ns, name=dataset_name(asset_key, partition_key),
            facets={"version": DatasetVersionDatasetFacet(
                datasetVersion=snapshot_id, producer=producer)},
        ))
    return datasets


def _outputs(ns: str, producer: str, versions: list[ResultVersion],
             results: list[Any]) -> "list[OutputDataset]":
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.generated.data_quality_assertions_dataset import (
        Assertion,
        DataQualityAssertionsDatasetFacet,
    )
    from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet

    by_dataset: dict[tuple[str, str], list[Any]] = {}
    for result, rule_version, severity in results:
        by_dataset.setdefault((result.asset_key, result.partition_key), []).append(Assertion(
            assertion=rule_version.rule_id, success=result.status in _PASSED,
            column=_rule_column(rule_version.definition),
            # A FAIL rule blocks the result's activation, a WARN rule only reports.
            severity="error" if severity == "FAIL" else "warn", params=None,
        ))
    datasets = []
    for version in versions:
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


def _rule_column(definition: Mapping[str, Any] | None) -> str | None:
    # A column-level pandera rule's schema names exactly one column; a table rule names none.
    columns = ((definition or {}).get("schema") or {}).get("columns") or {}
    return next(iter(columns)) if len(columns) == 1 else None


def _opsrel_facet(session: Session, row: BatchExecution, versions: list[ResultVersion],
                  results: list[Any], producer: str) -> "OpsrelRunFacet":
    from opsrel_core.services.openlineage_facets import OpsrelRunFacet

    tags = dict(row.run_tags or {})
    reason = tags.get("opsrel/reason")
    if row.replay_id is not None and reason is None:
        replay = session.get(Replay, row.replay_id)
        reason = replay.reason if replay is not None else None
    return OpsrelRunFacet(
        executionId=row.execution_id,
        status=row.status,
        triggerType=row.trigger_type,
        partitionKey=row.partition_key,
        partitionRange=[row.partition_range_start, row.partition_range_end]
        if row.partition_range_start and row.partition_range_end else None,
        replayId=row.replay_id,
        parentExecutionId=row.parent_execution_id,
        operator=row.operator_id,
        reason=reason,
        errorCode=row.error_code,
        resultActive=(bool(versions) and all(v.is_active for v in versions)) if versions else None,
        versions=[{
            "assetKey": v.asset_key, "partitionKey": v.partition_key,
            "version": f"v{v.version_number}", "contentHash": v.content_hash,
            "rowCount": v.row_count, "active": bool(v.is_active),
            **({"inactiveReason": v.inactive_reason} if v.inactive_reason else {}),
        } for v in versions],
        ruleVersions=dict(sorted({rv.rule_id: rv.version_hash for _r, rv, _s in results}.items())),
        producer=producer,
    )
