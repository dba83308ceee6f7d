"""DqReportService: data-quality reports per partition and per replay (the package docstring
says what a report is made of).

The rules are ``opsrel_core.domain.dq_subjects`` (which report a key makes) and
``opsrel_core.domain.dq_outcomes`` (counts, outcome, basis, the latest result per rule); the SQL
is ``opsrel_core.persistence.repositories.dq_reports``; the views are built by
``report_reading``.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from opsrel_core.domain.dq_outcomes import covers, current_results, latest_per_rule
from opsrel_core.domain.dq_rollup import DayRollupView, rollup
from opsrel_core.domain.dq_subjects import REPLAY, Subject, check_key, parse_day, subject_of
from opsrel_core.persistence.repositories.dq_reports import DqReportRepository
from opsrel_core.persistence.repositories.validation import ValidationRepository
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import REPORT_TYPES
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.persistence.repositories.execution_context import lock_subject
from opsrel_core.services.partition_status import read_partition_states
from opsrel_core.services.quality.report_compare import comparison
from opsrel_core.services.quality.report_reading import report_views
from opsrel_core.services.quality.report_subjects import (
    daily_subject, partition_subject, require_job,
)
from opsrel_core.services.quality.report_views import DqReportView
from opsrel_core.services.quality.validation import ValidationService
from opsrel_core.services.quality.validation_views import ValidationResultView
from opsrel_core.services.replays import ReplayService

MAX_LIST_LIMIT = 1000


@retry_transient_methods
class DqReportService:
    """Builds, stores, reads and compares data-quality reports.

    Args:
        engine: engine of the ops database.
    """

    def __init__(self, engine: sa.Engine):
        self._engine = engine
        self._validation = ValidationService(engine)
        self._replays = ReplayService(engine)

    # -- builds ------------------------------------------------------------------------------

    def build_partition_report(self, job_id: str, partition_key: str) -> DqReportView:
        """Build (or rebuild in place) the report of a job's partition from what it is.

        Each asset's results come from the job's execution of its active version, or from its
        latest attempt when no version is active (``domain.partition_state``). The key is taken
        as the job spells it, never parsed: of a daily job, a day's key makes its DAILY report
        (the one ``build_daily_report`` makes); any other key a PARTITION report.

        Args:
            job_id: a job of the catalog, e.g. ``"weather_hourly"``.
            partition_key: e.g. ``"2013-11-03-01:00"`` or ``"2013-11-03-01:00-0500"`` (1..100
                characters).

        Returns:
            The stored report (with ``latest_attempt`` when a newer attempt is not its source);
            a partition without results gets an empty one.

        Raises:
            NotFoundException: BAT-011 when no job has this id.
            ValueError: a blank or too long partition key.
        """
        subject = partition_subject(self._engine, job_id, partition_key)
        return self._store(subject, self._current_results(subject))

    def build_partition_reports(self, job_id: str,
                                partition_keys: Sequence[str]) -> list[DqReportView]:
        """Build (or rebuild in place) the reports of several partitions of a job in one
        transaction: what ``build_partition_report`` does for each (a range run's every day or
        hour at once), with the same results and the same reports.

        Returns:
            The stored reports, in the order of ``partition_keys`` (a key given twice once).

        Raises:
            NotFoundException: BAT-011 when no job has this id; nothing is written.
            ValueError: a blank or too long partition key; nothing is written.
        """
        keys = list(dict.fromkeys(partition_keys))
        for key in keys:
            check_key(key)
        if not keys:
            return []
        with UnitOfWork(self._engine) as uow:
            session, repo = uow.session, DqReportRepository(uow.session)
            kind = require_job(repo, job_id).partitions
            subjects = {key: subject_of(job_id, key, kind) for key in keys}
            # Every subject's lock before its reads, in one order, so that two builders of
            # overlapping ranges queue instead of deadlocking.
            for name in sorted(subject.lock_name for subject in subjects.values()):
                lock_subject(session, name)
            results: dict[str, list[ValidationResultView]] = {}
            for row in ValidationRepository(session).results(partition_keys=keys):
                view = ValidationResultView.of(row)
                results.setdefault(view.partition_key, []).append(view)
            states = read_partition_states(session, keys, job_id)
            rows = [repo.write(subjects[key], current_results(results.get(key, []), states.get(key, {})))
                    for key in keys]
            repo.flush()
            views = report_views(session, rows)  # read before the commit: one transaction
            uow.commit()
            return views

    def build_daily_report(self, partition_key: str, job_id: str | None = None) -> DqReportView:
        """Build (or rebuild in place) the report of a day: the partition report of the daily
        job (``build_partition_report``).

        Args:
            partition_key: the day, ``YYYY-MM-DD``.
            job_id: the daily job; None: the catalog's daily job (every job's results when the
                catalog has none).

        Raises:
            ValueError: the partition key is not an ISO date, or ``job_id`` is None and the
                catalog holds several daily jobs.
            NotFoundException: BAT-011 when ``job_id`` names no job.
        """
        subject = daily_subject(self._engine, partition_key, job_id)
        return self._store(subject, self._current_results(subject))

    def build_replay_report(self, replay_id: int) -> DqReportView:
        """Build (or rebuild in place) the report of a replay from its executions' results.

        Raises:
            BatchExecutionException: BAT-010 when the replay is unknown.
        """
        history = self._replays.replay_history(replay_id)
        results: list[ValidationResultView] = []
        for execution in history.executions:  # oldest first, so a retry's result comes later
            results.extend(self._validation.results_for_execution(execution.execution.execution_id))
        return self._store(Subject(REPLAY, replay_id=replay_id), latest_per_rule(results))

    # -- reads -------------------------------------------------------------------------------

    def get_partition_report(self, job_id: str, partition_key: str) -> DqReportView | None:
        """The report of a job's partition, or None when it was never built.

        A stored report whose items are no longer what the partition is (a version was
        activated or deactivated, or results were recorded, since it was built) is rebuilt
        first.

        Raises:
            NotFoundException: BAT-011 when no job has this id.
            ValueError: a blank or too long partition key.
        """
        return self._read(partition_subject(self._engine, job_id, partition_key))

    def get_daily_report(self, partition_key: str, job_id: str | None = None) -> DqReportView | None:
        """The report of a day (of ``job_id``, default the catalog's daily job), or None when it
        was never built; rebuilt first when stale, as ``get_partition_report``.

        Raises:
            ValueError: the partition key is not an ISO date (or several daily jobs, none named).
            NotFoundException: BAT-011 when ``job_id`` names no job.
        """
        return self._read(daily_subject(self._engine, partition_key, job_id))

    def day_rollup(self, job_id: str, day: dt.date | str) -> DayRollupView:
        """A day's roll-up of a job: a view over the partition reports of that day's keys (the
        keys spelled ``YYYY-MM-DD-...``, e.g. the 25 hours of 2013-11-03 in New York, or the
        day itself for a daily job), each read as ``get_partition_report`` does; nothing is
        stored.

        Returns:
            ``DayRollupView``: counts summed over the partitions, the worst outcome, and one
            entry per built partition report in key order (none when none was built).

        Raises:
            NotFoundException: BAT-011 when no job has this id.
            ValueError: the day is not an ISO date.
        """
        the_day = parse_day(day)
        with UnitOfWork(self._engine) as uow:
            repo = DqReportRepository(uow.session)
            require_job(repo, job_id)
            keys = repo.partition_keys_of_day(job_id, the_day.isoformat())
        reports = [r for k in keys if (r := self.get_partition_report(job_id, k)) is not None]
        return rollup(job_id, the_day, reports)

    def get_replay_report(self, replay_id: int) -> DqReportView | None:
        """The stored report of a replay, or None when it was not built."""
        with UnitOfWork(self._engine) as uow:
            row = DqReportRepository(uow.session).find(Subject(REPLAY, replay_id=replay_id))
            return None if row is None else report_views(uow.session, [row])[0]

    def list_reports(
        self,
        report_type: str | None = None,
        since: dt.date | str | None = None,
        until: dt.date | str | None = None,
        limit: int = 100,
        job_id: str | None = None,
    ) -> list[DqReportView]:
        """Stored reports, newest built first (by ``report_id``).

        Args:
            report_type: ``"DAILY"``, ``"PARTITION"``, ``"REPLAY"`` or None for all.
            since, until: inclusive days; a daily report is kept when its day lies within, a
                partition report when its key starts with a day within (keys in time order
                such as ``2013-11-03-01:00``), a replay report when the replay's partitions
                overlap the window.
            limit: at most this many (1..1000).
            job_id: only the reports (and replays) of this job; None: every job's.

        Raises:
            ValueError: unknown report type, a bad date or limit.
        """
        if report_type is not None and report_type not in REPORT_TYPES:
            raise ValueError(f"report_type must be one of {REPORT_TYPES}, got {report_type!r}")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIST_LIMIT}, got {limit}")
        start = None if since is None else parse_day(since)
        end = None if until is None else parse_day(until)
        with UnitOfWork(self._engine) as uow:
            rows = DqReportRepository(uow.session).newest(
                limit=limit, report_type=report_type, job_id=job_id, start=start, end=end)
            return report_views(uow.session, rows)

    def compare(self, replay_id: int) -> dict[str, Any]:
        """A replay's report beside the results of the executions it replaced.

        "Before" is, per replay execution, the results of its ``parent_execution_id`` in the
        partitions that execution covered; "after" is the replay's report (built when missing).

        Returns:
            ``{"replay_id", "before": summary, "after": summary, "changed": n, "items": [{"rule_id",
            "asset_key", "partition_key", "before", "after", "changed", "before_execution_id",
            "after_execution_id", "before_failing_rows", "after_failing_rows"}]}``; a status is
            None where that side has no result (a new rule, or a partition never run before).

        Raises:
            BatchExecutionException: BAT-010 when the replay is unknown.
        """
        history = self._replays.replay_history(replay_id)
        after = self.get_replay_report(replay_id) or self.build_replay_report(replay_id)
        before_results: list[ValidationResultView] = []
        for entry in history.executions:
            execution = entry.execution
            if execution.parent_execution_id is None:
                continue
            covered = covers(execution.partition_key, execution.partition_range_start,
                             execution.partition_range_end)
            before_results.extend(
                r for r in self._validation.results_for_execution(execution.parent_execution_id)
                if covered(r.partition_key)
            )
        return comparison(replay_id, before_results, after)

    # -- internals ---------------------------------------------------------------------------

    def _read(self, subject: Subject) -> DqReportView | None:
        with UnitOfWork(self._engine) as uow:
            repo = DqReportRepository(uow.session)
            row = repo.find(subject)
            if row is None:
                return None
            stored = repo.item_result_ids(row.report_id)
        current = self._current_results(subject)
        if stored != {r.result_id for r in current}:
            return self._store(subject, current)
        with UnitOfWork(self._engine) as uow:
            row = DqReportRepository(uow.session).find(subject)
            assert row is not None  # reports are rebuilt in place, never deleted
            return report_views(uow.session, [row])[0]

    def _current_results(self, subject: Subject) -> list[ValidationResultView]:
        """The results a partition report is made of: each asset's current attempt's (of the
        subject's job), by rule."""
        key = subject.partition_key
        assert key is not None
        results = self._validation.results_for_partition(key)
        with UnitOfWork(self._engine) as uow:
            states = read_partition_states(uow.session, [key], subject.job_id).get(key, {})
        return current_results(results, states)

    def _store(self, subject: Subject, results: list[ValidationResultView]) -> DqReportView:
        with UnitOfWork(self._engine) as uow:
            lock_subject(uow.session, subject.lock_name)
            row = DqReportRepository(uow.session).write(subject, results)
            uow.commit()
            return report_views(uow.session, [row])[0]

