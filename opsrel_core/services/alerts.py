"""OpsAlertService and AlertDispatcher: alerts that arrive once and are never lost (C1-T07).

**Outbox.** ``send_alert`` writes the alert and one PENDING ``alert_delivery`` row per configured
channel (EMAIL when a mail server and recipients are set, SLACK when a webhook is set) in one
transaction, and sends nothing itself: recording a failure is never slowed or rolled back by a
mail server (RB-23). ``AlertDispatcher.dispatch_once`` sends what is due.

**No storms.** An alert's ``dedupe_key`` (default ``"<event_kind>:<error_code>:<job_id>:
<partition_key>"``) is unique among live (OPEN or ACKNOWLEDGED) alerts (partial unique index).
Which repeat is absorbed is the lifecycle's rule (``opsrel_core.domain.alert_lifecycle``): a
repeat within ``dedupe_window_seconds`` of an OPEN alert's ``last_seen_at`` increments
``occurrence_count`` and ``last_seen_at`` and sends nothing; after the window it is a new
incident: the quiet alert is closed (RESOLVED: nothing recurred for a whole window) and a new
alert with new deliveries is opened. An ACKNOWLEDGED alert absorbs every repeat until it is
resolved (someone already works on it); a repeat after resolution opens a new alert. Two
concurrent first occurrences both try to insert; the index refuses the second, which is retried
and becomes an increment. A failed execution's alert is an incident instead: keyed per job and
error code (``opsrel_core.domain.alert_incidents``), its window ``incident_window_seconds``, its
partitions listed in ``alert_partition`` and counted once each per execution.

**Silences.** A new alert that an active silence matches (``alert_silences``) is written with
``silenced_by`` and SUPPRESSED deliveries: recorded, listed, never sent. When its silence no
longer holds, the alert's next occurrence turns those deliveries PENDING.

**Resolution.** A recovering execution resolves the alert and queues its RECOVERY deliveries
(``alert_resolution``); ``resolve_alert`` resolves by hand. PagerDuty mirrors the alert's
state: an acknowledgement queues an ACKNOWLEDGE delivery and any resolution (recovery, by hand,
a quiet window) a RECOVERY delivery sent as ``resolve`` (``alert_resolution.queue_mirrored``).
The dispatcher sends a RECOVERY delivery only once the same channel's ALERT (and ACKNOWLEDGE)
delivery is done (sent or failed), and an ACKNOWLEDGE only after its ALERT, so a notice never
comes before its alert; the email answers the alert's ``Message-ID``. A caller that passes ``describe`` (the
DQ-002 policy) has the repeat rewrite the alert's title and message for the new count, in the
increment's transaction, and point the alert at the latest occurrence's partition.

**Once per execution.** ``raise_for_failed_execution`` counts an execution at its failure time
(``ended_at``). An alert of the same key whose ``[first_seen_at, last_seen_at]`` already covers
that time has counted it, so applying the same execution again (a sensor re-run, the headless
path and the sensor both) changes nothing; the covering test is part of the increment's
``UPDATE ... WHERE``, so it holds under concurrency too. No extra table is needed. The price: an
execution whose failure time falls inside an already counted span but which was never applied
(out-of-order replay of the event stream) is not counted.

**Delivery, at least once.** The dispatcher claims one due delivery at a time by compare-and-set
(``UPDATE ... WHERE status = ? AND attempts = ?``: ``attempts + 1`` and ``next_attempt_at =
now + claim_lease_seconds``), so two dispatchers never send one delivery at once; it then sends
outside any transaction and records an ``alert_delivery_attempt`` with the outcome: SENT; RETRY
with ``next_attempt_at = now + min(backoff_base * 2**(attempt-1), backoff_cap)`` (or the capped
``Retry-After`` of a 429) for transient failures; FAILED with the reason for permanent ones and
after ``max_attempts``. Reasons are prefixed with their catalog code (EXT-002 email, EXT-003
Slack, EXT-004 PagerDuty) and never hold a secret: they are redacted (``AlertSettings.redact``)
where they are recorded, and an unexpected sender error whose traceback holds a secret is logged without it.

If the process dies after the channel accepted a message and before the outcome is recorded,
the delivery is still claimed but unrecorded; when the lease ends the next dispatcher claims it
again, first records the lost attempt as "outcome unknown", and sends again. So a crash in that
gap yields exactly one duplicate message: delivery is at least once, never lost. Email carries a
stable ``Message-ID`` per delivery (``<opsrel-alert-<alert_id>-email@opsrel>``) so mail clients
can collapse the copy; Slack incoming webhooks have no idempotency key, so the copy is posted.
A crash before the send (after the claim) just costs the lease time. ``delivery.attempts``
counts claims, so a process that dies on every attempt still ends FAILED after ``max_attempts``.
"""

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from opsrel_core.domain.instants import to_utc, utc_if_instant
from opsrel_core.alert_settings import AlertSettings
from opsrel_core.domain import alert_incidents as incidents
from opsrel_core.domain import alert_lifecycle as lifecycle
from opsrel_core.domain import error_codes
from opsrel_core.domain.redaction import WITHHELD
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.errors import BatchExecutionException, ConflictException, NotFoundException
from opsrel_core.notifiers import (
    DeliveryError, EmailMessageSpec, EmailSender, PagerDutySender, SlackSender,
)
from opsrel_core.notifiers import pagerduty, recovery, templates
from opsrel_core.persistence.retry import retry_transient, retry_transient_methods
from opsrel_core.persistence.tables import (
    ALERT_STATUSES, SEVERITIES, Alert, AlertDelivery, AlertDeliveryAttempt, AlertPartition,
    AlertTemplate,
    BatchExecution, ErrorCode, UtcDateTime, utcnow,
)
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services import alert_incidents as incident_rows
from opsrel_core.services.alert_resolution import queue_mirrored, resolve_alert
from opsrel_core.services.alert_silences import matching_silence, silence_still_holds
from opsrel_core.services.audit_log import audit_change, require_attribution
from opsrel_core.services.batch_execution import ExecutionView

log = logging.getLogger(__name__)

EXECUTION_FAILED = templates.EXECUTION_FAILED
DQ_FAIL = templates.DQ_FAIL
DQ_WARN_ACCUMULATED = templates.DQ_WARN_ACCUMULATED
DEFAULT_ACK_REASON = "alert acknowledged"
MAX_LIST_LIMIT = 1000
_INSERT_ATTEMPTS = 5
_CHANNEL_CODES = {"EMAIL": error_codes.EXT_SMTP_FAILED, "SLACK": error_codes.EXT_WEBHOOK_FAILED,
                  "PAGERDUTY": error_codes.EXT_PAGERDUTY_FAILED}
# A delivery of a kind waits while one of these kinds of its alert and channel is still due, so
# PagerDuty sees trigger, acknowledge, resolve in that order (a notice never precedes its alert).
_SENT_BEFORE = {"ACKNOWLEDGE": ("ALERT",), "UPDATE": ("ALERT",),
                "RECOVERY": ("ALERT", "ACKNOWLEDGE", "UPDATE")}

Clock = Callable[[], dt.datetime]
_ALERT = Alert.__table__
_DELIVERY = AlertDelivery.__table__
_ERROR_CODE = ErrorCode.__table__
_EXECUTION = BatchExecution.__table__


# -- views -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AlertView:
    """One alert as read back (times UTC)."""

    alert_id: int
    event_kind: str
    severity: str
    status: str
    dedupe_key: str
    error_code: str | None
    job_id: str | None
    execution_id: str | None
    asset_key: str | None
    partition_key: str | None
    title: str
    message: str
    occurrence_count: int
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None
    resolved_at: dt.datetime | None = None
    resolved_by: str | None = None
    resolved_by_execution_id: str | None = None
    resolve_reason: str | None = None
    rule_id: str | None = None
    silenced_by: int | None = None

    @classmethod
    def of(cls, row: Any) -> "AlertView":
        """Build the view from an ORM ``Alert`` or a Core row of the ``alert`` table."""
        return cls(**{f.name: utc_if_instant(getattr(row, f.name)) for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class AttemptView:
    """One recorded send attempt: when, whether it succeeded, the (secret-free) error."""

    attempt_id: int
    attempted_at: dt.datetime
    succeeded: bool
    error: str | None


@dataclasses.dataclass(frozen=True)
class DeliveryView:
    """One channel's delivery of an alert, with its attempts oldest first.

    Attributes:
        kind: ALERT (the alert) or RECOVERY (the notice that it was resolved).
        status: PENDING, RETRY, SENT, FAILED, or SUPPRESSED (silenced: never sent).
        attempts: claims so far (a claim whose outcome was lost to a crash counts too).
        attempt_history: the recorded attempts.
    """

    delivery_id: int
    alert_id: int
    channel: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    sent_at: dt.datetime | None
    created_at: dt.datetime
    attempt_history: tuple[AttemptView, ...]
    kind: str = "ALERT"


@dataclasses.dataclass
class DispatchReport:
    """What one ``dispatch_once`` did: counts, and ``(delivery_id, channel, status)`` per send."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    outcomes: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)


# -- the service -----------------------------------------------------------------------------


# A bad landing file: say what its re-delivery does, so the day is not run twice (the landing
# sensor's rerun and an operator's replay of the same file).
LANDING_FILE_CODES = frozenset({
    error_codes.INP_EMPTY_FILE, error_codes.INP_MALFORMED_FILE, error_codes.INP_MISSING_COLUMN,
    error_codes.INP_WRONG_PARTITION,
})
LANDING_REDELIVERY_NOTE = (
    "When the Dagster daemon runs, re-delivering the fixed file to the landing folder is enough: "
    "the landing sensor reruns the day by itself; do not also replay it (a replay while that run "
    "is in flight is refused with BAT-012). Without the daemon, replay the day after "
    "re-delivering the file."
)


@retry_transient_methods
class OpsAlertService:
    """Raises, deduplicates, acknowledges and lists alerts.

    Args:
        engine: engine of the ops database.
        settings: alert settings (channels, storm window).
        clock: current UTC time; injectable for tests.
    """

    def __init__(self, engine: sa.Engine, settings: AlertSettings, clock: Clock = utcnow):
        self._engine = engine
        self._settings = settings
        self._clock = clock

    def send_alert(
        self,
        event_kind: str,
        *,
        severity: str,
        title: str,
        message: str,
        error_code: str | None = None,
        job_id: str | None = None,
        execution_id: str | None = None,
        asset_key: str | None = None,
        partition_key: str | None = None,
        dedupe_key: str | None = None,
        at: dt.datetime | None = None,
        describe: Callable[[int], tuple[str, str]] | None = None,
        rule_id: str | None = None,
    ) -> AlertView:
        """Open an alert (with its deliveries) or add an occurrence to the open one, atomically.

        Args:
            event_kind: e.g. ``"EXECUTION_FAILED"``, ``"DQ_FAIL"`` (1..50 characters).
            severity: INFO, WARNING, ERROR or CRITICAL.
            title: one line (cut to 300 characters); message: the details.
            error_code: a catalog code; job_id, execution_id (a recorded execution), asset_key,
                partition_key: where it happened.
            dedupe_key: what counts as "the same" alert; default
                ``f"{event_kind}:{error_code}:{job_id}:{partition_key}"``.
            at: when it happened (UTC); the clock's now when omitted.
            describe: ``(title, message)`` for an occurrence count. When given, a repeat
                rewrites the alert's title and message for its new count, and its execution,
                asset and partition become this occurrence's (the latest), so what is read and
                sent says how often and where last.
            rule_id: the data-quality rule it is about (a silence may match it).

        Returns:
            The alert: new (occurrence_count 1, deliveries PENDING, or SUPPRESSED when a silence
            matches) or the live one incremented.

        Raises:
            ValueError: unknown severity or error code, or a blank event kind.
            BatchExecutionException: BAT-002 when ``execution_id`` is not recorded.
        """
        return self._occur(
            _AlertSpec(event_kind, severity, title, message, error_code, job_id, execution_id,
                       asset_key, partition_key, dedupe_key, describe, rule_id),
            to_utc(at) if at else self._clock(),
            count_once=False,
        )

    def raise_for_failed_execution(self, execution: ExecutionView) -> AlertView | None:
        """Alert on a FAILED execution whose error code has ``auto_alert``; idempotent.

        The alert (kind EXECUTION_FAILED) is an incident: deduplicated per code and job within
        ``incident_window_seconds`` (``opsrel_core.domain.alert_incidents``), it lists its
        partitions (``alert_partition``) and its title and message name their count and the
        first of them; it carries the catalog's operator message and the latest execution's
        error message. The same execution applied again changes nothing (see the module
        docstring; the covering span is the partition's).

        Args:
            execution: the execution as recorded (``BatchExecutionService.get_execution``).

        Returns:
            The alert that counts this execution, or None when the execution is not FAILED (a
            STOPPED run never alerts, RB-05), has no code, or its code does not auto-alert. A
            failure that ended before the history horizon (``history_horizon_seconds`` before
            the clock's now: history imported on a cold start or after a cursor reset) is kept
            as a RESOLVED alert with no delivery: recorded, never sent, and since it counts the
            execution, never alerted later either (RB-02).
        """
        if execution.status != ExecutionStatus.FAILED or not execution.error_code:
            return None
        with UnitOfWork(self._engine) as uow:
            code = uow.session.get(ErrorCode, execution.error_code)
            if code is None or not code.auto_alert:
                return None
            severity, catalog_title, operator_message = code.severity, code.title, code.operator_message
        partition = execution.failed_partition_key or execution.partition_key
        if partition is None and execution.partition_range_start:
            partition = f"{execution.partition_range_start}..{execution.partition_range_end}"
        message = operator_message
        if execution.error_message:
            message = f"{operator_message}\n\nError: {execution.error_message}"
        job_id = execution.job_id

        def describe_incident(alert_id: int, partitions: list[str], count: int) -> tuple[str, str]:
            return incidents.describe(alert_id=alert_id, catalog_title=catalog_title,
                                      job_id=job_id, base_message=message,
                                      partitions=partitions, count=count)

        spec = _AlertSpec(
            EXECUTION_FAILED, severity, f"{catalog_title} in {execution.job_id}"
            + (f" [{partition}]" if partition else ""), message, execution.error_code,
            execution.job_id, execution.execution_id, execution.failed_asset_key, partition,
            incidents.incident_key(execution.error_code, execution.job_id),
            incident=describe_incident, window_seconds=self._settings.incident_window_seconds,
        )
        at = utc_if_instant(execution.ended_at) or utc_if_instant(execution.created_at)
        assert at is not None
        horizon = self._clock() - dt.timedelta(seconds=self._settings.history_horizon_seconds)
        return self._occur(spec, at, count_once=True, history=at < horizon)

    def acknowledge_alert(
        self,
        alert_id: int,
        *,
        operator_id: str | None,
        reason: str | None = None,
        at: dt.datetime | None = None,
    ) -> AlertView:
        """Acknowledge an alert and write its audit record in the same transaction.

        An OPEN alert becomes ACKNOWLEDGED; a RESOLVED one keeps its status and records who
        acknowledged it; acknowledging an OPEN alert queues, in the same transaction, an
        ACKNOWLEDGE delivery for PagerDuty when the alert went there (the incident follows).
        The same operator acknowledging again changes nothing and writes no
        second record; another operator is refused (BAT-013, naming who acknowledged), also
        when two operators do it at once: exactly one acknowledgement is recorded.

        Args:
            alert_id: the alert.
            operator_id: who acknowledges (required, 1..100 characters).
            reason: recorded in the audit log; ``"alert acknowledged"`` when omitted or blank.
            at: when (UTC); the clock's now when omitted.

        Returns:
            The alert after the acknowledgement.

        Raises:
            BatchExecutionException: BAT-008 when the operator is missing or blank; nothing
                changes.
            NotFoundException: BAT-011 (a ``LookupError``) when no alert has this id.
            ConflictException: BAT-013 when another operator acknowledged the alert first;
                nothing changes.
        """
        reason = reason if reason and reason.strip() else DEFAULT_ACK_REASON
        operator_id, reason = require_attribution(operator_id, reason)
        at = to_utc(at) if at else self._clock()
        with UnitOfWork(self._engine) as uow:
            # A guarded no-op write takes the row (PostgreSQL) or database (SQLite) write lock
            # first, so a concurrent acknowledgement is seen and writes nothing.
            claimed = uow.session.execute(
                sa.update(Alert)
                .where(Alert.alert_id == alert_id, Alert.acknowledged_at.is_(None))
                .values(acknowledged_at=Alert.acknowledged_at)
                .execution_options(synchronize_session=False)
            ).rowcount
            row = uow.session.get(Alert, alert_id, populate_existing=True)
            if row is None:
                raise NotFoundException(error_codes.BAT_RECORD_NOT_FOUND, f"no alert with id {alert_id}")
            if claimed != 1:
                if row.acknowledged_by != operator_id:
                    raise ConflictException(
                        error_codes.BAT_ALREADY_ACKNOWLEDGED,
                        f"alert {alert_id} was already acknowledged by {row.acknowledged_by} at "
                        f"{to_utc(row.acknowledged_at).isoformat()}; nothing was recorded",
                        {"alert_id": alert_id, "acknowledged_by": row.acknowledged_by},
                    )
                return AlertView.of(row)
            with audit_change(
                uow.session, operator_id=operator_id, reason=reason, action_type="BATCH_ACTION",
                action="ACKNOWLEDGE_ALERT", target=row, execution_id=row.execution_id, at=at,
            ):
                mirror = row.status == "OPEN"
                if row.status == "OPEN":
                    row.status = "ACKNOWLEDGED"
                row.acknowledged_by = operator_id
                row.acknowledged_at = at
            if mirror:  # the on-call tool's incident is acknowledged in the same transaction
                queue_mirrored(uow.session.connection(), alert_id, "ACKNOWLEDGE", at)
            uow.commit()
            return AlertView.of(row)

    def resolve_alert(
        self, alert_id: int, *, operator_id: str | None, reason: str | None,
        at: dt.datetime | None = None,
    ) -> AlertView:
        """Resolve a live alert by hand with a reason, audited (``RESOLVE_ALERT``), atomically.

        Raises:
            BatchExecutionException: BAT-008 when operator or reason is missing or blank.
            NotFoundException: BAT-011 when no alert has this id.
            ConflictException: BAT-001 when it is already resolved; nothing changes.
        """
        at = to_utc(at) if at else self._clock()
        with UnitOfWork(self._engine) as uow:
            row = resolve_alert(uow.session, alert_id, operator_id=operator_id, reason=reason, at=at)
            uow.commit()
            return AlertView.of(row)

    def get_alert(self, alert_id: int) -> AlertView:
        """Return one alert.

        Raises:
            NotFoundException: BAT-011 (a ``LookupError``) when no alert has this id.
        """
        with UnitOfWork(self._engine) as uow:
            row = uow.session.get(Alert, alert_id)
            if row is None:
                raise NotFoundException(error_codes.BAT_RECORD_NOT_FOUND, f"no alert with id {alert_id}")
            return AlertView.of(row)

    def list_alerts(
        self, status: str | None = None, limit: int = 100, before_alert_id: int | None = None
    ) -> list[AlertView]:
        """Return alerts newest first (by ``alert_id``).

        Args:
            status: OPEN, ACKNOWLEDGED or RESOLVED; all when None.
            limit: page size, 1..1000.
            before_alert_id: keyset cursor: only alerts with a smaller id (the last id of the
                previous page).

        Raises:
            ValueError: unknown status or ``limit`` out of range.
        """
        if status is not None and status not in ALERT_STATUSES:
            raise ValueError(f"unknown alert status {status!r}; one of {ALERT_STATUSES}")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIST_LIMIT}, got {limit}")
        stmt = sa.select(Alert).order_by(Alert.alert_id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(Alert.status == status)
        if before_alert_id is not None:
            stmt = stmt.where(Alert.alert_id < before_alert_id)
        with UnitOfWork(self._engine) as uow:
            return [AlertView.of(row) for row in uow.session.scalars(stmt)]

    def alerts_of_partition(self, job_id: str, partition_key: str,
                            limit: int = 100) -> list[AlertView]:
        """The alerts about one partition of a job, newest first: those raised for it and the
        incidents that list it among their partitions (``alert_partition``). One query.

        Args:
            job_id, partition_key: the partition, e.g. ``("flights_daily", "2013-01-04")``.
            limit: at most this many, 1..1000.

        Raises:
            ValueError: ``limit`` out of range.
        """
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIST_LIMIT}, got {limit}")
        listed = sa.select(AlertPartition.alert_id).where(
            AlertPartition.partition_key == partition_key)
        stmt = (sa.select(Alert).where(
            Alert.job_id == job_id,
            sa.or_(Alert.partition_key == partition_key, Alert.alert_id.in_(listed)))
            .order_by(Alert.alert_id.desc()).limit(limit))
        with UnitOfWork(self._engine) as uow:
            return [AlertView.of(row) for row in uow.session.scalars(stmt)]

    def delivery_history(self, alert_id: int) -> list[DeliveryView]:
        """Return the alert's deliveries (by channel) with their attempts, oldest first.

        Errors are redacted on read too (``AlertSettings.redact``), so a row written before a
        secret form was known never shows it.

        Raises:
            NotFoundException: BAT-011 (a ``LookupError``) when no alert has this id.
        """
        with UnitOfWork(self._engine) as uow:
            if uow.session.get(Alert, alert_id) is None:
                raise NotFoundException(error_codes.BAT_RECORD_NOT_FOUND, f"no alert with id {alert_id}")
            deliveries = uow.session.scalars(
                sa.select(AlertDelivery).where(AlertDelivery.alert_id == alert_id)
                .order_by(AlertDelivery.kind, AlertDelivery.channel)
            ).all()
            attempts = uow.session.scalars(
                sa.select(AlertDeliveryAttempt)
                .where(AlertDeliveryAttempt.delivery_id.in_([d.delivery_id for d in deliveries]))
                .order_by(AlertDeliveryAttempt.attempt_id)
            ).all()
            def _masked(text: str | None) -> str | None:
                return None if text is None else self._settings.redact(text)

            return [
                DeliveryView(
                    delivery_id=d.delivery_id, alert_id=d.alert_id, channel=d.channel,
                    kind=d.kind, status=d.status, attempts=d.attempts,
                    next_attempt_at=utc_if_instant(d.next_attempt_at), last_error=_masked(d.last_error),
                    sent_at=utc_if_instant(d.sent_at), created_at=utc_if_instant(d.created_at),
                    attempt_history=tuple(
                        AttemptView(a.attempt_id, utc_if_instant(a.attempted_at), a.succeeded,
                                    _masked(a.error))
                        for a in attempts if a.delivery_id == d.delivery_id
                    ),
                )
                for d in deliveries
            ]

    # -- internals ---------------------------------------------------------------------------

    def _occur(
        self, spec: "_AlertSpec", at: dt.datetime, *, count_once: bool, history: bool = False
    ) -> AlertView:
        """Add one occurrence at ``at``: increment the open alert in the window, or open one.

        ``count_once``: an alert of the key whose seen span covers ``at`` has already counted
        this occurrence (used per execution); it is returned unchanged. ``history``: the
        occurrence is older than the history horizon: it is recorded as its own RESOLVED alert
        with no delivery (never sent, never merged into an open incident).
        """
        spec.validate()
        # An execution's error message may quote a channel's secret; alerts are stored and sent.
        spec = dataclasses.replace(spec, title=self._settings.redact(spec.title),
                                   message=self._settings.redact(spec.message))
        key = spec.key()
        window = spec.window_seconds or self._settings.dedupe_window_seconds
        # An incident counts per partition (alert_partition), not over the alert's span.
        per_partition = spec.incident is not None and spec.partition_key is not None
        # Core statements on the session's connection, not ORM objects: the unit of work's
        # flush, identity map and row loading were most of this path's client CPU (benchmark
        # B7). The transaction, the statements' guards and the unique index are the same.
        alert = _ALERT
        for attempt in range(_INSERT_ATTEMPTS):
            with UnitOfWork(self._engine) as uow:
                conn = uow.session.connection()
                if attempt == 0:
                    # Checked in the writing transaction, not in one of its own (benchmark B7:
                    # a transaction less per alert); an error leaves nothing written.
                    _require_references(conn, spec)
                if spec.incident is not None:
                    # A silence mutes a part of an incident (a partition pattern): the muted
                    # failures are their own incident, so the rest is still delivered.
                    muted = matching_silence(
                        conn, self._clock(), job_id=spec.job_id, error_code=spec.error_code,
                        rule_id=spec.rule_id, partition_key=spec.partition_key)
                    key = spec.key() if muted is None else f"{spec.key()}:silence-{muted}"[:300]
                    if muted is None:
                        key = self._unmuted_incident_key(conn, spec.key())
                if count_once and per_partition:
                    assert spec.partition_key is not None
                    covered = incident_rows.covering(conn, key, spec.partition_key, at)
                    if covered is not None:
                        return AlertView.of(covered)
                elif count_once:
                    covering = conn.execute(
                        sa.select(alert).where(
                            alert.c.dedupe_key == key, alert.c.first_seen_at <= at,
                            alert.c.last_seen_at >= at,
                        ).order_by(alert.c.alert_id.desc()).limit(1)
                    ).first()
                    if covering is not None:
                        return AlertView.of(covering)
                if history:
                    row = conn.execute(
                        sa.insert(alert).values({
                            **spec.values(key, at), "status": lifecycle.RESOLVED,
                            "resolved_at": at, "resolved_by": lifecycle.BY_HISTORY,
                        }).returning(*alert.c)
                    ).one()
                    if per_partition:
                        row = self._join_incident(conn, spec, row, at)
                    uow.commit()
                    log.info("alert %r at %s is older than the history horizon: recorded, not "
                             "sent", key, at.isoformat())
                    return AlertView.of(row)
                open_alert = conn.execute(
                    sa.select(alert.c.alert_id, alert.c.last_seen_at, alert.c.status)
                    .where(alert.c.dedupe_key == key,
                           alert.c.status.in_(lifecycle.LIVE_STATUSES))
                    .with_for_update()
                ).first()
                if open_alert is not None and lifecycle.absorbs_repeat(
                        open_alert.status, utc_if_instant(open_alert.last_seen_at), at, window):
                    guard = [alert.c.alert_id == open_alert.alert_id,
                             alert.c.status == open_alert.status]
                    if count_once and not per_partition:
                        guard.append(sa.not_(sa.and_(alert.c.first_seen_at <= at, alert.c.last_seen_at >= at)))
                    at_param = sa.bindparam("occurred_at", at, type_=UtcDateTime())
                    updated = conn.execute(
                        sa.update(alert).where(*guard).values(
                            occurrence_count=alert.c.occurrence_count + 1,
                            last_seen_at=sa.case((alert.c.last_seen_at < at_param, at_param), else_=alert.c.last_seen_at),
                            first_seen_at=sa.case((alert.c.first_seen_at > at_param, at_param), else_=alert.c.first_seen_at),
                        ).returning(*alert.c)
                    ).first()
                    if updated is None:
                        continue  # acknowledged, resolved or counted meanwhile: decide again
                    if per_partition:
                        joined = self._join_incident(conn, spec, updated, at)
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
                        updated = _describe_repeat(conn, spec, updated, self._settings.redact)
                    if updated.silenced_by is not None:
                        self._lift_if_unsilenced(conn, updated.alert_id, updated.silenced_by)
                    uow.commit()
                    return AlertView.of(updated)
                if open_alert is not None:
                    # Quiet for a whole window: that incident is over; this is a new one.
                    done = conn.execute(
                        sa.update(alert)
                        .where(alert.c.alert_id == open_alert.alert_id,
                               alert.c.status == lifecycle.OPEN)
                        .values(status=lifecycle.next_status(lifecycle.OPEN, lifecycle.QUIET),
                                resolved_at=at, resolved_by=lifecycle.BY_QUIET_WINDOW)
                    ).rowcount
                    if done != 1:
                        continue
                    queue_mirrored(conn, open_alert.alert_id, "RECOVERY", self._clock())
                try:
                    now = self._clock()
                    # Matched when it is raised (now), not when it happened: a silence that
                    # expired before the alert is raised no longer holds.
                    silence = matching_silence(
                        conn, now, job_id=spec.job_id, error_code=spec.error_code,
                        rule_id=spec.rule_id, partition_key=spec.partition_key)
                    row = conn.execute(
                        sa.insert(alert).values({**spec.values(key, at), "silenced_by": silence})
                        .returning(*alert.c)
                    ).one()
                    if per_partition:
                        row = self._join_incident(conn, spec, row, at)
                    if self._settings.channels:
                        conn.execute(sa.insert(_DELIVERY), [
                            {"alert_id": row.alert_id, "channel": channel, "kind": "ALERT",
                             "status": "PENDING" if silence is None else "SUPPRESSED",
                             "attempts": 0, "next_attempt_at": now, "created_at": now}
                            for channel in self._settings.channels
                        ])
                    uow.commit()
                except sa.exc.IntegrityError:
                    continue  # a concurrent first occurrence won: become its increment
                return AlertView.of(row)
        raise BatchExecutionException(
            error_codes.BAT_INVALID_TRANSITION,
            f"alert {key!r} kept changing under concurrent writers; gave up after "
            f"{_INSERT_ATTEMPTS} attempts",
        )

    def _unmuted_incident_key(self, conn: sa.Connection, key: str) -> str:
        # No silence holds for this failure: it joins the live incident of the plain key, or
        # else a live muted one whose silence no longer holds (the condition outlasted its
        # silence, so that incident is delivered now, see _lift_if_unsilenced).
        live = conn.execute(
            sa.select(_ALERT.c.dedupe_key, _ALERT.c.silenced_by)
            .where(sa.or_(_ALERT.c.dedupe_key == key,
                          _ALERT.c.dedupe_key.like(f"{key}:silence-%")),
                   _ALERT.c.status.in_(lifecycle.LIVE_STATUSES))
            .order_by(_ALERT.c.alert_id)
        ).all()
        if any(row.dedupe_key == key for row in live):
            return key
        now = self._clock()
        for row in live:
            if row.silenced_by is not None and not silence_still_holds(conn, row.silenced_by, now):
                return row.dedupe_key
        return key

    def _join_incident(self, conn: sa.Connection, spec: "_AlertSpec", row: Any,
                       at: dt.datetime) -> Any:
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
        row = conn.execute(
            sa.update(_ALERT).where(_ALERT.c.alert_id == row.alert_id).values(
                title=" ".join(title.split())[:300], message=message,
                execution_id=spec.execution_id or row.execution_id,
                asset_key=spec.asset_key or row.asset_key,
            ).returning(*_ALERT.c)
        ).one()
        if joined:
            incident_rows.queue_update(conn, row.alert_id, count, self._clock())
        return row

    def _lift_if_unsilenced(self, conn: sa.Connection, alert_id: int, silence_id: int) -> None:
        # A repeat of a silenced alert after its silence ended or expired: the condition
        # outlasted the silence, so the alert is delivered now.
        now = self._clock()
        if silence_still_holds(conn, silence_id, now):
            return
        conn.execute(
            sa.update(_DELIVERY).where(_DELIVERY.c.alert_id == alert_id,
                                       _DELIVERY.c.kind == "ALERT",
                                       _DELIVERY.c.status == "SUPPRESSED")
            .values(status="PENDING", next_attempt_at=now)
        )


def _require_references(conn: sa.Connection, spec: "_AlertSpec") -> None:
    # ValueError for an error code outside the catalog, BAT-002 for an unrecorded execution.
    if spec.error_code and conn.scalar(
        sa.select(_ERROR_CODE.c.code).where(_ERROR_CODE.c.code == spec.error_code)
    ) is None:
        raise ValueError(f"error code {spec.error_code!r} is not in the catalog")
    if spec.execution_id and conn.scalar(
        sa.select(_EXECUTION.c.execution_id).where(_EXECUTION.c.execution_id == spec.execution_id)
    ) is None:
        raise BatchExecutionException(
            error_codes.BAT_EXECUTION_NOT_FOUND,
            f"cannot alert on unrecorded execution {spec.execution_id!r}",
            {"execution_id": spec.execution_id},
        )


def _describe_repeat(
    conn: sa.Connection, spec: "_AlertSpec", row: Any, redact: Callable[[str], str]
) -> Any:
    # In the increment's transaction: the count the text names is the one just written.
    assert spec.describe is not None
    title, message = (redact(text) for text in spec.describe(row.occurrence_count))
    return conn.execute(
        sa.update(_ALERT).where(_ALERT.c.alert_id == row.alert_id).values(
            title=" ".join(title.split())[:300], message=message,
            execution_id=spec.execution_id or row.execution_id,
            asset_key=spec.asset_key or row.asset_key,
            partition_key=spec.partition_key or row.partition_key,
        ).returning(*_ALERT.c)
    ).one()


@dataclasses.dataclass(frozen=True)
class _AlertSpec:
    event_kind: str
    severity: str
    title: str
    message: str
    error_code: str | None
    job_id: str | None
    execution_id: str | None
    asset_key: str | None
    partition_key: str | None
    dedupe_key: str | None
    describe: Callable[[int], tuple[str, str]] | None = None
    rule_id: str | None = None
    # A failure incident: (title, message) for (alert id, first partitions, partition count).
    incident: Callable[[int, list[str], int], tuple[str, str]] | None = None
    window_seconds: float | None = None  # the storm window of this key; the settings' if None

    def validate(self) -> None:
        if not self.event_kind or not self.event_kind.strip() or len(self.event_kind) > 50:
            raise ValueError(f"event_kind must be 1..50 characters, got {self.event_kind!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}; one of {SEVERITIES}")

    def key(self) -> str:
        key = self.dedupe_key or (
            f"{self.event_kind}:{self.error_code}:{self.job_id}:{self.partition_key}"
        )
        return key[:300]

    def values(self, key: str, at: dt.datetime) -> dict[str, Any]:
        """The column values of a new OPEN alert (one occurrence at ``at``)."""
        return dict(
            event_kind=self.event_kind, severity=self.severity, status="OPEN", dedupe_key=key,
            error_code=self.error_code, job_id=self.job_id, execution_id=self.execution_id,
            asset_key=self.asset_key, partition_key=self.partition_key,
            title=" ".join(self.title.split())[:300], message=self.message, occurrence_count=1,
            first_seen_at=at, last_seen_at=at, rule_id=self.rule_id,
        )


# -- the dispatcher --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Claim:
    delivery_id: int
    alert_id: int
    channel: str
    attempt: int  # the delivery's attempts after this claim
    content: templates.AlertContent
    override: templates.TemplateOverride | None
    notice: recovery.RecoveryContent | None = None  # set for a RECOVERY delivery
    kind: str = "ALERT"
    dedupe_key: str = "-"
    update: int = 0  # an incident's UPDATE delivery: the partition count it announces


class AlertDispatcher:
    """Sends due alert deliveries and records every attempt (the outbox's consumer).

    Args:
        engine: engine of the ops database.
        settings: alert settings (backoff, attempts, lease, Slack pacing, run links).
        email_sender: sends email (``SmtpEmailSender``); None: EMAIL deliveries are left pending
            for a dispatcher that has one.
        slack_sender: posts to Slack (``SlackWebhookSender``); None: likewise for SLACK.
        clock: current UTC time; injectable so tests move time instead of sleeping.
        sleep: pauses between Slack posts (seconds); injectable.
        monotonic: the pacing clock (seconds, ``time.monotonic`` by default); injectable with
            ``sleep`` so a test can read the exact pacing schedule (RB-22) without waiting.
        pagerduty_sender: posts PagerDuty events (``PagerDutyEventsSender``); None: likewise
            for PAGERDUTY.
    """

    def __init__(
        self,
        engine: sa.Engine,
        settings: AlertSettings,
        email_sender: EmailSender | None = None,
        slack_sender: SlackSender | None = None,
        clock: Clock = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        pagerduty_sender: PagerDutySender | None = None,
    ):
        self._engine = engine
        self._settings = settings
        self._senders: dict[str, Any] = {
            ch: sender for ch, sender in (("EMAIL", email_sender), ("SLACK", slack_sender),
                                          ("PAGERDUTY", pagerduty_sender)) if sender
        }
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self._last_slack_post: float | None = None

    def dispatch_once(self, limit: int = 100) -> DispatchReport:
        """Send up to ``limit`` due deliveries (PENDING or RETRY with ``next_attempt_at <= now``).

        Each delivery is claimed, sent and recorded on its own, so a slow or failing channel
        never blocks the other one beyond its timeout, and a crash loses at most one outcome
        (see the module docstring).

        Returns:
            Counts of claimed, sent, retried and failed deliveries.

        Raises:
            SystemException: SYS-002 when the ops database stays unreachable.
        """
        report = DispatchReport()
        for _ in range(limit):
            claim = self._claim_next()
            if claim is None:
                break
            report.claimed += 1
            status = self._record(claim, self._send(claim))
            report.outcomes.append((claim.delivery_id, claim.channel, status))
            report.sent += status == "SENT"
            report.retried += status == "RETRY"
            report.failed += status == "FAILED"
        return report

    @retry_transient
    def _claim_next(self) -> _Claim | None:
        now = self._clock()
        if not self._senders:
            return None
        with UnitOfWork(self._engine) as uow:
            s = uow.session
            earlier = sa.orm.aliased(AlertDelivery)
            # A recovery notice (or an acknowledgement) waits until its channel's alert (and
            # acknowledgement) is sent or failed.
            in_order = [AlertDelivery.kind == "ALERT", *(
                sa.and_(AlertDelivery.kind == kind, ~sa.exists().where(
                    earlier.alert_id == AlertDelivery.alert_id,
                    earlier.channel == AlertDelivery.channel,
                    earlier.kind.in_(before),
                    earlier.status.in_(("PENDING", "RETRY"))))
                for kind, before in _SENT_BEFORE.items())]
            stmt = (
                sa.select(AlertDelivery)
                .where(AlertDelivery.status.in_(("PENDING", "RETRY")),
                       AlertDelivery.next_attempt_at <= now,
                       AlertDelivery.channel.in_(sorted(self._senders)),
                       sa.or_(*in_order))
                .order_by(AlertDelivery.next_attempt_at, AlertDelivery.delivery_id)
                .limit(1)
            )
            if self._engine.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            for _ in range(10):
                delivery = s.scalars(stmt).first()
                if delivery is None:
                    return None
                won = s.execute(
                    sa.update(AlertDelivery).where(
                        AlertDelivery.delivery_id == delivery.delivery_id,
                        AlertDelivery.status == delivery.status,
                        AlertDelivery.attempts == delivery.attempts,
                    ).values(
                        attempts=delivery.attempts + 1,
                        next_attempt_at=now + dt.timedelta(seconds=self._settings.claim_lease_seconds),
                    ).execution_options(synchronize_session=False)
                ).rowcount
                if won == 1:
                    break
                s.rollback()  # another dispatcher took it: look again
            else:
                return None
            recorded = s.scalar(
                sa.select(sa.func.count()).select_from(AlertDeliveryAttempt)
                .where(AlertDeliveryAttempt.delivery_id == delivery.delivery_id)
            ) or 0
            if recorded < delivery.attempts:
                # The previous claim never recorded its outcome: its process died mid-send.
                s.add(AlertDeliveryAttempt(
                    delivery_id=delivery.delivery_id, attempted_at=now, succeeded=False,
                    error=f"outcome of attempt {delivery.attempts} unknown: the dispatcher stopped "
                          "before recording it (the message may have been sent); sending again",
                ))
            alert = s.get_one(Alert, delivery.alert_id)
            content = self._content(s, alert)
            claim = _Claim(
                delivery.delivery_id, delivery.alert_id, delivery.channel, delivery.attempts + 1,
                content, self._override(s, alert.event_kind, delivery.channel),
                self._recovery(alert, content) if delivery.kind == "RECOVERY" else None,
                delivery.kind, alert.dedupe_key,
                delivery.sequence if delivery.kind == "UPDATE" else 0,
            )
            uow.commit()
            return claim

    def _send(self, claim: _Claim) -> DeliveryError | None:
        sender = self._senders[claim.channel]
        try:
            if claim.channel == "PAGERDUTY":
                # ALERT triggers, ACKNOWLEDGE acknowledges, RECOVERY resolves the incident.
                sender.send(pagerduty.build_event(
                    pagerduty.ACTION_OF_KIND[claim.kind], claim.content, claim.dedupe_key,
                    claim.override))
            elif claim.notice is not None and claim.channel == "EMAIL":
                subject, body = recovery.render_recovery_email(claim.notice)
                sender.send(EmailMessageSpec(
                    subject, body, recovery.recovery_message_id(claim.alert_id),
                    in_reply_to=recovery.alert_message_id(claim.alert_id),
                ))
            elif claim.notice is not None:
                self._pace_slack()
                sender.send(recovery.render_recovery_slack(claim.notice))
            elif claim.update and claim.channel == "EMAIL":
                # An incident grew: the alert's current text, answering the alert's email.
                subject, body = templates.render_email(claim.content, claim.override)
                sender.send(EmailMessageSpec(
                    f"Update: {subject}", body,
                    f"<opsrel-alert-{claim.alert_id}-update-{claim.update}@opsrel>",
                    in_reply_to=recovery.alert_message_id(claim.alert_id),
                ))
            elif claim.update:
                self._pace_slack()
                sender.send(f"*Update*: {templates.render_slack(claim.content, claim.override)}")
            elif claim.channel == "EMAIL":
                subject, body = templates.render_email(claim.content, claim.override)
                sender.send(EmailMessageSpec(
                    subject, body, recovery.alert_message_id(claim.alert_id)
                ))
            else:
                self._pace_slack()
                sender.send(templates.render_slack(claim.content, claim.override))
        except DeliveryError as exc:
            return exc
        except Exception as exc:  # a sender bug: recorded as a transient failure, and logged
            redactor = self._settings.redactor
            reason = f"unexpected {redactor.describe_exception(exc)}"
            if redactor.traceback_holds_secret(exc):
                # The traceback would print the URL or password the exception carries.
                log.error("alert delivery %s: unexpected sender error: %s [%s]",
                          claim.delivery_id, reason, WITHHELD)
            else:
                log.exception("alert delivery %s: unexpected sender error", claim.delivery_id)
            return DeliveryError(True, reason)
        return None

    def _pace_slack(self) -> None:
        interval = self._settings.slack_min_interval_seconds
        if self._last_slack_post is not None and interval > 0:
            wait = interval - (self._monotonic() - self._last_slack_post)
            if wait > 0:
                self._sleep(wait)
        self._last_slack_post = self._monotonic()

    @retry_transient
    def _record(self, claim: _Claim, error: DeliveryError | None) -> str:
        s_ = self._settings
        now = self._clock()
        values: dict[str, Any]
        reason = None
        if error is None:
            status, values = "SENT", {"sent_at": now, "last_error": None}
        else:
            # The one place a delivery's error text is made for storage and the log: redacted
            # here whatever the sender did (a receiver may echo the URL or the password).
            reason = f"{_CHANNEL_CODES[claim.channel]}: {s_.redact(error.reason)}"[:2000]
            if error.transient and claim.attempt < s_.max_attempts:
                delay = min(s_.backoff_base_seconds * 2 ** (claim.attempt - 1), s_.backoff_cap_seconds)
                if error.retry_after is not None:
                    delay = min(max(error.retry_after, 1.0), s_.backoff_cap_seconds)
                status = "RETRY"
                values = {"last_error": reason, "next_attempt_at": now + dt.timedelta(seconds=delay)}
            else:
                status = "FAILED"
                if error.transient:
                    reason = f"{reason} (gave up after {claim.attempt} attempts)"
                values = {"last_error": reason}
        with UnitOfWork(self._engine) as uow:
            uow.session.add(AlertDeliveryAttempt(
                delivery_id=claim.delivery_id, attempted_at=now, succeeded=error is None,
                error=reason,
            ))
            # Guarded by the claim: a dispatcher whose lease ran out does not overwrite the
            # outcome of the one that re-claimed the delivery.
            uow.session.execute(
                sa.update(AlertDelivery).where(
                    AlertDelivery.delivery_id == claim.delivery_id,
                    AlertDelivery.attempts == claim.attempt,
                    AlertDelivery.status.in_(("PENDING", "RETRY")),
                ).values(status=status, **values).execution_options(synchronize_session=False)
            )
            uow.commit()
        if status != "SENT":
            log.warning("alert delivery %s (%s) %s: %s", claim.delivery_id, claim.channel, status, reason)
        return status

    def _content(self, s: sa.orm.Session, alert: Alert) -> templates.AlertContent:
        operator_message = operator_action = ""
        if alert.error_code:
            code = s.get(ErrorCode, alert.error_code)
            if code is not None and code.operator_message not in alert.message:
                operator_message = code.operator_message
            if code is not None:
                operator_action = code.operator_action or ""
        if alert.error_code in LANDING_FILE_CODES:
            operator_message = f"{operator_message} {LANDING_REDELIVERY_NOTE}".strip()
        return templates.AlertContent(
            alert_id=str(alert.alert_id), event_kind=alert.event_kind, severity=alert.severity,
            title=alert.title, message=alert.message, error_code=alert.error_code or "-",
            operator_message=operator_message, job_id=alert.job_id or "-",
            execution_id=alert.execution_id or "-", asset_key=alert.asset_key or "-",
            partition_key=alert.partition_key or "-",
            run_link=self._settings.run_link(alert.execution_id) or "-",
            console_link=self._settings.console_link(alert.job_id, alert.partition_key) or "-",
            operator_action=operator_action,
            ack_command=templates.ack_command(str(alert.alert_id)),
            occurrence_count=str(alert.occurrence_count),
            first_seen_at=utc_if_instant(alert.first_seen_at).isoformat(),
            last_seen_at=utc_if_instant(alert.last_seen_at).isoformat(),
        )

    def _recovery(self, alert: Alert, content: templates.AlertContent) -> recovery.RecoveryContent:
        by = alert.resolved_by_execution_id
        return recovery.RecoveryContent(
            alert=content, resolved_by_execution_id=by or "-",
            resolved_at=utc_if_instant(alert.resolved_at).isoformat() if alert.resolved_at else "-",
            recovery_link=self._settings.run_link(by) or "-",
        )

    @staticmethod
    def _override(s: sa.orm.Session, event_kind: str, channel: str) -> templates.TemplateOverride | None:
        row = s.scalars(sa.select(AlertTemplate).where(
            AlertTemplate.event_kind == event_kind, AlertTemplate.channel == channel
        )).first()
        return None if row is None else templates.TemplateOverride(row.subject_template, row.body_template)
