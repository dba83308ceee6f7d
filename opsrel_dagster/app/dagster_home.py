"""The Dagster home of the embedded default: where ``opsrel run``, ``sync`` and ``replay`` record
their runs when ``DAGSTER_HOME`` is not set."""

from pathlib import Path

from opsrel_core.config import RuntimeSettings, publish
from opsrel_core.config import OpsSettings

DAGSTER_YAML = """\
# Dagster instance for opsrel's embedded default: SQLite storage in this folder.
# To use PostgreSQL instead, see README ("Switch to PostgreSQL").
telemetry:
  enabled: false
"""


def ensure_dagster_home(settings: OpsSettings) -> Path:
    """Use ``DAGSTER_HOME`` when set; otherwise create and use ``<OPSREL_HOME>/dagster_home``.

    Returns:
        The Dagster home folder (it exists and holds a ``dagster.yaml``).
    """
    home = Path(RuntimeSettings.from_env().dagster_home or settings.dagster_home).absolute()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    publish("DAGSTER_HOME", str(home))
    return home
