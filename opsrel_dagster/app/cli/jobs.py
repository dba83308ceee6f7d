"""The declared job a command's ``--job`` names, and its partition keys between two bounds, both
from the assembly and checked before any Dagster run (a bad value exits 2)."""

from typing import Any

import click


def keys_between(job: Any, first: str, last: str, hint: str) -> list[str]:
    """The declared job's keys FIRST..LAST (``OpsrelJob.keys_between``), before any Dagster run.

    Raises:
        click.BadParameter: a bound that is not a partition of the job, or LAST before FIRST
            (exit 2; the message names the job's first and last keys).
    """
    try:
        return job.keys_between(first, last)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from None


def declared_job(job_id: str | None):  # type: ignore[no-untyped-def]
    """The declared job ``job_id`` (default: the code location's only one) from the assembly.

    Raises:
        click.BadParameter: no such declared job (exit 2; the message lists the declared ids).
    """
    from opsrel_dagster.assembly import load_assembly

    try:
        return load_assembly().job(job_id)
    except LookupError as exc:
        raise click.BadParameter(str(exc), param_hint="--job") from None
