"""Restoring an earlier result version: which versions may be put back, and what it leaves stale.

Pure rules, no I/O (the service reads the rows and the lineage, these decide):

- ``restore_refusal``: a version may be restored only when its execution ended SUCCESS with no
  stop requested, and the activation gate (``domain.activation``) never refused it for its data
  (a blocking check that failed or did not run, or a sibling held back for that). A version the
  gate refused only because its run had no operator and reason of its own may be restored: the
  restore is that decision, made by an operator with a reason.
- ``stale_downstream``: the downstream asset partitions whose active version was made from
  another version of the restored asset partition than the one now active.
"""

import dataclasses
from collections.abc import Mapping

from opsrel_core.domain.activation import NO_DECISION_REFUSAL
from opsrel_core.domain.status import ExecutionStatus


def restore_refusal(status: ExecutionStatus, stop_requested: bool,
                    inactive_reason: str | None) -> str | None:
    """Why a version may not be restored, or None when it may.

    Args:
        status: the recorded status of the execution that made the version.
        stop_requested: a stop was requested for that execution.
        inactive_reason: the activation gate's recorded refusal of the version (None: never
            refused; it was active before, or a newer version was already in place).

    Returns:
        None, or the reason (an operator message) the restore is refused.
    """
    if status is not ExecutionStatus.SUCCESS:
        return f"its execution ended {status.value}, not SUCCESS; only a successful result is restored"
    if stop_requested:
        return "a stop was requested for its execution; a stop is final"
    if inactive_reason is not None and not inactive_reason.endswith(NO_DECISION_REFUSAL):
        return f"the activation gate refused it: {inactive_reason}"
    return None


@dataclasses.dataclass(frozen=True)
class StaleDownstream:
    """A downstream asset partition whose active version is older than its input.

    Attributes:
        asset_key, partition_key: the downstream asset partition.
        active_version: its active version number.
        made_from_versions: the versions of the restored asset partition it was made from
            (sorted; the restored one is not among them).
    """

    asset_key: str
    partition_key: str
    active_version: int
    made_from_versions: tuple[int, ...]


def stale_downstream(
    made_from: Mapping[tuple[str, str, int], frozenset[int]],
    active: Mapping[tuple[str, str], int],
    restored_version: int,
) -> list[StaleDownstream]:
    """The downstream active versions not made from ``restored_version``.

    Args:
        made_from: per downstream version ``(asset, partition, version number)``, the versions
            of the restored asset partition it was made from (recorded lineage, any depth).
        active: per downstream asset partition, its active version number.
        restored_version: the version now active upstream.

    Returns:
        The stale ones, by asset and partition. A downstream active version the lineage does not
        connect to the restored asset partition is not named (nothing recorded says it is stale).
    """
    stale = []
    for (asset, partition), number in sorted(active.items()):
        sources = made_from.get((asset, partition, number))
        if sources and restored_version not in sources:
            stale.append(StaleDownstream(asset, partition, number, tuple(sorted(sources))))
    return stale
