"""The ``opsrel`` console script: the core CLI plus the commands that drive Dagster.

- ``opsrel run --from DATE --to DATE``: the headless main job. Materializes the example pipeline
  for each daily partition through Dagster (persistent instance, in-process executor: no process
  per step), applies the projection, prints a summary per partition.
- ``opsrel sync``: applies the projection of Dagster runs into the ops schema once.

Dagster is imported inside the commands, so ``opsrel db ...`` stays fast.
"""

import click

from opsrel_core.entrypoints.cli import cli
from opsrel_core.entrypoints.cli.db import AFTER_UPGRADE

# Each module registers its commands on the core group when imported.
from opsrel_dagster.app.cli import alerts, replay, run  # noqa: F401


def _register_declared_jobs(database_url: str) -> str:
    from opsrel_core.persistence.engine import make_engine
    from opsrel_dagster.assembly import load_assembly
    from opsrel_dagster.registration import register_jobs

    try:
        JOBS = load_assembly().jobs
    except LookupError as exc:
        # The schema is already at head: say so, and what is missing, in one line (exit 1).
        raise click.ClickException(
            f"the ops schema is upgraded, but the declared jobs were not registered: {exc}"
        ) from None
    engine = make_engine(database_url)
    try:
        changed = register_jobs(engine, JOBS.values())
    finally:
        engine.dispose()
    return (f"batch-job catalog: {', '.join(sorted(JOBS))} registered"
            f" ({', '.join(changed) or 'no change'})")


AFTER_UPGRADE.append(_register_declared_jobs)


def main() -> None:
    """Console-script entry point of ``opsrel``."""
    cli()
