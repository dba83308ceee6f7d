"""Recording an asset check step: its rule's version and its results, together.

A check step evaluates one rule on one partition (or on each partition of a range run). Its
rule version is registered (``staging.stage_rule``: idempotent, a changed definition is a new
version) and its results recorded (one per execution, rule version and partition; a repeated
step keeps the first) in one transaction, so a check costs the ops database one round trip.

When a concurrent step registers the same rule or records the same result first, the commit
fails on the unique keys and the step records again through ``ValidationService``, which reads
what the other wrote.
"""

import dataclasses
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from opsrel_core.persistence.repositories.validation import ValidationRepository
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.quality.staging import Repository, result_values, stage_rule
from opsrel_core.services.quality.validation import ValidationService
from opsrel_core.services.quality.validation_views import RuleVersionView


@dataclasses.dataclass(frozen=True)
class RuleSpec:
    """A rule as its check declares it (``ValidationService.register_rule``'s arguments)."""

    rule_id: str
    asset_key: str
    severity: str
    description: str
    definition: dict[str, Any]
    alert_policy: str = "baseline"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One partition's result of the rule (``ValidationService.record_result``'s arguments).

    Attributes:
        partition_key: as the job spells it, ``"__all__"`` when unpartitioned.
        status: PASS, WARN, FAIL or ERROR.
        total_rows, failing_rows: rows validated and rows that broke the rule.
        measured_value, bound: for table-level rules (e.g. ``0.56``, ``"<= 0.5"``).
        sample_failures: a few failure cases, plain JSON.
    """

    partition_key: str
    status: str
    total_rows: int | None = None
    failing_rows: int | None = None
    measured_value: float | None = None
    bound: str | None = None
    sample_failures: list[Any] | None = None


@retry_transient_methods
class CheckRecorder:
    """Records a check step's rule version and results in one transaction.

    Args:
        engine: engine of the ops database.
        repository: the validation SQL over a session (``ValidationRepository``); injectable so
            the unit tier can record without a database server.
    """

    def __init__(self, engine: sa.Engine, repository: Repository = ValidationRepository):
        self._engine = engine
        self._repository = repository

    def record(self, *, execution_id: str, rule: RuleSpec,
               outcomes: Sequence[Outcome]) -> tuple[RuleVersionView, bool]:
        """Register ``rule``'s version and record ``outcomes`` as results of ``execution_id``.

        Returns:
            (the rule version, True when the results were recorded; False when the execution is
            not recorded yet: the rule version is registered and no result is written, so the
            caller can record the run and ask again).

        Raises:
            ValueError: unknown severity, alert policy or status, or a definition that is not
                plain JSON; nothing is written.
        """
        try:
            with UnitOfWork(self._engine) as uow:
                session = uow.session
                repo = self._repository(session)
                rule_row, version = stage_rule(
                    repo, rule.rule_id, rule.asset_key, rule.severity, rule.description,
                    rule.definition, rule.alert_policy)
                # Flushed here (the version's id, which the results refer to): a concurrent
                # step's rule surfaces now or at the commit, both caught below.
                repo.flush()
                known = repo.has_execution(execution_id)
                if known:
                    stored = repo.recorded_partitions(execution_id, version.rule_version_id)
                    repo.add_results(
                        self._values(execution_id, version.rule_version_id, rule.asset_key, o)
                        for o in outcomes if o.partition_key not in stored)
                uow.commit()
                return RuleVersionView.of(rule_row, version), known
        except sa.exc.IntegrityError:
            pass  # the transaction is rolled back: record again, reading what the other wrote
        return self._one_by_one(execution_id, rule, outcomes)

    @staticmethod
    def _values(execution_id: str, rule_version_id: int, asset_key: str,
                outcome: Outcome) -> dict[str, Any]:
        return result_values(
            execution_id=execution_id, rule_version_id=rule_version_id, asset_key=asset_key,
            partition_key=outcome.partition_key, status=outcome.status,
            total_rows=outcome.total_rows, failing_rows=outcome.failing_rows,
            measured_value=outcome.measured_value, bound=outcome.bound,
            sample_failures=outcome.sample_failures)

    def _one_by_one(self, execution_id: str, rule: RuleSpec,
                    outcomes: Sequence[Outcome]) -> tuple[RuleVersionView, bool]:
        # Another step wrote part of this first: the services' own idempotent paths read theirs.
        service = ValidationService(self._engine, self._repository)
        version = service.register_rule(rule.rule_id, rule.asset_key, rule.severity,
                                         rule.description, rule.definition, rule.alert_policy)
        with UnitOfWork(self._engine) as uow:
            if not self._repository(uow.session).has_execution(execution_id):
                return version, False
        for outcome in outcomes:
            service.record_result(
                execution_id=execution_id, rule_version_id=version.rule_version_id,
                asset_key=rule.asset_key, **{f.name: getattr(outcome, f.name)
                                             for f in dataclasses.fields(outcome)})
        return version, True
