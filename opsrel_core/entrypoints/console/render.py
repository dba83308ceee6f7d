"""Rendering console pages: one Jinja2 environment, one ``render`` every page calls.

Templates are autoescaped; every page gets the signed-in session (``session``), whether it
may act (``can_act``: operator or admin; a viewer sees no action controls), the CSRF token its
forms post back, the ingestion banner and the URL helpers of ``domain.console_links``.
"""

import datetime as dt
import functools
import pathlib
import urllib.parse
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from opsrel_core.domain import console_links
from opsrel_core.services.api_tokens import Role

TEMPLATES = pathlib.Path(__file__).parent / "templates"
STATIC = pathlib.Path(__file__).parent / "static"


def when(value: dt.datetime | str | None) -> str:
    """An instant as operators read it in the console: ``2013-01-03 06:00:12Z`` (UTC)."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


@functools.cache
def environment() -> jinja2.Environment:
    """The console's template environment (built once)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = when
    env.filters["urlquote"] = lambda v: urllib.parse.quote(str(v), safe="")
    env.globals["links"] = console_links
    return env


async def render(request: Request, template: str, status_code: int = 200,
                 **context: Any) -> HTMLResponse:
    """Render ``template`` for the signed-in operator of ``request`` (or nobody, on the
    sign-in page) with ``context``."""
    from opsrel_core.entrypoints.console import banner

    session = getattr(request.state, "console", None)
    settings = request.app.state.console_settings
    banner_text = None
    if session is not None:
        banner_text = await run_in_threadpool(banner.ingestion_banner,
                                              request.app.state.services)
    context.setdefault("nav", None)
    html = environment().get_template(template).render(
        request=request, session=session,
        can_act=session is not None and session.role.allows(Role.OPERATOR),
        csrf_token=session.csrf_token if session is not None else "",
        banner=banner_text, dagster_url=settings.dagster_url,
        run_url=functools.partial(run_url, settings.dagster_url), **context)
    return HTMLResponse(html, status_code=status_code)


def run_url(dagster_url: str, run_id: str | None) -> str | None:
    """The Dagster UI page of a run, or None without a run id."""
    if not run_id:
        return None
    return f"{dagster_url.rstrip('/')}/runs/{urllib.parse.quote(run_id, safe='')}"
