"""opsrel's configuration: one frozen ``OpsrelSettings`` read from one mapping.

``OpsrelSettings.from_env(environ)`` is the entry; its sections (``OpsSettings``,
``AlertSettings``, ``ConsoleSettings``, ``OpenLineageSettings``, ``ApiLimits``,
``MetricsSettings``, ``WarnPolicy``, ``WorkerTimeouts``, ``RuntimeSettings``) each parse their
own variables and are importable here. This package is the only place that reads the process
environment (``environment.py``); every other module takes settings as arguments.
"""

from opsrel_core.config.alerts import PAGERDUTY_EVENTS_URL, AlertSettings, insecure_login_refusal
from opsrel_core.config.api_limits import ApiLimits
from opsrel_core.config.console import DEFAULT_DAGSTER_URL, ConsoleSettings
from opsrel_core.config.dq_policy import WarnPolicy
from opsrel_core.config.environment import environment, overridden, publish, variables_set
from opsrel_core.config.metrics import MetricsSettings
from opsrel_core.config.openlineage import OpenLineageSettings
from opsrel_core.config.ops import DEFAULT_HOME, OpsSettings
from opsrel_core.config.redaction import redactor_from_env
from opsrel_core.config.runtime import RuntimeSettings
from opsrel_core.config.secrets import Secret, SmtpSecurity
from opsrel_core.config.settings import OpsrelSettings
from opsrel_core.config.worker import WorkerTimeouts

__all__ = [
    "AlertSettings", "ApiLimits", "ConsoleSettings", "DEFAULT_DAGSTER_URL", "DEFAULT_HOME",
    "MetricsSettings", "OpenLineageSettings", "OpsSettings", "OpsrelSettings",
    "PAGERDUTY_EVENTS_URL", "RuntimeSettings", "Secret", "SmtpSecurity", "WarnPolicy",
    "WorkerTimeouts", "environment", "insecure_login_refusal", "overridden", "publish",
    "redactor_from_env", "variables_set",
]
