"""The library's resources, one instance each, bound by every domain of the code location.

``dg.Definitions.merge`` refuses two domains that bind different objects under one resource key,
so each domain binds these same instances for ``ops_db`` and ``io_manager`` (a domain's own
``Definitions`` stays loadable and runnable alone, as the tests and the runner use it).
"""

from opsrel_dagster.io_managers import VersionedIOManager
from opsrel_dagster.resources import OpsDatabase

OPS_DB = OpsDatabase()
"""The ops database (settings from the environment, read when used)."""

# Every materialization is a new result version; nothing is overwritten.
IO_MANAGER = VersionedIOManager(ops_db=OpsDatabase())
"""The versioned IO manager every asset of the code location stores through."""

LIBRARY_RESOURCES = {"ops_db": OPS_DB, "io_manager": IO_MANAGER}
"""The resources a domain's ``Definitions`` binds, by key."""
