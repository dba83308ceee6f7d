"""The admin API's tests: a real API server over HTTP (``tests.support.api_server``)."""

from tests.support.api_server import Api, Reply, api, seed_token  # noqa: F401 - fixture and helpers
