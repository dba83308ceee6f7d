"""A step's values per partition, in a single-partition run and a range run alike.

An asset with the single-run backfill policy runs a range of partitions in one step: its input
and output are then ``{partition_key: value}`` (see ``VersionedIOManager``), and
``context.partition_key`` does not exist. These helpers let a step handle each partition on its
own either way, and name the partition that failed.
"""

from collections.abc import Mapping
from typing import TypeVar

import dagster as dg

from opsrel_core.errors import OpsException
from opsrel_dagster.failures import as_failure

T = TypeVar("T")


def by_partition(context: dg.AssetExecutionContext, upstream: T | Mapping[str, T]) -> dict[str, T]:
    """An input as ``{partition_key: value}``, in a single-partition run and a range run alike
    (a range run's input is already that mapping, see ``VersionedIOManager``)."""
    if context.has_partition_key:
        return {context.partition_key: upstream}  # type: ignore[dict-item]
    if not isinstance(upstream, Mapping):  # a range of one partition: its input is the value
        return {context.partition_keys[0]: upstream}
    return dict(upstream)


def per_partition_output(
    context: dg.AssetExecutionContext, values: dict[str, T]
) -> T | dict[str, T]:
    """What a step returns: its one value in a single-partition run, the mapping
    ``{partition_key: value}`` in a range run (single-run backfill policy),
    where ``context.partition_key`` does not exist."""
    return values[context.partition_key] if context.has_partition_key else values


def fail_coded(
    exc: OpsException, context: dg.AssetExecutionContext, partition_key: str | None = None
) -> dg.Failure:
    """The ``dg.Failure`` for a coded error in the running asset (``error_code`` in metadata).

    The error is logged as ``[<code>] <operator message>`` first.

    Args:
        exc: the coded error (its code is kept, e.g. ``INP-002``).
        context: the running asset; its key names the failing asset.
        partition_key: the failing partition; default the run's single partition (None in a
            range run, where the caller names the partition that failed).

    Returns:
        The Failure to raise (``opsrel_dagster.failures.as_failure``).
    """
    context.log.error(f"[{exc.code}] {exc.operator_message}")
    if partition_key is None and context.has_partition_key:
        partition_key = context.partition_key
    return as_failure(exc, asset_key=context.asset_key.to_user_string(),
                      partition_key=partition_key)
