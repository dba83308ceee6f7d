"""The execution context over the in-memory table: the first recording keeps the run as
launched, later ones merge snapshots and rules, a rule named with two versions is refused, and a
value that is not plain JSON writes nothing. No database server: the unit of work runs on an
empty in-memory SQLite the fake never queries."""

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from opsrel_core.errors import BatchExecutionException, LogicException
from opsrel_core.persistence.repositories.execution_context import ExecutionContextRepository
from opsrel_core.services.provenance import ExecutionContextService, git_commit
from tests.support.fakes.provenance import ContextStore, FakeExecutionContextRepository

T0 = dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.timezone.utc)
SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    eng = sa.create_engine("sqlite://")
    yield eng
    eng.dispose()


@pytest.fixture
def store() -> ContextStore:
    return ContextStore(executions=("run-1",), now=T0)


@pytest.fixture
def contexts(engine, store) -> ExecutionContextService:
    return ExecutionContextService(engine, repository=store.repository)


def _record(contexts, **kw):
    values = {"snapshot_ids": ["sha256:b"], "rule_versions": {"r1": "h1"},
              "parameters": {"partition": "2013-02-08"}, "code_version": {"package": "1.0"},
              "library_versions": {"pandas": "2.2.0", "dagster": None}}
    return contexts.record_context("run-1", **{**values, **kw})


def test_the_fake_has_every_method_of_the_repository():
    def public(cls: type) -> set[str]:
        return {n for n in vars(cls) if not n.startswith("_")}
    assert public(FakeExecutionContextRepository) == public(ExecutionContextRepository)


def test_the_first_recording_is_stored_as_given(contexts, store):
    view = _record(contexts, snapshot_ids=["sha256:b", "sha256:a", "sha256:b"])
    assert view.snapshot_ids == ("sha256:a", "sha256:b")
    assert view.rule_versions == {"r1": "h1"}
    assert view.parameters == {"partition": "2013-02-08"}
    assert view.library_versions == {"pandas": "2.2.0", "dagster": None}
    assert view.created_at == T0
    assert store.locks == ["execution_context:run-1"]
    assert contexts.get_context("run-1") == view


def test_a_later_recording_merges_snapshots_and_rules_and_keeps_the_launch(contexts, store):
    _record(contexts)
    view = _record(contexts, snapshot_ids=["sha256:a"], rule_versions={"r0": "h0"},
                   parameters={"partition": "other"}, code_version={"package": "2.0"})
    assert view.snapshot_ids == ("sha256:a", "sha256:b")
    assert list(view.rule_versions.items()) == [("r0", "h0"), ("r1", "h1")]
    assert view.parameters == {"partition": "2013-02-08"}
    assert view.code_version == {"package": "1.0"}
    assert store.updates == 1
    _record(contexts)  # the same again: nothing to write
    assert store.updates == 1


def test_a_rule_named_with_another_version_is_refused(contexts, store):
    _record(contexts)
    with pytest.raises(LogicException) as clash:
        _record(contexts, rule_versions={"r1": "h2"}, snapshot_ids=["sha256:z"])
    assert clash.value.code == "LOG-001"
    assert clash.value.details == {"execution_id": "run-1", "rules": ["r1"]}
    assert store.contexts["run-1"]["snapshot_ids"] == ["sha256:b"]


@pytest.mark.parametrize("bad", [
    {"snapshot_ids": "sha256:a"}, {"snapshot_ids": [" "]}, {"rule_versions": {"r1": ""}},
    {"parameters": {"x": float("nan")}}, {"parameters": {1: "a"}},
    {"code_version": {"when": T0}}, {"library_versions": ["pandas"]},
])
def test_a_value_that_is_not_plain_json_writes_nothing(contexts, store, bad):
    with pytest.raises(ValueError):
        _record(contexts, **bad)
    assert store.contexts == {} and store.locks == []


def test_an_unknown_execution_has_no_context(contexts):
    with pytest.raises(BatchExecutionException) as missing:
        contexts.record_context("run-9", snapshot_ids=[], rule_versions={}, parameters={},
                                code_version={}, library_versions={})
    assert (missing.value.code, missing.value.details) == ("BAT-002", {"execution_id": "run-9"})
    assert contexts.find_context("run-9") is None
    with pytest.raises(BatchExecutionException, match="no execution context recorded for"):
        contexts.get_context("run-9")


def test_git_commit_follows_head_through_packed_refs_and_worktrees(tmp_path):
    git = tmp_path / "repo" / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    assert git_commit(tmp_path / "repo") is None  # no commit yet
    (git / "packed-refs").write_text(f"# pack-refs\n{SHA} refs/heads/main\n")
    (tmp_path / "repo" / "src").mkdir()
    assert git_commit(tmp_path / "repo" / "src") == SHA
    worktree = git / "worktrees" / "wt"
    worktree.mkdir(parents=True)
    (worktree / "HEAD").write_text("ref: refs/heads/main\n")
    (worktree / "commondir").write_text("../..\n")
    (tmp_path / "wt").mkdir()
    (tmp_path / "wt" / ".git").write_text(f"gitdir: {worktree}\n")
    assert git_commit(tmp_path / "wt") == SHA
    (git / "HEAD").write_text(SHA[::-1] + "\n")
    assert git_commit(tmp_path / "repo") == SHA[::-1]
