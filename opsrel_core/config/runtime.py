"""Where the application finds its code location, its landing folder and its Dagster.

These are read by the Dagster side (the assembly, the landing sensor and sources, the replay
commands); the core only carries them.
"""

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from opsrel_core.config.environment import or_process, text

DEFINITIONS_ENV = "OPSREL_DEFINITIONS"
DEFAULT_DEFINITIONS = "opsrel_dagster.definitions"
LANDING_DIR_ENV = "OPSREL_LANDING_DIR"
DAGSTER_URL_ENV = "OPSREL_DAGSTER_URL"


@dataclasses.dataclass(frozen=True)
class RuntimeSettings:
    """Attributes:
        definitions: the module of the code location the application serves
            (``OPSREL_DEFINITIONS``, default ``opsrel_dagster.definitions``, the example).
        landing_dir: the folder files land in (``OPSREL_LANDING_DIR``); None: no landing folder
            (the landing sensor skips, the sources read their package data).
        dagster_url: a running Dagster webserver that replays are submitted to
            (``OPSREL_DAGSTER_URL``); None: replays run embedded, in the command's process.
        dagster_home: ``DAGSTER_HOME`` when set; None: ``<OPSREL_HOME>/dagster_home``.
    """

    definitions: str = DEFAULT_DEFINITIONS
    landing_dir: Path | None = None
    dagster_url: str | None = None
    dagster_home: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "RuntimeSettings":
        """Read the settings above; empty values count as unset. Never raises."""
        env = or_process(environ)
        landing = env.get(LANDING_DIR_ENV) or ""
        home = env.get("DAGSTER_HOME") or ""
        return cls(
            definitions=env.get(DEFINITIONS_ENV) or DEFAULT_DEFINITIONS,
            landing_dir=Path(landing) if landing else None,
            dagster_url=env.get(DAGSTER_URL_ENV) or None,
            dagster_home=Path(home) if home else None,
        )
