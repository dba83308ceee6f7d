"""``OpsrelSettings``: every setting of opsrel in one frozen object, read from one mapping.

``OpsrelSettings.from_env`` is the one function that turns an environment into settings: each
section parses its own variables from the same mapping (and validates them, with the messages
that name the variable), so a bad value fails at startup, not in the middle of a run. The entry
points build it once and hand it to the composition root (``opsrel_core.entrypoints.bootstrap``)
or, on the Dagster side, bind the variables to resources with ``dg.EnvVar``.
"""

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from opsrel_core.config.alerts import AlertSettings
from opsrel_core.config.api_limits import ApiLimits
from opsrel_core.config.console import ConsoleSettings
from opsrel_core.config.dq_policy import WarnPolicy
from opsrel_core.config.metrics import MetricsSettings
from opsrel_core.config.openlineage import OpenLineageSettings
from opsrel_core.config.ops import DEFAULT_HOME, OpsSettings
from opsrel_core.config.redaction import redactor_from_env
from opsrel_core.config.runtime import RuntimeSettings
from opsrel_core.config.worker import WorkerTimeouts
from opsrel_core.domain.redaction import Redactor


def _embedded() -> OpsSettings:
    home = Path(DEFAULT_HOME).absolute()
    return OpsSettings(database_url=f"sqlite:///{home / 'ops.db'}", home=home)


@dataclasses.dataclass(frozen=True)
class OpsrelSettings:
    """Every opsrel setting, by section (docs/configuration.md lists the variables).

    Attributes:
        ops: the ops database, the home folder, the replay limit, the console's public URL.
        alerts: channels (SMTP, Slack, PagerDuty), windows, retries, links.
        console: the operator console's session length and links.
        openlineage: where OpenLineage run events go (off when no URL).
        api_limits: the admin API's body size and failed-authentication brake.
        metrics: the ``/metrics`` cache and its authentication.
        dq_policy: the baseline of a WARN rule's DQ-002 alerts.
        worker: the timeouts after which an execution's worker counts as lost (SYS-003).
        runtime: the code location, the landing folder, the Dagster webserver and home.
        redactor: every secret the environment configures (log redaction at the entry points).
    """

    ops: OpsSettings = dataclasses.field(default_factory=_embedded)
    alerts: AlertSettings = dataclasses.field(default_factory=AlertSettings)
    console: ConsoleSettings = dataclasses.field(default_factory=ConsoleSettings)
    openlineage: OpenLineageSettings = dataclasses.field(default_factory=OpenLineageSettings)
    api_limits: ApiLimits = dataclasses.field(default_factory=ApiLimits)
    metrics: MetricsSettings = dataclasses.field(default_factory=MetricsSettings)
    dq_policy: WarnPolicy = dataclasses.field(default_factory=WarnPolicy)
    worker: WorkerTimeouts = dataclasses.field(default_factory=WorkerTimeouts)
    runtime: RuntimeSettings = dataclasses.field(default_factory=RuntimeSettings)
    redactor: Redactor = dataclasses.field(default_factory=Redactor, compare=False, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "OpsrelSettings":
        """Read and validate every section from ``environ``; empty values count as unset.

        Args:
            environ: the variables (``OPSREL_*``, ``DAGSTER_HOME``); the process environment
                by default, a plain dict in tests.

        Returns:
            The settings; the home folder is made absolute but not created.

        Raises:
            ValueError: the first invalid value, in section order (ops, alerts, console,
                openlineage, api limits, metrics, DQ policy, worker); the message names the
                variable and never holds a secret.
        """
        alerts = AlertSettings.from_env(environ)
        return cls(
            ops=OpsSettings.from_env(environ),
            alerts=alerts,
            console=ConsoleSettings.from_env(environ),
            openlineage=OpenLineageSettings.from_env(environ),
            api_limits=ApiLimits.from_env(environ),
            metrics=MetricsSettings.from_env(environ),
            dq_policy=WarnPolicy.from_env(environ),
            worker=WorkerTimeouts.from_env(environ),
            runtime=RuntimeSettings.from_env(environ),
            redactor=redactor_from_env(environ) | alerts.redactor,
        )

    @property
    def database_url(self) -> str:
        """The ops database's SQLAlchemy URL (``ops.database_url``)."""
        return self.ops.database_url

    @property
    def home(self) -> Path:
        """The home folder of the embedded defaults (``ops.home``)."""
        return self.ops.home
