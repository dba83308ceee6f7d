"""NoteService: operators' notes on a job's partition ("input re-delivered at 09:10, replaying").

A note is written with its audit record (BATCH_ACTION ``ADD_NOTE``, target ``partition_note``
and the note's id; a note changes no data and no configuration) in one transaction; the note's
body is the record's reason. Notes are never edited or deleted.
"""

import dataclasses
import datetime as dt

import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.errors import NotFoundException
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import MAX_NOTE_LENGTH, BatchJob, PartitionNote, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.audit_log import audit_change, require_attribution

ADD_NOTE_ACTION = "ADD_NOTE"
JOB_NOT_FOUND_CODE = error_codes.BAT_RECORD_NOT_FOUND


@dataclasses.dataclass(frozen=True)
class NoteView:
    """One note on a partition (``created_at`` UTC)."""

    note_id: int
    job_id: str
    partition_key: str
    body: str
    operator_id: str
    created_at: dt.datetime

    @classmethod
    def of(cls, row: PartitionNote) -> "NoteView":
        """Build the view from an ORM row."""
        return cls(**{f.name: getattr(row, f.name) for f in dataclasses.fields(cls)})


@retry_transient_methods
class NoteService:
    """Adds and lists notes on partitions.

    Args:
        engine: engine of the ops database.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def add_note(self, job_id: str, partition_key: str, body: str, *,
                 operator_id: str | None) -> NoteView:
        """Record a note and its audit record (BATCH_ACTION ``ADD_NOTE``, reason: the body,
        target ``partition_note`` and its id) in one transaction.

        Args:
            job_id: a job of the catalog, e.g. ``"flights_daily"``.
            partition_key: e.g. ``"2013-01-01"`` (1..100 characters).
            body: the note, 1..4000 characters with a visible one (credentials in it are masked,
                as in every audit reason).
            operator_id: who writes it; required.

        Returns:
            The note as stored.

        Raises:
            BatchExecutionException: BAT-008 when operator or body is missing or blank.
            NotFoundException: BAT-011 when no job has this id.
            ValueError: a body longer than 4000 characters, or a blank or too long partition
                key; nothing is written.
        """
        operator, text = require_attribution(operator_id, body)
        if len(text) > MAX_NOTE_LENGTH:
            raise ValueError(f"a note holds at most {MAX_NOTE_LENGTH} characters, got {len(text)}")
        if not isinstance(partition_key, str) or not partition_key.strip() or len(partition_key) > 100:
            raise ValueError(f"partition_key must be 1..100 characters, got {partition_key!r}")
        with UnitOfWork(self._engine) as uow:
            if uow.session.get(BatchJob, job_id) is None:
                raise NotFoundException(JOB_NOT_FOUND_CODE, f"no batch job {job_id!r}",
                                        {"job_id": job_id})
            row = PartitionNote(job_id=job_id, partition_key=partition_key, body=text,
                                operator_id=operator, created_at=utcnow())
            with audit_change(uow.session, operator_id=operator, reason=text,
                              action_type="BATCH_ACTION", action=ADD_NOTE_ACTION, target=row):
                uow.session.add(row)
            view = NoteView.of(row)
            uow.commit()
            return view

    def list_notes(self, job_id: str, partition_key: str) -> list[NoteView]:
        """The notes on a job's partition, newest first (none for an unknown job)."""
        with UnitOfWork(self._engine) as uow:
            rows = uow.session.scalars(
                sa.select(PartitionNote)
                .where(PartitionNote.job_id == job_id, PartitionNote.partition_key == partition_key)
                .order_by(PartitionNote.created_at.desc(), PartitionNote.note_id.desc()))
            return [NoteView.of(r) for r in rows]
