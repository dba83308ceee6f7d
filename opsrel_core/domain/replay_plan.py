"""The replay plan: exactly which partition keys a replay runs, each key's parent, each run's tags.

Pure functions over plain data; no I/O. Every entry point (admin API, CLI embedded and submit,
the replay-launch sensor, the landing sensor) builds its replay from ``build_plan`` and launches
``plan.partitions`` with ``run_tags`` and nothing else, so the preview of a request is what runs.

Which keys a request runs (``resolve_keys``):

- ``single``: the one listed key (or ``start == end``).
- ``range``: the listed keys, exactly those, when ``partitions`` is given (they must lie within
  ``start..end`` when those are given too); else every key of the job between ``start`` and
  ``end`` inclusive, in the job's order.
- ``full``: the listed keys, exactly those; else every key of the job.

A key's parent execution (``parent_of``) is the execution of its active result version, else the
latest execution of that partition (the failed run the replay redoes), else None.

Errors: ``BatchExecutionException`` BAT-009 (``BAT_REPLAY_INVALID``) for an unknown kind, no keys,
a blank key, a reversed range, a listed key outside ``start..end`` or outside the job's keys.
"""

import dataclasses
from collections.abc import Mapping, Sequence

from opsrel_core.domain import error_codes, run_tags
from opsrel_core.errors import BatchExecutionException

KINDS = ("single", "range", "full")


@dataclasses.dataclass(frozen=True)
class ReplayAsk:
    """A replay request as an entry point received it.

    Attributes:
        kind: ``single``, ``range`` or ``full`` (case-insensitive).
        job_id: the batch job.
        operator_id, reason: who asks and why (checked by the service: BAT-008).
        partitions: the keys listed explicitly, or None.
        start, end: an inclusive range of keys, or None.
    """

    kind: str
    job_id: str
    operator_id: str
    reason: str
    partitions: tuple[str, ...] | None = None
    start: str | None = None
    end: str | None = None


@dataclasses.dataclass(frozen=True)
class ReplayPlan:
    """What a replay request runs; the preview shows it and the launch runs it.

    Attributes:
        replay_type: ``SINGLE``, ``RANGE`` or ``FULL``.
        job_id, operator_id, reason: as asked.
        partition_start, partition_end: the first and last key of ``partitions``.
        partitions: every key that runs, in the job's order, each once.
        parents: per key, the execution the run redoes or replaces (``opsrel/parent_execution_id``).
        replaces: per key, the execution whose active result a successful run replaces (None:
            the partition has no active result yet).
    """

    replay_type: str
    job_id: str
    operator_id: str
    reason: str
    partition_start: str
    partition_end: str
    partitions: tuple[str, ...]
    parents: dict[str, str | None]
    replaces: dict[str, str | None]


def resolve_keys(
    kind: str, *, partitions: Sequence[str] | None, start: str | None, end: str | None,
    job_keys: Sequence[str] | None,
) -> tuple[str, ...]:
    """The partition keys a request runs (rules in the module docstring).

    Args:
        kind: ``single``, ``range`` or ``full``.
        partitions: the keys listed explicitly, or None.
        start, end: an inclusive range, or None.
        job_keys: every key of the job in its order; None when the job's keys cannot be
            listed (then a request must list its keys; a listed key is checked elsewhere).

    Returns:
        Distinct keys in the job's order (string order without ``job_keys``).

    Raises:
        BatchExecutionException: BAT-009, see the module docstring.
    """
    kind = (kind or "").lower()
    if kind not in KINDS:
        raise _invalid(f"replay type must be one of {KINDS}, got {kind!r}")
    listed = None if partitions is None else _non_blank(partitions)
    for name, value in (("partition_start", start), ("partition_end", end)):
        if value is not None:
            _non_blank([value], name)
    pos = None if job_keys is None else {k: i for i, k in enumerate(job_keys)}
    if start is not None and end is not None:
        _check_order(start, end, pos)
    if listed is not None:
        keys = _ordered(listed, pos)
        if start is not None and end is not None and not all(
            _between(k, start, end, pos) for k in keys
        ):
            raise _invalid(f"replay range {start}..{end} does not contain the listed "
                           f"partitions {keys[0]}..{keys[-1]}")
    elif kind == "full" and start is None and end is None:
        keys = tuple(_need_job_keys(job_keys, "a full replay"))
    elif start is not None and end is not None:
        keys = tuple(k for k in _need_job_keys(job_keys, "a range") if _between(k, start, end, pos))
    else:
        raise _invalid(f"a {kind} replay needs partitions, or partition_start and partition_end")
    if not keys:
        raise _invalid(f"the replay request runs no partition ({start}..{end})")
    if kind == "single" and len(keys) != 1:
        raise _invalid(f"a single replay names exactly one partition, got {len(keys)}")
    if pos is not None:
        outside = [k for k in keys if k not in pos]
        if outside:
            raise _invalid(f"partitions {outside[:5]!r} are not in the partition set of the job; "
                           "nothing was recorded", {"partitions": outside[:20]})
    return keys


def parent_of(active_execution_id: str | None, latest_execution_id: str | None) -> str | None:
    """A key's parent: the active result's execution, else the partition's latest execution."""
    return active_execution_id or latest_execution_id


def build_plan(
    ask: ReplayAsk, keys: Sequence[str], active: Mapping[str, str | None],
    latest: Mapping[str, str | None],
) -> ReplayPlan:
    """The plan of ``ask`` over ``keys`` (from ``resolve_keys``).

    Args:
        active: per key, the execution of the job's active result version (or None).
        latest: per key, the partition's most recent execution (or None).
    """
    keys = tuple(keys)
    return ReplayPlan(
        replay_type=ask.kind.upper(), job_id=ask.job_id, operator_id=ask.operator_id,
        reason=ask.reason, partition_start=keys[0], partition_end=keys[-1], partitions=keys,
        parents={k: parent_of(active.get(k), latest.get(k)) for k in keys},
        replaces={k: active.get(k) for k in keys},
    )


def run_tags_for(plan: ReplayPlan, replay_id: int | None, keys: Sequence[str]) -> dict[str, str]:
    """The opsrel tags of the one run that covers ``keys`` (one key, or a range of days).

    Operator and reason always; the replay id when recorded; the parent execution only when
    every key of the run has the same one (a range run carries one value per tag).
    """
    tags = {run_tags.OPERATOR: plan.operator_id, run_tags.REASON: plan.reason}
    if replay_id is not None:
        tags[run_tags.REPLAY_ID] = str(replay_id)
    parents = {plan.parents.get(k) for k in keys}
    if len(parents) == 1 and None not in parents:
        tags[run_tags.PARENT_EXECUTION_ID] = parents.pop()  # type: ignore[assignment]
    return tags


def stored_keys(
    partition_keys: Sequence[str] | None, start: str | None, end: str | None,
    job_keys: Sequence[str],
) -> list[str]:
    """The keys a recorded replay runs: its stored plan, else (rows recorded before plans were
    stored) every key of ``job_keys`` in ``start..end``."""
    if partition_keys:
        return list(partition_keys)
    if start is None:
        return []
    last = end or start
    return [k for k in job_keys if start <= k <= last]


def _between(key: str, start: str, end: str, pos: Mapping[str, int] | None) -> bool:
    # By position in the job's order when all three are keys of the job (hourly keys with an
    # offset do not sort as strings), else by string order (ISO dates).
    if pos is not None and start in pos and end in pos and key in pos:
        return pos[start] <= pos[key] <= pos[end]
    return start <= key <= end


def _check_order(start: str, end: str, pos: Mapping[str, int] | None) -> None:
    if not _between(start, start, end, pos) or not _between(end, start, end, pos):
        raise _invalid(f"replay range {start}..{end} is empty or reversed")


def _ordered(keys: Sequence[str], pos: Mapping[str, int] | None) -> tuple[str, ...]:
    distinct = set(keys)
    if pos is not None and distinct <= pos.keys():
        return tuple(sorted(distinct, key=pos.__getitem__))
    return tuple(sorted(distinct))


def _need_job_keys(job_keys: Sequence[str] | None, what: str) -> Sequence[str]:
    if job_keys is None:
        raise _invalid(f"the partitions of this job cannot be listed here: {what} must list its "
                       "partitions")
    return job_keys


def _non_blank(keys: Sequence[str], name: str = "partitions") -> list[str]:
    if not keys or any(not isinstance(k, str) or not k.strip() for k in keys):
        raise _invalid(f"{name}: partition keys must be non-blank and at least one, got "
                       f"{list(keys or [])[:5]!r}")
    return list(keys)


def _invalid(message: str, details: dict | None = None) -> BatchExecutionException:
    return BatchExecutionException(error_codes.BAT_REPLAY_INVALID, message, details)
