"""The rules of an execution's recorded context: what a value may be, and how two merge.

Recording is idempotent and additive. The steps of one run record what they learn as they go
(each step reads its own snapshots and runs its own rules), so a second recording for the same
execution merges its snapshot ids and rule versions into the stored ones (set union, sorted) and
keeps the parameters, code version and library versions recorded first: those describe the run as
launched and cannot change within it, so a later, different value would be a different run's and
must not rewrite history. The same rule named with two different versions in one execution is a
broken invariant and is refused (LOG-001).

Every value is plain JSON, checked before anything is written: a value JSON would change on the
way (NaN, a non-string key) would not read back equal.
"""

import math
from collections.abc import Iterable, Mapping
from typing import Any

from opsrel_core.domain import error_codes
from opsrel_core.errors import LogicException


def string_set(values: Iterable[str], name: str) -> set[str]:
    """The distinct non-blank strings of ``values`` (e.g. snapshot ids).

    Raises:
        ValueError: ``values`` is a string or not iterable, or holds a blank or non-string item.
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"{name} must be an iterable of strings, got {values!r}")
    items = list(values)
    if any(not isinstance(v, str) or not v.strip() for v in items):
        raise ValueError(f"{name} must hold non-blank strings, got {items[:5]!r}")
    return set(items)


def rule_versions(values: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``{rule_id: version_hash}``.

    Raises:
        ValueError: not a mapping, or a blank or non-string rule id or version.
    """
    if not isinstance(values, Mapping):
        raise ValueError(f"rule_versions must be a mapping rule_id -> version_hash, got {values!r}")
    for rule_id, version in values.items():
        if not (isinstance(rule_id, str) and rule_id.strip()):
            raise ValueError(f"rule_versions: blank or non-string rule id {rule_id!r}")
        if not (isinstance(version, str) and version.strip()):
            raise ValueError(f"rule_versions[{rule_id!r}]: blank or non-string version {version!r}")
    return dict(values)


def json_object(value: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A plain-JSON copy of a mapping (parameters, code version, library versions).

    Raises:
        ValueError: not a mapping, or anything inside JSON would change or cannot hold.
    """
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping, got {type(value).__name__}")
    return _json_value(value, name)


def merged(
    execution_id: str,
    stored_snapshots: Iterable[str],
    stored_rules: Mapping[str, str],
    snapshots: set[str],
    rules: Mapping[str, str],
) -> tuple[list[str], dict[str, str]]:
    """The snapshot ids and rule versions after a second recording of one execution.

    Args:
        execution_id: names the execution in the error.
        stored_snapshots, stored_rules: as recorded.
        snapshots, rules: as recorded now (checked by ``string_set`` and ``rule_versions``).

    Returns:
        ``(sorted snapshot ids, {rule_id: version_hash} sorted by rule)``.

    Raises:
        LogicException: LOG-001 when a rule is already recorded with another version.
    """
    stored = dict(stored_rules)
    clashes = {r: (stored[r], v) for r, v in rules.items() if r in stored and stored[r] != v}
    if clashes:
        raise LogicException(
            error_codes.LOG_INVARIANT_BROKEN,
            f"execution {execution_id} already names other versions of rules "
            f"{sorted(clashes)}: {clashes}",
            {"execution_id": execution_id, "rules": sorted(clashes)},
        )
    return sorted(set(stored_snapshots) | snapshots), dict(sorted({**stored, **rules}.items()))


def _json_value(value: Any, path: str) -> Any:
    """A plain-JSON copy of ``value``; refuses anything JSON would change or cannot hold."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: {value!r} is not valid JSON")
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                # json.dumps would turn 1 into "1" silently: the context would not read back equal.
                raise ValueError(f"{path}: key {key!r} is not a string")
            out[key] = _json_value(item, f"{path}.{key}")
        return out
    raise ValueError(f"{path}: {type(value).__name__} {value!r} is not plain JSON")
