"""Typed settings of the ops database and home, built at the edge (CLI, Dagster resources) and passed in; never read at import."""

import dataclasses
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from opsrel_core.config.environment import or_process
from opsrel_core.domain.replay_limits import DEFAULT_MAX_PENDING_PER_OPERATOR

DEFAULT_HOME = ".opsrel"


@dataclasses.dataclass(frozen=True)
class OpsSettings:
    """Where opsrel keeps its state.

    Attributes:
        database_url: SQLAlchemy URL of the ops database, e.g.
            ``postgresql+psycopg://user@host/db`` or ``sqlite:///.opsrel/ops.db``.
        home: project-local folder for the embedded defaults (SQLite ops database, Dagster home,
            snapshot store).
        max_pending_replays_per_operator: an operator's limit of replays REQUESTED, RUNNING or
            STOPPING at once (``OPSREL_REPLAY_MAX_PENDING_PER_OPERATOR``, default 20).
        console_url: public base URL of ``opsrel api serve`` (``OPSREL_CONSOLE_URL``, e.g.
            ``https://ops.example.com``), without a trailing slash; each materialization's
            ``opsrel/console`` metadata links its partition's console page. None: no link.
    """

    database_url: str
    home: Path
    # At most this many replays pending or running per operator (BAT-014 beyond it).
    max_pending_replays_per_operator: int = DEFAULT_MAX_PENDING_PER_OPERATOR
    console_url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "OpsSettings":
        """Build settings from ``OPSREL_HOME`` (default ``./.opsrel``), ``OPSREL_DATABASE_URL``
        (default: a SQLite file ``ops.db`` in the home folder) and
        ``OPSREL_REPLAY_MAX_PENDING_PER_OPERATOR`` (default 20) and ``OPSREL_CONSOLE_URL``
        (unset: no console links).

        Args:
            environ: the environment to read; the process environment when omitted.

        Returns:
            The settings; the home folder is made absolute but not created.

        Raises:
            ValueError: ``OPSREL_REPLAY_MAX_PENDING_PER_OPERATOR`` is not a whole number >= 1;
                ``OPSREL_CONSOLE_URL`` is not an http(s) URL.
        """
        env = or_process(environ)
        home = Path(env.get("OPSREL_HOME") or DEFAULT_HOME).absolute()
        url = env.get("OPSREL_DATABASE_URL") or f"sqlite:///{home / 'ops.db'}"
        raw = (env.get("OPSREL_REPLAY_MAX_PENDING_PER_OPERATOR")
               or str(DEFAULT_MAX_PENDING_PER_OPERATOR))
        if not raw.strip().isdigit() or int(raw) < 1:
            raise ValueError(
                f"OPSREL_REPLAY_MAX_PENDING_PER_OPERATOR must be a whole number >= 1, got {raw!r}")
        console = (env.get("OPSREL_CONSOLE_URL") or "").strip() or None
        if console is not None:
            parsed = urllib.parse.urlsplit(console)
            # The same rule as the alert settings: a link a reader may click must be http(s).
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError(f"OPSREL_CONSOLE_URL must be an http(s) URL, got {console!r}")
            console = console.rstrip("/")
        return cls(database_url=url, home=home, max_pending_replays_per_operator=int(raw),
                   console_url=console)

    @property
    def dagster_home(self) -> Path:
        """Default DAGSTER_HOME for the embedded setup: ``<home>/dagster_home``."""
        return self.home / "dagster_home"

    @property
    def snapshot_dir(self) -> Path:
        """Folder of the immutable snapshot store: ``<home>/snapshots``."""
        return self.home / "snapshots"
