"""PagerDuty Events API v2 over plain HTTP (``urllib``; no extra dependency).

An opsrel alert is one PagerDuty incident. Its deliveries post one event each to the configured
events URL (``OPSREL_PAGERDUTY_EVENTS_URL``, by default PagerDuty's
``https://events.pagerduty.com/v2/enqueue``): the ALERT delivery ``trigger``, the ACKNOWLEDGE
delivery ``acknowledge``, the RECOVERY delivery ``resolve``.

**dedup_key.** Every event of an alert carries ``dedup_key = "opsrel-alert-<alert_id>"``
(``dedup_key``), the same for its trigger, acknowledge and resolve. It is stable and unique per
alert rather than the alert's ``dedupe_key``, because opsrel itself already absorbs the repeats
of a key into one alert, and a key is reused after its alert is resolved: a late ``resolve`` of
a resolved alert (a retried delivery) must not resolve the incident of the newer alert of the
same key. The opsrel ``dedupe_key`` is sent in ``custom_details``. A trigger re-sent after a
crash or a retry carries the same ``dedup_key``, so PagerDuty folds it into the same incident:
re-sending is harmless.

Classification for the dispatcher:

* 202 (any 2xx): accepted;
* 429 (PagerDuty's rate limit): transient, with ``Retry-After`` when given;
* 5xx, connection refused or reset, timeout: transient;
* 400 (invalid event, for example an unknown routing key) and any other 4xx or 3xx: permanent,
  with the status and PagerDuty's short error text as the reason.

The routing key is the credential: it is put in the body only here, at the send, and never in a
reason; reasons are redacted (``AlertSettings.redact``) in case a receiver echoes it.
"""

import dataclasses
import json
import string
import urllib.error
import urllib.request
from typing import Any

from opsrel_core.config import AlertSettings
from opsrel_core.notifiers import DeliveryError
from opsrel_core.notifiers.slack import _NoRedirect, _retry_after
from opsrel_core.notifiers.templates import AlertContent, TemplateOverride

TRIGGER, ACKNOWLEDGE, RESOLVE = "trigger", "acknowledge", "resolve"
# The delivery kind an event action is sent for.
ACTION_OF_KIND = {"ALERT": TRIGGER, "ACKNOWLEDGE": ACKNOWLEDGE, "RECOVERY": RESOLVE}
SEVERITY = {"CRITICAL": "critical", "ERROR": "error", "WARNING": "warning", "INFO": "info"}
MAX_SUMMARY_CHARS = 1024  # the Events API refuses a longer summary
MAX_DEDUP_KEY_CHARS = 255


def dedup_key(alert_id: int | str) -> str:
    """The PagerDuty ``dedup_key`` of an opsrel alert: ``"opsrel-alert-<alert_id>"``."""
    return f"opsrel-alert-{alert_id}"


def build_event(
    action: str, content: AlertContent, dedupe_key: str = "-",
    override: TemplateOverride | None = None,
) -> dict[str, Any]:
    """The Events API v2 body of one event, without the routing key (added at the send).

    Args:
        action: ``trigger``, ``acknowledge`` or ``resolve``.
        content: the alert as the other channels show it.
        dedupe_key: the alert's opsrel ``dedupe_key`` (shown in ``custom_details``).
        override: the ``alert_template`` row for (event kind, PAGERDUTY), if any: its subject
            template (else its body template) makes the summary, with the placeholders of the
            other channels' templates (``$alert_id``, ``$title``, ...).

    Returns:
        ``{"event_action", "dedup_key"}``, plus for a trigger ``payload`` (summary, source,
        severity mapped from the opsrel severity, component, group, class, timestamp,
        custom_details with alert id, error code, job, partition, operator action, console
        link, run link, acknowledge command) and ``client``.

    Raises:
        ValueError: an unknown action.
    """
    if action not in (TRIGGER, ACKNOWLEDGE, RESOLVE):
        raise ValueError(f"unknown PagerDuty event action {action!r}")
    event: dict[str, Any] = {"event_action": action, "dedup_key": dedup_key(content.alert_id)}
    if action != TRIGGER:
        return event  # acknowledge and resolve carry no payload (the Events API ignores it)
    summary = f"opsrel alert {content.alert_id}: {content.title}"
    if override is not None:
        summary = string.Template(override.subject_template or override.body_template) \
            .safe_substitute(dataclasses.asdict(content))
    summary = " ".join(summary.split()) or summary
    event["client"] = "opsrel"
    if content.console_link != "-":
        event["client_url"] = content.console_link
    event["payload"] = {
        "summary": summary[:MAX_SUMMARY_CHARS],
        "source": content.job_id if content.job_id != "-" else "opsrel",
        "severity": SEVERITY.get(content.severity, "error"),
        "timestamp": content.first_seen_at,
        "component": content.asset_key,
        "group": content.job_id,
        "class": content.error_code if content.error_code != "-" else content.event_kind,
        "custom_details": {
            "alert_id": content.alert_id,
            "event_kind": content.event_kind,
            "error_code": content.error_code,
            "job": content.job_id,
            "partition": content.partition_key,
            "asset": content.asset_key,
            "execution_id": content.execution_id,
            "message": content.message,
            "operator_message": content.operator_message,
            "operator_action": content.operator_action,
            "console_link": content.console_link,
            "run_link": content.run_link,
            "acknowledge_command": content.ack_command,
            "occurrences": content.occurrence_count,
            "dedupe_key": dedupe_key,
        },
    }
    return event


class PagerDutyEventsSender:
    """Posts Events API v2 events to the configured events URL with the routing key.

    Args:
        settings: the alert settings (``pagerduty_routing_key``, ``pagerduty_events_url``,
            ``pagerduty_timeout_seconds``).

    Raises:
        ValueError: PagerDuty is not configured.
    """

    def __init__(self, settings: AlertSettings):
        if settings.pagerduty_routing_key is None:
            raise ValueError("PagerDuty is not configured (OPSREL_PAGERDUTY_ROUTING_KEY)")
        self._settings = settings
        self._opener = urllib.request.build_opener(_NoRedirect)

    def send(self, event: dict[str, Any]) -> None:
        """Post one event (``build_event``'s body); the routing key is added here.

        Raises:
            DeliveryError: transient or permanent, as classified in the module docstring.
        """
        s = self._settings
        assert s.pagerduty_routing_key is not None
        body = json.dumps({"routing_key": s.pagerduty_routing_key.get_secret_value(), **event})
        request = urllib.request.Request(
            s.pagerduty_events_url, data=body.encode("utf-8"), method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        timeout = s.pagerduty_timeout_seconds
        try:
            with self._opener.open(request, timeout=timeout) as response:
                response.read(1024)
        except urllib.error.HTTPError as exc:
            raise _http_error(exc, s) from None
        except TimeoutError:
            raise _error(True, f"PagerDuty: no answer within {timeout:g} s", s) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise _error(True, f"PagerDuty: no answer within {timeout:g} s", s) from None
            raise _error(True, f"PagerDuty: {type(reason).__name__}: {reason}", s) from None
        except OSError as exc:  # reset mid-response, remote closed without answering
            raise _error(True, f"PagerDuty: {type(exc).__name__}: {exc}", s) from None
        except ValueError as exc:
            raise _error(False, f"PagerDuty: the events URL cannot be used ({type(exc).__name__}); "
                                "check OPSREL_PAGERDUTY_EVENTS_URL", s) from None


def _http_error(exc: urllib.error.HTTPError, settings: AlertSettings) -> DeliveryError:
    try:
        detail = exc.read(300).decode("utf-8", "replace").strip()
    except Exception:  # the body is only a hint for the operator
        detail = ""
    reason = f"PagerDuty Events API answered HTTP {exc.code}" + (f": {detail}" if detail else "")
    if exc.code == 429:
        retry_after = _retry_after(exc.headers.get("Retry-After"))
        return DeliveryError(True, settings.redact(reason), retry_after)
    return _error(exc.code >= 500, reason, settings)


def _error(transient: bool, reason: str, settings: AlertSettings) -> DeliveryError:
    return DeliveryError(transient, settings.redact(reason))
