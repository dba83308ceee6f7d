"""Dagster resources binding opsrel settings (``OPSREL_*`` environment variables) at run time.

The assembly binds each field to its variable with ``dg.EnvVar`` when the variable is set
(``assembly.env_bound``), so the Dagster UI shows which variable configures it; a field left
empty means the embedded default, resolved when the resource is used exactly as
``OpsSettings.from_env`` resolves an unset variable.
"""

import functools

import dagster as dg
import sqlalchemy as sa

from opsrel_core.config import environment
from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.results import SnapshotService
from opsrel_core.config import OpsSettings


@functools.lru_cache(maxsize=8)
def _engine_for(database_url: str) -> sa.Engine:
    # One pooled engine per URL and process: runs in one process share it.
    return make_engine(database_url)


class OpsDatabase(dg.ConfigurableResource):
    """The ops database, for assets that record into the ops schema.

    Attributes:
        database_url: SQLAlchemy URL (``OPSREL_DATABASE_URL``); empty means the embedded SQLite
            file ``ops.db`` under the home folder.
        home: the home folder of the embedded defaults (``OPSREL_HOME``); empty means
            ``./.opsrel``.
    """

    database_url: str = ""
    home: str = ""

    @property
    def settings(self) -> OpsSettings:
        """The effective settings: the fields where set, else the environment, read when the
        resource is used (not at import)."""
        fields = {"OPSREL_HOME": self.home, "OPSREL_DATABASE_URL": self.database_url}
        return OpsSettings.from_env(
            {**environment(), **{name: value for name, value in fields.items() if value}})

    @property
    def engine(self) -> sa.Engine:
        """A pooled engine for the ops database, shared within the process."""
        return _engine_for(self.settings.database_url)

    @property
    def snapshots(self) -> SnapshotService:
        """The snapshot service."""
        return SnapshotService(self.engine)
