"""Export the OpenAPI document (``opsrel api openapi``) and serve the API (``opsrel api serve``)."""

import json
import sys
from pathlib import Path

from opsrel_core.entrypoints.api.app import create_app
from opsrel_core.config import OpsSettings

DEFAULT_PATH = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def render() -> str:
    """The OpenAPI document as stable, indented JSON."""
    return json.dumps(create_app(None).openapi(), indent=2, sort_keys=True) + "\n"


def main(path: str | Path | None = None) -> Path:
    """Write the OpenAPI document (default ``docs/openapi.json``); returns the path."""
    target = Path(path) if path is not None else DEFAULT_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(), encoding="utf-8")
    return target


def serve(host: str = "127.0.0.1", port: int = 8000, settings: OpsSettings | None = None, *,
          proxy_headers: bool = False, forwarded_allow_ips: str = "127.0.0.1") -> None:
    """Run the API with uvicorn until interrupted (settings and limits from the environment).

    Args:
        proxy_headers: take the client address (which the failed-authentication brake counts)
            and scheme from ``X-Forwarded-For`` / ``X-Forwarded-Proto``, when the request comes
            from one of ``forwarded_allow_ips`` (comma-separated addresses of the proxies).
    """
    import uvicorn

    from opsrel_core.entrypoints.api.limits import ApiLimits
    from opsrel_core.log_redaction import install_log_redaction

    install_log_redaction()  # uvicorn's and the app's log records alike
    app = create_app(settings or OpsSettings.from_env(), limits=ApiLimits.from_env())
    uvicorn.run(app, host=host, port=port, proxy_headers=proxy_headers,
                forwarded_allow_ips=forwarded_allow_ips if proxy_headers else None)


if __name__ == "__main__":
    print(main(sys.argv[1] if len(sys.argv) > 1 else None))
