"""Typed settings, built at the edge (CLI, Dagster resources) and passed in; never read at import."""

import dataclasses
import os
from pathlib import Path

DEFAULT_HOME = ".opsrel"


@dataclasses.dataclass(frozen=True)
class OpsSettings:
    """Where opsrel keeps its state.

    Attributes:
        database_url: SQLAlchemy URL of the ops database, e.g.
            ``postgresql+psycopg://user@host/db`` or ``sqlite:///.opsrel/ops.db``.
        home: project-local folder for the embedded defaults (SQLite ops database, Dagster home,
            snapshot store).
    """

    database_url: str
    home: Path

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "OpsSettings":
        """Build settings from ``OPSREL_HOME`` (default ``./.opsrel``) and ``OPSREL_DATABASE_URL``
        (default: a SQLite file ``ops.db`` in the home folder).

        Args:
            environ: the environment to read; ``os.environ`` when omitted.

        Returns:
            The settings; the home folder is made absolute but not created.
        """
        env = os.environ if environ is None else environ
        home = Path(env.get("OPSREL_HOME") or DEFAULT_HOME).absolute()
        url = env.get("OPSREL_DATABASE_URL") or f"sqlite:///{home / 'ops.db'}"
        return cls(database_url=url, home=home)

    @property
    def dagster_home(self) -> Path:
        """Default DAGSTER_HOME for the embedded setup: ``<home>/dagster_home``."""
        return self.home / "dagster_home"

    @property
    def snapshot_dir(self) -> Path:
        """Folder of the immutable snapshot store: ``<home>/snapshots``."""
        return self.home / "snapshots"
