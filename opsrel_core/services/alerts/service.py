"""OpsAlertService: raise, acknowledge, resolve and read alerts (every entry point calls it)."""

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa

from opsrel_core.config import AlertSettings
from opsrel_core.domain import alert_lifecycle as lifecycle
from opsrel_core.domain import error_codes
from opsrel_core.domain.alert_delivery import DeliveryKind
from opsrel_core.domain.instants import to_utc, utc_if_instant
from opsrel_core.domain.status import ExecutionStatus
from opsrel_core.errors import ConflictException, NotFoundException
from opsrel_core.notifiers import templates
from opsrel_core.persistence.repositories.alerts import AlertRepository
from opsrel_core.persistence.retry import retry_transient_methods
from opsrel_core.persistence.tables import ALERT_STATUSES, Alert, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.alert_resolution import queue_mirrored, resolve_alert
from opsrel_core.services.alerts.raising import AlertRaiser, Repository
from opsrel_core.services.alerts.spec import AlertSpec, failed_execution_spec
from opsrel_core.services.alerts.views import AlertView, DeliveryView, delivery_views
from opsrel_core.services.audit_log import audit_change, require_attribution
from opsrel_core.services.batch_execution import ExecutionView

Clock = Callable[[], dt.datetime]
EXECUTION_FAILED = templates.EXECUTION_FAILED  # the kind of a failed execution's alert
DEFAULT_ACK_REASON = "alert acknowledged"
MAX_LIST_LIMIT = 1000


@retry_transient_methods
class OpsAlertService:
    """Raises, deduplicates, acknowledges and lists alerts.

    Args:
        engine: engine of the ops database.
        settings: alert settings (channels, storm window).
        clock: current UTC time; injectable for tests.
        repository: the alert SQL over a connection (``AlertRepository``); injectable so the
            fast tests read alerts from an in-memory fake.
    """

    def __init__(self, engine: sa.Engine, settings: AlertSettings, clock: Clock = utcnow, *,
                 repository: Repository = AlertRepository):
        self._engine = engine
        self._settings = settings
        self._clock = clock
        self._repository = repository
        self._raiser = AlertRaiser(engine, settings, lambda: self._clock(), repository)

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
        return self._raiser.occur(
            AlertSpec(event_kind, severity, title, message, error_code, job_id, execution_id,
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
        error message. An execution is counted at its failure time (``ended_at``): the same
        execution applied again (a sensor re-run, the headless path and the sensor both) finds
        its partition's seen span covering that time and changes nothing.

        Args:
            execution: the execution as recorded (``BatchExecutionService.get_execution``).

        Returns:
            The alert that counts this execution, or None when the execution is not FAILED (a
            STOPPED run never alerts: an operator stopped it on purpose), has no code, or its
            code does not auto-alert. A failure that ended before the history horizon
            (``history_horizon_seconds`` before the clock's now: history imported on a cold
            start or after a cursor reset) is kept as a RESOLVED alert with no delivery:
            recorded, never sent, and since it counts the execution, never alerted later either
            (old news is not paged).
        """
        if execution.status != ExecutionStatus.FAILED or not execution.error_code:
            return None
        with UnitOfWork(self._engine) as uow:
            code = self._repository(uow.session.connection()).error_code(execution.error_code)
            if code is None or not code.auto_alert:
                return None
        spec = failed_execution_spec(execution, code,
                                     window_seconds=self._settings.incident_window_seconds)
        at = utc_if_instant(execution.ended_at) or utc_if_instant(execution.created_at)
        assert at is not None
        horizon = self._clock() - dt.timedelta(seconds=self._settings.history_horizon_seconds)
        return self._raiser.occur(spec, at, count_once=True, history=at < horizon)

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
            claimed = self._repository(uow.session.connection()).take_unacknowledged(alert_id)
            # The audit record captures the row before and after through the ORM: the change is
            # made on the mapped object.
            row = uow.session.get(Alert, alert_id, populate_existing=True)
            if row is None:
                raise NotFoundException(error_codes.BAT_RECORD_NOT_FOUND, f"no alert with id {alert_id}")
            if not claimed:
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
                mirror = row.status == lifecycle.OPEN
                if mirror:
                    row.status = lifecycle.next_status(row.status, lifecycle.ACKNOWLEDGE)
                row.acknowledged_by = operator_id
                row.acknowledged_at = at
            if mirror:  # the on-call tool's incident is acknowledged in the same transaction
                queue_mirrored(uow.session.connection(), alert_id, DeliveryKind.ACKNOWLEDGE.value, at)
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
            row = self._repository(uow.session.connection()).get(alert_id)
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
        _check_limit(limit)
        with UnitOfWork(self._engine) as uow:
            rows = self._repository(uow.session.connection()).newest(
                status=status, limit=limit, before_alert_id=before_alert_id)
            return [AlertView.of(row) for row in rows]

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
        _check_limit(limit)
        with UnitOfWork(self._engine) as uow:
            rows = self._repository(uow.session.connection()).of_partition(
                job_id, partition_key, limit)
            return [AlertView.of(row) for row in rows]

    def delivery_history(self, alert_id: int) -> list[DeliveryView]:
        """Return the alert's deliveries (by kind, then channel) with their attempts, oldest
        first.

        Errors are redacted on read too (``AlertSettings.redact``), so a row written before a
        secret form was known never shows it.

        Raises:
            NotFoundException: BAT-011 (a ``LookupError``) when no alert has this id.
        """
        with UnitOfWork(self._engine) as uow:
            repo = self._repository(uow.session.connection())
            if repo.get(alert_id) is None:
                raise NotFoundException(error_codes.BAT_RECORD_NOT_FOUND, f"no alert with id {alert_id}")
            deliveries = repo.deliveries(alert_id)
            attempts = repo.attempts([d.delivery_id for d in deliveries])
            return delivery_views(deliveries, attempts, self._settings.redact)


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIST_LIMIT}, got {limit}")
