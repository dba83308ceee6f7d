"""ValidationService: rules, rule versions and validation results in the ops schema.

A rule is named (``rule_id``), belongs to one asset and has a severity, FAIL or WARN. Its version
is derived from its definition: ``version_hash`` is ``sha256:`` of the canonical JSON of the
definition together with the severity, so changing a rule (a bound, a reference list, the
severity) makes a new version by itself and registering an unchanged rule again is a no-op.

A result is the outcome of one rule version on one asset partition in one execution; recording
the same result again (same execution, rule version and partition) returns the stored row.
Framework-free: no Dagster, no pandera.
"""

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain.instants import utc_if_instant
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import (
    RULE_SEVERITIES,
    RULE_ALERT_POLICIES,
    VALIDATION_STATUSES,
    ValidationResult,
    ValidationRule,
    ValidationRuleVersion,
    utcnow,
)
from opsrel_core.persistence.uow import UnitOfWork

HASH_PREFIX = "sha256:"


def canonical_json(value: Any) -> str:
    """Render ``value`` as canonical JSON: sorted keys, no whitespace, UTF-8 kept as is."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def rule_version_hash(definition: dict[str, Any], severity: str) -> str:
    """The version hash of a rule: ``sha256:<hex>`` of ``{"definition": ..., "severity": ...}``.

    Raises:
        TypeError, ValueError: the definition is not plain JSON (no NaN, no objects).
    """
    text = canonical_json({"definition": definition, "severity": severity})
    return HASH_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def stage_rule(session: Session, rule_id: str, asset_key: str, severity: str, description: str,
               definition: dict[str, Any], alert_policy: str,
               ) -> tuple[ValidationRule, ValidationRuleVersion]:
    """Add a rule and the version its definition implies to ``session`` unless stored (the rule
    row takes the given severity, description and alert policy); nothing is committed.

    A concurrent registration of the same rule or version surfaces as ``IntegrityError`` at the
    caller's commit, which then reads theirs.

    Returns:
        (the rule row, the version row; a new version has no id until the session flushes).

    Raises:
        ValueError: unknown severity or alert policy, or a definition that is not plain JSON.
    """
    if severity not in RULE_SEVERITIES:
        raise ValueError(f"severity must be one of {RULE_SEVERITIES}, got {severity!r}")
    if alert_policy not in RULE_ALERT_POLICIES:
        raise ValueError(
            f"alert policy must be one of {RULE_ALERT_POLICIES}, got {alert_policy!r}"
        )
    version_hash = rule_version_hash(definition, severity)
    rule = session.get(ValidationRule, rule_id)
    if rule is None:
        rule = ValidationRule(
            rule_id=rule_id, asset_key=asset_key, severity=severity,
            description=description, alert_policy=alert_policy, created_at=utcnow(),
        )
        session.add(rule)
    elif (rule.asset_key, rule.severity, rule.description, rule.alert_policy) != (
        asset_key, severity, description, alert_policy
    ):
        rule.asset_key, rule.severity = asset_key, severity
        rule.description, rule.alert_policy = description, alert_policy
    with session.no_autoflush:
        # Not flushed here: a concurrent run's insert of the same rule must surface at the
        # caller's commit, where it is caught and theirs read.
        version = _stored_version(session, rule_id, version_hash)
    if version is None:
        # Stored as it hashes: a JSON round trip, so the row reads back equal to what was hashed.
        version = ValidationRuleVersion(
            rule_id=rule_id, version_hash=version_hash,
            definition=json.loads(canonical_json(definition)), created_at=utcnow(),
        )
        session.add(version)
    return rule, version


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


def _previous_results(session: Session, rule_id: str, before_partition: str,
                      window: int) -> list["ValidationResultView"]:
    # The rule's newest result on each partition before ``before_partition``, newest first.
    latest = _latest_result_ids(rule_id, ValidationResult.partition_key < before_partition)
    rows = session.execute(
        _result_query()
        .where(ValidationResult.result_id.in_(latest))
        .order_by(ValidationResult.partition_key.desc())
        .limit(window)
    )
    return [_result_view(row) for row in rows]


def results_for_partitions(session: Session,
                           partition_keys: Sequence[str]) -> dict[str, list["ValidationResultView"]]:
    """Every result recorded for each of ``partition_keys``, oldest first, read on ``session``
    (``ValidationService.results_for_partition`` for many partitions in one statement).

    Returns:
        ``{partition_key: results}``; a partition without results is left out.
    """
    found: dict[str, list[ValidationResultView]] = {}
    rows = session.execute(_result_query()
                           .where(ValidationResult.partition_key.in_(list(partition_keys)))
                           .order_by(ValidationResult.result_id))
    for row in rows:
        view = _result_view(row)
        found.setdefault(view.partition_key, []).append(view)
    return found


def _stored_version(session: Session, rule_id: str,
                    version_hash: str) -> ValidationRuleVersion | None:
    return session.scalar(sa.select(ValidationRuleVersion).where(
        ValidationRuleVersion.rule_id == rule_id,
        ValidationRuleVersion.version_hash == version_hash))


def new_result(*, execution_id: str, rule_version_id: int, asset_key: str, partition_key: str,
               status: str, total_rows: int | None, failing_rows: int | None,
               measured_value: float | None, bound: str | None,
               sample_failures: list[Any] | None) -> ValidationResult:
    """A ``validation_result`` row, not yet added to a session (the samples as canonical JSON).

    Raises:
        ValueError: unknown status.
    """
    if status not in VALIDATION_STATUSES:
        raise ValueError(f"status must be one of {VALIDATION_STATUSES}, got {status!r}")
    samples = None if sample_failures is None else json.loads(canonical_json(sample_failures))
    return ValidationResult(
        execution_id=execution_id, rule_version_id=rule_version_id, asset_key=asset_key,
        partition_key=partition_key, status=status, total_rows=total_rows,
        failing_rows=failing_rows, measured_value=measured_value, bound=bound,
        sample_failures=samples, created_at=utcnow(),
    )


@dataclasses.dataclass(frozen=True)
class RuleVersionView:
    """One registered version of a rule.

    Attributes:
        rule_version_id: the version's key (what results refer to).
        rule_id, asset_key, severity, description: the rule as it stands now (the severity
            a version was registered with is part of its hash).
        version_hash: ``sha256:<hex>`` of its definition and severity.
        definition: the definition as registered.
        created_at: when this version was first registered (UTC).
    """

    rule_version_id: int
    rule_id: str
    asset_key: str
    severity: str
    description: str
    version_hash: str
    definition: dict[str, Any]
    created_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class ValidationResultView:
    """One rule version's outcome on one asset partition in one execution.

    Attributes:
        status: PASS, WARN, FAIL or ERROR.
        total_rows: rows validated; failing_rows: rows that broke the rule (row-level rules).
        measured_value, bound: the measured figure and its bound (table-level rules), e.g.
            ``0.56`` and ``"<= 0.5"``.
        sample_failures: up to a few failure cases (JSON objects).
    """

    result_id: int
    execution_id: str
    rule_id: str
    rule_version_id: int
    version_hash: str
    severity: str
    asset_key: str
    partition_key: str
    status: str
    total_rows: int | None
    failing_rows: int | None
    measured_value: float | None
    bound: str | None
    sample_failures: list[Any] | None
    created_at: dt.datetime


_RESULT_COLUMNS = (
    ValidationResult,
    ValidationRuleVersion.rule_id,
    ValidationRuleVersion.version_hash,
    ValidationRule.severity,
)


def _result_query() -> sa.Select:
    return (
        sa.select(*_RESULT_COLUMNS)
        .join(
            ValidationRuleVersion,
            ValidationRuleVersion.rule_version_id == ValidationResult.rule_version_id,
        )
        .join(ValidationRule, ValidationRule.rule_id == ValidationRuleVersion.rule_id)
    )


def _result_view(row: sa.Row) -> ValidationResultView:
    result, rule_id, version_hash, severity = row
    return ValidationResultView(
        result_id=result.result_id,
        execution_id=result.execution_id,
        rule_id=rule_id,
        rule_version_id=result.rule_version_id,
        version_hash=version_hash,
        severity=severity,
        asset_key=result.asset_key,
        partition_key=result.partition_key,
        status=result.status,
        total_rows=result.total_rows,
        failing_rows=result.failing_rows,
        measured_value=result.measured_value,
        bound=result.bound,
        sample_failures=result.sample_failures,
        created_at=utc_if_instant(result.created_at),
    )


@retry_transient_methods
class ValidationService:
    """Registers rules and their versions, records and reads validation results.

    Args:
        engine: engine of the ops database.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine

    # -- writes ------------------------------------------------------------------------------

    def register_rule(
        self,
        rule_id: str,
        asset_key: str,
        severity: str,
        description: str,
        definition: dict[str, Any],
        alert_policy: str = "baseline",
    ) -> RuleVersionView:
        """Register a rule and the version its definition implies; idempotent.

        The rule row keeps the latest severity, description and alert policy; versions are never
        changed.

        Args:
            rule_id: the rule's name, e.g. ``"flight_key_unique"``.
            asset_key: the asset it checks, e.g. ``"clean_flights"``.
            severity: ``"FAIL"`` (blocks downstream) or ``"WARN"`` (records and counts).
            description: what the rule asserts, for operators.
            definition: the rule's serialized form (plain JSON); its hash names the version.
            alert_policy: how its warnings raise DQ-002 (``always``, ``baseline``, ``never``;
                ``opsrel_core.domain.dq_baseline``); not part of the version: it changes when
                an operator hears of a result, not the result.

        Returns:
            The version (the one stored earlier when the definition is unchanged).

        Raises:
            ValueError: unknown severity or alert policy, or a definition that is not plain
                JSON.
        """
        version_hash = rule_version_hash(definition, severity)
        for _attempt in range(2):
            with UnitOfWork(self._engine) as uow:
                rule, version = stage_rule(uow.session, rule_id, asset_key, severity,
                                           description, definition, alert_policy)
                try:
                    uow.commit()
                except sa.exc.IntegrityError:
                    continue  # a concurrent run registered the same rule or version: read theirs
                return self.version_view(rule, version)
        with UnitOfWork(self._engine) as uow:
            rule = uow.session.get(ValidationRule, rule_id)
            version = self._version(uow, rule_id, version_hash)
            assert rule is not None and version is not None
            return self.version_view(rule, version)

    def record_result(
        self,
        *,
        execution_id: str,
        rule_version_id: int,
        asset_key: str,
        partition_key: str,
        status: str,
        total_rows: int | None = None,
        failing_rows: int | None = None,
        measured_value: float | None = None,
        bound: str | None = None,
        sample_failures: list[Any] | None = None,
    ) -> ValidationResultView:
        """Record one rule version's outcome; the same (execution, version, partition) once.

        Args:
            execution_id: the execution (must already be recorded in ``batch_execution``).
            rule_version_id: from ``register_rule``.
            asset_key, partition_key: what was validated (``"__all__"`` when unpartitioned).
            status: PASS, WARN, FAIL or ERROR.
            total_rows, failing_rows: rows validated and rows that broke the rule.
            measured_value, bound: for table-level rules (e.g. ``0.56``, ``"<= 0.5"``).
            sample_failures: a few failure cases, plain JSON.

        Returns:
            The stored result; a repeated call returns the first one unchanged.

        Raises:
            ValueError: unknown status.
        """
        if status not in VALIDATION_STATUSES:
            raise ValueError(f"status must be one of {VALIDATION_STATUSES}, got {status!r}")
        with UnitOfWork(self._engine) as uow:
            result_id = self._result_id(uow, execution_id, rule_version_id, partition_key)
            if result_id is None:
                uow.session.add(new_result(
                    execution_id=execution_id, rule_version_id=rule_version_id,
                    asset_key=asset_key, partition_key=partition_key, status=status,
                    total_rows=total_rows, failing_rows=failing_rows,
                    measured_value=measured_value, bound=bound, sample_failures=sample_failures,
                ))
                try:
                    uow.commit()
                except sa.exc.IntegrityError:
                    uow.session.rollback()
                    # Recorded concurrently: the first one stands. Anything else (an unknown
                    # execution or rule version) is raised as it is.
                    result_id = self._result_id(uow, execution_id, rule_version_id, partition_key)
                    if result_id is None:
                        raise
                result_id = result_id or self._result_id(
                    uow, execution_id, rule_version_id, partition_key
                )
            row = uow.session.execute(
                _result_query().where(ValidationResult.result_id == result_id)
            ).one()
            return _result_view(row)

    # -- reads -------------------------------------------------------------------------------

    def get_rule_versions(self, rule_id: str) -> list[RuleVersionView]:
        """Every version of a rule, oldest first (empty when the rule is unknown)."""
        with UnitOfWork(self._engine) as uow:
            rule = uow.session.get(ValidationRule, rule_id)
            if rule is None:
                return []
            versions = uow.session.scalars(
                sa.select(ValidationRuleVersion)
                .where(ValidationRuleVersion.rule_id == rule_id)
                .order_by(ValidationRuleVersion.rule_version_id)
            )
            return [self.version_view(rule, v) for v in versions]

    def results_for_execution(self, execution_id: str) -> list[ValidationResultView]:
        """Every result an execution recorded, by asset, partition and rule."""
        with UnitOfWork(self._engine) as uow:
            rows = uow.session.execute(
                _result_query()
                .where(ValidationResult.execution_id == execution_id)
                .order_by(
                    ValidationResult.asset_key,
                    ValidationResult.partition_key,
                    ValidationRuleVersion.rule_id,
                )
            )
            return [_result_view(r) for r in rows]

    def results_for_partition(
        self, partition_key: str, asset_key: str | None = None
    ) -> list[ValidationResultView]:
        """Every result recorded for a partition (optionally one asset), oldest first."""
        stmt = _result_query().where(ValidationResult.partition_key == partition_key)
        if asset_key is not None:
            stmt = stmt.where(ValidationResult.asset_key == asset_key)
        with UnitOfWork(self._engine) as uow:
            rows = uow.session.execute(stmt.order_by(ValidationResult.result_id))
            return [_result_view(r) for r in rows]

    def warn_counts(self, rule_id: str, partition_keys: Iterable[str]) -> dict[str, int]:
        """Failing rows of a rule's latest WARN result per partition.

        Only the latest result of the rule in each partition counts (a replay's result replaces
        the earlier run's); a partition whose latest result passed counts 0, and a partition
        with no result of the rule is left out.

        Args:
            rule_id: the rule.
            partition_keys: the partitions to count, e.g. every day of February 2013.

        Returns:
            ``{partition_key: failing rows}`` (a table-level WARN counts its failing rows, or 1
            when it records none).
        """
        keys = list(dict.fromkeys(partition_keys))
        if not keys:
            return {}
        latest = _latest_result_ids(rule_id, ValidationResult.partition_key.in_(keys))
        with UnitOfWork(self._engine) as uow:
            rows = uow.session.execute(
                sa.select(
                    ValidationResult.partition_key,
                    ValidationResult.status,
                    ValidationResult.failing_rows,
                ).where(ValidationResult.result_id.in_(latest))
            )
            counts = {}
            for partition_key, status, failing in rows:
                if status == "WARN":
                    counts[partition_key] = int(failing) if failing is not None else 1
                else:
                    counts[partition_key] = 0
            return {k: counts[k] for k in keys if k in counts}

    def recent_statuses(self, rule_id: str, up_to_partition: str, window: int) -> list[tuple[str, str]]:
        """The rule's latest status in each of the ``window`` most recent partitions up to one.

        Args:
            rule_id: the rule.
            up_to_partition: the newest partition considered (inclusive).
            window: how many partitions, newest first (only partitions with a result count).

        Returns:
            ``[(partition_key, status)]``, newest partition first.
        """
        latest = (
            sa.select(sa.func.max(ValidationResult.result_id).label("result_id"))
            .join(
                ValidationRuleVersion,
                ValidationRuleVersion.rule_version_id == ValidationResult.rule_version_id,
            )
            .where(
                ValidationRuleVersion.rule_id == rule_id,
                ValidationResult.partition_key <= up_to_partition,
            )
            .group_by(ValidationResult.partition_key)
        )
        with UnitOfWork(self._engine) as uow:
            rows = uow.session.execute(
                sa.select(ValidationResult.partition_key, ValidationResult.status)
                .where(ValidationResult.result_id.in_(latest))
                .order_by(ValidationResult.partition_key.desc())
                .limit(window)
            )
            return [(key, status) for key, status in rows]

    def alert_policy_of(self, rule_id: str) -> str:
        """The rule's declared alert policy (``baseline`` for a rule not registered)."""
        with UnitOfWork(self._engine) as uow:
            rule = uow.session.get(ValidationRule, rule_id)
            return rule.alert_policy if rule is not None else "baseline"

    def previous_results(
        self, rule_id: str, before_partition: str, window: int
    ) -> list[ValidationResultView]:
        """The rule's latest result in each of the ``window`` partitions before one.

        Args:
            rule_id: the rule.
            before_partition: partitions strictly before this key count (partition order).
            window: how many partitions at most (only partitions with a result count).

        Returns:
            One result per partition (its newest), newest partition first.
        """
        with UnitOfWork(self._engine) as uow:
            return _previous_results(uow.session, rule_id, before_partition, window)

    def warning_history(
        self, results: "Sequence[ValidationResultView]", window: int
    ) -> tuple[dict[str, str], dict[int, list[ValidationResultView]]]:
        """What the DQ-002 policy weighs for each of ``results``, read in one transaction.

        Args:
            results: recorded results (typically an execution's WARN results).
            window: partitions of history per result (``previous_results``).

        Returns:
            (each rule's declared alert policy by rule id, ``baseline`` for a rule not
            registered; each result's ``previous_results`` by result id).
        """
        with UnitOfWork(self._engine) as uow:
            session = uow.session
            rule_ids = sorted({r.rule_id for r in results})
            declared = dict(session.execute(
                sa.select(ValidationRule.rule_id, ValidationRule.alert_policy)
                .where(ValidationRule.rule_id.in_(rule_ids))).tuples().all()) if rule_ids else {}
            policies = {rule_id: declared.get(rule_id) or "baseline" for rule_id in rule_ids}
            histories = {r.result_id: _previous_results(session, r.rule_id, r.partition_key,
                                                        window)
                         for r in results}
            return policies, histories

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _version(uow: UnitOfWork, rule_id: str, version_hash: str) -> ValidationRuleVersion | None:
        return _stored_version(uow.session, rule_id, version_hash)

    @staticmethod
    def _result_id(
        uow: UnitOfWork, execution_id: str, rule_version_id: int, partition_key: str
    ) -> int | None:
        return uow.session.scalar(
            sa.select(ValidationResult.result_id).where(
                ValidationResult.execution_id == execution_id,
                ValidationResult.rule_version_id == rule_version_id,
                ValidationResult.partition_key == partition_key,
            )
        )

    @staticmethod
    def version_view(rule: ValidationRule, version: ValidationRuleVersion) -> RuleVersionView:
        """The view of a stored rule and one of its versions (rows of one session)."""
        return RuleVersionView(
            rule_version_id=version.rule_version_id,
            rule_id=rule.rule_id,
            asset_key=rule.asset_key,
            severity=rule.severity,
            description=rule.description,
            version_hash=version.version_hash,
            definition=version.definition,
            created_at=utc_if_instant(version.created_at),
        )
