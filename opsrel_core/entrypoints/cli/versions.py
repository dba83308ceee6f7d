"""``opsrel versions list``: an asset partition's result versions (``versions restore`` is in
``corrections``)."""

import click

from opsrel_core.entrypoints.cli.group import _engine, cli
from opsrel_core.entrypoints.cli.output import _dump, table


@cli.group()
def versions() -> None:
    """Result versions of an asset partition (never overwritten)."""


@versions.command("list")
@click.option("--asset", "asset_key", required=True, help="Asset key, e.g. ontime_performance.")
@click.option("--partition", required=True, help="Partition key, e.g. 2013-01-01.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def versions_list(asset_key: str, partition: str, as_json: bool) -> None:
    """An asset partition's version history, newest first (the active one marked)."""
    from opsrel_core.services.result_versions import ResultVersionService

    history = ResultVersionService(_engine()).get_version_history(asset_key, partition)
    if as_json:
        click.echo(_dump(history))
        return
    click.echo(table(
        ["version", "active", "execution_id", "rows", "content_hash", "created (UTC)",
         "inactive_reason"],
        [[f"v{v.version_number}", "active" if v.is_active else "-", v.execution_id, v.row_count,
          v.content_hash[:19], f"{v.created_at:%Y-%m-%d %H:%M:%S}", v.inactive_reason or "-"]
         for v in history]))
