"""opsrel's own OpenLineage run facet (``opsrel``), as a model of the openlineage-python client.

Its JSON schema is ``docs/openlineage/OpsrelRunFacet.json``; ``_schemaURL`` names it. The facet
says what opsrel knows about the run beyond the orchestrator: trigger, replay id, operator,
reason, error code, rule versions and, per result version, whether it became active. Importing
this module imports the client: only ``opsrel_core.domain.openlineage_events`` does, when it
builds an event.
"""

from typing import TYPE_CHECKING, Any, ClassVar

import attr
from openlineage.client.generated.base import RunFacet

if TYPE_CHECKING:
    from opsrel_core.domain.openlineage_events import RunRecords

OPSREL_FACET_SCHEMA_URL = "urn:opsrel:openlineage:facets:OpsrelRunFacet:1-0-0"


@attr.define
class OpsrelRunFacet(RunFacet):
    """What opsrel knows about the run beyond the orchestrator (the ``opsrel`` run facet)."""

    executionId: str  # noqa: N815
    status: str
    triggerType: str  # noqa: N815
    partitionKey: str | None = attr.field(default=None)  # noqa: N815
    partitionRange: list[str] | None = attr.field(default=None)  # noqa: N815
    replayId: int | None = attr.field(default=None)  # noqa: N815
    parentExecutionId: str | None = attr.field(default=None)  # noqa: N815
    operator: str | None = attr.field(default=None)
    reason: str | None = attr.field(default=None)
    errorCode: str | None = attr.field(default=None)  # noqa: N815
    resultActive: bool | None = attr.field(default=None)  # noqa: N815
    versions: list[dict[str, Any]] | None = attr.field(factory=list)
    ruleVersions: dict[str, str] | None = attr.field(factory=dict)  # noqa: N815

    _additional_skip_redact: ClassVar[list[str]] = ["executionId", "status", "triggerType"]

    @staticmethod
    def _get_schema() -> str:
        return OPSREL_FACET_SCHEMA_URL


def opsrel_facet(records: "RunRecords", producer: str) -> OpsrelRunFacet:
    """The ``opsrel`` facet of a run from its records.

    Args:
        records: the run's records; the reason is the run's ``opsrel/reason`` tag, else its
            replay's reason.
        producer: of the settings.

    Returns:
        The facet; ``resultActive`` is None when the run made no result version.
    """
    row, versions = records.execution, records.versions
    reason = dict(row.run_tags or {}).get("opsrel/reason")
    if row.replay_id is not None and reason is None:
        reason = records.replay_reason
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
        ruleVersions=dict(sorted(
            {rv.rule_id: rv.version_hash for _r, rv, _s in records.results}.items())),
        producer=producer,
    )
