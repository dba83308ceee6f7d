"""SnapshotService: a snapshot is registered once, a range run's snapshots in one transaction."""

import sqlalchemy as sa

from opsrel_core.services.results import SnapshotRecord, SnapshotService


def _record(digest: str, day: str, run: str = "run-1") -> SnapshotRecord:
    return SnapshotRecord(snapshot_id=f"sha256:{digest}", asset_key="flights_snapshot",
                          partition_key=day, source_uri=f"file:///landing/flights_{day}.csv",
                          storage_uri=f"file:///snapshots/{day}/{digest}.csv.gz", row_count=842,
                          first_execution_id=run)


def test_a_range_of_snapshots_is_one_transaction_and_known_content_stays(engine):
    service = SnapshotService(engine)
    earlier = service.record_snapshot(_record("aa", "2013-01-01", "run-0"))
    begun = []

    def begin(_conn: sa.Connection) -> None:
        begun.append(1)

    sa.event.listen(engine, "begin", begin)
    try:
        stored = service.record_snapshots([
            _record("aa", "2013-01-01"), _record("bb", "2013-01-02"),
            _record("bb", "2013-01-03"), _record("cc", "2013-01-04")])
    finally:
        sa.event.remove(engine, "begin", begin)
    assert len(begun) == 1
    # The content seen before keeps its first run; the same content twice in one range is one
    # row, first come first kept.
    assert [(r.snapshot_id, r.partition_key, r.first_execution_id) for r in stored] == [
        ("sha256:aa", "2013-01-01", "run-0"), ("sha256:bb", "2013-01-02", "run-1"),
        ("sha256:bb", "2013-01-02", "run-1"), ("sha256:cc", "2013-01-04", "run-1")]
    assert stored[0] == earlier
    assert service.get_snapshot("sha256:cc").row_count == 842
    assert service.record_snapshots([]) == []
