"""Request bodies of the admin API (response models: ``responses.py``)."""

import dataclasses
import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from opsrel_core.domain.instants import to_utc
from opsrel_core.services.audit_log import json_safe

# Free text (reasons, operator and job ids) holds no control character but tab and newlines:
# a NUL byte would be cut by SQLite and refused by PostgreSQL (a 500), so it is a 422 here.
_TEXT = r"[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"
NOT_BLANK_TEXT = rf"^{_TEXT}*[^\s\x00-\x08\x0B\x0C\x0E-\x1F\x7F]{_TEXT}*$"
Reason = Field(min_length=1, max_length=2000, pattern=NOT_BLANK_TEXT,
               description="Why; recorded in the audit log. Must not be blank.")

# A partition key names files and runs downstream: letters, digits and ``_ - : | + = ,`` only, so
# a key such as ``../../etc/passwd`` or one with control characters is a 422, never stored.
PARTITION_KEY_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_:|+=,-]*$"
PartitionKey = Annotated[str, Field(min_length=1, max_length=100, pattern=PARTITION_KEY_PATTERN)]


# A ``since``/``until`` instant, converted to UTC as it is read: one that falls outside years
# 1..9999 in UTC (``9999-12-31T23:59:59-14:00``) is a 422 problem, never a 500.
UtcInstant = Annotated[dt.datetime, AfterValidator(to_utc)]


class StartRequest(BaseModel):
    """Manual start of a job: one partition, or an inclusive range of partitions (from one key
    to another in the job's own key order: hourly, daily, monthly or static)."""

    partition: PartitionKey | None = None
    partition_start: PartitionKey | None = None
    partition_end: PartitionKey | None = None
    reason: str = Reason

    @model_validator(mode="after")
    def _one_target(self) -> "StartRequest":
        single = self.partition is not None
        ranged = self.partition_start is not None and self.partition_end is not None
        if single == ranged or (not ranged and (self.partition_start or self.partition_end)):
            raise ValueError("give either partition, or partition_start and partition_end")
        return self


class StopRequestBody(BaseModel):
    """Stop of an execution or of a replay."""

    reason: str = Reason


class ReplayRequest(BaseModel):
    """A replay: single (one partition), range or full. A body that lists ``partitions`` runs
    exactly those (within ``partition_start..partition_end`` when given); a range without them
    runs every partition from start to end; a full replay without them runs every partition of
    the job."""

    type: Literal["single", "range", "full"]
    job_id: str = Field(min_length=1, max_length=100, pattern=NOT_BLANK_TEXT)
    partitions: list[PartitionKey] | None = Field(None, min_length=1, max_length=10000)
    partition_start: PartitionKey | None = None
    partition_end: PartitionKey | None = None
    reason: str = Reason


class AcknowledgeRequest(BaseModel):
    """Acknowledgement of an alert; the reason is required, as for every mutating call."""

    reason: str = Reason


class TokenCreateRequest(BaseModel):
    """A new API token. It never expires unless ``expires_in`` or ``expires_at`` says when (at
    most one of them)."""

    operator_id: str = Field(min_length=1, max_length=100, pattern=NOT_BLANK_TEXT)
    role: Literal["viewer", "operator", "admin"]
    reason: str = Reason
    expires_in: str | None = Field(
        None, max_length=20, pattern=r"^\s*\d{1,6}\s*[smhdw]\s*$",
        description="Lifetime from now: <n><unit>, unit s, m, h, d or w (30d, 12h).")
    expires_at: dt.datetime | None = Field(
        None, description="When the token stops authenticating (ISO 8601; naive is UTC).")


def to_json(value: Any) -> Any:
    """A core view (dataclass, list, tuple) as JSON: times UTC ISO 8601, enums by value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    elif isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return json_safe(value)
