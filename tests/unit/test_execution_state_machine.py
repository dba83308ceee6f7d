"""Stateful property test of BatchExecutionService (C1-T02, RB-05, RB-06).

Hypothesis drives random sequences of lifecycle events (including repeats of earlier events) over
a small pool of execution ids against a real, migrated SQLite file, and compares the database with
a pure model after every step.
"""

import shutil
import tempfile
from pathlib import Path

import pytest
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
from opsrel_core.persistence import migrate
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionSpec

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
            return model.move(S.SUCCESS)
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
            history = self.service.get_history(eid)
            to_statuses = [h["to_status"] for h in history]
            assert to_statuses == [s.value for s in model.reached]
            assert len(set(to_statuses)) == len(to_statuses)
            assert history[0]["from_status"] is None
            for prev, cur in zip(history, history[1:]):
                assert cur["from_status"] == prev["to_status"]
                assert can_transition(S(prev["to_status"]), S(cur["to_status"]))


_TEMPLATE: dict[str, str] = {}


def _template_db() -> str:
    """A migrated SQLite file, made once per test session and copied for each example."""
    if "path" not in _TEMPLATE:
        folder = tempfile.mkdtemp(prefix="opsrel-sm-template-")
        path = str(Path(folder) / "template.db")
        migrate.upgrade(f"sqlite:///{path}")
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
