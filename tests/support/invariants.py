"""Invariants of the ops schema, checked by concurrency and fault tests on either backend."""

from collections import defaultdict

import sqlalchemy as sa

from opsrel_core.domain.status import ExecutionStatus, can_transition
from opsrel_core.persistence.tables import BatchExecution, ExecutionEvent, ResultVersion

TERMINAL = {s.value for s in ExecutionStatus if s.is_terminal}


def assert_ops_invariants(engine: sa.Engine) -> dict[str, str]:
    """Assert what must hold whatever the interleaving; return ``{execution_id: status}``.

    - each execution's status history (its ``status:`` events) starts at READY, follows the transition table, has exactly one
      terminal event when the execution is terminal (none otherwise), and ends in its status;
    - at most one active version per asset and partition, and it was made by a SUCCESS execution;
    - no two versions of an asset and partition share a number.
    """
    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.select(BatchExecution.execution_id, BatchExecution.status)).all())
        events = conn.execute(
            sa.select(ExecutionEvent.execution_id, ExecutionEvent.from_status, ExecutionEvent.to_status)
            .where(ExecutionEvent.event_key.like("status:%"))  # annotations move no status
            .order_by(ExecutionEvent.event_id)
        ).all()
        versions = conn.execute(
            sa.select(
                ResultVersion.asset_key, ResultVersion.partition_key, ResultVersion.version_number,
                ResultVersion.is_active, ResultVersion.execution_id,
            )
        ).all()
    history: dict[str, list[tuple]] = defaultdict(list)
    for eid, before, after in events:
        history[eid].append((before, after))
    assert set(history) == set(statuses), "every execution has a history, and only those"
    for eid, steps in history.items():
        assert steps[0] == (None, "READY"), (eid, steps)
        for before, after in steps[1:]:
            assert can_transition(ExecutionStatus(before), ExecutionStatus(after)), (eid, steps)
        assert all(steps[i][1] == steps[i + 1][0] for i in range(len(steps) - 1)), (eid, steps)
        terminal_events = [after for _before, after in steps if after in TERMINAL]
        expected = [statuses[eid]] if statuses[eid] in TERMINAL else []
        assert terminal_events == expected, (eid, steps, statuses[eid])
    active: dict[tuple, list] = defaultdict(list)
    numbers: dict[tuple, list] = defaultdict(list)
    for asset, partition, number, is_active, eid in versions:
        numbers[(asset, partition)].append(number)
        if is_active:
            active[(asset, partition)].append(eid)
    for key, owners in active.items():
        assert len(owners) == 1, f"{key} has {len(owners)} active versions"
        assert statuses[owners[0]] == "SUCCESS", (key, owners[0], statuses[owners[0]])
    for key, nums in numbers.items():
        assert len(nums) == len(set(nums)), f"{key} has duplicate version numbers {sorted(nums)}"
    return statuses
