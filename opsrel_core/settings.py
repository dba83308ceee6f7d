"""The ops database and home settings; moved to ``opsrel_core.config`` (re-exported here for
the many modules that import them from this name)."""

from opsrel_core.config.ops import DEFAULT_HOME, OpsSettings
from opsrel_core.config.settings import OpsrelSettings

__all__ = ["DEFAULT_HOME", "OpsSettings", "OpsrelSettings"]
