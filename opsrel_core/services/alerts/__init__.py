"""Alerts that arrive once and are never lost: ``OpsAlertService`` and ``AlertDispatcher``.

**Outbox.** ``send_alert`` writes the alert and one PENDING ``alert_delivery`` row per configured
channel (EMAIL when a mail server and recipients are set, SLACK when a webhook is set, PAGERDUTY
when a routing key is set) in one transaction, and sends nothing itself: recording a failure is
never slowed or rolled back by a mail server. ``AlertDispatcher.dispatch_once`` sends what is
due (``dispatcher``).

**No storms.** An alert's ``dedupe_key`` (default ``"<event_kind>:<error_code>:<job_id>:
<partition_key>"``) is unique among live (OPEN or ACKNOWLEDGED) alerts (partial unique index).
Which repeat is absorbed is the lifecycle's rule (``opsrel_core.domain.alert_lifecycle``): a
repeat within ``dedupe_window_seconds`` of an OPEN alert's ``last_seen_at`` increments
``occurrence_count`` and ``last_seen_at`` and sends nothing; after the window it is a new
incident: the quiet alert is closed (RESOLVED: nothing recurred for a whole window) and a new
alert with new deliveries is opened. An ACKNOWLEDGED alert absorbs every repeat until it is
resolved (someone already works on it); a repeat after resolution opens a new alert. Two
concurrent first occurrences both try to insert; the index refuses the second, which is retried
and becomes an increment (``raising``). A failed execution's alert is an incident instead: keyed
per job and error code (``opsrel_core.domain.alert_incidents``), its window
``incident_window_seconds``, its partitions listed in ``alert_partition`` and counted once each
per execution.

**Silences.** A new alert that an active silence matches (``alert_silences``) is written with
``silenced_by`` and SUPPRESSED deliveries: recorded, listed, never sent. When its silence no
longer holds, the alert's next occurrence turns those deliveries PENDING.

**Resolution.** A recovering execution resolves the alert and queues its RECOVERY deliveries
(``alert_resolution``); ``resolve_alert`` resolves by hand. PagerDuty mirrors the alert's
state: an acknowledgement queues an ACKNOWLEDGE delivery and any resolution (recovery, by hand,
a quiet window) a RECOVERY delivery sent as ``resolve`` (``alert_resolution.queue_mirrored``).
The dispatcher sends a notice only after the alert it is about
(``opsrel_core.domain.alert_delivery.SENT_BEFORE``); the email answers the alert's
``Message-ID``. A caller that passes ``describe`` (the policy of accumulated data-quality
warnings) has the repeat rewrite the alert's title and message for the new count, in the
increment's transaction, and point the alert at the latest occurrence's partition.

**Once per execution.** ``raise_for_failed_execution`` counts an execution at its failure time
(``ended_at``). An alert of the same key whose ``[first_seen_at, last_seen_at]`` already covers
that time has counted it, so applying the same execution again (a sensor re-run, the headless
path and the sensor both) changes nothing; the covering test is part of the increment's
``UPDATE ... WHERE``, so it holds under concurrency too. No extra table is needed. The price: an
execution whose failure time falls inside an already counted span but which was never applied
(out-of-order replay of the event stream) is not counted.

**Delivery, at least once.** See ``dispatcher``: claimed by compare-and-set, sent outside any
transaction, every attempt recorded; a crash between the send and its record yields one
duplicate message, never a lost one.

The modules: ``views`` (what is returned), ``spec`` (an occurrence before it is stored),
``raising`` (the occurrence's transaction), ``service`` (the use cases), ``content`` and
``sending`` (what a delivery says and how it goes out), ``dispatcher`` (the outbox's consumer).
The SQL is ``opsrel_core.persistence.repositories.alerts``.
"""

from opsrel_core.notifiers import templates
from opsrel_core.persistence.tables import ALERT_STATUSES
from opsrel_core.services.alerts.content import LANDING_FILE_CODES, LANDING_REDELIVERY_NOTE
from opsrel_core.services.alerts.dispatcher import AlertDispatcher
from opsrel_core.services.alerts.service import (
    DEFAULT_ACK_REASON, EXECUTION_FAILED, MAX_LIST_LIMIT, Clock, OpsAlertService,
)
from opsrel_core.services.alerts.views import AlertView, AttemptView, DeliveryView, DispatchReport

DQ_FAIL = templates.DQ_FAIL
DQ_WARN_ACCUMULATED = templates.DQ_WARN_ACCUMULATED

__all__ = [
    "ALERT_STATUSES", "DEFAULT_ACK_REASON", "DQ_FAIL", "DQ_WARN_ACCUMULATED", "EXECUTION_FAILED",
    "LANDING_FILE_CODES", "LANDING_REDELIVERY_NOTE", "MAX_LIST_LIMIT", "AlertDispatcher",
    "AlertView", "AttemptView", "Clock", "DeliveryView", "DispatchReport", "OpsAlertService",
]
