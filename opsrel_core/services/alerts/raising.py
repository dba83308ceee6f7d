"""Raising an alert: one occurrence either counts on the live alert of its key or opens one.

``AlertRaiser.occur`` applies the lifecycle's rule of repeats (``domain.alert_lifecycle``) in one
transaction per try: a repeat absorbed by the live alert increments it; an OPEN alert quiet for
a whole window is resolved and the occurrence opens a new alert with its deliveries (SUPPRESSED
when a silence matches). Two concurrent first occurrences both try to insert; the partial unique
index on live alerts refuses the second, which tries again and becomes the increment. A failure
incident lists its partitions (``services.alert_incidents``) and counts each once per execution.
"""

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from opsrel_core.config import AlertSettings
from opsrel_core.domain import alert_lifecycle as lifecycle
from opsrel_core.domain import error_codes
from opsrel_core.domain.alert_delivery import DeliveryKind, DeliveryStatus
from opsrel_core.domain.instants import utc_if_instant
from opsrel_core.errors import BatchExecutionException
from opsrel_core.persistence.repositories.alerts import AlertRepository
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services import alert_incidents as incident_rows
from opsrel_core.services.alert_resolution import queue_mirrored
from opsrel_core.services.alert_silences import matching_silence, silence_still_holds
from opsrel_core.services.alerts.spec import MAX_KEY_CHARS, AlertSpec, one_line
from opsrel_core.services.alerts.views import AlertView

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
Repository = Callable[[sa.Connection], AlertRepository]
INSERT_ATTEMPTS = 5


class AlertRaiser:
    """Writes occurrences of alerts (the service's raising path; no retry of its own).

    Args:
        engine: engine of the ops database.
        settings: alert settings (channels, storm window, redaction).
        clock: current UTC time.
        repository: the alert SQL over a connection (``AlertRepository``).
    """

    def __init__(self, engine: sa.Engine, settings: AlertSettings, clock: Clock,
                 repository: Repository = AlertRepository):
        self._engine = engine
        self._settings = settings
        self._clock = clock
        self._repository = repository

    def occur(self, spec: AlertSpec, at: dt.datetime, *, count_once: bool,
              history: bool = False) -> AlertView:
        """Add one occurrence at ``at``: increment the live alert that absorbs it, or open one.

        Args:
            count_once: an alert of the key whose seen span covers ``at`` has already counted
                this occurrence (one execution applied twice); it is returned unchanged.
            history: the occurrence is older than the history horizon: it is recorded as its own
                RESOLVED alert with no delivery (never sent, never merged into an open incident).

        Raises:
            ValueError: unknown severity or error code, or a blank event kind.
            BatchExecutionException: BAT-002 for an unrecorded execution; BAT-001 when the
                alert kept changing under concurrent writers for every try.
        """
        spec.validate()
        # An execution's error message may quote a channel's secret; alerts are stored and sent.
        spec = dataclasses.replace(spec, title=self._settings.redact(spec.title),
                                   message=self._settings.redact(spec.message))
        key = spec.key()
        window = spec.window_seconds or self._settings.dedupe_window_seconds
        # An incident counts per partition (alert_partition), not over the alert's span.
        per_partition = spec.incident is not None and spec.partition_key is not None
        for attempt in range(INSERT_ATTEMPTS):
            with UnitOfWork(self._engine) as uow:
                conn = uow.session.connection()
                repo = self._repository(conn)
                if attempt == 0:
                    # Checked in the writing transaction, not in one of its own (a transaction
                    # less per alert); an error leaves nothing written.
                    _require_references(repo, spec)
                if spec.incident is not None:
                    # A silence mutes a part of an incident (a partition pattern): the muted
                    # failures are their own incident, so the rest is still delivered.
                    muted = matching_silence(
                        conn, self._clock(), job_id=spec.job_id, error_code=spec.error_code,
                        rule_id=spec.rule_id, partition_key=spec.partition_key)
                    key = spec.key() if muted is None else \
                        f"{spec.key()}:silence-{muted}"[:MAX_KEY_CHARS]
                    if muted is None:
                        key = self._unmuted_incident_key(conn, repo, spec.key())
                if count_once and per_partition:
                    assert spec.partition_key is not None
                    covered = incident_rows.covering(conn, key, spec.partition_key, at)
                    if covered is not None:
                        return AlertView.of(covered)
                elif count_once:
                    covering = repo.covering(key, at)
                    if covering is not None:
                        return AlertView.of(covering)
                if history:
                    row = repo.insert({
                        **spec.values(key, at), "status": lifecycle.RESOLVED,
                        "resolved_at": at, "resolved_by": lifecycle.BY_HISTORY,
                    })
                    if per_partition:
                        row = self._join_incident(conn, repo, spec, row, at)
                    uow.commit()
                    log.info("alert %r at %s is older than the history horizon: recorded, not "
                             "sent", key, at.isoformat())
                    return AlertView.of(row)
                live = repo.live_for_update(key)
                if live is not None and lifecycle.absorbs_repeat(
                        live.status, utc_if_instant(live.last_seen_at), at, window):
                    updated = repo.add_occurrence(live.alert_id, live.status, at,
                                                  unless_covered=count_once and not per_partition)
                    if updated is None:
                        continue  # acknowledged, resolved or counted meanwhile: decide again
                    if per_partition:
                        joined = self._join_incident(conn, repo, spec, updated, at)
                        if joined is None:
                            # Counted meanwhile: this execution changes nothing.
                            uow.session.rollback()
                            assert spec.partition_key is not None
                            counted = incident_rows.covering(
                                uow.session.connection(), key, spec.partition_key, at)
                            if counted is None:
                                continue
                            return AlertView.of(counted)
                        updated = joined
                    if spec.describe is not None:
                        updated = self._describe_repeat(repo, spec, updated)
                    if updated.silenced_by is not None:
                        self._lift_if_unsilenced(conn, repo, updated.alert_id, updated.silenced_by)
                    uow.commit()
                    return AlertView.of(updated)
                if live is not None:
                    # Quiet for a whole window: that incident is over; this is a new one.
                    if not repo.resolve_if(
                            live.alert_id, lifecycle.OPEN,
                            new_status=lifecycle.next_status(lifecycle.OPEN, lifecycle.QUIET),
                            at=at, resolved_by=lifecycle.BY_QUIET_WINDOW):
                        continue
                    queue_mirrored(conn, live.alert_id, DeliveryKind.RECOVERY.value, self._clock())
                try:
                    now = self._clock()
                    # Matched when it is raised (now), not when it happened: a silence that
                    # expired before the alert is raised no longer holds.
                    silence = matching_silence(
                        conn, now, job_id=spec.job_id, error_code=spec.error_code,
                        rule_id=spec.rule_id, partition_key=spec.partition_key)
                    row = repo.insert({**spec.values(key, at), "silenced_by": silence})
                    if per_partition:
                        row = self._join_incident(conn, repo, spec, row, at)
                    status = DeliveryStatus.PENDING if silence is None else DeliveryStatus.SUPPRESSED
                    repo.add_deliveries(row.alert_id, self._settings.channels,
                                        status=status.value, now=now)
                    uow.commit()
                except sa.exc.IntegrityError:
                    continue  # a concurrent first occurrence won: become its increment
                return AlertView.of(row)
        raise BatchExecutionException(
            error_codes.BAT_INVALID_TRANSITION,
            f"alert {key!r} kept changing under concurrent writers; gave up after "
            f"{INSERT_ATTEMPTS} attempts",
        )

    def _unmuted_incident_key(self, conn: sa.Connection, repo: AlertRepository, key: str) -> str:
        # No silence holds for this failure: it joins the live incident of the plain key, or
        # else a live muted one whose silence no longer holds (the condition outlasted its
        # silence, so that incident is delivered now, see _lift_if_unsilenced).
        live = repo.live_of_incident(key)
        if any(row.dedupe_key == key for row in live):
            return key
        now = self._clock()
        for row in live:
            if row.silenced_by is not None and not silence_still_holds(conn, row.silenced_by, now):
                return row.dedupe_key
        return key

    def _join_incident(self, conn: sa.Connection, repo: AlertRepository, spec: AlertSpec,
                       row: Any, at: dt.datetime) -> Any:
        # In the occurrence's transaction: the partition joins, the text names the count just
        # written, and an update is queued when the count announces one. None: the incident
        # had already counted this failure of the partition.
        assert spec.incident is not None and spec.partition_key is not None
        joined, covered = incident_rows.join(conn, row.alert_id, spec.partition_key,
                                             spec.execution_id, at)
        if covered:
            return None
        partitions, count = incident_rows.listing(conn, row.alert_id)
        title, message = (self._settings.redact(text)
                          for text in spec.incident(row.alert_id, partitions, count))
        row = repo.update(row.alert_id, title=one_line(title), message=message,
                          execution_id=spec.execution_id or row.execution_id,
                          asset_key=spec.asset_key or row.asset_key)
        if joined:
            incident_rows.queue_update(conn, row.alert_id, count, self._clock())
        return row

    def _describe_repeat(self, repo: AlertRepository, spec: AlertSpec, row: Any) -> Any:
        # In the increment's transaction: the count the text names is the one just written.
        assert spec.describe is not None
        title, message = (self._settings.redact(text)
                          for text in spec.describe(row.occurrence_count))
        return repo.update(row.alert_id, title=one_line(title), message=message,
                           execution_id=spec.execution_id or row.execution_id,
                           asset_key=spec.asset_key or row.asset_key,
                           partition_key=spec.partition_key or row.partition_key)

    def _lift_if_unsilenced(self, conn: sa.Connection, repo: AlertRepository, alert_id: int,
                            silence_id: int) -> None:
        # A repeat of a silenced alert after its silence ended or expired: the condition
        # outlasted the silence, so the alert is delivered now.
        now = self._clock()
        if silence_still_holds(conn, silence_id, now):
            return
        repo.release_suppressed(alert_id, now)


def _require_references(repo: AlertRepository, spec: AlertSpec) -> None:
    # ValueError for an error code outside the catalog, BAT-002 for an unrecorded execution.
    if spec.error_code and not repo.has_error_code(spec.error_code):
        raise ValueError(f"error code {spec.error_code!r} is not in the catalog")
    if spec.execution_id and not repo.has_execution(spec.execution_id):
        raise BatchExecutionException(
            error_codes.BAT_EXECUTION_NOT_FOUND,
            f"cannot alert on unrecorded execution {spec.execution_id!r}",
            {"execution_id": spec.execution_id},
        )
