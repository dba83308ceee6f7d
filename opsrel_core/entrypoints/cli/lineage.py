"""``opsrel lineage backtrace``: a result version back to its input snapshots and sources."""

import click

from opsrel_core.entrypoints.cli.group import _engine, cli
from opsrel_core.entrypoints.cli.output import _dump, fail


@cli.group()
def lineage() -> None:
    """Lineage: from a result back to its snapshots and sources."""


@lineage.command("backtrace")
@click.option("--asset", "asset_key", required=True, help="Asset key, e.g. delay_simulation.")
@click.option("--partition", required=True, help="Partition key, e.g. 2013-01-01.")
@click.option("--version", "version_number", type=int, default=None, help="Default: the active one.")
@click.option("--json", "as_json", is_flag=True, help="Print the lineage as JSON.")
def lineage_backtrace(asset_key: str, partition: str, version_number: int | None, as_json: bool) -> None:
    """Trace a result version back to its input snapshots and sources.

    Exit 1 when the asset partition has no active version or the version was never recorded.
    """
    from opsrel_core.domain import error_codes
    from opsrel_core.errors import NotFoundException, OpsException
    from opsrel_core.services.provenance import LineageService
    from opsrel_core.services.result_versions import ResultVersionService

    engine = _engine()
    try:
        if version_number is None:
            active = ResultVersionService(engine).get_active_version(asset_key, partition)
            if active is None:
                raise NotFoundException(error_codes.BAT_NO_ACTIVE_VERSION,
                                        f"{asset_key} {partition} has no active version")
            version_number = active.version_number
        found = LineageService(engine).backtrace_recorded_version(asset_key, partition, version_number)
    except OpsException as exc:
        fail(exc)
    node_type = found.roots[0].node_type
    if as_json:
        click.echo(_dump(found))
        return
    click.echo(f"{asset_key} {partition} v{version_number} ({node_type}) comes from:")
    click.echo(f"  {'depth':<5} {'layer':<11} {'asset':<20} {'partition':<10}  version")
    for view in sorted(found.nodes, key=lambda v: (v.depth, v.node.asset_key)):
        n = view.node
        click.echo(f"  {view.depth:<5} {n.node_type:<11} {n.asset_key:<20} {n.partition_key or '-':<10}  {n.version_ref}")
    click.echo(f"snapshots: {', '.join(found.snapshot_ids) or '-'}")
