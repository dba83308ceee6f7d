"""The alerting settings; moved to ``opsrel_core.config`` (``alerts.py``, ``secrets.py``),
re-exported here for the many modules that import them from this name."""

from opsrel_core.config.alerts import PAGERDUTY_EVENTS_URL, AlertSettings, insecure_login_refusal
from opsrel_core.config.secrets import PLACEHOLDER_SECRETS, Secret, SmtpSecurity

__all__ = [
    "AlertSettings", "PAGERDUTY_EVENTS_URL", "PLACEHOLDER_SECRETS", "Secret", "SmtpSecurity",
    "insecure_login_refusal",
]
