"""An in-memory ``ValidationRepository``: rules, rule versions and results kept in dictionaries,
with the same keys as the tables (one version per rule and hash, one result per execution,
rule version and partition).

``QualityStore`` holds the data across transactions; pass ``store.repository`` where
``ValidationService`` or ``CheckRecorder`` takes ``repository=``. Rule and version rows are the
stored objects themselves (``SimpleNamespace``): a service changes a rule row in place, as it
changes an ORM object of its session. Writes land at once (the fake has no rollback). A result
is read as ``(result, rule_id, version_hash, severity)``, as the SQL reads it.
"""

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

T0 = dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.timezone.utc)


class QualityStore:
    """The fake database: what the fake repositories of every transaction read and write."""

    def __init__(self) -> None:
        self.rules: dict[str, SimpleNamespace] = {}
        self.versions: dict[int, SimpleNamespace] = {}
        self.results: dict[int, SimpleNamespace] = {}
        self.executions: set[str] = set()
        self._ids = itertools.count(1)

    def repository(self, session: Any = None) -> "FakeValidationRepository":
        """A repository over this store (``session`` is ignored)."""
        return FakeValidationRepository(self)

    def next_id(self) -> int:
        return next(self._ids)


class FakeValidationRepository:
    """``ValidationRepository`` over a ``QualityStore`` (the same methods, see its docstrings)."""

    def __init__(self, store: QualityStore):
        self._s = store

    # -- rules and versions ------------------------------------------------------------------

    def rule(self, rule_id: str) -> SimpleNamespace | None:
        return self._s.rules.get(rule_id)

    def add_rule(self, **values: Any) -> SimpleNamespace:
        rule = SimpleNamespace(**values, created_at=T0)
        self._s.rules[rule.rule_id] = rule
        return rule

    def stored_version(self, rule_id: str, version_hash: str) -> SimpleNamespace | None:
        return next((v for v in self._s.versions.values()
                     if (v.rule_id, v.version_hash) == (rule_id, version_hash)), None)

    def add_version(self, rule_id: str, version_hash: str,
                    definition: dict[str, Any]) -> SimpleNamespace:
        version = SimpleNamespace(rule_version_id=self._s.next_id(), rule_id=rule_id,
                                  version_hash=version_hash, definition=definition, created_at=T0)
        self._s.versions[version.rule_version_id] = version
        return version

    def versions(self, rule_id: str) -> list[SimpleNamespace]:
        return [v for _id, v in sorted(self._s.versions.items()) if v.rule_id == rule_id]

    def alert_policies(self, rule_ids: Sequence[str]) -> dict[str, str | None]:
        return {r: self._s.rules[r].alert_policy for r in rule_ids if r in self._s.rules}

    def flush(self) -> None:
        pass

    # -- results -----------------------------------------------------------------------------

    def has_execution(self, execution_id: str) -> bool:
        return execution_id in self._s.executions

    def add_results(self, values: Iterable[dict[str, Any]]) -> None:
        for v in values:
            if self.result_id(v["execution_id"], v["rule_version_id"], v["partition_key"]):
                raise sa.exc.IntegrityError("INSERT INTO validation_result", {},
                                            Exception("UNIQUE constraint failed"))
            result_id = self._s.next_id()
            self._s.results[result_id] = SimpleNamespace(**v, result_id=result_id, created_at=T0)

    def result_id(self, execution_id: str, rule_version_id: int,
                  partition_key: str) -> int | None:
        return next((r.result_id for r in self._s.results.values()
                     if (r.execution_id, r.rule_version_id, r.partition_key)
                     == (execution_id, rule_version_id, partition_key)), None)

    def recorded_partitions(self, execution_id: str, rule_version_id: int) -> set[str]:
        return {r.partition_key for r in self._s.results.values()
                if (r.execution_id, r.rule_version_id) == (execution_id, rule_version_id)}

    def result(self, result_id: int) -> tuple[Any, ...]:
        return self._row(self._s.results[result_id])

    def results(self, *, execution_id: str | None = None,
                partition_keys: Sequence[str] | None = None,
                asset_key: str | None = None) -> list[tuple[Any, ...]]:
        if execution_id is not None:
            rows = [self._row(r) for r in self._s.results.values()
                    if r.execution_id == execution_id]
            return sorted(rows, key=lambda row: (row[0].asset_key, row[0].partition_key, row[1]))
        return [self._row(r) for _id, r in sorted(self._s.results.items())
                if r.partition_key in (partition_keys or ())
                and (asset_key is None or r.asset_key == asset_key)]

    def latest_results(self, rule_id: str, *, before: str | None = None,
                       up_to: str | None = None, keys: Sequence[str] | None = None,
                       limit: int | None = None) -> list[tuple[Any, ...]]:
        latest: dict[str, SimpleNamespace] = {}
        for r in self._s.results.values():
            if self._s.versions[r.rule_version_id].rule_id != rule_id:
                continue
            if ((before is not None and not r.partition_key < before)
                    or (up_to is not None and not r.partition_key <= up_to)
                    or (keys is not None and r.partition_key not in keys)):
                continue
            if r.partition_key not in latest or r.result_id > latest[r.partition_key].result_id:
                latest[r.partition_key] = r
        newest_first = [self._row(latest[k]) for k in sorted(latest, reverse=True)]
        return newest_first if limit is None else newest_first[:limit]

    def _row(self, result: SimpleNamespace) -> tuple[Any, ...]:
        version = self._s.versions[result.rule_version_id]
        return (SimpleNamespace(**vars(result)), version.rule_id, version.version_hash,
                self._s.rules[version.rule_id].severity)
