"""``opsrel api serve|openapi``: the admin HTTP API and its OpenAPI document."""

import click

from opsrel_core.entrypoints.cli.group import cli
from opsrel_core.config import OpsSettings


@cli.group()
def api() -> None:
    """The admin HTTP API."""


@api.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--proxy-headers/--no-proxy-headers", default=False, show_default=True,
              help="Take the client address from X-Forwarded-For / X-Forwarded-Proto (only from "
              "--forwarded-allow-ips): behind a TLS-terminating reverse proxy.")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True,
              help="Comma-separated addresses of the proxies whose forwarded headers are trusted.")
def api_serve(host: str, port: int, proxy_headers: bool, forwarded_allow_ips: str) -> None:
    """Serve the admin API (OpenAPI at /openapi.json, docs at /docs). Limits:
    OPSREL_API_MAX_BODY_BYTES, OPSREL_API_AUTH_FAILURES, OPSREL_API_AUTH_WINDOW_SECONDS."""
    from opsrel_core.persistence import migrate

    from opsrel_core.entrypoints.api.openapi_export import serve

    settings = OpsSettings.from_env()
    migrate.upgrade(settings.database_url)
    serve(host, port, settings, proxy_headers=proxy_headers,
          forwarded_allow_ips=forwarded_allow_ips)


@api.command("openapi")
@click.option("--output", default="docs/openapi.json", show_default=True, help="Where to write it.")
def api_openapi(output: str) -> None:
    """Export the OpenAPI document to a file."""
    from opsrel_core.entrypoints.api.openapi_export import main as export

    export(output)
    click.echo(f"wrote {output}")
