"""``opsrel versions restore`` and ``opsrel notes add|list``: corrections and notes, through the
same service methods (and audit records) as the admin API."""

import getpass

import click

from opsrel_core.entrypoints.cli.group import _engine, cli
from opsrel_core.entrypoints.cli.output import _dump, fail, table
from opsrel_core.entrypoints.cli.versions import versions


@versions.command("restore")
@click.argument("asset_key")
@click.argument("partition")
@click.argument("version_number", type=click.IntRange(1, 2**31 - 1))
@click.option("--reason", required=True, help="Why: recorded with the restore's audit record.")
@click.option("--operator", default=None, help="Who (default: the OS user).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def versions_restore(asset_key: str, partition: str, version_number: int, reason: str,
                     operator: str | None, as_json: bool) -> None:
    """Make version VERSION_NUMBER of ASSET_KEY PARTITION the active one again (audited); the
    one active before stays, inactive. Restoring the active version changes nothing. Names the
    downstream asset partitions whose active version was made from another version. Exit 1 no
    such version (BAT-010), 2 refused (BAT-008 no reason, BAT-001 a failed run's or a refused
    version)."""
    from opsrel_core.errors import OpsException
    from opsrel_core.services.result_versions import ResultVersionService

    try:
        outcome = ResultVersionService(_engine()).restore_version(
            asset_key, partition, version_number, operator_id=operator or getpass.getuser(),
            reason=reason)
    except OpsException as exc:
        fail(exc, "restore refused: ")
    if as_json:
        click.echo(_dump(outcome))
        return
    if outcome.already_active:
        click.echo(f"{asset_key} {partition} v{version_number} is already active; nothing changed")
    else:
        was = (f"v{outcome.replaced.version_number} now inactive" if outcome.replaced
               else "no version was active")
        click.echo(f"{asset_key} {partition} v{version_number} restored ({was}), audit "
                   f"{outcome.audit_id}")
    for s in outcome.stale_downstream:
        made = ", ".join(f"v{n}" for n in s.made_from_versions)
        click.echo(f"  stale: {s.asset_key} {s.partition_key} v{s.active_version} was made from "
                   f"{asset_key} {made}")


@cli.group()
def notes() -> None:
    """Operators' notes on a job's partition (audited, never changed)."""


@notes.command("add")
@click.argument("job_id")
@click.argument("partition")
@click.argument("text")
@click.option("--operator", default=None, help="Who (default: the OS user).")
@click.option("--json", "as_json", is_flag=True, help="Print the note as JSON.")
def notes_add(job_id: str, partition: str, text: str, operator: str | None,
              as_json: bool) -> None:
    """Add a note TEXT to PARTITION of JOB_ID (audited ADD_NOTE, TEXT as reason). Exit 1 no
    such job (BAT-011), 2 refused (BAT-008 blank text, longer than 4000 characters)."""
    from opsrel_core.errors import OpsException
    from opsrel_core.services.notes import NoteService

    try:
        note = NoteService(_engine()).add_note(job_id, partition, text,
                                               operator_id=operator or getpass.getuser())
    except OpsException as exc:
        fail(exc, "note refused: ")
    except ValueError as exc:
        click.echo(f"note refused: {exc}", err=True)
        raise SystemExit(2)
    click.echo(_dump(note) if as_json else f"note {note.note_id} added to {job_id} {partition}")


@notes.command("list")
@click.argument("job_id")
@click.argument("partition")
@click.option("--json", "as_json", is_flag=True, help="Print the notes as JSON.")
def notes_list(job_id: str, partition: str, as_json: bool) -> None:
    """The notes on PARTITION of JOB_ID, newest first."""
    from opsrel_core.services.notes import NoteService

    found = NoteService(_engine()).list_notes(job_id, partition)
    if as_json:
        click.echo(_dump(found))
        return
    click.echo(table(["note_id", "created (UTC)", "operator", "note"],
                     [[n.note_id, f"{n.created_at:%Y-%m-%d %H:%M:%S}", n.operator_id, n.body]
                      for n in found]))
