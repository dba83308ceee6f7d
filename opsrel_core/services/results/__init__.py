"""Results: versions of asset partitions, never overwritten, and the input snapshots they read.

Every materialization of an asset partition is stored as a new version (content hash, row count,
storage location, execution id), inactive. A version becomes active only when its execution
succeeded and the activation gate admits it, and then takes the place of the active one in one
transaction, so a partition that had an active result never loses it. At most one active
version per (asset_key, partition_key) is enforced by a partial unique index in the database;
concurrent activations retry on its conflict. A newer version is never displaced by an older
one. An operator may take a version out of service or restore an earlier one (a data
correction, audited). Input snapshots are immutable and content-addressed.

The modules: ``views`` (what is read back, the refusal codes), ``numbering`` (a new version's
number), ``activating`` (the gate's decisions written), ``corrections`` (deactivate, restore),
``service`` (``ResultVersionService``), ``output_recording`` (an output's versions and its run's
progress in one transaction), ``snapshots`` (``SnapshotService``). The pure rules are
``opsrel_core.domain.result_versions``, ``opsrel_core.domain.activation`` and
``opsrel_core.domain.restore``; the SQL is ``opsrel_core.persistence.repositories.result_versions``
and ``...repositories.snapshots``.
"""

from opsrel_core.domain.result_versions import CheckEvidence
from opsrel_core.services.results.numbering import stage_version
from opsrel_core.services.results.output_recording import NewVersion, OutputRecorder, RecordedOutput
from opsrel_core.services.results.service import ResultVersionService
from opsrel_core.services.results.snapshots import SnapshotRecord, SnapshotService
from opsrel_core.services.results.views import (
    NOT_RESTORABLE_CODE, RESTORE_ACTION, VERSION_NOT_FOUND_CODE, ResultVersionView, RestoreOutcome,
)

__all__ = [
    "NOT_RESTORABLE_CODE", "RESTORE_ACTION", "VERSION_NOT_FOUND_CODE", "CheckEvidence",
    "NewVersion", "OutputRecorder", "RecordedOutput", "RestoreOutcome", "ResultVersionService",
    "ResultVersionView", "SnapshotRecord", "SnapshotService", "stage_version",
]
