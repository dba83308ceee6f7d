"""The admin HTTP API: FastAPI over the core services."""

from opsrel_core.entrypoints.api.app import create_app

__all__ = ["create_app"]
