"""The SQL of rules, rule versions and validation results, over the caller's session.

``ValidationRepository`` reads and writes ``validation_rule``, ``validation_rule_version`` and
``validation_result`` rows as ORM objects: a check step stages its rule and its results in one
transaction (``CheckRecorder``). It never commits: the caller's unit of work does, and a
concurrent writer of the same rule, version or result surfaces as ``IntegrityError`` there.

A result is read as a row of four: ``(ValidationResult, rule_id, version_hash, severity)``, the
rule's current severity beside the version the result was recorded under.
"""

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.persistence.tables import (
    BatchExecution, ValidationResult, ValidationRule, ValidationRuleVersion, utcnow,
)

ResultRow = Any  # (ValidationResult, rule_id, version_hash, severity)


def _result_query() -> sa.Select:
    return (
        sa.select(ValidationResult, ValidationRuleVersion.rule_id,
                  ValidationRuleVersion.version_hash, ValidationRule.severity)
        .join(ValidationRuleVersion,
              ValidationRuleVersion.rule_version_id == ValidationResult.rule_version_id)
        .join(ValidationRule, ValidationRule.rule_id == ValidationRuleVersion.rule_id)
    )


def _latest_result_ids(rule_id: str, partitions: sa.ColumnElement[bool]) -> sa.Select:
    # The id of the rule's newest result on each partition that ``partitions`` admits (any
    # version of the rule: a replay under a newer version replaces the earlier result).
    return (
        sa.select(sa.func.max(ValidationResult.result_id))
        .join(ValidationRuleVersion,
              ValidationRuleVersion.rule_version_id == ValidationResult.rule_version_id)
        .where(ValidationRuleVersion.rule_id == rule_id, partitions)
        .group_by(ValidationResult.partition_key)
    )


class ValidationRepository:
    """Reads and writes rules, versions and results in ``session`` (of an open unit of work)."""

    def __init__(self, session: Session):
        self._session = session

    # -- rules and versions ------------------------------------------------------------------

    def rule(self, rule_id: str) -> ValidationRule | None:
        """The rule row, or None (from the session's identity map when already loaded)."""
        return self._session.get(ValidationRule, rule_id)

    def add_rule(self, **values: Any) -> ValidationRule:
        """Add a rule row (``rule_id``, ``asset_key``, ``severity``, ``description``,
        ``alert_policy``) to the session; written at the next flush."""
        rule = ValidationRule(**values, created_at=utcnow())
        self._session.add(rule)
        return rule

    def stored_version(self, rule_id: str, version_hash: str) -> ValidationRuleVersion | None:
        """The stored version of a rule with this hash, or None.

        Not flushed first: a concurrent run's insert of the same rule must surface at the
        caller's commit, where it is caught and theirs read.
        """
        with self._session.no_autoflush:
            return self._session.scalar(sa.select(ValidationRuleVersion).where(
                ValidationRuleVersion.rule_id == rule_id,
                ValidationRuleVersion.version_hash == version_hash))

    def add_version(self, rule_id: str, version_hash: str,
                    definition: dict[str, Any]) -> ValidationRuleVersion:
        """Add a version row; it has no id until the session flushes."""
        version = ValidationRuleVersion(rule_id=rule_id, version_hash=version_hash,
                                        definition=definition, created_at=utcnow())
        self._session.add(version)
        return version

    def versions(self, rule_id: str) -> Sequence[ValidationRuleVersion]:
        """Every version of a rule, oldest first."""
        return self._session.scalars(
            sa.select(ValidationRuleVersion)
            .where(ValidationRuleVersion.rule_id == rule_id)
            .order_by(ValidationRuleVersion.rule_version_id)
        ).all()

    def alert_policies(self, rule_ids: Sequence[str]) -> dict[str, str | None]:
        """``{rule_id: declared alert policy}`` of the registered ones among ``rule_ids``."""
        if not rule_ids:
            return {}
        return dict(self._session.execute(
            sa.select(ValidationRule.rule_id, ValidationRule.alert_policy)
            .where(ValidationRule.rule_id.in_(list(rule_ids)))).tuples().all())

    def flush(self) -> None:
        """Write what is staged (new versions get their ids)."""
        self._session.flush()

    # -- results -----------------------------------------------------------------------------

    def has_execution(self, execution_id: str) -> bool:
        """Whether the execution is recorded (a result refers to it)."""
        return self._session.get(BatchExecution, execution_id) is not None

    def add_results(self, values: Iterable[dict[str, Any]]) -> None:
        """Add ``validation_result`` rows (every column but ``result_id``); written at the next
        flush."""
        self._session.add_all(ValidationResult(**v, created_at=utcnow()) for v in values)

    def result_id(self, execution_id: str, rule_version_id: int,
                  partition_key: str) -> int | None:
        """The id of the result of one (execution, rule version, partition), or None."""
        return self._session.scalar(
            sa.select(ValidationResult.result_id).where(
                ValidationResult.execution_id == execution_id,
                ValidationResult.rule_version_id == rule_version_id,
                ValidationResult.partition_key == partition_key,
            )
        )

    def recorded_partitions(self, execution_id: str, rule_version_id: int) -> set[str]:
        """The partitions an execution recorded a result of this rule version for."""
        return set(self._session.scalars(sa.select(ValidationResult.partition_key).where(
            ValidationResult.execution_id == execution_id,
            ValidationResult.rule_version_id == rule_version_id)))

    def result(self, result_id: int) -> ResultRow:
        """One result as a row of four (module docstring).

        Raises:
            sqlalchemy.exc.NoResultFound: no result has this id.
        """
        return self._session.execute(
            _result_query().where(ValidationResult.result_id == result_id)).one()

    def results(self, *, execution_id: str | None = None,
                partition_keys: Sequence[str] | None = None,
                asset_key: str | None = None) -> list[ResultRow]:
        """Results as rows of four: an execution's by asset, partition and rule; else those of
        ``partition_keys`` (optionally one asset's), oldest first."""
        stmt = _result_query()
        if execution_id is not None:
            stmt = stmt.where(ValidationResult.execution_id == execution_id).order_by(
                ValidationResult.asset_key, ValidationResult.partition_key,
                ValidationRuleVersion.rule_id)
        else:
            stmt = stmt.where(ValidationResult.partition_key.in_(list(partition_keys or ())))
            if asset_key is not None:
                stmt = stmt.where(ValidationResult.asset_key == asset_key)
            stmt = stmt.order_by(ValidationResult.result_id)
        return list(self._session.execute(stmt))

    def latest_results(self, rule_id: str, *, before: str | None = None,
                       up_to: str | None = None, keys: Sequence[str] | None = None,
                       limit: int | None = None) -> list[ResultRow]:
        """The rule's newest result on each partition, newest partition first, as rows of four.

        Args:
            before: only partitions strictly before this key; up_to: only up to this key
                (inclusive); keys: only these partitions.
            limit: at most this many partitions.
        """
        partitions: list[sa.ColumnElement[bool]] = []
        if before is not None:
            partitions.append(ValidationResult.partition_key < before)
        if up_to is not None:
            partitions.append(ValidationResult.partition_key <= up_to)
        if keys is not None:
            partitions.append(ValidationResult.partition_key.in_(list(keys)))
        latest = _latest_result_ids(rule_id, sa.and_(sa.true(), *partitions))
        stmt = (_result_query().where(ValidationResult.result_id.in_(latest))
                .order_by(ValidationResult.partition_key.desc()))
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(self._session.execute(stmt))
