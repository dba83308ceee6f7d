"""The old home of ``ResultVersionService``: its names, re-exported from
``opsrel_core.services.results`` so importers outside ``opsrel_core`` keep working."""

from opsrel_core.services.results import (
    NOT_RESTORABLE_CODE, RESTORE_ACTION, VERSION_NOT_FOUND_CODE, CheckEvidence, RestoreOutcome,
    ResultVersionService, ResultVersionView, stage_version,
)

__all__ = [
    "NOT_RESTORABLE_CODE", "RESTORE_ACTION", "VERSION_NOT_FOUND_CODE", "CheckEvidence",
    "RestoreOutcome", "ResultVersionService", "ResultVersionView", "stage_version",
]
