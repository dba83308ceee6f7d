"""ValidationService: rules, rule versions and validation results in the ops schema.

A rule's version is named by its definition and severity (``opsrel_core.domain.rule_versions``):
registering an unchanged rule again is a no-op, a changed one is a new version. A result is the
outcome of one rule version on one asset partition in one execution; recording the same result
again (same execution, rule version and partition) returns the stored row. Framework-free: no
Dagster, no pandera. The SQL is ``opsrel_core.persistence.repositories.validation``.
"""

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from opsrel_core.domain import rule_versions as rules
from opsrel_core.persistence.repositories.validation import ValidationRepository
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.quality.staging import Repository, result_values, stage_rule
from opsrel_core.services.quality.validation_views import RuleVersionView, ValidationResultView


@retry_transient_methods
class ValidationService:
    """Registers rules and their versions, records and reads validation results.

    Args:
        engine: engine of the ops database.
        repository: the validation SQL over a session (``ValidationRepository``); injectable so
            the unit tier can run the service without a database server.
    """

    def __init__(self, engine: sa.Engine, repository: Repository = ValidationRepository):
        self._engine = engine
        self._repository = repository

    # -- writes ------------------------------------------------------------------------------

    def register_rule(self, rule_id: str, asset_key: str, severity: str, description: str,
                      definition: dict[str, Any], alert_policy: str = "baseline",
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
        version_hash = rules.rule_version_hash(definition, severity)
        for _attempt in range(2):
            with UnitOfWork(self._engine) as uow:
                rule, version = stage_rule(self._repository(uow.session), rule_id, asset_key,
                                           severity, description, definition, alert_policy)
                try:
                    uow.commit()
                except sa.exc.IntegrityError:
                    continue  # a concurrent run registered the same rule or version: read theirs
                return RuleVersionView.of(rule, version)
        with UnitOfWork(self._engine) as uow:
            repo = self._repository(uow.session)
            rule, version = repo.rule(rule_id), repo.stored_version(rule_id, version_hash)
            assert rule is not None and version is not None
            return RuleVersionView.of(rule, version)

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
        rules.check_status(status)
        with UnitOfWork(self._engine) as uow:
            repo = self._repository(uow.session)
            result_id = repo.result_id(execution_id, rule_version_id, partition_key)
            if result_id is None:
                repo.add_results([result_values(
                    execution_id=execution_id, rule_version_id=rule_version_id,
                    asset_key=asset_key, partition_key=partition_key, status=status,
                    total_rows=total_rows, failing_rows=failing_rows,
                    measured_value=measured_value, bound=bound, sample_failures=sample_failures,
                )])
                try:
                    uow.commit()
                except sa.exc.IntegrityError:
                    uow.session.rollback()
                    # Recorded concurrently: the first one stands. Anything else (an unknown
                    # execution or rule version) is raised as it is.
                    result_id = repo.result_id(execution_id, rule_version_id, partition_key)
                    if result_id is None:
                        raise
                result_id = result_id or repo.result_id(execution_id, rule_version_id,
                                                        partition_key)
            return ValidationResultView.of(repo.result(result_id))

    # -- reads -------------------------------------------------------------------------------

    def get_rule_versions(self, rule_id: str) -> list[RuleVersionView]:
        """Every version of a rule, oldest first (empty when the rule is unknown)."""
        with UnitOfWork(self._engine) as uow:
            repo = self._repository(uow.session)
            rule = repo.rule(rule_id)
            if rule is None:
                return []
            return [RuleVersionView.of(rule, v) for v in repo.versions(rule_id)]

    def results_for_execution(self, execution_id: str) -> list[ValidationResultView]:
        """Every result an execution recorded, by asset, partition and rule."""
        with UnitOfWork(self._engine) as uow:
            rows = self._repository(uow.session).results(execution_id=execution_id)
            return [ValidationResultView.of(r) for r in rows]

    def results_for_partition(self, partition_key: str,
                              asset_key: str | None = None) -> list[ValidationResultView]:
        """Every result recorded for a partition (optionally one asset), oldest first."""
        with UnitOfWork(self._engine) as uow:
            rows = self._repository(uow.session).results(partition_keys=[partition_key],
                                                         asset_key=asset_key)
            return [ValidationResultView.of(r) for r in rows]

    def warn_counts(self, rule_id: str, partition_keys: Iterable[str]) -> dict[str, int]:
        """Failing rows of a rule's latest WARN result per partition.

        Only the latest result of the rule in each partition counts (a replay's result replaces
        the earlier run's); a partition whose latest result passed counts 0, and a partition
        with no result of the rule is left out.

        Args:
            rule_id: the rule.
            partition_keys: the partitions to count, e.g. every day of February 2013.

        Returns:
            ``{partition_key: failing rows}`` in the order of ``partition_keys`` (a table-level
            WARN counts its failing rows, or 1 when it records none: ``rule_versions.warn_count``).
        """
        keys = list(dict.fromkeys(partition_keys))
        if not keys:
            return {}
        with UnitOfWork(self._engine) as uow:
            rows = self._repository(uow.session).latest_results(rule_id, keys=keys)
            counts = {result.partition_key: rules.warn_count(result.status, result.failing_rows)
                      for result, *_rest in rows}
        return {k: counts[k] for k in keys if k in counts}

    def recent_statuses(self, rule_id: str, up_to_partition: str,
                        window: int) -> list[tuple[str, str]]:
        """The rule's latest status in each of the ``window`` most recent partitions up to one.

        Args:
            rule_id: the rule.
            up_to_partition: the newest partition considered (inclusive).
            window: how many partitions, newest first (only partitions with a result count).

        Returns:
            ``[(partition_key, status)]``, newest partition first.
        """
        with UnitOfWork(self._engine) as uow:
            rows = self._repository(uow.session).latest_results(
                rule_id, up_to=up_to_partition, limit=window)
            return [(result.partition_key, result.status) for result, *_rest in rows]

    def alert_policy_of(self, rule_id: str) -> str:
        """The rule's declared alert policy (``baseline`` for a rule not registered)."""
        with UnitOfWork(self._engine) as uow:
            rule = self._repository(uow.session).rule(rule_id)
            return rule.alert_policy if rule is not None else rules.DEFAULT_ALERT_POLICY

    def previous_results(self, rule_id: str, before_partition: str,
                         window: int) -> list[ValidationResultView]:
        """The rule's latest result in each of the ``window`` partitions before one.

        Args:
            rule_id: the rule.
            before_partition: partitions strictly before this key count (partition order).
            window: how many partitions at most (only partitions with a result count).

        Returns:
            One result per partition (its newest), newest partition first.
        """
        with UnitOfWork(self._engine) as uow:
            rows = self._repository(uow.session).latest_results(
                rule_id, before=before_partition, limit=window)
            return [ValidationResultView.of(r) for r in rows]

    def warning_history(
        self, results: Sequence[ValidationResultView], window: int
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
            repo = self._repository(uow.session)
            rule_ids = sorted({r.rule_id for r in results})
            declared = repo.alert_policies(rule_ids)
            policies = {rule_id: declared.get(rule_id) or rules.DEFAULT_ALERT_POLICY
                        for rule_id in rule_ids}
            histories = {
                r.result_id: [ValidationResultView.of(row) for row in repo.latest_results(
                    r.rule_id, before=r.partition_key, limit=window)]
                for r in results}
            return policies, histories

    @staticmethod
    def version_view(rule: Any, version: Any) -> RuleVersionView:
        """The view of a stored rule and one of its versions (rows of one session)."""
        return RuleVersionView.of(rule, version)
