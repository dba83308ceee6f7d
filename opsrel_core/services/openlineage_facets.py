"""opsrel's own OpenLineage run facet (``opsrel``), as a model of the openlineage-python client.

Its JSON schema is ``docs/openlineage/OpsrelRunFacet.json``; ``_schemaURL`` names it.
"""

from typing import Any, ClassVar

import attr
from openlineage.client.generated.base import RunFacet

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
