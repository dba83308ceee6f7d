"""Dagster resources binding opsrel settings (``OPSREL_*`` environment variables) at run time."""

import dataclasses
import functools

import dagster as dg
import sqlalchemy as sa

from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.snapshots import SnapshotService
from opsrel_core.settings import OpsSettings


@functools.lru_cache(maxsize=8)
def _engine_for(database_url: str) -> sa.Engine:
    # One pooled engine per URL and process: runs in one process share it.
    return make_engine(database_url)


class OpsDatabase(dg.ConfigurableResource):
    """The ops database, for assets that record into the ops schema.

    Attributes:
        database_url: SQLAlchemy URL; empty means ``OpsSettings.from_env()`` (``OPSREL_DATABASE_URL``
            or the embedded SQLite file under ``OPSREL_HOME``).
    """

    database_url: str = ""

    @property
    def settings(self) -> OpsSettings:
        """The effective settings (environment read when the resource is used, not at import)."""
        base = OpsSettings.from_env()
        if self.database_url:
            return dataclasses.replace(base, database_url=self.database_url)
        return base

    @property
    def engine(self) -> sa.Engine:
        """A pooled engine for the ops database, shared within the process."""
        return _engine_for(self.settings.database_url)

    @property
    def snapshots(self) -> SnapshotService:
        """The snapshot service."""
        return SnapshotService(self.engine)
