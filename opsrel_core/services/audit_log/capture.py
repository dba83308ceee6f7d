"""A target's state as the database holds it, and what a record calls the target by default.

An audited action never passes its states: what is recorded is what the database held before
and after, re-read in the action's own transaction. So a change made by a bulk statement is seen,
and an in-place edit the ORM does not track (mutating a JSON column's dict) is neither saved nor
recorded.
"""

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain.audit_records import CONFIG_TARGET_TYPE, json_safe
from opsrel_core.persistence.tables import BatchExecution


def capture_state(session: Session, target: object) -> dict[str, Any] | None:
    """Read ``target``'s current state as the database holds it in this transaction.

    Args:
        session: the open session the target belongs to (or will be added to).
        target: a mapped ORM object or a key/value mapping.

    Returns:
        ``{column: json value}`` for an ORM object (re-read from the database, so changes made
        by bulk statements are seen), a JSON copy of a mapping, or None when the object does not
        exist in the database (not yet added, or deleted).

    Raises:
        ValueError: the object belongs to another session (it is detached, not deleted).
    """
    if isinstance(target, Mapping):
        return json_safe(target)
    state = sa.inspect(target)
    if state.transient:
        return None  # not created yet (or never added by the action)
    if state.detached and not state.was_deleted:
        raise ValueError("the audited object must belong to the session of the action")
    session.flush()  # surface the action's own errors, and make deletes and inserts real
    if state.was_deleted or state.detached:
        return None
    session.refresh(target, with_for_update=True)  # locks the row on PostgreSQL until commit
    return {attr.key: json_safe(getattr(target, attr.key)) for attr in state.mapper.column_attrs}


def default_target_type(target: object) -> str:
    """The table name of an ORM target (``"batch_execution"``), ``"config"`` for a mapping."""
    if isinstance(target, Mapping):
        return CONFIG_TARGET_TYPE
    return sa.inspect(target).mapper.local_table.name


def default_target_id(target: object) -> str:
    """The primary key of an ORM target, composite keys joined by ``","``.

    Raises:
        ValueError: the target has no primary key yet.
    """
    identity = sa.inspect(target).identity
    if identity is None:
        raise ValueError("target has no primary key yet; pass target_id")
    return ",".join(str(part) for part in identity)


def default_execution_id(target: object) -> str | None:
    """The execution a target is: its id when it is a ``BatchExecution``, else None."""
    return target.execution_id if isinstance(target, BatchExecution) else None
