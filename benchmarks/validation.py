"""B5: opsrel's validation path on the year's flights vs pandera's own lazy validation.

opsrel's path per rule is what each flights asset check does (``opsrel_dagster.checks``):
``evaluate_rule`` (pandera ``validate(lazy=True)``, failing rows, samples, the table measure),
registering the rule version and recording the ``validation_result`` row
(``ValidationService``), and building the check's metadata (``check_result``). The baseline runs
``rule.pandera_schema.validate(frame, lazy=True)`` for the same rules and nothing else.
"""

import uuid

import pandera.pandas as pa

from benchmarks.common import Figure, alternate, ratio, scratch_env, summary
from benchmarks.data import clean_year
from opsrel_core.domain.status import TriggerType
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.quality import ValidationService
from opsrel_dagster.checks.evaluation import evaluate_rule
from opsrel_dagster.checks.results import check_result
from opsrel_dagster.defs.flights import FLIGHT_RULES, FLIGHTS_JOB_ID


def b5(repeats: int, days: int | None = None) -> Figure:
    """B5 on the first ``days`` days (None: the whole year); target ratio <= 1.15."""
    frame = clean_year(days)
    with scratch_env("sqlite") as env:
        engine = make_engine(env.database_url)
        executions = BatchExecutionService(engine)
        service = ValidationService(engine)

        def opsrel_path(_i: int) -> None:
            execution_id = str(uuid.uuid4())
            executions.register_execution(ExecutionSpec(
                execution_id=execution_id, job_id=FLIGHTS_JOB_ID, trigger_type=TriggerType.CLI,
                partition_key="2013-01-01"))
            for rule in FLIGHT_RULES:
                outcome = evaluate_rule(rule, frame)
                version = service.register_rule(rule.rule_id, "clean_flights", rule.severity,
                                                rule.description, rule.definition)
                service.record_result(
                    execution_id=execution_id, rule_version_id=version.rule_version_id,
                    asset_key="clean_flights", partition_key="2013-01-01", status=outcome.status,
                    total_rows=outcome.total_rows, failing_rows=outcome.failing_rows,
                    measured_value=outcome.measured_value, bound=outcome.bound,
                    sample_failures=outcome.samples)
                check_result(rule, version, outcome)

        def pandera_only(_i: int) -> None:
            for rule in FLIGHT_RULES:
                try:
                    rule.pandera_schema.validate(frame, lazy=True)
                except pa.errors.SchemaErrors:
                    pass

        opsrel_path(-1)  # warm-up: schemas built, reference tables read, rule versions stored
        pandera_only(-1)
        times = alternate({"opsrel": opsrel_path, "pandera": pandera_only}, repeats)
        engine.dispose()
    return Figure(
        "B5", "validation path (rules, result rows, check metadata) vs pandera lazy validation",
        ratio(times["opsrel"], times["pandera"]), "ratio", "<=", 1.15,
        summary(times["opsrel"]), summary(times["pandera"]),
        sizes={"rows": len(frame), "rules": len(FLIGHT_RULES), "repeats": repeats,
               "days": days or 365},
        details={"ops_db": "sqlite"},
    )
