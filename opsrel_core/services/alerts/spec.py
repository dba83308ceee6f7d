"""What one occurrence of an alert says, before it is stored: ``AlertSpec``."""

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from opsrel_core.domain import alert_incidents as incidents
from opsrel_core.domain import alert_lifecycle as lifecycle
from opsrel_core.persistence.tables import SEVERITIES
from opsrel_core.services.batch_execution import ExecutionView

MAX_TITLE_CHARS = 300
MAX_KEY_CHARS = 300


def one_line(title: str) -> str:
    """The title as stored: whitespace runs as one space, at most ``MAX_TITLE_CHARS``."""
    return " ".join(title.split())[:MAX_TITLE_CHARS]


@dataclasses.dataclass(frozen=True)
class AlertSpec:
    """One occurrence of an alert as raised (see ``OpsAlertService.send_alert`` for the fields).

    Attributes:
        describe: ``(title, message)`` for an occurrence count: a repeat rewrites the text.
        incident: a failure incident's ``(title, message)`` for (alert id, first partitions,
            partition count): its partitions are listed and counted.
        window_seconds: the storm window of this key (seconds); the settings' when None.
    """

    event_kind: str
    severity: str
    title: str
    message: str
    error_code: str | None
    job_id: str | None
    execution_id: str | None
    asset_key: str | None
    partition_key: str | None
    dedupe_key: str | None
    describe: Callable[[int], tuple[str, str]] | None = None
    rule_id: str | None = None
    incident: Callable[[int, list[str], int], tuple[str, str]] | None = None
    window_seconds: float | None = None

    def validate(self) -> None:
        """Raises ValueError for a blank or too long event kind or an unknown severity."""
        if not self.event_kind or not self.event_kind.strip() or len(self.event_kind) > 50:
            raise ValueError(f"event_kind must be 1..50 characters, got {self.event_kind!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}; one of {SEVERITIES}")

    def key(self) -> str:
        """The dedupe key: given, or ``"<event_kind>:<error_code>:<job_id>:<partition_key>"``."""
        key = self.dedupe_key or (
            f"{self.event_kind}:{self.error_code}:{self.job_id}:{self.partition_key}"
        )
        return key[:MAX_KEY_CHARS]

    def values(self, key: str, at: dt.datetime) -> dict[str, Any]:
        """The column values of a new OPEN alert (one occurrence at ``at``)."""
        return dict(
            event_kind=self.event_kind, severity=self.severity, status=lifecycle.OPEN,
            dedupe_key=key, error_code=self.error_code, job_id=self.job_id,
            execution_id=self.execution_id, asset_key=self.asset_key,
            partition_key=self.partition_key, title=one_line(self.title), message=self.message,
            occurrence_count=1, first_seen_at=at, last_seen_at=at, rule_id=self.rule_id,
        )


def failed_execution_spec(execution: ExecutionView, code: Any, *,
                          window_seconds: float) -> AlertSpec:
    """The occurrence a FAILED execution raises: an EXECUTION_FAILED incident of its job and
    error code (``domain.alert_incidents``), about its failed partition (or its partition, or
    ``"<start>..<end>"`` of its range), with the catalog's operator message and the execution's
    error message.

    Args:
        execution: the failed execution as recorded.
        code: its error code's catalog row (``severity``, ``title``, ``operator_message``).
        window_seconds: the incident window (seconds).
    """
    severity, catalog_title, operator_message = code.severity, code.title, code.operator_message
    partition = execution.failed_partition_key or execution.partition_key
    if partition is None and execution.partition_range_start:
        partition = f"{execution.partition_range_start}..{execution.partition_range_end}"
    message = operator_message
    if execution.error_message:
        message = f"{operator_message}\n\nError: {execution.error_message}"
    job_id = execution.job_id

    def describe_incident(alert_id: int, partitions: list[str], count: int) -> tuple[str, str]:
        return incidents.describe(alert_id=alert_id, catalog_title=catalog_title,
                                  job_id=job_id, base_message=message,
                                  partitions=partitions, count=count)

    return AlertSpec(
        incidents.EXECUTION_FAILED, severity, f"{catalog_title} in {execution.job_id}"
        + (f" [{partition}]" if partition else ""), message, execution.error_code,
        execution.job_id, execution.execution_id, execution.failed_asset_key, partition,
        incidents.incident_key(execution.error_code, execution.job_id),
        incident=describe_incident, window_seconds=window_seconds,
    )
