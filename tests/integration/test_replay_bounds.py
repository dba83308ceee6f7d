"""Concurrent replays are bounded in the core (``ReplayService.request``), so the admin API, the
CLI and the sensors all meet the same rule, on SQLite and PostgreSQL:

- one writer per partition: of 200 concurrent requests for one partition exactly one is
  recorded; the others are refused with BAT-012 and write nothing;
- an operator's limit of pending replays (``OPSREL_REPLAY_MAX_PENDING_PER_OPERATOR``): one more
  is refused with BAT-014, also under concurrent requests for different partitions.
"""

import concurrent.futures
import threading

import pytest
import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.errors import ConflictException
from opsrel_core.persistence.engine import make_engine
from opsrel_core.persistence.tables import AuditLog, Replay
from opsrel_core.services.replays import ReplayService, ReplayStatus
from opsrel_core.config import OpsSettings

JOB = "flights_daily"
DAYS = [f"2013-02-{d:02d}" for d in range(1, 29)]


def _counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.scalar(sa.select(sa.func.count()).select_from(Replay)),
                conn.scalar(sa.select(sa.func.count()).select_from(AuditLog)))


def _race(database_url: str, asks: list[dict], limit: int = 20) -> tuple[list, list[str]]:
    """Run every ask at once (one thread each, one pooled engine); (replays, refusal codes)."""
    engine = make_engine(database_url, **(
        {"pool_size": 20, "max_overflow": 0, "pool_timeout": 120}
        if database_url.startswith("postgresql") else {}))
    service = ReplayService(engine, max_pending_per_operator=limit)
    barrier = threading.Barrier(len(asks))
    accepted, refused, unexpected = [], [], []
    lock = threading.Lock()

    def one(ask: dict) -> None:
        barrier.wait()
        try:
            view = service.replay_single(job_id=JOB, **ask)
        except ConflictException as exc:
            with lock:
                refused.append(exc.code)
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                unexpected.append(exc)
        else:
            with lock:
                accepted.append(view)

    try:
        with concurrent.futures.ThreadPoolExecutor(len(asks)) as pool:
            list(pool.map(one, asks))
    finally:
        engine.dispose()
    assert not unexpected, unexpected[:3]
    return accepted, refused


def test_200_concurrent_requests_for_one_partition_record_exactly_one(engine, database_url):
    asks = [{"partition_key": DAYS[0], "operator_id": f"op{i % 7}", "reason": "race"}
            for i in range(200)]
    accepted, refused = _race(database_url, asks)
    assert len(accepted) == 1
    assert refused == [error_codes.BAT_PARTITION_BUSY] * 199
    assert _counts(engine) == (1, 1)


def test_the_operator_limit_of_pending_replays(engine):
    replays = ReplayService(engine, max_pending_per_operator=3)
    first = [replays.replay_single(job_id=JOB, partition_key=day, operator_id="kim",
                                   reason="fix", request_key=f"k-{day}") for day in DAYS[:3]]
    with pytest.raises(ConflictException) as refused:
        replays.replay_single(job_id=JOB, partition_key=DAYS[3], operator_id="kim", reason="fix")
    assert refused.value.code == error_codes.BAT_REPLAY_LIMIT == "BAT-014"
    assert "already has 3 replays pending or running (the limit is 3" in (
        refused.value.operator_message)
    assert refused.value.details == {"operator_id": "kim", "pending": 3, "limit": 3}
    assert _counts(engine) == (3, 3)  # nothing written
    # a retried request (same key) still returns its replay; another operator is not held back
    again = replays.replay_single(job_id=JOB, partition_key=DAYS[0], operator_id="kim",
                                  reason="fix", request_key=f"k-{DAYS[0]}")
    assert again.replay_id == first[0].replay_id
    replays.replay_single(job_id=JOB, partition_key=DAYS[4], operator_id="lee", reason="fix")
    # a stopping replay is still pending; once it ended STOPPED, kim may ask again
    replays.request_stop(first[0].replay_id, operator_id="kim", reason="wrong day")
    with pytest.raises(ConflictException):
        replays.replay_single(job_id=JOB, partition_key=DAYS[3], operator_id="kim", reason="fix")
    ended = replays.refresh_status(first[0].replay_id, [DAYS[0]])
    assert ended.status is ReplayStatus.STOPPED
    replays.replay_single(job_id=JOB, partition_key=DAYS[3], operator_id="kim", reason="fix")
    assert _counts(engine)[0] == 5


def test_the_operator_limit_holds_under_concurrent_requests(engine, database_url):
    asks = [{"partition_key": day, "operator_id": "kim", "reason": "many"} for day in DAYS[:24]]
    accepted, refused = _race(database_url, asks, limit=5)
    assert len(accepted) == 5
    assert refused == [error_codes.BAT_REPLAY_LIMIT] * 19
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Replay.operator_id, Replay.status)).all()
    assert rows == [("kim", "REQUESTED")] * 5


def test_the_limit_is_a_setting():
    assert OpsSettings.from_env({}).max_pending_replays_per_operator == 20
    settings = OpsSettings.from_env({"OPSREL_REPLAY_MAX_PENDING_PER_OPERATOR": "4"})
    assert settings.max_pending_replays_per_operator == 4
    for bad in ("0", "-1", "many"):
        with pytest.raises(ValueError, match="OPSREL_REPLAY_MAX_PENDING_PER_OPERATOR"):
            OpsSettings.from_env({"OPSREL_REPLAY_MAX_PENDING_PER_OPERATOR": bad})
