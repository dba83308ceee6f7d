"""Slack incoming webhooks over plain HTTP (``urllib``; no extra dependency).

A message is ``POST <webhook URL>`` with the JSON body ``{"text": ...}``, bounded by the
configured timeout. Classification for the dispatcher:

* 2xx: delivered;
* 429: transient, with the ``Retry-After`` seconds the dispatcher honours (capped);
* 5xx, connection refused or reset, timeout: transient. Webhook posts are not idempotent: a 5xx
  or a timeout after Slack accepted the body may mean it was posted, so a retry can duplicate
  it. The dispatcher bounds this by ``max_attempts`` (documented policy, never an endless loop);
* any other 4xx (400 invalid payload, 403/404 revoked webhook, 410 archived channel) and 3xx:
  permanent, with the status and Slack's short error text as the reason;
* a URL that cannot be sent (whitespace or a control character inside, as pasted into the
  environment): permanent, checked before connecting.

The webhook URL is the credential: it never appears in a reason. Errors are built from the
status and body only, and every reason is redacted (``AlertSettings.redact``), so a receiver
that echoes the URL, a part of it or its URL-encoded form gives nothing away.
"""

import datetime as dt
import email.utils
import json
import re
import urllib.error
import urllib.request

from opsrel_core.config import AlertSettings
from opsrel_core.notifiers import DeliveryError

MAX_TEXT_CHARS = 39_000  # Slack truncates messages above 40,000 characters
# What http.client refuses in a URL; its error would quote the URL, so it is checked first.
_UNSENDABLE = re.compile(r"[\x00-\x20\x7f\s]")
_UNSENDABLE_REASON = (
    "Slack webhook: OPSREL_SLACK_WEBHOOK_URL holds whitespace or a control character (a tab or "
    "space pasted with it?); set it again without"
)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would re-send the body to a URL the operator never configured.
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


class SlackWebhookSender:
    """Posts alert texts to the configured Slack incoming webhook.

    Args:
        settings: the alert settings (``slack_webhook_url``, ``slack_timeout_seconds``).
    """

    def __init__(self, settings: AlertSettings):
        if settings.slack_webhook_url is None:
            raise ValueError("Slack is not configured (OPSREL_SLACK_WEBHOOK_URL)")
        self._settings = settings
        self._opener = urllib.request.build_opener(_NoRedirect)

    def send(self, text: str) -> None:
        """Post one message.

        Args:
            text: Slack mrkdwn text; cut to 39,000 characters.

        Raises:
            DeliveryError: transient or permanent, as classified in the module docstring.
        """
        s = self._settings
        assert s.slack_webhook_url is not None
        if _UNSENDABLE.search(s.slack_webhook_url.get_secret_value()):
            raise DeliveryError(False, _UNSENDABLE_REASON)
        body = json.dumps({"text": text[:MAX_TEXT_CHARS]}).encode("utf-8")
        request = urllib.request.Request(
            s.slack_webhook_url.get_secret_value(),
            data=body,
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        try:
            with self._opener.open(request, timeout=s.slack_timeout_seconds) as response:
                response.read(1024)
        except urllib.error.HTTPError as exc:
            raise _http_error(exc, s) from None
        except TimeoutError:
            raise _error(True, f"Slack webhook: no answer within {s.slack_timeout_seconds:g} s", s) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise _error(True, f"Slack webhook: no answer within {s.slack_timeout_seconds:g} s", s) from None
            raise _error(True, f"Slack webhook: {type(reason).__name__}: {reason}", s) from None
        except OSError as exc:  # reset mid-response, remote closed without answering
            raise _error(True, f"Slack webhook: {type(exc).__name__}: {exc}", s) from None
        except ValueError as exc:  # http.client.InvalidURL and kin: the message quotes the URL
            raise DeliveryError(False, f"Slack webhook: the URL cannot be sent ({type(exc).__name__}); "
                                       "check OPSREL_SLACK_WEBHOOK_URL") from None


def _http_error(exc: urllib.error.HTTPError, settings: AlertSettings) -> DeliveryError:
    try:
        detail = exc.read(300).decode("utf-8", "replace").strip()
    except Exception:  # the body is only a hint for the operator
        detail = ""
    reason = f"Slack webhook answered HTTP {exc.code}" + (f": {detail}" if detail else "")
    if exc.code == 429:
        return DeliveryError(True, settings.redact(reason), _retry_after(exc.headers.get("Retry-After")))
    return _error(exc.code >= 500, reason, settings)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def _error(transient: bool, reason: str, settings: AlertSettings) -> DeliveryError:
    return DeliveryError(transient, settings.redact(reason))
