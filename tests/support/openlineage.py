"""OpenLineage test peers: a receiver on loopback and a validator over the spec's JSON schemas.

The receiver is a real HTTP server (Marquez's ``POST /api/v1/lineage``) that records each event
with its path and headers; it can answer from a script (e.g. 503) and go down (the port refuses
connections) and come back on the same port.

The validator checks an event against the vendored ``OpenLineage.json`` (core spec 2-0-2, the one
openlineage-python 1.x names in ``schemaURL``) and each facet against its facet schema, found by
the facet's ``_schemaURL``; opsrel's own facet against ``docs/openlineage/OpsrelRunFacet.json``.
Validation is offline: every ``https://openlineage.io/spec/<v>/OpenLineage.json`` a facet schema
refers to resolves to the vendored core schema (the base facets are the same in each).
"""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema_rs

from tests.support.receivers import free_port

SCHEMAS = Path(__file__).parent / "openlineage_schemas"
OPSREL_FACET = Path(__file__).parents[2] / "docs" / "openlineage" / "OpsrelRunFacet.json"
_CORE = re.compile(r"^https://openlineage\.io/spec/[0-9-]+/OpenLineage\.json$")

# Facet name -> vendored schema file. The client names newer minor versions of these facets
# (ParentRunFacet 1-2-0, ErrorMessageRunFacet 1-0-1, DataQualityAssertionsDatasetFacet 1-1-0,
# DatasetVersionDatasetFacet 1-0-1); what they added is optional, the required fields are these.
FACET_FILES = {
    "ParentRunFacet": "facets/ParentRunFacet-1-0-1.json",
    "ErrorMessageRunFacet": "facets/ErrorMessageRunFacet-1-0-0.json",
    "DatasetVersionDatasetFacet": "facets/DatasetVersionDatasetFacet-1-0-0.json",
    "DataQualityAssertionsDatasetFacet": "facets/DataQualityAssertionsDatasetFacet-1-0-0.json",
}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


_CORE_SCHEMA = _load(SCHEMAS / "OpenLineage.json")


def _retrieve(uri: str) -> dict[str, Any]:
    if _CORE.match(uri.split("#")[0]):
        return _CORE_SCHEMA
    raise ValueError(f"offline validation: no vendored schema for {uri}")


def _validator(schema: dict[str, Any]):  # type: ignore[no-untyped-def]
    return jsonschema_rs.validator_for(schema, retriever=_retrieve, validate_formats=True)


_EVENT = _validator(_CORE_SCHEMA)
_FACETS = {
    name: _validator({"$ref": "#/$defs/" + name, "$defs": _load(SCHEMAS / file)["$defs"],
                      "$id": _load(SCHEMAS / file)["$id"]})
    for name, file in FACET_FILES.items()
}
_FACETS["OpsrelRunFacet"] = _validator({
    "$id": _load(OPSREL_FACET)["$id"], "$ref": "#/$defs/OpsrelRunFacet",
    "$defs": _load(OPSREL_FACET)["$defs"],
})


def _facet_name(schema_url: str) -> str:
    # ".../ParentRunFacet.json#/$defs/ParentRunFacet" or "urn:...:OpsrelRunFacet:1-0-0"
    if "#/$defs/" in schema_url:
        return schema_url.rsplit("/", 1)[1]
    return schema_url.split(":")[-2]


def validate_event(event: dict[str, Any]) -> list[str]:
    """Validate one run event and each of its facets.

    Returns:
        The names of the facets validated (``"run.parent"``, ``"outputs[0].version"``, ...).

    Raises:
        jsonschema_rs.ValidationError: the event or a facet breaks its schema.
        KeyError: a facet whose schema is not vendored (every facet must be checked).
    """
    _EVENT.validate(event)
    checked = []
    places: list[tuple[str, dict[str, Any]]] = [("run", event["run"].get("facets", {})),
                                                ("job", event["job"].get("facets", {}))]
    for side in ("inputs", "outputs"):
        for i, dataset in enumerate(event.get(side, [])):
            places.append((f"{side}[{i}]", dataset.get("facets", {})))
            for extra in ("inputFacets", "outputFacets"):
                places.append((f"{side}[{i}].{extra}", dataset.get(extra, {})))
    for where, facets in places:
        for key, facet in facets.items():
            _FACETS[_facet_name(facet["_schemaURL"])].validate(facet)
            checked.append(f"{where}.{key}")
    return checked


class LineageReceiver:
    """Loopback HTTP server recording POSTed OpenLineage events.

    Attributes:
        events: the JSON bodies answered 2xx, in arrival order.
        requests: every request as ``(path, headers, body)``, answered or not.
        script: answers to give first, each ``(status, body)``; then 201.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.events: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.script: list[tuple[int, bytes]] = []
        self.lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self.port}/api/v1/lineage"
        self._httpd: ThreadingHTTPServer | None = None
        self.up()

    def up(self) -> None:
        """Listen (again) on the receiver's port."""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    status, payload = outer.script.pop(0) if outer.script else (201, b"")
                    outer.requests.append((self.path, dict(self.headers), body))
                    if 200 <= status < 300:
                        outer.events.append(body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Stop listening: connections to the port are refused until ``up``."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    close = down
