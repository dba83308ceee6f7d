"""Stateful property test of BatchExecutionService: a stop is final, a terminal state is
decided once.

Hypothesis drives random sequences of lifecycle events (including repeats of earlier events) over
a small pool of execution ids against a real, migrated SQLite file, and compares the database with
a pure model after every step.

``LifecycleAndVersionsMachine`` drives the projection's ``ExecutionProjector``, result
versions, replays and the worker-loss reconciler the same way, and checks the ops-schema
invariants (``tests.support.invariants``) after every step.
"""

import shutil
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from opsrel_core.domain.status import TERMINAL_STATUSES, ExecutionStatus, can_transition
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec
from tests.support.catalog import upgrade_and_register

S = ExecutionStatus
IDS = ["e1", "e2", "e3"]
CODES = ["INP-001", "SYS-003", "BAT-005", "NOPE-001"]  # the last one is not in the catalog
STEPS_TOTAL = 10

ids = st.sampled_from(IDS)


class Ok:
    """Expected: the call returns and the execution ends in ``status``."""

    def __init__(self, status: S | None):
        self.status = status


class Err:
    """Expected: the call raises BatchExecutionException with ``code``."""

    def __init__(self, code: str):
        self.code = code


class Model:
    """Pure model of one execution."""

    def __init__(self) -> None:
        self.status = S.READY
        self.stop_requested = False
        self.reached = [S.READY]
        self.steps_done = 0
        self.rows_written = 0

    def move(self, target: S) -> "Ok | Err":
        if target == self.status:
            return Ok(self.status)
        if not can_transition(self.status, target):
            return Err("BAT-001")
        self.status = target
        self.reached.append(target)
        return Ok(target)


class ExecutionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp(prefix="opsrel-sm-")
        path = Path(self.tmp) / "ops.db"
        shutil.copyfile(_template_db(), path)
        self.engine = make_engine(f"sqlite:///{path}")
        self.service = BatchExecutionService(self.engine)
        self.models: dict[str, Model] = {}
        self.terminal_seen: dict[str, S] = {}
        self.events: list[tuple] = []

    def teardown(self) -> None:
        self.engine.dispose()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- applying one event to both sides ----------------------------------------------------

    def _expect(self, event: tuple) -> "Ok | Err":
        kind, eid, *args = event
        model = self.models.get(eid)
        if kind == "register":
            if model is None:
                self.models[eid] = Model()
            return Ok(self.models[eid].status)
        if kind == "fail" and args[0] == "NOPE-001":
            # The catalog check comes first: an unknown code is BAT-001 even for an unknown id.
            return Err("BAT-001")
        if model is None:
            return Err("BAT-002")
        if kind == "start":
            return model.move(S.RUNNING)
        if kind == "complete":
            # a stop is final: a success after a stop request ends STOPPED
            return model.move(S.STOPPED if model.stop_requested else S.SUCCESS)
        if kind == "stop":
            outcome = model.move(S.STOPPED)
            if model.status is S.STOPPED:
                model.stop_requested = True  # a stop implies a stop request
            return outcome
        if kind == "request_stop":
            if not model.status.is_terminal:
                model.stop_requested = True
            return Ok(model.status)
        if kind == "progress":
            steps, rows = args
            if not model.status.is_terminal:
                model.steps_done = max(model.steps_done, steps)
                model.rows_written = max(model.rows_written, rows)
            return Ok(model.status)
        if kind == "fail":
            return model.move(S.STOPPED if model.stop_requested else S.FAILED)
        raise AssertionError(kind)

    def _call(self, event: tuple):
        kind, eid, *args = event
        svc = self.service
        if kind == "register":
            return svc.register_execution(ExecutionSpec(eid, "flights_daily", steps_total=STEPS_TOTAL))
        if kind == "start":
            return svc.start_execution(eid)
        if kind == "complete":
            return svc.complete_execution(eid)
        if kind == "stop":
            return svc.stop_execution(eid)
        if kind == "request_stop":
            return svc.request_stop(eid)
        if kind == "progress":
            steps, rows = args
            return svc.update_progress(eid, steps_done=steps, rows_written=rows)
        if kind == "fail":
            (code,) = args
            return svc.fail_execution(eid, code, error_message=f"failure {code}")
        raise AssertionError(kind)

    def _apply(self, event: tuple) -> None:
        eid = event[1]
        before = self.service.find_execution(eid)
        history_before = self.service.get_history(eid)
        expected = self._expect(event)
        if isinstance(expected, Err):
            with pytest.raises(BatchExecutionException) as info:
                self._call(event)
            assert info.value.code == expected.code, (event, info.value)
            # A rejected event leaves the execution and its history exactly as they were.
            assert self.service.find_execution(eid) == before
            assert self.service.get_history(eid) == history_before
        else:
            view = self._call(event)
            assert view.status is expected.status, event
        self.events.append(event)

    # -- rules -------------------------------------------------------------------------------

    @initialize(eid=ids)
    def first_register(self, eid):
        self._apply(("register", eid))

    @rule(eid=ids)
    def register(self, eid):
        self._apply(("register", eid))

    @rule(eid=ids)
    def start(self, eid):
        self._apply(("start", eid))

    @rule(eid=ids, steps=st.integers(0, STEPS_TOTAL), rows=st.integers(0, 1000))
    def progress(self, eid, steps, rows):
        self._apply(("progress", eid, steps, rows))

    @rule(eid=ids)
    def complete(self, eid):
        self._apply(("complete", eid))

    @rule(eid=ids, code=st.sampled_from(CODES))
    def fail(self, eid, code):
        self._apply(("fail", eid, code))

    @rule(eid=ids)
    def stop(self, eid):
        self._apply(("stop", eid))

    @rule(eid=ids)
    def request_stop(self, eid):
        self._apply(("request_stop", eid))

    @precondition(lambda self: self.events)
    @rule(data=st.data())
    def duplicate(self, data):
        """Deliver an earlier event again (a retried request, a re-read event log)."""
        event = data.draw(st.sampled_from(self.events), label="repeated event")
        self._apply(event)

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def database_matches_the_model(self):
        for eid in IDS:
            view = self.service.find_execution(eid)
            model = self.models.get(eid)
            if model is None:
                assert view is None
                continue
            assert view is not None
            assert view.status is model.status
            assert (view.stop_requested_at is not None) == model.stop_requested
            assert view.steps_done == model.steps_done
            assert view.rows_written == model.rows_written
            assert (view.ended_at is not None) == model.status.is_terminal
            if model.status is S.STOPPED:
                assert view.error_code == "BAT-004"
            elif model.status is S.FAILED:
                assert view.error_code in CODES[:-1]
            else:
                assert view.error_code is None

    @invariant()
    def terminal_statuses_never_change(self):
        for eid in self.models:
            status = self.service.get_execution(eid).status
            if eid in self.terminal_seen:
                assert status is self.terminal_seen[eid]
            elif status in TERMINAL_STATUSES:
                self.terminal_seen[eid] = status

    @invariant()
    def history_has_one_row_per_status_reached(self):
        for eid, model in self.models.items():
            history = [h for h in self.service.get_history(eid)
                       if h["event_key"].startswith("status:")]  # annotations move no status
            to_statuses = [h["to_status"] for h in history]
            assert to_statuses == [s.value for s in model.reached]
            assert len(set(to_statuses)) == len(to_statuses)
            assert history[0]["from_status"] is None
            for prev, cur in zip(history, history[1:]):
                assert cur["from_status"] == prev["to_status"]
                assert can_transition(S(prev["to_status"]), S(cur["to_status"]))


_TEMPLATE: dict[str, str] = {}


def _template_db() -> str:
    """A migrated SQLite file with the flights job registered (as ``opsrel db upgrade`` leaves
    it), made once per test session and copied for each example."""
    if "path" not in _TEMPLATE:
        folder = tempfile.mkdtemp(prefix="opsrel-sm-template-")
        path = str(Path(folder) / "template.db")
        upgrade_and_register(f"sqlite:///{path}")
        # Fold the WAL into the main file so that a plain file copy carries everything.
        engine = make_engine(f"sqlite:///{path}")
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        _TEMPLATE["path"] = path
    return _TEMPLATE["path"]


ExecutionMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None
)
TestExecutionStateMachine = ExecutionMachine.TestCase


# -- execution lifecycle and result versions, through the projection -------------------------


class LifecycleAndVersionsMachine(RuleBasedStateMachine):
    """Random interleavings of launches from every path (an operator's run, a run nobody decided,
    a sensor's, a replay, a re-execution with and without tags of its own, an automatic retry),
    what their runs report as the projection applies it, result versions written with and
    without their blocking checks, operators' stops, lost workers (the SYS-003 reconciler), and
    duplicate and late deliveries of earlier observations.

    The model: an execution's status follows ``can_transition`` (terminal is final; a failure
    or a success after a stop request is a stop). A version becomes active when its execution
    first ends SUCCESS, no stop was requested, its blocking check ran, it is newer than the
    active one, and, when it would replace another execution's active version, someone decided
    the execution. Checked after every step: the ops-schema invariants; at most one active
    version per asset partition; every active version passed its blocking check and is
    attributed or replaced nothing; no STOPPED execution has an active version.
    """

    # Two partitions, the first drawn far more often: concurrent executions of one partition
    # are what the version rules are about.
    PARTITIONS = ("2013-01-01", "2013-01-02")
    partitions = st.sampled_from(PARTITIONS[:1] * 3 + PARTITIONS[1:])
    ASSET = "ontime_performance"
    CHECK = "row_count_positive"
    KINDS = ("operator", "nobody", "sensor", "replay")

    def __init__(self) -> None:
        super().__init__()
        from opsrel_core.services.execution_commands import ExecutionCommands
        from opsrel_core.services.execution_projection import ExecutionProjector
        from opsrel_core.services.results import ResultVersionService

        self.tmp = tempfile.mkdtemp(prefix="opsrel-smv-")
        path = Path(self.tmp) / "ops.db"
        shutil.copyfile(_template_db(), path)
        self.engine = make_engine(f"sqlite:///{path}")
        self.projector = ExecutionProjector(self.engine)
        self.versions = ResultVersionService(self.engine)
        self.commands = ExecutionCommands(self.engine)
        self.models: dict[str, Model] = {}
        self.partition_of: dict[str, str] = {}
        self.parent_of: dict[str, str | None] = {}
        self.facts_of: dict[str, object] = {}
        self.decided: dict[str, bool] = {}
        self.checked: dict[str, bool] = {}
        self.error_of: dict[str, str] = {}
        self.version_of: dict[str, int] = {}  # execution -> its version number
        self.active: dict[str, str | None] = {p: None for p in self.PARTITIONS}  # model
        self.observations: list[tuple[str, str]] = []

    def teardown(self) -> None:
        self.engine.dispose()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers -----------------------------------------------------------------------------

    def _evidence(self, eid: str):
        from opsrel_core.domain.activation import CheckOutcome
        from opsrel_core.services.results import CheckEvidence

        checks = {(self.ASSET, self.CHECK): CheckOutcome(True)} if self.checked.get(eid) else {}
        return CheckEvidence({self.ASSET: frozenset({self.CHECK})}, checks)

    def _activate_in_model(self, eid: str) -> None:
        # The first SUCCESS of an execution: does its version take the partition's place?
        model = self.models[eid]
        partition = self.partition_of[eid]
        if eid not in self.version_of or model.stop_requested or not self.checked.get(eid):
            return
        current = self.active[partition]
        if current is not None:
            if self.version_of[current] > self.version_of[eid]:
                return  # a newer result is already in place
            if not self.decided[eid]:
                return  # nobody decided it: it may not replace the active result
        self.active[partition] = eid

    def _observe(self, eid: str, status: str) -> None:
        from opsrel_core.domain.attribution import attribute
        from opsrel_core.services.execution_projection import (
            ObservedFailure,
            ObservedStatus,
            RunObservation,
        )
        from opsrel_core.persistence.tables import utcnow

        now = utcnow()
        who = attribute(self.facts_of[eid])
        obs = RunObservation(
            spec=ExecutionSpec(
                eid, "flights_daily", partition_key=self.partition_of[eid],
                parent_execution_id=self.parent_of[eid], steps_total=STEPS_TOTAL,
                trigger_type=who.trigger, operator_id=who.operator_id,
            ),
            status=ObservedStatus(status),
            started_at=now if status in ("RUNNING", "CANCELING", "SUCCESS") else None,
            ended_at=now if status in ("SUCCESS", "FAILED", "STOPPED") else None,
            failure=ObservedFailure("INP-001", "bad input") if status == "FAILED" else None,
            stop_requested_at=now if status == "CANCELING" else None,
            attribution=who,
            evidence=self._evidence(eid),
        )
        view = self.projector.apply(obs)
        model = self.models[eid]
        if status in ("RUNNING", "CANCELING", "SUCCESS") and model.status is S.READY:
            model.move(S.RUNNING)
        if status == "CANCELING" and not model.status.is_terminal:
            model.stop_requested = True
        stopped = (S.STOPPED, "BAT-004")
        ending = {
            "SUCCESS": stopped if model.stop_requested else (S.SUCCESS, None),
            "FAILED": stopped if model.stop_requested else (S.FAILED, "INP-001"),
            "STOPPED": stopped,
        }.get(status)
        if ending is not None and not model.status.is_terminal:
            # a late or conflicting end after the first one changes nothing
            model.move(ending[0])
            self.error_of[eid] = ending[1]
            if ending[0] is S.STOPPED:
                model.stop_requested = True
            if ending[0] is S.SUCCESS:
                self._activate_in_model(eid)
        assert view.status is model.status, (eid, status, view.status, model.status)
        self.observations.append((eid, status))

    def _new_execution(self, partition: str, parent: str | None, facts) -> None:
        from opsrel_core.domain.attribution import attribute

        eid = f"e{len(self.models)}"
        self.models[eid] = Model()
        self.partition_of[eid] = partition
        who = attribute(facts)
        # The execution links to its Dagster parent, else to the execution a replay names.
        self.parent_of[eid] = who.parent_run_id or parent
        self.facts_of[eid] = facts
        self.decided[eid] = who.decided
        self._observe(eid, "READY")

    @staticmethod
    def _facts(kind: str, replay_of: str | None = None):
        from opsrel_core.domain.attribution import LaunchFacts

        operator = {"opsrel/operator": "dana", "opsrel/reason": "fix"}
        return {
            "operator": LaunchFacts(tags=operator),
            "nobody": LaunchFacts(tags={}),
            "sensor": LaunchFacts(tags={}, sensor_name="opsrel_landing_sensor"),
            "replay": LaunchFacts(tags={**operator, "opsrel/replay_id": "1"}),
        }[kind]

    # -- rules -------------------------------------------------------------------------------

    @initialize(partition=partitions, kind=st.sampled_from(KINDS))
    def first_launch(self, partition, kind):
        self._new_execution(partition, None, self._facts(kind))

    @precondition(lambda self: len(self.models) < 8)
    @rule(partition=partitions, kind=st.sampled_from(KINDS))
    def launch(self, partition, kind):
        """A fresh launch from any path: an operator, nobody (Python, the UI without tags), a
        sensor, a replay."""
        self._new_execution(partition, None, self._facts(kind))

    @precondition(lambda self: len(self.models) < 8)
    @rule(data=st.data(), kind=st.sampled_from(["operator", "replay"]))
    def replay(self, data, kind):
        """A replay of a partition: a new execution whose parent is an earlier one there."""
        parent = data.draw(st.sampled_from(sorted(self.models)), label="replayed execution")
        self._new_execution(self.partition_of[parent], parent, self._facts(kind))

    @precondition(lambda self: len(self.models) < 8)
    @rule(data=st.data(), own_tags=st.booleans())
    def reexecute(self, data, own_tags):
        """The UI's Re-execute: the parent's tags copied, with or without tags of its own."""
        from opsrel_core.domain.attribution import LaunchFacts

        parent = data.draw(st.sampled_from(sorted(self.models)), label="re-executed run")
        parent_tags = dict(self.facts_of[parent].tags)
        tags = {**parent_tags, **({"opsrel/operator": "erin", "opsrel/reason": "again"}
                                  if own_tags else {})}
        facts = LaunchFacts(tags=tags, parent_run_id=parent, parent_tags=parent_tags,
                            sensor_name=self.facts_of[parent].sensor_name)
        self._new_execution(self.partition_of[parent], None, facts)

    @precondition(lambda self: len(self.models) < 8
                  and any(m.status is S.FAILED for m in self.models.values()))
    @rule(data=st.data())
    def retry(self, data):
        """An automatic retry of a failed run: its parent's tags, a retry number."""
        import dataclasses

        failed = sorted(e for e, m in self.models.items() if m.status is S.FAILED)
        parent = data.draw(st.sampled_from(failed), label="retried run")
        base = self.facts_of[parent]
        facts = dataclasses.replace(base, parent_run_id=parent, parent_tags=dict(base.tags),
                                    retry_number=1)
        self._new_execution(self.partition_of[parent], None, facts)

    @rule(data=st.data(), status=st.sampled_from(["SUCCESS", "SUCCESS", "CANCELING", "FAILED", "STOPPED"]))
    def observe(self, data, status):
        """An open run reports a new status (late and repeated reports: ``duplicate_or_late``)."""
        open_ids = sorted(e for e, m in self.models.items() if not m.status.is_terminal)
        eid = data.draw(st.sampled_from(open_ids or sorted(self.models)), label="execution")
        self._observe(eid, status)

    @precondition(lambda self: any(not m.status.is_terminal for m in self.models.values()))
    @rule(data=st.data())
    def operator_stops(self, data):
        """An operator stops an open execution (the admin API); Dagster may never deliver it."""
        open_ids = sorted(e for e, m in self.models.items() if not m.status.is_terminal)
        eid = data.draw(st.sampled_from(open_ids), label="stopped execution")
        self.commands.request_stop(eid, operator_id="lee", reason="wrong input")
        self.models[eid].stop_requested = True

    @rule(data=st.data(), steps=st.integers(0, STEPS_TOTAL))
    def progress(self, data, steps):
        eid = data.draw(st.sampled_from(sorted(self.models)), label="execution")
        self.projector.executions.update_progress(eid, steps_done=steps)
        if not self.models[eid].status.is_terminal:
            self.models[eid].steps_done = max(self.models[eid].steps_done, steps)

    @precondition(lambda self: any(not m.status.is_terminal for m in self.models.values()))
    @rule(data=st.data(), with_checks=st.booleans())
    def materialize(self, data, with_checks=True):
        """A step of an open run stores its result (inactive until the run succeeds), with or
        without its blocking check in the same run."""
        open_ids = sorted(e for e, m in self.models.items() if not m.status.is_terminal)
        eid = data.draw(st.sampled_from(open_ids), label="open execution")
        self._observe(eid, "RUNNING")
        partition = self.partition_of[eid]
        view = self.versions.create_version(
            asset_key=self.ASSET, partition_key=partition, execution_id=eid,
            content_hash=f"sha256:{eid}", row_count=1, storage_uri=None,
        )
        self.version_of[eid] = view.version_number
        self.checked[eid] = with_checks
        assert not view.is_active

    @precondition(lambda self: any(not m.status.is_terminal for m in self.models.values()))
    @rule(data=st.data(), with_checks=st.booleans())
    def materialize_and_succeed(self, data, with_checks):
        """A run's last step stores its result and the run succeeds."""
        self.materialize(data, with_checks)
        open_ids = sorted(e for e, m in self.models.items() if m.status is S.RUNNING)
        if open_ids:
            self._observe(open_ids[-1], "SUCCESS")

    @rule(data=st.data())
    def lose_worker(self, data):
        """The reconciler finds the worker of one execution silent past its timeout."""
        import datetime as dt

        from opsrel_core.persistence.tables import utcnow
        from opsrel_core.services.worker_reconciler import (
            Liveness,
            WorkerLossReconciler,
            WorkerTimeouts,
        )

        eid = data.draw(st.sampled_from(sorted(self.models)), label="execution")
        reconciler = WorkerLossReconciler(self.engine, WorkerTimeouts(60, 60))
        ended = reconciler.reconcile(
            lambda other: Liveness() if other == eid else Liveness(finished=True),
            now=utcnow() + dt.timedelta(days=1),
        )
        model = self.models[eid]
        was_open = not model.status.is_terminal
        if was_open:
            model.move(S.STOPPED if model.stop_requested else S.FAILED)
            self.error_of[eid] = "BAT-004" if model.stop_requested else "SYS-003"
        assert [v.execution_id for v in ended] == ([eid] if was_open else [])

    @precondition(lambda self: self.observations)
    @rule(data=st.data())
    def duplicate_or_late(self, data):
        """An earlier observation delivered again, possibly after newer ones (a re-read event
        log, a reset cursor, a late event from a lost worker)."""
        eid, status = data.draw(st.sampled_from(self.observations), label="earlier observation")
        self._observe(eid, status)

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def ops_schema_invariants_hold(self):
        from tests.support.invariants import assert_ops_invariants

        statuses = assert_ops_invariants(self.engine)
        assert statuses == {e: m.status.value for e, m in self.models.items()}

    @invariant()
    def executions_match_the_model(self):
        for eid, model in self.models.items():
            view = self.projector.executions.get_execution(eid)
            history = [h["to_status"] for h in self.projector.executions.get_history(eid)
                       if h["event_key"].startswith("status:")]
            assert history == [s.value for s in model.reached]
            assert view.error_code == self.error_of.get(eid), (eid, view.error_code)
            assert view.steps_done == model.steps_done
            assert view.parent_execution_id == self.parent_of[eid]

    @invariant()
    def active_versions_keep_the_promises(self):
        from opsrel_core.persistence.tables import ResultVersion

        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(
                ResultVersion.partition_key, ResultVersion.execution_id, ResultVersion.is_active,
                ResultVersion.deactivated_by_execution_id)).all()
        for partition in self.PARTITIONS:
            active = [e for p, e, is_active, _by in rows if p == partition and is_active]
            assert len(active) <= 1, (partition, active)
            assert active == ([self.active[partition]] if self.active[partition] else []), (
                partition, active, self.active[partition])
            for eid in active:
                assert self.checked[eid], f"{eid} is active without its blocking check"
                assert self.models[eid].status is S.SUCCESS
                assert not self.models[eid].stop_requested
                replaced = [e for p, e, _a, by in rows if p == partition and by == eid]
                assert self.decided[eid] or not replaced, (
                    f"{eid} replaced {replaced} though nobody decided it")
        for eid, model in self.models.items():
            if model.status is S.STOPPED:
                assert all(not is_active for _p, e, is_active, _by in rows if e == eid), eid


LifecycleAndVersionsMachine.TestCase.settings = settings(
    max_examples=30, stateful_step_count=40, deadline=None
)
TestLifecycleAndVersionsMachine = LifecycleAndVersionsMachine.TestCase
