"""Reads what asset partitions are from the ops schema, for the rule in
``opsrel_core.domain.partition_state``: each execution's attempt at an asset partition (from its
validation results) and the active result version of that partition.

The daily data-quality report reads partitions through here; so should anything else that
reports a partition's status.
"""

import dataclasses

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import partition_state as ps
from opsrel_core.persistence.tables import BatchExecution, ResultVersion, ValidationResult


def read_partition_states(
    session: Session, partition_keys: list[str], job_id: str | None = None
) -> dict[str, dict[str, ps.PartitionState]]:
    """What each checked asset partition is (``domain.partition_state``), read in two queries.

    Args:
        session: an open session on the ops database.
        partition_keys: the partitions, e.g. ``["2013-02-01"]``.
        job_id: only the executions of this job (two jobs may spell a key alike); None: every
            job's.

    Returns:
        ``{partition: {asset: state}}`` for every asset with validation results in those
        partitions. An attempt is an execution that recorded results for the asset partition
        (its ``order``: its newest result id), or the execution of the active version when that
        one recorded none (order 0).
    """
    if not partition_keys:
        return {}
    vr, be, rv = ValidationResult, BatchExecution, ResultVersion
    attempts: dict[tuple[str, str], dict[str, ps.Attempt]] = {}
    rows = session.execute(
        sa.select(vr.partition_key, vr.asset_key, vr.execution_id, sa.func.max(vr.result_id),
                  be.status, be.replay_id, be.trigger_type)
        .join(be, be.execution_id == vr.execution_id)
        .where(vr.partition_key.in_(partition_keys), *_of_job(be, job_id))
        .group_by(vr.partition_key, vr.asset_key, vr.execution_id, be.status, be.replay_id,
                  be.trigger_type)
    )
    for day, asset, execution_id, newest, status, replay_id, trigger in rows:
        attempts.setdefault((day, asset), {})[execution_id] = ps.Attempt(
            execution_id, status, int(newest), replay_id=replay_id, trigger_type=trigger)
    active = session.execute(
        sa.select(rv.partition_key, rv.asset_key, rv.execution_id, be.status, be.replay_id,
                  be.trigger_type)
        .join(be, be.execution_id == rv.execution_id)
        .where(rv.partition_key.in_(partition_keys), rv.is_active.is_(True),
               *_of_job(be, job_id))
    )
    for day, asset, execution_id, status, replay_id, trigger in active:
        found = attempts.get((day, asset))
        if found is None:
            continue  # an asset without rules has no place in a report
        seen = found.get(execution_id)
        # An active version whose execution recorded no result here is still what the asset
        # partition is: its rules have no result, rather than the latest attempt's.
        found[execution_id] = dataclasses.replace(seen, is_active=True) if seen else ps.Attempt(
            execution_id, status, 0, is_active=True, replay_id=replay_id, trigger_type=trigger)
    states: dict[str, dict[str, ps.PartitionState]] = {}
    for (day, asset), found in attempts.items():
        states.setdefault(day, {})[asset] = ps.partition_state(found.values())
    return states


def _of_job(be: type[BatchExecution], job_id: str | None) -> list[sa.ColumnElement[bool]]:
    return [] if job_id is None else [be.job_id == job_id]
