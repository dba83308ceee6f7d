"""``opsrel tokens create|revoke|list``: the admin API's tokens (shown once, stored hashed)."""

import sys

import click

from opsrel_core.entrypoints.cli.group import _engine, cli
from opsrel_core.entrypoints.cli.output import EXIT_BAD_INPUT, _dump, fail, table


@cli.group()
def tokens() -> None:
    """API tokens for the admin API (shown once, stored hashed)."""


@tokens.command("create")
@click.option("--operator", "operator_id", required=True,
              help="Who the token acts for: a person's name, not token:/os:/sensor:.")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), required=True)
@click.option("--reason", required=True, help="Why: recorded in the audit log (by the OS user).")
@click.option("--expires-in", default=None, help="Lifetime, e.g. 30d, 12h, 90m (default: none).")
@click.option("--expires-at", default=None, help="Expiry instant, ISO 8601 (naive is UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print the token and its record as JSON.")
def tokens_create(operator_id: str, role: str, reason: str, expires_in: str | None,
                  expires_at: str | None, as_json: bool) -> None:
    """Create a token and print it once (it is stored only as a hash); audited. Exit 2 on bad
    input (BAT-008: no reason, an invisible or look-alike name, a principal's name)."""
    from opsrel_core.domain.operator_names import os_principal
    from opsrel_core.errors import OpsException
    from opsrel_core.services.api_tokens import ApiTokenService, token_expiry

    try:
        expiry = token_expiry(expires_in, expires_at)
        plaintext, view = ApiTokenService(_engine()).create(
            operator_id, role, by=_os_user(os_principal()), reason=reason, expires_at=expiry)
    except OpsException as exc:
        fail(exc, "token refused: ")
    except ValueError as exc:
        click.echo(f"token refused: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if as_json:
        click.echo(_dump({"token": plaintext, **_asdict(view)}))
        return
    until = "" if view.expires_at is None else f", expires {view.expires_at:%Y-%m-%d %H:%M:%S} UTC"
    click.echo(f"token {view.token_id} for {view.operator_id} ({role}{until}), audit "
               f"{view.audit_id}; keep it, it is not shown again:")
    click.echo(plaintext)


def _os_user(principal: str) -> str:
    # The operator name the CLI records for itself: the OS user (``os:alice`` -> ``alice``).
    return principal.split(":", 1)[1]


def _asdict(view: object) -> dict:  # type: ignore[type-arg]
    import dataclasses

    return dataclasses.asdict(view)  # type: ignore[call-overload]


@tokens.command("revoke")
@click.argument("token_id", type=int)
@click.option("--reason", required=True, help="Why: recorded in the audit log (by the OS user).")
@click.option("--json", "as_json", is_flag=True, help="Print the revoked token's record as JSON.")
def tokens_revoke(token_id: int, reason: str, as_json: bool) -> None:
    """Revoke a token (idempotent; audited); exit 1 when there is no such token, 2 on bad input."""
    from opsrel_core.domain.operator_names import os_principal
    from opsrel_core.errors import OpsException
    from opsrel_core.services.api_tokens import ApiTokenService

    try:
        view = ApiTokenService(_engine()).revoke(
            token_id, by=_os_user(os_principal()), reason=reason)
    except OpsException as exc:  # BAT-011 unknown token: exit 1; a refusal: exit 2
        fail(exc)
    click.echo(_dump(view) if as_json else f"token {token_id} revoked (audit {view.audit_id})")


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the tokens as JSON.")
def tokens_list(as_json: bool) -> None:
    """List the API tokens, oldest first: id, operator, role, created, revoked, expires, last
    used (to the minute) (never a token or its hash: only the hash is stored, and it is not
    shown)."""
    from opsrel_core.services.api_tokens import ApiTokenService

    def when(value):  # type: ignore[no-untyped-def]
        return None if value is None else f"{value:%Y-%m-%d %H:%M:%S}"

    found = ApiTokenService(_engine()).list_tokens()
    if as_json:
        click.echo(_dump([{k: v for k, v in _asdict(t).items() if k != "audit_id"} for t in found]))
        return
    click.echo(table(
        ["token_id", "operator", "role", "created (UTC)", "revoked (UTC)", "expires (UTC)",
         "last used (UTC)"],
        [[t.token_id, t.operator_id, t.role.value, when(t.created_at), when(t.revoked_at),
          when(t.expires_at), when(t.last_used_at)] for t in found]))
