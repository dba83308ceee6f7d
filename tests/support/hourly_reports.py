"""An hourly job's validation results in the ops schema, recorded through the real services,
for the partition-report tests (core and API).

``weather_hourly`` is an hourly job in America/New_York; its keys are spelled as Dagster spells
them (``%Y-%m-%d-%H:%M``; the repeated fall-back hour carries its offset: ``-0500``). On
2013-11-03 every hour has two rules checked: PASS everywhere, but a WARN of the humidity rule
in the first 01:00 (EDT) and a FAIL of the temperature rule in the repeated 01:00 (EST).
"""

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain.status import TriggerType
from opsrel_core.persistence.tables import BatchJob
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.quality import ValidationService

HOURLY_JOB = "weather_hourly"
OBSERVATIONS = "weather_observations"
FALL_BACK_DAY = "2013-11-03"
FIRST_ONE = "2013-11-03-01:00"  # 01:00 EDT (05:00 UTC)
REPEATED_ONE = "2013-11-03-01:00-0500"  # 01:00 EST (06:00 UTC), the repeated hour
# The 25 local hours of the fall-back day, in key (string) order, which is time order.
FALL_BACK_KEYS = ["2013-11-03-00:00", FIRST_ONE, REPEATED_ONE,
                  *(f"2013-11-03-{h:02d}:00" for h in range(2, 24))]
NEIGHBOURS = ["2013-11-02-23:00", "2013-11-04-00:00"]  # the hours either side of the day
RULES = [("temperature_plausible", "FAIL"), ("humidity_plausible", "WARN")]


def register_hourly_job(engine: sa.Engine) -> None:
    """The hourly job in the catalog (the catalog row its executions need)."""
    with Session(engine) as session, session.begin():
        session.add(BatchJob(job_id=HOURLY_JOB, name="Weather, hourly", description="weather",
                             asset_selection=[OBSERVATIONS], partitions="hourly"))


class HourlyWorld:
    """Executions and results of the hourly job through the real services."""

    def __init__(self, engine: sa.Engine):
        register_hourly_job(engine)
        self.executions = BatchExecutionService(engine)
        self.validation = ValidationService(engine)
        self.rules = {rule_id: self.validation.register_rule(rule_id, OBSERVATIONS, severity,
                                                             rule_id, {"r": rule_id})
                      for rule_id, severity in RULES}

    def hour(self, execution_id: str, key: str, statuses: dict[str, tuple[str, int]]) -> str:
        """One execution of one hour recording a result per rule (``{rule: (status, rows)}``)."""
        self.executions.register_execution(ExecutionSpec(
            execution_id, HOURLY_JOB, partition_key=key, trigger_type=TriggerType.MANUAL,
            operator_id="op"))
        for rule_id, (status, failing) in statuses.items():
            rule = self.rules[rule_id]
            self.validation.record_result(
                execution_id=execution_id, rule_version_id=rule.rule_version_id,
                asset_key=OBSERVATIONS, partition_key=key, status=status, total_rows=3,
                failing_rows=failing)
        return execution_id

    def fall_back_day(self) -> None:
        """Every hour of 2013-11-03 and its two neighbours, as the module docstring says."""
        for n, key in enumerate([*FALL_BACK_KEYS, *NEIGHBOURS]):
            statuses = {"temperature_plausible": ("PASS", 0), "humidity_plausible": ("PASS", 0)}
            if key == FIRST_ONE:
                statuses["humidity_plausible"] = ("WARN", 1)
            if key == REPEATED_ONE:
                statuses["temperature_plausible"] = ("FAIL", 2)
            self.hour(f"w-{n:02d}", key, statuses)
