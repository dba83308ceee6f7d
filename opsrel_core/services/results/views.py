"""What a result version is as read back, what a restore did, the codes of their refusals, and
what every use case of the wing shares (the repository it takes, its number of attempts)."""

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from opsrel_core.domain import error_codes
from opsrel_core.domain.restore import StaleDownstream
from opsrel_core.persistence.repositories.executions import ExecutionRepository
from opsrel_core.persistence.repositories.result_versions import ResultVersionRepository

Repository = Callable[[Session], ResultVersionRepository]
"""The result-version SQL over a session; the unit tier passes an in-memory fake's."""
Executions = Callable[[Session], ExecutionRepository]
"""The execution SQL over a session, for the facts of the execution that made a version."""

RESTORE_ACTION = "RESTORE_VERSION"
DEACTIVATE_ACTION = "DEACTIVATE_VERSION"
# An unknown version: the catalog's code for a replay or result version that does not exist (as
# ``LineageService.backtrace_recorded_version``); a version that may not be restored: a change
# that does not apply to it (409, nothing changed).
VERSION_NOT_FOUND_CODE = error_codes.BAT_REPLAY_NOT_FOUND
NOT_RESTORABLE_CODE = error_codes.BAT_INVALID_TRANSITION

ATTEMPTS = 10
"""Tries when a concurrent writer keeps taking the same version number or the active place (the
unique constraints refuse the loser's commit); beyond, the caller gets LOG-001."""


@dataclasses.dataclass(frozen=True)
class ResultVersionView:
    """One stored version of an asset partition (times UTC)."""

    version_id: int
    asset_key: str
    partition_key: str
    version_number: int
    execution_id: str
    content_hash: str
    row_count: int
    storage_uri: str | None
    is_active: bool
    created_at: dt.datetime
    deactivated_at: dt.datetime | None
    deactivated_by_execution_id: str | None
    inactive_reason: str | None = None

    @classmethod
    def of(cls, row: Any) -> "ResultVersionView":
        """Build the view from a ``result_version`` row (an ORM object or a fake's)."""
        return cls(**{f.name: getattr(row, f.name) for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class RestoreOutcome:
    """What ``ResultVersionService.restore_version`` did.

    Attributes:
        restored: the chosen version, now active.
        replaced: the version that was active before (now inactive), or None when none was, or
            when the chosen one was already active (nothing changed).
        audit_id: the DATA_CORRECTION ``RESTORE_VERSION`` record, None when nothing changed.
        stale_downstream: downstream asset partitions whose active version was made (recorded
            lineage) from another version of this asset partition: older than their input now.
        already_active: the chosen version was active already; nothing was written.
    """

    restored: ResultVersionView
    replaced: ResultVersionView | None
    audit_id: int | None
    stale_downstream: list[StaleDownstream]
    already_active: bool = False
