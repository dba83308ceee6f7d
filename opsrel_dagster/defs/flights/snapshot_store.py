"""Where ``Stamped`` was defined before it moved to ``opsrel_dagster.ingest.snapshots``.

Result files pickled before the move name ``Stamped`` by this module, for the flights and the
weather assets alike; unpickling them (an input loaded from an active result version) looks the
class up here. Nothing else imports this module: the snapshot store is
``opsrel_dagster.ingest.snapshots``.
"""

from opsrel_dagster.ingest.snapshots import Stamped

__all__ = ["Stamped"]
