"""The ``opsrel`` click group: the core commands register on it (``opsrel_core.entrypoints.cli``);
commands that need Dagster (``opsrel run``, ``opsrel sync``) are added to the same group by
``opsrel_dagster.app.cli``, which is the console script's entry point. Nothing here imports
dagster.
"""

import click

from opsrel_core.entrypoints.cli.output import EXIT_UNAVAILABLE, _redacted
from opsrel_core.config import OpsSettings


class _OpsGroup(click.Group):
    """The ``opsrel`` group: a database outage in any command is one line and exit 3."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from opsrel_core.persistence.retry import outage_of

            outage = outage_of(exc)
            if outage is None:
                raise
            # SYS-002 with the driver's first line, never its traceback (README: exit 3).
            message = " ".join(outage.operator_message.split())
            click.echo(_redacted(f"[{outage.code}] {message}"), err=True)
            ctx.exit(EXIT_UNAVAILABLE)


@click.group(cls=_OpsGroup)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """opsrel: operational reliability for Dagster data platforms.

    The ops database is OPSREL_DATABASE_URL (a SQLAlchemy URL); by default the SQLite file
    ops.db in OPSREL_HOME (default ./.opsrel, so ./.opsrel/ops.db).
    """
    from opsrel_core.log_redaction import install_log_redaction

    # Every command, `api serve` included: no log line or traceback of this process shows a
    # configured secret.
    install_log_redaction()

    from opsrel_core.domain.operator_names import os_principal
    from opsrel_core.services.audit_log import acting_principal

    # Every audit record a command writes names the OS user that ran it (``os:<user>``) beside
    # the operator it names; undone when the command ends (tests invoke many in one process).
    token = acting_principal.set(os_principal())
    ctx.call_on_close(lambda: acting_principal.reset(token))


def _engine():  # type: ignore[no-untyped-def]
    from opsrel_core.entrypoints import bootstrap

    # A read migrates nothing when the schema is at head: one query, no Alembic.
    return bootstrap.engine_for(OpsSettings.from_env(), ensure_current=True)
