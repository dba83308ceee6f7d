"""A running dagster-webserver, reached through its GraphQL API (``OPSREL_DAGSTER_URL``).

``opsrel replay`` in submit mode asks the webserver whether the sensor daemon is alive before it
records a request: a request recorded while no daemon runs would wait silently. Plain HTTP with
the standard library: the GraphQL client of ``dagster_graphql`` has no call for daemon health.
"""

import dataclasses
import json
import urllib.error
import urllib.request
from typing import Any

from opsrel_core.domain import error_codes
from opsrel_core.errors import SystemException

DAGSTER_URL_ENV = "OPSREL_DAGSTER_URL"
_DAEMON_HEALTH = """
query SensorDaemon {
  instance { daemonHealth { daemonStatus(daemonType: "SENSOR") { healthy required } } }
}
"""


class WebserverUnavailable(SystemException):
    """The webserver at ``OPSREL_DAGSTER_URL`` did not answer or refused a query (SYS-001: the
    catalog has no code of its own for an unreachable orchestrator)."""


@dataclasses.dataclass(frozen=True)
class DagsterWebserver:
    """The webserver at ``url`` (e.g. ``http://127.0.0.1:3000``).

    Args:
        url: base URL, without ``/graphql``.
        timeout: seconds per request.
    """

    url: str
    timeout: float = 30.0

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a GraphQL query or mutation and return its ``data``.

        Raises:
            WebserverUnavailable: SYS-001 when the webserver cannot be reached, answers with an
                HTTP error, or the response carries GraphQL ``errors``.
        """
        request = urllib.request.Request(
            self.url.rstrip("/") + "/graphql", method="POST",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                payload = json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise WebserverUnavailable(
                error_codes.SYS_UNEXPECTED,
                f"the Dagster webserver at {self.url} did not answer ({exc}); start it "
                f"(`dagster dev` or `dagster-webserver`) or unset {DAGSTER_URL_ENV}",
            ) from exc
        if payload.get("errors"):
            raise WebserverUnavailable(
                error_codes.SYS_UNEXPECTED,
                f"the Dagster webserver at {self.url} refused the query: {payload['errors']}",
            )
        return payload["data"]

    def sensor_daemon_healthy(self) -> bool:
        """True when the instance's sensor daemon sent a recent heartbeat (it launches replays).

        Raises:
            WebserverUnavailable: as ``graphql``.
        """
        data = self.graphql(_DAEMON_HEALTH)
        return bool(data["instance"]["daemonHealth"]["daemonStatus"]["healthy"])
