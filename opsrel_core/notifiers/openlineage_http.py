"""OpenLineage run events over HTTP: ``POST <OPSREL_OPENLINEAGE_URL>`` with the event as JSON.

The receiver is Marquez (``/api/v1/lineage``) or any OpenLineage-compatible endpoint. An optional
API key goes in ``Authorization: Bearer <key>``. Classification for the lineage dispatcher:

* 2xx: delivered (Marquez answers 201);
* 429 (with its ``Retry-After``), 5xx, connection refused or reset, timeout: transient. A 5xx or
  a timeout after the receiver stored the event may mean it was stored: a retry sends it again,
  which OpenLineage receivers accept (an event is identified by its run id, type and time);
* any other 4xx and 3xx: permanent, with the status and the receiver's short answer.

The API key never appears in a reason: reasons are built from the status and the body only, and
redacted once more.
"""

import json
import urllib.error
import urllib.request
from typing import Any

from opsrel_core.notifiers import DeliveryError
from opsrel_core.notifiers.slack import _retry_after
from opsrel_core.config import OpenLineageSettings


class LineageDeliveryError(DeliveryError):
    """A POST failed; ``http_status`` is the receiver's status when it answered, else None."""

    def __init__(self, transient: bool, reason: str, retry_after: float | None = None,
                 http_status: int | None = None):
        super().__init__(transient, reason, retry_after)
        self.http_status = http_status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would send the event, and the API key, to a URL the operator never configured.
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


class OpenLineageHttpSender:
    """POSTs run events to the configured OpenLineage endpoint.

    Args:
        settings: the OpenLineage settings (``url``, ``api_key``, ``timeout_seconds``).

    Raises:
        ValueError: OpenLineage is not configured (no ``OPSREL_OPENLINEAGE_URL``).
    """

    def __init__(self, settings: OpenLineageSettings):
        if settings.url is None:
            raise ValueError("OpenLineage is not configured (OPSREL_OPENLINEAGE_URL)")
        self._settings = settings
        self._opener = urllib.request.build_opener(_NoRedirect)

    def send(self, event: dict[str, Any]) -> int:
        """Post one run event.

        Returns:
            The receiver's HTTP status (2xx).

        Raises:
            LineageDeliveryError: transient or permanent, as classified in the module docstring.
        """
        s = self._settings
        assert s.url is not None
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if s.api_key is not None:
            headers["Authorization"] = f"Bearer {s.api_key.get_secret_value()}"
        request = urllib.request.Request(
            s.url, data=json.dumps(event).encode("utf-8"), method="POST", headers=headers)
        try:
            with self._opener.open(request, timeout=s.timeout_seconds) as response:
                response.read(1024)
                return int(response.status)
        except urllib.error.HTTPError as exc:
            try:
                detail = exc.read(300).decode("utf-8", "replace").strip()
            except Exception:  # noqa: BLE001 - the body is only a hint for the operator
                detail = ""
            reason = s.redact(f"OpenLineage endpoint answered HTTP {exc.code}"
                              + (f": {detail}" if detail else ""))
            transient = exc.code == 429 or exc.code >= 500
            retry_after = _retry_after(exc.headers.get("Retry-After")) if exc.code == 429 else None
            raise LineageDeliveryError(transient, reason, retry_after, exc.code) from None
        except TimeoutError:
            raise self._transient(f"no answer within {s.timeout_seconds:g} s") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise self._transient(f"no answer within {s.timeout_seconds:g} s") from None
            raise self._transient(f"{type(exc.reason).__name__}: {exc.reason}") from None
        except OSError as exc:  # reset mid-response, remote closed without answering
            raise self._transient(f"{type(exc).__name__}: {exc}") from None

    def _transient(self, what: str) -> LineageDeliveryError:
        return LineageDeliveryError(True, self._settings.redact(f"OpenLineage endpoint: {what}"))
