"""NoteService: notes on a job's partition, audited, newest first, on both backends."""

import pytest
import sqlalchemy as sa

from opsrel_core.errors import BatchExecutionException, NotFoundException
from opsrel_core.persistence.tables import AuditLog, PartitionNote
from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.services.notes import NoteService

JOB, DAY = "flights_daily", "2013-01-01"


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_notes_are_audited_and_listed_newest_first(engine):
    service = NoteService(engine)
    first = service.add_note(JOB, DAY, "input re-delivered at 09:10", operator_id="dana")
    second = service.add_note(JOB, DAY, "replay 4 fixed it", operator_id="kim")
    service.add_note(JOB, "2013-01-02", "other day", operator_id="kim")
    assert [(n.note_id, n.body, n.operator_id) for n in service.list_notes(JOB, DAY)] == [
        (second.note_id, "replay 4 fixed it", "kim"),
        (first.note_id, "input re-delivered at 09:10", "dana")]
    assert first.created_at.tzinfo is not None
    records = AuditLogService(engine).list_audit_logs(target_type="partition_note")
    assert [(r.operator_id, r.action_type, r.action, r.reason, r.target_id) for r in records][-1] == (
        "dana", "BATCH_ACTION", "ADD_NOTE", "input re-delivered at 09:10", str(first.note_id))
    assert records[-1].before_state is None and records[-1].after_state["body"] == first.body
    assert service.list_notes("nope", DAY) == []


@pytest.mark.parametrize("job, body, operator, error, code", [
    ("nope", "text", "dana", NotFoundException, "BAT-011"),
    (JOB, "  ", "dana", BatchExecutionException, "BAT-008"),
    (JOB, "text", None, BatchExecutionException, "BAT-008"),
    (JOB, "x" * 4001, "dana", ValueError, None),
])
def test_refused_notes_write_nothing(engine, job, body, operator, error, code):
    with pytest.raises(error) as info:
        NoteService(engine).add_note(job, DAY, body, operator_id=operator)
    if code:
        assert info.value.code == code
    assert _count(engine, PartitionNote) == 0 and _count(engine, AuditLog) == 0


def test_the_database_refuses_a_blank_or_too_long_body(engine):
    for body in (" ", "x" * 4001):
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.insert(PartitionNote).values(
                job_id=JOB, partition_key=DAY, body=body, operator_id="dana",
                created_at=sa.func.now()))
