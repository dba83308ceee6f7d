"""The OpenLineage settings; moved to ``opsrel_core.config.openlineage`` (re-exported)."""

from opsrel_core.config.openlineage import (
    DEFAULT_LINEAGE_PATH, DEFAULT_NAMESPACE, DEFAULT_PRODUCER, OpenLineageSettings,
)

__all__ = ["DEFAULT_LINEAGE_PATH", "DEFAULT_NAMESPACE", "DEFAULT_PRODUCER", "OpenLineageSettings"]
