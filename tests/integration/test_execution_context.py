"""ExecutionContextService on both backends, and its pure helpers.

The context round-trips by execution id; a second recording merges snapshot ids and rule versions
(sorted sets) and keeps the rest; concurrent recorders lose nothing; bad input and unknown
executions are refused with nothing written.
"""

import threading

import pytest
import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.errors import BatchExecutionException, LogicException
from opsrel_core.persistence.tables import ExecutionContext
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from opsrel_core.services.provenance import (
    ExecutionContextService,
    git_commit,
    library_versions,
)

JOB = "flights_daily"
SHA_A = "a" * 40
SHA_B = "b" * 40

CONTEXT = dict(
    snapshot_ids=["sha256:22", "sha256:11", "sha256:22"],
    rule_versions={"flight_key_unique": "sha256:k1", "dest_known": "sha256:d1"},
    parameters={"partition_key": "2013-02-01", "run_config": {"ops": {}}, "tags": {"a": "b"}},
    code_version={"package": "0.1.0", "assets": {"clean_flights": "v3"}, "git_commit": SHA_A},
    library_versions={"pandas": "2.2.3", "dagster": None},
)


@pytest.fixture
def contexts(engine) -> ExecutionContextService:
    return ExecutionContextService(engine)


def _execution(engine, execution_id: str) -> str:
    BatchExecutionService(engine).register_execution(
        ExecutionSpec(execution_id, JOB, partition_key="2013-02-01")
    )
    return execution_id


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(ExecutionContext))


def test_context_round_trips_by_execution_id(engine, contexts):
    run = _execution(engine, "run-1")
    recorded = contexts.record_context(run, **CONTEXT)
    read = contexts.get_context(run)
    assert read == recorded
    assert read.execution_id == "run-1"
    assert read.snapshot_ids == ("sha256:11", "sha256:22")
    assert read.rule_versions == {"dest_known": "sha256:d1", "flight_key_unique": "sha256:k1"}
    assert read.parameters == CONTEXT["parameters"]
    assert read.code_version == CONTEXT["code_version"]
    assert read.library_versions == {"pandas": "2.2.3", "dagster": None}
    assert read.created_at.tzinfo is not None
    assert contexts.find_context("other") is None


def test_second_recording_merges_snapshots_and_rules_and_keeps_the_rest(engine, contexts):
    run = _execution(engine, "run-1")
    first = contexts.record_context(run, **CONTEXT)
    merged = contexts.record_context(
        run,
        snapshot_ids=["sha256:33", "sha256:11"],
        rule_versions={"tailnum_known": "sha256:t1", "dest_known": "sha256:d1"},
        parameters={"partition_key": "2013-03-01"},
        code_version={"package": "9.9"},
        library_versions={},
    )
    assert merged.snapshot_ids == ("sha256:11", "sha256:22", "sha256:33")
    assert merged.rule_versions == {
        "dest_known": "sha256:d1", "flight_key_unique": "sha256:k1", "tailnum_known": "sha256:t1",
    }
    # what describes the run as launched is kept from the first recording
    assert (merged.parameters, merged.code_version, merged.library_versions) == (
        first.parameters, first.code_version, first.library_versions
    )
    assert merged.created_at == first.created_at
    assert contexts.get_context(run) == merged
    # the same recording again changes nothing
    assert contexts.record_context(run, **CONTEXT) == merged
    assert _count(engine) == 1


def test_a_rule_with_two_versions_in_one_execution_is_refused(engine, contexts):
    run = _execution(engine, "run-1")
    before = contexts.record_context(run, **CONTEXT)
    with pytest.raises(LogicException) as caught:
        contexts.record_context(
            run, snapshot_ids=["sha256:99"], rule_versions={"dest_known": "sha256:d2"},
            parameters={}, code_version={}, library_versions={},
        )
    assert caught.value.code == error_codes.LOG_INVARIANT_BROKEN
    assert contexts.get_context(run) == before  # nothing merged, not even the snapshot


def test_unknown_execution_is_bat_002(engine, contexts):
    with pytest.raises(BatchExecutionException) as caught:
        contexts.get_context("no-such-run")
    assert caught.value.code == error_codes.BAT_EXECUTION_NOT_FOUND == "BAT-002"
    with pytest.raises(BatchExecutionException) as caught:
        contexts.record_context("no-such-run", **CONTEXT)
    assert caught.value.code == "BAT-002"
    # a recorded execution without a context is "not found" for get_context as well
    _execution(engine, "run-1")
    with pytest.raises(BatchExecutionException):
        contexts.get_context("run-1")
    assert _count(engine) == 0


@pytest.mark.parametrize(
    "change",
    [
        {"parameters": {"bound": float("nan")}},
        {"parameters": {"when": object()}},
        {"parameters": {"ids": {1, 2}}},
        {"code_version": {1: "int key"}},
        {"library_versions": ["not", "a", "mapping"]},
        {"snapshot_ids": "sha256:11"},
        {"snapshot_ids": ["sha256:11", " "]},
        {"rule_versions": {"dest_known": ""}},
        {"rule_versions": {"": "sha256:x"}},
    ],
)
def test_values_that_are_not_plain_json_are_refused(engine, contexts, change):
    run = _execution(engine, "run-1")
    with pytest.raises(ValueError):
        contexts.record_context(run, **{**CONTEXT, **change})
    assert _count(engine) == 0


def test_tuples_are_stored_as_lists(engine, contexts):
    run = _execution(engine, "run-1")
    view = contexts.record_context(run, **{**CONTEXT, "parameters": {"range": ("a", "b")}})
    assert contexts.get_context(run).parameters == {"range": ["a", "b"]} == view.parameters


def test_concurrent_recorders_lose_no_snapshot_or_rule(engine, contexts):
    run = _execution(engine, "run-1")
    errors: list[BaseException] = []

    def record(i: int) -> None:
        try:
            contexts.record_context(
                run, snapshot_ids=[f"sha256:{i:02d}"], rule_versions={f"rule_{i}": f"v{i}"},
                parameters={"writer": i}, code_version={}, library_versions={},
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    context = contexts.get_context(run)
    assert context.snapshot_ids == tuple(f"sha256:{i:02d}" for i in range(8))
    assert context.rule_versions == {f"rule_{i}": f"v{i}" for i in range(8)}
    assert context.parameters["writer"] in range(8)
    assert _count(engine) == 1


# -- pure helpers -------------------------------------------------------------------------------


def test_library_versions_from_metadata():
    versions = library_versions()
    assert list(versions) == sorted(["dagster", "pandas", "pandera", "sqlalchemy", "numpy", "opsrel"])
    assert versions["sqlalchemy"] == sa.__version__
    assert versions["opsrel"] is not None
    assert library_versions(["no-such-distribution-xyz"]) == {"no-such-distribution-xyz": None}


def test_git_commit_follows_loose_and_packed_refs_and_detached_head(tmp_path):
    repo = tmp_path / "repo"
    (repo / ".git" / "refs" / "heads").mkdir(parents=True)
    (repo / "pkg" / "sub").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (repo / ".git" / "refs" / "heads" / "main").write_text(SHA_A + "\n")
    assert git_commit(repo) == SHA_A
    assert git_commit(repo / "pkg" / "sub") == SHA_A  # found from a folder inside

    (repo / ".git" / "refs" / "heads" / "main").unlink()
    (repo / ".git" / "packed-refs").write_text(
        f"# pack-refs with: peeled fully-peeled sorted\n{SHA_B} refs/heads/main\n"
    )
    assert git_commit(repo) == SHA_B

    (repo / ".git" / "HEAD").write_text("ref: refs/heads/unborn\n")
    assert git_commit(repo) is None  # a branch without commits

    (repo / ".git" / "HEAD").write_text(SHA_A + "\n")
    assert git_commit(repo) == SHA_A  # detached


def test_git_commit_of_a_worktree_reads_the_common_dir(tmp_path):
    main_git = tmp_path / "main" / ".git"
    (main_git / "refs" / "heads").mkdir(parents=True)
    (main_git / "refs" / "heads" / "feature").write_text(SHA_B + "\n")
    worktree_git = main_git / "worktrees" / "wt"
    worktree_git.mkdir(parents=True)
    (worktree_git / "HEAD").write_text("ref: refs/heads/feature\n")
    (worktree_git / "commondir").write_text("../..\n")
    checkout = tmp_path / "wt"
    checkout.mkdir()
    (checkout / ".git").write_text(f"gitdir: {worktree_git}\n")
    assert git_commit(checkout) == SHA_B


def test_git_commit_is_none_outside_a_checkout(tmp_path):
    assert git_commit(tmp_path) is None
